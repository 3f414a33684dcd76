"""Mismatch-first, then random (MP): disagreement without a diversity filter."""

from __future__ import annotations

import numpy as np

from bioal.strategies._cosine import CosineSpace
from bioal.strategies._primitives import candidate_mismatch, levels_of, take_by_mismatch
from bioal.strategies._registry import Selection, register
from bioal.strategies.random import select_random


@register("mp", needs_classifier=True, random_init=True, random_later=True, label="MP", title="Mismatch + random",
          order=1, colour="#1f77b4")
def select_mp(
    space: CosineSpace,
    labeled: np.ndarray,
    k: int,
    rng: np.random.Generator,
    clip_labels: np.ndarray | None = None,
    clip_pred: np.ndarray | None = None,
    init: bool = False,
) -> np.ndarray | Selection:
    """Init: random. Later: whole mismatch groups from the highest level, random inside the overflowing group."""
    if init:
        return select_random(space, labeled, k, rng)
    cand, levels = candidate_mismatch(space, labeled, clip_labels, clip_pred)
    picks = take_by_mismatch(
        levels, cand, k, lambda group, remaining, higher: rng.choice(group, size=remaining, replace=False)
    )
    return Selection.of(picks, mismatch=levels_of(picks, cand, levels))
