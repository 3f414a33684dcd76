"""The set-up files agree: pyproject.toml, requirements.lock, environment.yml, presets, CI."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import sync_environment  # noqa: E402


def test_every_direct_dependency_is_locked_exactly():
    locked = sync_environment.locked_versions()
    for requirement in sync_environment.direct_requirements():
        name = sync_environment.canonical(sync_environment.requirement_name(requirement))
        assert name in locked, f"requirements.lock has no pin for {name}"


def test_environment_yml_lists_the_same_packages_and_pins():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert env["channels"] == ["conda-forge"]
    assert "python=3.11" in env["dependencies"]
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    pinned = {}
    for line in pip_section:
        match = re.fullmatch(r"([A-Za-z0-9._-]+)(\[[^\]]*\])?==(\S+)", line)
        assert match, f"environment.yml: not an exact pin: {line!r}"
        pinned[sync_environment.canonical(match.group(1))] = match.group(3)
    locked = sync_environment.locked_versions()
    direct = {
        sync_environment.canonical(sync_environment.requirement_name(r))
        for r in sync_environment.direct_requirements()
    }
    assert set(pinned) == direct
    for name, version in pinned.items():
        assert locked[name] == version, f"{name}: environment.yml pins {version}, lock pins {locked[name]}"


def test_environment_yml_is_generated_from_current_files():
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "sync_environment.py"), "--check"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def test_torch_and_torchaudio_are_one_release():
    locked = sync_environment.locked_versions()
    assert locked["torch"] == locked["torchaudio"]
    import torch
    import torchaudio

    # the pair works together: torchaudio's kernels run on torch tensors
    assert torchaudio.functional.resample(torch.ones(1, 320), 32000, 16000).shape == (1, 160)
    assert int(locked["jupyter-book"].split(".")[0]) == 1, "jupyter-book 2.x cannot build offline"


def test_installed_versions_match_the_lock():
    from importlib.metadata import version

    locked = sync_environment.locked_versions()
    for name in ("numpy", "torch", "torchaudio", "pandas", "papermill", "jupyter-book", "librosa"):
        assert version(name).split("+")[0] == locked[name].split("+")[0], name


def test_presets_share_their_keys():
    demo = yaml.safe_load((ROOT / "configs" / "demo.yaml").read_text())
    paper = yaml.safe_load((ROOT / "configs" / "paper.yaml").read_text())
    assert set(demo) == set(paper)
    assert demo["PRESET"] == "demo" and paper["PRESET"] == "paper"
    assert paper["BUDGETS"] == list(range(50, 501, 50))
    assert len(paper["SEEDS"]) == 5 and len(demo["SEEDS"]) == 3


def test_lint_passes():
    """``make lint`` (which ``make test`` runs first) is clean."""
    result = subprocess.run(["make", "-o", ".venv/.installed", "lint"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_this_python_satisfies_the_declared_requirement():
    from importlib.metadata import metadata

    from packaging.specifiers import SpecifierSet

    required = SpecifierSet(metadata("bioal")["Requires-Python"])
    assert required.contains(".".join(map(str, sys.version_info[:3])))


def test_the_library_installs_without_the_book_lab_and_cluster_extras():
    from importlib.metadata import requires

    from packaging.requirements import Requirement

    core, extras = set(), {}
    for text in requires("bioal"):
        req = Requirement(text)
        marker = str(req.marker or "")
        extra = marker.split("==")[-1].strip(" '\"") if "extra" in marker else None
        (extras.setdefault(extra, set()) if extra else core).add(sync_environment.canonical(req.name))
    optional = {"jupyter-book", "jupyterlab", "dask", "dask-jobqueue"}
    assert not core & optional
    assert {"jupyter-book"} <= extras["book"] and {"jupyterlab"} <= extras["lab"]
    assert {"dask", "dask-jobqueue"} <= extras["cluster"] and {"ruff", "pre-commit"} <= extras["dev"]
    # and the library's modules do not import them
    code = (
        "import sys, bioal.pipeline, bioal.sweep, bioal.results, bioal.explorer, bioal.widgets.explorer\n"
        "print(sorted(m for m in ('jupyter_book', 'jupyterlab', 'dask', 'distributed') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_notebooks_are_stripped_by_the_configured_filter(tmp_path):
    """.gitattributes sends notebooks through nbstripout, which drops outputs (pre-commit runs it too)."""
    attr = subprocess.run(["git", "check-attr", "filter", "notebooks/01_data.ipynb"], cwd=ROOT,
                          capture_output=True, text=True, check=True)
    assert attr.stdout.strip().endswith("filter: nbstripout")
    hooks = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())
    assert {"ruff", "nbstripout"} <= {h["id"] for repo in hooks["repos"] for h in repo["hooks"]}
    import nbformat

    nb = nbformat.read(ROOT / "notebooks" / "01_data.ipynb", as_version=4)
    code = next(c for c in nb.cells if c.cell_type == "code")
    code.outputs = [nbformat.v4.new_output("stream", text="noise\n")]
    code.execution_count = 3
    dirty = tmp_path / "dirty.ipynb"
    nbformat.write(nb, dirty)
    subprocess.run([str(Path(sys.executable).with_name("nbstripout")), str(dirty)], check=True)
    clean = nbformat.read(dirty, as_version=4)
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in clean.cells if c.cell_type == "code")
