"""Mismatch-first farthest traversal (MFFT), the paper's hybrid."""

from __future__ import annotations

import numpy as np

from bioal.strategies._primitives import farthest_first, mismatch_groups
from bioal.strategies._registry import register


@register("mfft", needs_classifier=True)
def select_mfft(space, labeled, k, rng, clip_labels=None, clip_pred=None, init=False) -> np.ndarray:
    """Init: FT. Later: whole mismatch groups from the highest level, FT (base = labelled + taken) inside the overflowing group."""
    if init:
        return farthest_first(space, labeled, k)
    from bioal.strategies import candidate_mismatch

    cand, levels = candidate_mismatch(space, labeled, clip_labels, clip_pred)
    taken: list[np.ndarray] = []
    remaining = k
    for _, group in mismatch_groups(levels, cand):
        if remaining == 0:
            break
        if len(group) <= remaining:
            taken.append(group)
            remaining -= len(group)
        else:
            base = np.concatenate([np.flatnonzero(labeled), *taken])
            taken.append(farthest_first(space, base, remaining, candidates=group))
            remaining = 0
    return np.concatenate(taken).astype(np.int64) if taken else np.zeros(0, dtype=np.int64)
