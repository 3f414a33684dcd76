"""Fetch the book's offline web assets from the npm registry (``make book-assets``).

The built book must render with no network, so MathJax and the Jupyter widgets HTML manager
(its stand-alone ``embed.js`` bundle, which draws the saved widget state of the standard
controls without RequireJS) are served from the book's own folder
``_build/html/_offline/`` instead of a CDN. This script downloads pinned tarballs with
``npm pack`` (the registry's ordinary client), checks each one against its pinned sha512
integrity, and unpacks the files the pages load into ``_offline/site/_offline/``; Sphinx
copies that tree into the build (``html_extra_path`` in ``_config.yml``), outside
``_static/`` so the assets are not injected into every page. Nothing here is committed
(``_offline/`` is git-ignored). Re-running is cheap: verified tarballs are kept.

    python tools/fetch_book_assets.py [--root .]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

# name, version, sha512 integrity (as npm reports it), {tarball folder -> site folder}
PACKAGES: tuple[tuple[str, str, str, dict[str, str]], ...] = (
    (
        "mathjax",
        "3.2.2",
        "sha512-Bt+SSVU8eBG27zChVewOicYs7Xsdt40qm4+UpHyX7k0/O9NliPc+x77k1/FEsPsjKPZGJvtRZM1vO+geW0OhGw==",
        {"package/es5": "mathjax"},
    ),
    (
        "@jupyter-widgets/html-manager",
        "1.0.15",
        "sha512-5thBIV6ymNgmPVOHvzx+gGy8ZSKmSazhtGw4/c4xJDVzRhG9PTeQsRjF3FUTopvFi//SABeNz1yp47bCrJ3CQA==",
        {"package/dist": "html-manager"},
    ),
)

#: Files the book's pages load, relative to ``_build/html/_offline/`` (checked after unpacking).
ENTRY_POINTS = ("mathjax/tex-mml-chtml.js", "html-manager/embed.js")


def integrity(path: Path) -> str:
    """npm-style ``sha512-<base64>`` digest of a file."""
    digest = hashlib.sha512(path.read_bytes()).digest()
    return "sha512-" + base64.b64encode(digest).decode()


def tarball_name(name: str, version: str) -> str:
    """The file name ``npm pack`` gives a package tarball."""
    return f"{name.lstrip('@').replace('/', '-')}-{version}.tgz"


def fetch(name: str, version: str, expected: str, cache: Path) -> Path:
    """Download ``name@version`` with ``npm pack`` into ``cache`` unless a verified copy is there."""
    target = cache / tarball_name(name, version)
    if target.is_file() and integrity(target) == expected:
        return target
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError(
            "npm is needed to fetch the book's offline assets (MathJax, the widget manager); "
            "install Node.js/npm (Debian: apt-get install npm) and run `make book-assets` again"
        )
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        result = subprocess.run(
            [npm, "pack", "--json", "--silent", f"{name}@{version}", "--pack-destination", tmp],
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise RuntimeError(f"npm pack {name}@{version} failed:\n{result.stderr.strip()}")
        got = Path(tmp) / tarball_name(name, version)
        if not got.is_file():
            raise RuntimeError(f"npm pack {name}@{version} did not write {got.name} (stdout: {result.stdout!r})")
        actual = integrity(got)
        if actual != expected:
            raise RuntimeError(f"{name}@{version}: integrity {actual} does not match the pinned {expected}")
        got.replace(target)
    return target


def unpack(tarball: Path, mapping: dict[str, str], site: Path) -> None:
    """Copy the tarball members under each mapped prefix into ``site`` (no source maps)."""
    with tarfile.open(tarball) as archive:
        members = archive.getmembers()
        for prefix, dest in mapping.items():
            chosen = [m for m in members if m.isfile() and (m.name == prefix or m.name.startswith(prefix + "/"))]
            if not chosen:
                raise RuntimeError(f"{tarball.name}: no member under {prefix!r}")
            for member in chosen:
                if member.name.endswith(".map"):
                    continue
                rel = Path(member.name).relative_to(prefix) if member.name != prefix else Path()
                out = site / dest / rel if rel != Path() else site / dest
                out.parent.mkdir(parents=True, exist_ok=True)
                source = archive.extractfile(member)
                assert source is not None
                out.write_bytes(source.read())


def build_site(root: Path) -> Path:
    """Fetch, verify and unpack every package; return the ``_offline`` folder served by the book."""
    cache = root / "_offline" / "npm"
    site = root / "_offline" / "site" / "_offline"
    staging = site.with_name("_offline.part")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    manifest = {}
    for name, version, expected, mapping in PACKAGES:
        tarball = fetch(name, version, expected, cache)
        unpack(tarball, mapping, staging)
        manifest[name] = {"version": version, "integrity": expected}
    for entry in ENTRY_POINTS:
        if not (staging / entry).is_file():
            raise RuntimeError(f"offline assets: {entry} is missing after unpacking")
    (staging / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    shutil.rmtree(site, ignore_errors=True)
    staging.replace(site)
    return site


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[1], help="project folder")
    args = parser.parse_args(argv)
    site = build_site(args.root.resolve())
    size = sum(p.stat().st_size for p in site.rglob("*") if p.is_file()) / 2**20
    print(f"offline book assets ready in {site} ({size:.1f} MiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
