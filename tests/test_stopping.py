"""The stabilising-predictions stopping rule (method §10.3)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score

from bioal.stopping import prediction_kappa, stop_recommended, stopping_table
from bioal.utils import rng


@pytest.mark.parametrize("flip", [0.01, 0.1, 0.5])
def test_kappa_matches_sklearn_on_flattened_tags(flip):
    gen = rng(0, "test-kappa", int(flip * 100))
    previous = gen.random((200, 7)) < 0.2
    current = previous ^ (gen.random((200, 7)) < flip)
    expected = cohen_kappa_score(previous.ravel().astype(int), current.ravel().astype(int))
    assert prediction_kappa(previous, current) == pytest.approx(expected, abs=1e-12)
    assert prediction_kappa(previous.astype(np.int8), current.astype(np.float32)) == pytest.approx(expected, abs=1e-12)


def test_kappa_edge_cases():
    zeros = np.zeros((5, 3), dtype=bool)
    assert prediction_kappa(zeros, zeros) == 1.0  # sklearn's formula is 0/0 here
    assert prediction_kappa(zeros, ~zeros) == 0.0
    tags = np.eye(2, dtype=bool)  # balanced marginals: complete disagreement is -1
    assert prediction_kappa(tags, ~tags) == pytest.approx(-1.0)
    with pytest.raises(ValueError, match="differ in shape"):
        prediction_kappa(zeros, zeros[:4])
    with pytest.raises(ValueError, match="binary"):
        prediction_kappa(zeros, np.full((5, 3), 0.5))
    with pytest.raises(ValueError, match="no unlabelled clips"):
        prediction_kappa(zeros[:0], zeros[:0])


def test_stop_needs_the_window_mean_above_the_threshold():
    assert not stop_recommended([math.nan, 0.995, 0.999])  # only two kappas
    assert stop_recommended([math.nan, 0.995, 0.999, 0.998])
    assert not stop_recommended([math.nan, 0.995, 0.97, 0.999])  # mean 0.988
    assert stop_recommended([0.5, 0.96], threshold=0.7, window=2) is True
    assert not stop_recommended([0.995, 0.999, 0.99], threshold=0.999, window=1)
    with pytest.raises(ValueError, match="window"):
        stop_recommended([1.0], window=0)


def test_stopping_table_per_round():
    table = stopping_table([10, 20, 30, 40, 50], [math.nan, 0.992, 0.995, 0.999, 0.5])
    assert table["stop"].tolist() == [False, False, False, True, False]
    assert math.isnan(table["window_mean"].iloc[2])
    assert table["window_mean"].iloc[3] == pytest.approx((0.992 + 0.995 + 0.999) / 3)
    with pytest.raises(ValueError, match="2 label counts but 1 kappas"):
        stopping_table([1, 2], [0.5])
