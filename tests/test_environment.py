"""The set-up files agree: pyproject.toml, requirements.lock, environment.yml, presets, CI."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
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


def test_torch_and_torchaudio_pins_match():
    locked = sync_environment.locked_versions()
    assert locked["torch"] == locked["torchaudio"] == "2.11.0"
    major = int(locked["jupyter-book"].split(".")[0])
    assert major == 1, "jupyter-book 2.x cannot build offline"


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


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text()
    assert "make test" in ci and "make test" in readme


def test_python_version_is_declared():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["requires-python"].startswith(">=3.11")
