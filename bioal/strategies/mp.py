"""Mismatch-first, then random (MP): disagreement without a diversity filter."""

from __future__ import annotations

import numpy as np

from bioal.strategies._primitives import take_by_mismatch
from bioal.strategies._registry import register
from bioal.strategies.random import select_random


@register("mp", needs_classifier=True, random_init=True, random_later=True)
def select_mp(space, labeled, k, rng, clip_labels=None, clip_pred=None, init=False) -> np.ndarray:
    """Init: random. Later: whole mismatch groups from the highest level, random inside the overflowing group."""
    if init:
        return select_random(space, labeled, k, rng)
    from bioal.strategies import candidate_mismatch

    cand, levels = candidate_mismatch(space, labeled, clip_labels, clip_pred)
    return take_by_mismatch(
        levels, cand, k, lambda group, remaining, higher: rng.choice(group, size=remaining, replace=False)
    )
