"""Fast checks of the book's configuration, offline-asset fetcher and Sphinx glue."""

from __future__ import annotations

import base64
import hashlib
import io
import pkgutil
import re
import sys
import tarfile
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).parent))
import helpers_book  # noqa: E402

ROOT = helpers_book.ROOT
assets = helpers_book.load_tool("fetch_book_assets")
sys.path.insert(0, str(ROOT / "book" / "_ext"))
import bioal_book  # noqa: E402

from bioal.notebooks import CHAPTERS  # noqa: E402


def test_config_renders_without_executing_and_offline():
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert config["execute"]["execute_notebooks"] == "off"  # quoted: a bare off would be False
    assert "execute_notebooks: 'off'" in (ROOT / "_config.yml").read_text()
    assert config["only_build_toc_files"] is True
    sphinx = config["sphinx"]["config"]
    assert sphinx["html_extra_path"] == ["_offline/site"]
    assert sphinx["mathjax_path"].startswith("../_offline/") and "://" not in sphinx["mathjax_path"]
    assert all("://" not in url for url in sphinx["nb_ipywidgets_js"])
    for entry in assets.ENTRY_POINTS:
        assert any(entry in path for path in [sphinx["mathjax_path"], *sphinx["nb_ipywidgets_js"]])
    assert (ROOT / config["bibtex_bibfiles"][0]).is_file()


def test_toc_names_the_chapters_and_runs():
    toc = (ROOT / "_toc.yml").read_text()
    for chapter in CHAPTERS:
        if chapter != "05_experiments":  # rendered once per run, by the glob below
            assert f"file: _executed/{chapter}" in toc, chapter
    assert "glob: _executed/runs/*" in toc
    for page in ("intro", "reproduce", "api", "references", "experiments"):
        assert (ROOT / "book" / f"{page}.md").is_file()


def test_readme_lists_every_chapter():
    readme = (ROOT / "README.md").read_text()
    for chapter in CHAPTERS:
        assert f"| `{chapter}` |" in readme, f"README.md's chapter table lacks {chapter}"


def test_intro_map_names_every_chapter():
    intro = (ROOT / "book" / "intro.md").read_text()
    table = intro.split("## Map of the book", 1)[1].split("\n\n", 2)[1]  # the table after the heading
    for chapter in CHAPTERS:
        page = "experiments" if chapter == "05_experiments" else f"../_executed/{chapter}"  # 05: one page per run
        assert f"| {{doc}}`{page}` |" in table, f"book/intro.md's map of the book lacks {chapter}"
    assert "| {doc}`reproduce` |" in table and "| {doc}`api` |" in table


def test_api_page_names_every_module():
    """Every top-level module of bioal has an entry; a subpackage is named by itself or by modules of it."""
    api = (ROOT / "book" / "api.md").read_text()
    listed = set(re.findall(r"^\.\. automodule:: (bioal[\w.]*)$", api, flags=re.M))
    import bioal

    missing = []
    for module in pkgutil.iter_modules(bioal.__path__, "bioal."):
        if module.name.rsplit(".", 1)[1].startswith("_"):
            continue
        if module.ispkg:
            if not any(name == module.name or name.startswith(module.name + ".") for name in listed):
                missing.append(module.name)
        elif module.name not in listed:
            missing.append(module.name)
    assert not missing, f"book/api.md has no automodule entry for {missing}"
    assert listed <= {m.name for m in pkgutil.walk_packages(bioal.__path__, "bioal.")}, "api.md names a module bioal lacks"


def test_every_citation_is_in_the_bibliography():
    keys = set(re.findall(r"@\w+\{([^,]+),", (ROOT / "references.bib").read_text()))
    cited = set()
    for page in (ROOT / "book").glob("*.md"):
        for group in re.findall(r"\{cite:[pt]\}`([^`]+)`", page.read_text()):
            cited.update(k.strip() for k in group.split(","))
    assert cited and cited <= keys, f"cited but not in references.bib: {sorted(cited - keys)}"
    assert {"zhang2025hybrid", "zhao2020active", "kong2020panns", "morfi2021fewshot", "nolasco2022fewshot", "liang2024domain"} <= keys


def make_tarball(path: Path, files: dict[str, bytes]) -> None:
    with tarfile.open(path, "w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))


def test_integrity_and_unpack(tmp_path):
    tarball = tmp_path / "pkg-1.0.0.tgz"
    make_tarball(tarball, {"package/dist/a.js": b"a", "package/dist/a.js.map": b"m", "package/dist/f/b.woff": b"b",
                           "package/other.txt": b"o"})
    expected = "sha512-" + base64.b64encode(hashlib.sha512(tarball.read_bytes()).digest()).decode()
    assert assets.integrity(tarball) == expected
    site = tmp_path / "site"
    assets.unpack(tarball, {"package/dist": "lib"}, site)
    assert sorted(p.relative_to(site).as_posix() for p in site.rglob("*") if p.is_file()) == ["lib/a.js", "lib/f/b.woff"]
    with pytest.raises(RuntimeError, match="no member under 'package/es5'"):
        assets.unpack(tarball, {"package/es5": "x"}, site)


def test_cached_tarball_with_the_pinned_integrity_is_reused(tmp_path, monkeypatch):
    tarball = tmp_path / assets.tarball_name("@scope/pkg", "1.0.0")
    assert tarball.name == "scope-pkg-1.0.0.tgz"
    make_tarball(tarball, {"package/x.js": b"x"})
    monkeypatch.setattr(assets.shutil, "which", lambda name: None)  # no npm: must not be needed
    assert assets.fetch("@scope/pkg", "1.0.0", assets.integrity(tarball), tmp_path) == tarball
    with pytest.raises(RuntimeError, match="npm is needed"):
        assets.fetch("@scope/pkg", "1.0.0", "sha512-other", tmp_path)


def test_run_titles_and_source_notebooks():
    assert bioal_book.run_label("mfft-cold-seed0") == "MFFT, cold start, seed 0"
    assert bioal_book.run_label("random-warm-seed12") == "RS, warm start, seed 12"
    assert bioal_book.run_label("full-seed3") == "Full supervision, seed 3"
    assert bioal_book.run_label("odd") == "odd"
    assert bioal_book.source_notebook("_executed/runs/05_experiments-mp-warm-seed1") == "notebooks/05_experiments"
    assert bioal_book.source_notebook("_executed/01_data") == "notebooks/01_data"
    assert bioal_book.source_notebook("book/intro") is None
