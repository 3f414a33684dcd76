"""Stepping through the notebooks in JupyterLab gives what the pipeline gives (issue 6).

JupyterLab runs a notebook top to bottom with the working directory set to the notebook's
folder (``notebooks/``), the ``python3`` kernel of the project's environment, and the
parameter values written in the ``parameters`` cell: no papermill injection. We run notebook
05 that way (nbclient, as JupyterLab's "Run all" does, after editing the parameters cell as a
user would) and through papermill with the same values, and compare the run records.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest

from bioal.embeddings import EmbeddingSplit, write_split
from bioal.notebooks import notebook_path, run_notebook
from bioal.utils import rng

ROOT = Path(__file__).resolve().parents[1]
TIMING_KEYS = re.compile(r".*_seconds$")


def tiny_embeddings(root: Path, class_names: list[str]) -> None:
    """Clustered non-negative clip embeddings ``[n, 32, 12]`` with frame labels."""
    gen = rng(7, "test-lab")
    centres = gen.normal(0, 1, (len(class_names) + 1, 12))
    for split, n in (("train", 80), ("valid", 40), ("test", 40)):
        cls = np.arange(n) % (len(class_names) + 1)
        emb = np.abs(centres[cls][:, None, :] + 0.4 * gen.normal(0, 1, (n, 32, 12))).astype(np.float32)
        labels = np.zeros((n, 32, len(class_names)), dtype=np.float32)
        for i, c in enumerate(cls):
            if c < len(class_names):
                labels[i, 8:20, c] = 1
        write_split(
            root / "embeddings" / f"{split}.h5",
            EmbeddingSplit(emb, labels, class_names, [f"r{i % 4}.wav" for i in range(n)], np.arange(n) * 5.0),
        )


def edit_parameters(nb: nbformat.NotebookNode, values: dict) -> None:
    """Change parameter values in the ``parameters`` cell, keeping each line's type and help."""
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    lines = cell.source.splitlines()
    for name, value in values.items():
        pattern = re.compile(rf"^({name}\s*:\s*[^=]+=\s*)(.*?)(\s+#.*)?$")
        hits = [i for i, line in enumerate(lines) if pattern.match(line)]
        assert len(hits) == 1, f"parameter {name} not found once in the parameters cell"
        m = pattern.match(lines[hits[0]])
        lines[hits[0]] = f"{m.group(1)}{value!r}{m.group(3) or ''}"
    cell.source = "\n".join(lines)


def rounds(results_dir: Path) -> dict[str, dict]:
    """Every round record under ``results_dir/runs`` without its wall-clock timings."""
    out = {}
    for path in sorted(results_dir.glob("runs/*/rounds/*.json")):
        record = json.loads(path.read_text())
        out[str(path.relative_to(results_dir))] = {k: v for k, v in record.items() if not TIMING_KEYS.match(k)}
    return out


@pytest.mark.slow
@pytest.mark.parametrize("strategy, init_pos", [("mfft", 0), ("mp", 5)])
def test_lab_run_matches_papermill_run(tmp_path, strategy, init_pos):
    from nbclient import NotebookClient

    from bioal.paper import PAPER_CLASSES

    tiny_embeddings(tmp_path / "data", list(PAPER_CLASSES))
    values = {
        "DATA_ROOT": str(tmp_path / "data"),
        "STRATEGY": strategy,
        "INIT_POS": init_pos,
        "SEED": 3,
        "BUDGETS": [40, 50, 60],
        "CLASSIFIER_HIDDEN": 16,
        "MAX_EPOCHS": 5,
        "DEVICE": "cpu",
    }
    # JupyterLab: the user edits the parameters cell and runs all cells from notebooks/
    nb = nbformat.read(notebook_path("05_experiments"), as_version=4)
    edit_parameters(nb, {**values, "RESULTS_DIR": str(tmp_path / "lab")})
    env_backup = os.environ.pop("MPLBACKEND", None)  # JupyterLab kernels have no MPLBACKEND
    try:
        NotebookClient(nb, kernel_name="python3", timeout=600, resources={"metadata": {"path": str(ROOT / "notebooks")}}).execute()
    finally:
        if env_backup is not None:
            os.environ["MPLBACKEND"] = env_backup
    # the pipeline: papermill with the same values injected, from the project root
    run_notebook(
        "05_experiments", output=tmp_path / "pm.ipynb", preset="demo", progress=False,
        overrides={**values, "RESULTS_DIR": str(tmp_path / "papermill")},
    )
    lab, papermill = rounds(tmp_path / "lab"), rounds(tmp_path / "papermill")
    assert len(lab) == 3 and lab.keys() == papermill.keys()
    for key in lab:
        assert lab[key] == papermill[key], f"{key} differs between the JupyterLab-style and the papermill run"
    run = f"runs/{strategy}-{'cold' if init_pos == 0 else 'warm'}-seed3/labelled_round.npy"
    np.testing.assert_array_equal(np.load(tmp_path / "lab" / run), np.load(tmp_path / "papermill" / run))


def test_lab_kernel_is_the_project_environment():
    """The ``python3`` kernel that JupyterLab and papermill use runs this environment's Python."""
    result = subprocess.run(
        [str(Path(sys.executable).with_name("jupyter")), "kernelspec", "list", "--json"], capture_output=True, text=True, check=True
    )
    spec = json.loads(result.stdout)["kernelspecs"]["python3"]
    argv0 = spec["spec"]["argv"][0]
    resolved = Path(argv0) if os.path.isabs(argv0) else None
    assert Path(spec["resource_dir"]).resolve().is_relative_to(Path(sys.prefix).resolve()) or (
        resolved is not None and resolved.resolve() == Path(sys.executable).resolve()
    ), f"kernel python3 at {spec['resource_dir']} ({argv0}) is not this environment's"


def test_make_lab_starts_jupyterlab_on_the_notebooks(tmp_path):
    """``make lab`` runs the environment's ``jupyter lab`` on notebooks/ with BIOAL_ROOT set
    (a stand-in ``jupyter`` records how it was called instead of starting a server)."""
    fake = tmp_path / "bin"
    fake.mkdir()
    record = tmp_path / "call.json"
    script = fake / "jupyter"
    script.write_text(
        f"#!{sys.executable}\nimport json, os, sys\n"
        f"json.dump({{'argv': sys.argv[1:], 'root': os.environ.get('BIOAL_ROOT'), 'cwd': os.getcwd()}}, "
        f"open({str(record)!r}, 'w'))\n"
    )
    script.chmod(0o755)
    result = subprocess.run(
        ["make", "-o", ".venv/.installed", "lab", f"BIN={fake}"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    call = json.loads(record.read_text())
    assert call["argv"][:2] == ["lab", "--notebook-dir=notebooks"]
    assert ("--allow-root" in call["argv"]) == (os.getuid() == 0)
    assert Path(call["root"]) == ROOT and Path(call["cwd"]) == ROOT
