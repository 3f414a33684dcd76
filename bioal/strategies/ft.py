"""Farthest-first traversal (FT): pure diversity, one continuous k-centre traversal."""

from __future__ import annotations

import numpy as np

from bioal.strategies._primitives import farthest_first
from bioal.strategies._registry import register


@register("ft", label="FT", title="Farthest-first", order=2, colour="#2ca02c")
def select_ft(space, labeled, k, rng, clip_labels=None, clip_pred=None, init=False) -> np.ndarray:
    """Farthest-first traversal from the labelled set over the unlabelled clips (every round)."""
    return farthest_first(space, labeled, k)
