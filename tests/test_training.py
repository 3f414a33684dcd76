"""Supervised encoder training: balanced sampler, loss goes down, exact resume."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from helpers_encoder import SL_TEST_CLASSES, make_prepared

from bioal import training
from bioal.encoder import Cnn14Encoder
from bioal.utils import rng


def test_interval_helpers():
    assert training.merge_intervals([(5, 7), (0, 2), (1, 3), (7, 8), (4, 4)]) == [(0, 3), (5, 8)]
    assert training.subtract_intervals((0, 10), [(2, 3), (2.5, 4), (9, 12)]) == [(0, 2), (4, 9)]
    assert training.subtract_intervals((0, 10), [(-1, 11)]) == []


def test_balanced_sampler_inverse_duration():
    events = pd.DataFrame({
        "Audiofilename": ["a.wav", "a.wav", "b.wav"],
        "Starttime": [20.0, 50.0, 12.0], "Endtime": [21.0, 52.0, 13.0],
        "A": [1, 0, 1], "B": [0, 1, -1],
    })
    s = training.BalancedSampler(events, {"a.wav": 60.0, "b.wav": 30.0}, ["A", "B"])
    # A: a [10, 21] + b [2, 13] = 22 s; B: a [40, 52] = 12 s; Negative: a 60-23 + b 30-11 = 56 s
    np.testing.assert_allclose(s.durations.sum(axis=1), [22.0, 12.0, 56.0])
    expect = np.array([1 / 22, 1 / 12, 1 / 56])
    np.testing.assert_allclose(s.category_probs, expect / expect.sum(), rtol=1e-6)
    draws = s.draw(3000, rng(0, "t"))
    assert draws == s.draw(3000, rng(0, "t"))
    b_starts = [st for rec, st in draws if rec == "a.wav" and 40 <= st <= 52]
    assert len(b_starts) > 0.3 * 3000  # class B (shortest) is drawn most often
    for rec, start in draws:
        assert 0 <= start <= (60.0 if rec == "a.wav" else 30.0)
    # UNK (B in b.wav) does not create B slots in b.wav
    assert s.slots[1][1] == []
    with pytest.raises(ValueError):
        training.BalancedSampler(events.iloc[:0], {"a.wav": 0.0}, ["A", "B"])


def _config(root, **kw):
    base = dict(data_root=str(root), width=0.0625, epochs=3, encoder_batch_size=4, encoder_steps_per_epoch=3,
                classifier_hidden=16, device="cpu", seed=0, encoder_lr=2e-3)
    base.update(kw)
    return training.EncoderTrainingConfig(**base)


def _strip(history):
    return [{k: v for k, v in h.items() if k != "seconds"} for h in history]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("train_full")
    make_prepared(root)
    result = training.train_encoder(_config(root, epochs=3), progress=False)
    return root, result


def test_training_writes_files_and_learns(trained):
    root, result = trained
    folder = root / "models" / "encoder"
    assert result.folder == folder
    assert {p.name for p in folder.iterdir()} >= {"checkpoint.pt", "best_encoder.pt", "history.json"}
    history = json.loads((folder / "history.json").read_text())
    assert history["class_names"] == SL_TEST_CLASSES
    assert [h["epoch"] for h in history["epochs"]] == [1, 2, 3]
    assert history["stop_reason"] == "epochs"
    losses = [h["loss"] for h in result.history]
    assert all(np.isfinite(losses))
    assert losses[-1] < losses[0]
    assert all(len(h["valid_ap"]) == 3 for h in result.history)
    best = Cnn14Encoder.from_panns(result.best_encoder)
    assert best.width == 0.0625 and len(best.encoder_state_dict()) == 72
    assert result.history[result.best_epoch]["valid_map"] == max(h["valid_map"] for h in result.history)
    # finished: running again does nothing
    again = training.train_encoder(_config(root, epochs=3), progress=False)
    assert _strip(again.history) == _strip(result.history)


def test_resume_matches_uninterrupted(trained, tmp_path):
    _, full = trained
    make_prepared(tmp_path)
    first = training.train_encoder(_config(tmp_path, epochs=1), progress=False)  # "crash" after 1 epoch
    assert len(first.history) == 1
    resumed = training.train_encoder(_config(tmp_path, epochs=3), progress=False)
    assert _strip(resumed.history) == _strip(full.history)
    a = torch.load(tmp_path / "models/encoder/checkpoint.pt", weights_only=True)["encoder"]
    b = torch.load(full.folder / "checkpoint.pt", weights_only=True)["encoder"]
    for key in a:
        assert torch.equal(a[key], b[key]), key
    with pytest.raises(ValueError, match="other settings"):
        training.train_encoder(_config(tmp_path, epochs=4, seed=1), progress=False)


def test_cached_valid_features_give_the_same_training(trained, tmp_path):
    """Validation on the kept SL valid log-mels equals validation that reads the audio each epoch."""
    _, full = trained
    make_prepared(tmp_path)
    uncached = training.train_encoder(_config(tmp_path, epochs=3, feature_cache_bytes=0), progress=False)
    assert _strip(uncached.history) == _strip(full.history)


def test_config_checks():
    from bioal.config import ConfigError

    with pytest.raises(ConfigError, match="WIDTH"):
        training.EncoderTrainingConfig(width=0.5, panns_checkpoint="x.pth")
    with pytest.raises(ConfigError, match="EPOCHS"):
        training.EncoderTrainingConfig(epochs=0)


def test_history_figures(trained):
    from bioal.plots import encoder as plots

    root, result = trained
    history = training.load_history(root)
    fig = plots.training_curves(history)
    assert len(fig.axes) == 2 and len(fig.axes[0].lines[0].get_xdata()) == 3
    table = plots.per_class_ap_table(history)
    assert list(table.index) == [*SL_TEST_CLASSES, "mean (mAP)"]
    best = history["epochs"][history["best_epoch"]]
    assert table.iloc[-1, 0] == pytest.approx(round(100 * best["valid_map"], 1), abs=0.06)
    with pytest.raises(FileNotFoundError, match="history.json"):
        training.load_history(root / "nowhere")
    assert "seeded" in training.describe_init(_config(root))
