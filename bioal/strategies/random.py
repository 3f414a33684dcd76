"""Random sampling (the paper's RS baseline)."""

from __future__ import annotations

import numpy as np

from bioal.strategies._cosine import CosineSpace
from bioal.strategies._registry import register


@register("random", random_init=True, random_later=True, label="RS", title="Random", paper_name="rand", order=0,
          colour="#7f7f7f")
def select_random(
    space: CosineSpace,
    labeled: np.ndarray,
    k: int,
    rng: np.random.Generator,
    clip_labels: np.ndarray | None = None,
    clip_pred: np.ndarray | None = None,
    init: bool = False,
) -> np.ndarray:
    """Uniformly random k unlabelled clips, without replacement (every round)."""
    pool = np.flatnonzero(~labeled)
    return rng.choice(pool, size=k, replace=False).astype(np.int64)
