"""Metrics against scikit-learn, torchmetrics and an exhaustive threshold sweep."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import average_precision_score, f1_score
from torchmetrics.classification import MultilabelAveragePrecision, MultilabelF1Score

from bioal.metrics import class_average_precision, f1_per_class, optimal_threshold, threshold_candidates
from bioal.utils import rng


def _data(seed: int, n: int = 40, t: int = 8, c: int = 5, quantise: bool = False):
    g = rng(seed, "test-metrics")
    labels = (g.random((n, t, c)) < 0.15).astype(np.float32)
    probs = np.clip(0.35 * labels + 0.65 * g.random((n, t, c)), 0, 1).astype(np.float32)
    if quantise:  # many ties
        probs = (np.round(probs * 20) / 20).astype(np.float32)
    return probs, labels


@pytest.mark.parametrize("quantise", [False, True])
def test_ap_matches_sklearn_and_torchmetrics(quantise):
    probs, labels = _data(1, quantise=quantise)
    ap = class_average_precision(probs, labels)
    flat_p, flat_y = probs.reshape(-1, 5), labels.reshape(-1, 5)
    ref = np.array([average_precision_score(flat_y[:, c], flat_p[:, c]) for c in range(5)])
    np.testing.assert_allclose(ap, ref, rtol=1e-10, atol=1e-12)
    tm = MultilabelAveragePrecision(num_labels=5, average="none", thresholds=None)
    tm_ap = tm(torch.from_numpy(flat_p), torch.from_numpy(flat_y).long()).numpy()
    np.testing.assert_allclose(ap, tm_ap, rtol=1e-5, atol=1e-6)


def test_ap_class_without_positives_is_zero_and_kept():
    probs, labels = _data(2)
    labels[..., 3] = 0
    ap = class_average_precision(torch.from_numpy(probs), torch.from_numpy(labels))
    assert ap[3] == 0.0
    assert ap.shape == (5,)
    assert np.all(ap[[0, 1, 2, 4]] > 0)


def test_ap_perfect_and_flat_inputs():
    labels = np.array([[1, 0], [0, 1], [1, 0], [0, 0]], dtype=np.float32)
    np.testing.assert_allclose(class_average_precision(labels * 0.9 + 0.05, labels), [1.0, 1.0])
    # all scores tied: AP equals the positive rate (one threshold)
    np.testing.assert_allclose(class_average_precision(np.full((4, 2), 0.5, np.float32), labels), [0.5, 0.25])


def test_shape_errors():
    with pytest.raises(ValueError, match="differ in shape"):
        class_average_precision(np.zeros((3, 2), np.float32), np.zeros((3, 3)))
    with pytest.raises(ValueError, match=r"\[N, T, C\]"):
        class_average_precision(np.zeros(3, np.float32), np.zeros(3))
    with pytest.raises(ValueError, match="NaN"):
        class_average_precision(np.full((3, 2), np.nan, np.float32), np.zeros((3, 2)))


def test_f1_matches_sklearn_and_torchmetrics():
    probs, labels = _data(3, quantise=True)
    flat_p, flat_y = probs.reshape(-1, 5), labels.reshape(-1, 5)
    for t in (0.1, 0.3, 0.45, 0.5, 0.77):
        ours = f1_per_class(probs, labels, t)
        ref = f1_score(flat_y, flat_p > np.float32(t), average=None, zero_division=0)
        np.testing.assert_allclose(ours, ref, rtol=1e-12)
        tm = MultilabelF1Score(num_labels=5, average="none", threshold=t)
        np.testing.assert_allclose(
            ours, tm(torch.from_numpy(flat_p), torch.from_numpy(flat_y).long()).numpy(), rtol=1e-6
        )


def test_threshold_candidates_grid():
    assert threshold_candidates(1, 0.5) == [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
    level2 = threshold_candidates(2, 0.3)
    assert len(level2) == 19 and level2[0] == 0.21 and level2[-1] == 0.39
    assert threshold_candidates(3, 0.25)[:2] == [0.241, 0.242]


def _exhaustive(probs, labels, levels=3):
    """Plain-loop reference: sklearn F1 on every candidate, first maximum per level."""
    flat_p, flat_y = probs.reshape(-1, probs.shape[-1]), labels.reshape(-1, probs.shape[-1])
    centre = 0.5
    for level in range(1, levels + 1):
        step = 10.0**-level
        half = 4 if level == 1 else 9
        best, best_t = -1.0, None
        for i in range(-half, half + 1):
            t = round(centre + i * step, level)
            score = f1_score(flat_y, flat_p > np.float32(t), average=None, zero_division=0).mean()
            if score > best + 1e-15:
                best, best_t = score, t
        centre = best_t
    return centre, f1_score(flat_y, flat_p > np.float32(centre), average=None, zero_division=0)


@pytest.mark.parametrize("seed", [4, 5, 6])
def test_optimal_threshold_equals_exhaustive_sweep(seed):
    probs, labels = _data(seed, quantise=seed == 6)
    t, f1 = optimal_threshold(probs, labels)
    ref_t, ref_f1 = _exhaustive(probs, labels)
    assert t == ref_t
    np.testing.assert_allclose(f1, ref_f1, rtol=1e-12)
    assert 0.001 <= t <= 0.999


def test_optimal_threshold_first_maximum_wins():
    # perfectly separable: every threshold between 0.2 and 0.79 gives F1 = 1; the lowest wins
    labels = np.array([[1], [0], [1], [0]], dtype=np.float32)
    probs = np.array([[0.8], [0.2], [0.9], [0.1]], dtype=np.float32)
    t, f1 = optimal_threshold(probs, labels)
    assert t == 0.2  # 0.2 itself is negative at t = 0.2 (prob > t), every lower candidate is not
    assert f1[0] == 1.0
