"""Notebooks 02 and 03 executed through papermill on the tiny synthetic set (slow)."""

from __future__ import annotations

import json

import pytest
from helpers_book import count_images

from bioal.data import DataConfig, ensure_prepared
from bioal.embeddings import read_split
from bioal.notebooks import run_notebook


@pytest.mark.slow
def test_notebooks_02_and_03_on_tiny_synthetic(tmp_path):
    root = tmp_path / "data"
    ensure_prepared(DataConfig(data_source="synthetic", data_root=str(root), synth_size="tiny"), progress=False)
    common = {"DATA_ROOT": str(root), "ENCODER_BATCH_SIZE": 8}
    out2 = run_notebook("02_encoder", output=tmp_path / "02.ipynb", preset="demo", progress=False,
                        overrides={**common, "WIDTH": 0.0625, "EPOCHS": 2, "ENCODER_STEPS_PER_EPOCH": 1})
    history = json.loads((root / "models/encoder/history.json").read_text())
    assert [e["epoch"] for e in history["epochs"]] == [1, 2]
    assert count_images(out2) >= 1
    out3 = run_notebook("03_embeddings", output=tmp_path / "03.ipynb", preset="demo", progress=False,
                        overrides=common)
    train = read_split(root / "embeddings/train.h5")
    assert train.embeddings.shape[1:] == (32, 128) and train.labels.shape[2] == 7
    assert count_images(out3) >= 2  # projection + the viewer's static figure


def test_parameter_defaults_equal_demo_preset():
    from bioal.config import load_preset
    from bioal.notebooks import notebook_parameters, notebook_path

    preset = load_preset("demo")
    for name in ("02_encoder", "03_embeddings"):
        params = notebook_parameters(notebook_path(name))
        for key, spec in params.items():
            if key in preset:
                assert eval(spec["default"]) == preset[key], (name, key)  # noqa: S307 - literal defaults
        assert "DATA_ROOT" in params and "PANNS_CHECKPOINT" in params
