"""Mismatch-first farthest traversal (MFFT), the paper's hybrid."""

from __future__ import annotations

import numpy as np

from bioal.strategies._cosine import CosineSpace
from bioal.strategies._primitives import candidate_mismatch, farthest_first, levels_of, take_by_mismatch
from bioal.strategies._registry import Selection, register


@register("mfft", needs_classifier=True, label="MFFT", title="Mismatch-first farthest traversal", order=3,
          colour="#d62728")
def select_mfft(
    space: CosineSpace,
    labeled: np.ndarray,
    k: int,
    rng: np.random.Generator,
    clip_labels: np.ndarray | None = None,
    clip_pred: np.ndarray | None = None,
    init: bool = False,
) -> np.ndarray | Selection:
    """Init: FT. Later: whole mismatch groups from the highest level, FT (base = labelled + taken) inside the overflowing group."""
    if init:
        return farthest_first(space, labeled, k)
    cand, levels = candidate_mismatch(space, labeled, clip_labels, clip_pred)
    base = np.flatnonzero(labeled)
    picks = take_by_mismatch(
        levels,
        cand,
        k,
        lambda group, remaining, higher: farthest_first(
            space, np.concatenate([base, higher]), remaining, candidates=group
        ),
    )
    return Selection.of(picks, mismatch=levels_of(picks, cand, levels))
