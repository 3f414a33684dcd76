"""Farthest-first traversal (FT): pure diversity, one continuous k-centre traversal."""

from __future__ import annotations

import numpy as np

from bioal.strategies._cosine import CosineSpace
from bioal.strategies._primitives import farthest_first
from bioal.strategies._registry import register


@register("ft", label="FT", title="Farthest-first", order=2, colour="#2ca02c")
def select_ft(
    space: CosineSpace,
    labeled: np.ndarray,
    k: int,
    rng: np.random.Generator,
    clip_labels: np.ndarray | None = None,
    clip_pred: np.ndarray | None = None,
    init: bool = False,
) -> np.ndarray:
    """Farthest-first traversal from the labelled set over the unlabelled clips (every round)."""
    return farthest_first(space, labeled, k)
