"""Active-learning selection strategies, matrix-free (SPEC 3.3-3.5).

Works on any ``[N, D]`` clip vectors (the paper uses the max over the 32 frames of the frozen
encoder's embeddings) and clip tags; nothing else from the pipeline is needed::

    from bioal.strategies import select, farthest_first, mismatch_levels
    picks = select("mfft", embeddings=X, labeled=mask, k=50, rng=np.random.default_rng(0),
                   clip_labels=Y, clip_pred=Y_hat)

Strategies (``STRATEGIES``; one small module each, added with :func:`register`):

==========  ============================  ==============================================
name        init phase (``init=True``)    later rounds
==========  ============================  ==============================================
``random``  random                        random
``ft``      farthest-first traversal      farthest-first traversal
``mp``      random                        whole mismatch groups (highest level first),
                                          random inside the group that overflows
``mfft``    farthest-first traversal      whole mismatch groups, then FT inside the
                                          overflowing group with base = labelled + taken
==========  ============================  ==============================================

Distances are cosine distances ``1 - cos`` between row-normalised vectors
``x / (||x|| + eps)`` (the paper's formula); a zero vector is at distance 1 from every other
clip (see ``bioal.strategies._cosine``). Nothing ``N x N`` is built: farthest-first keeps a
min-distance vector updated with one matrix-vector product per pick, nearest-labelled
searches run in blocks. torch on the GPU when asked (``device="auto"``/``"cuda"``), else CPU;
``dtype=torch.float16`` halves the memory of the normalised vectors.

Deterministic tie-breaks: farthest-first takes the earliest candidate among equal distances
(candidates in ascending index order unless given); the nearest labelled clip is the earliest
in ascending index order; mismatch groups run from the highest level down and keep ascending
index order inside a group (a stable order in place of the paper's unstable sort, SPEC Q8).
Random choices come only from the ``rng`` passed in.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from bioal.strategies._cosine import CosineSpace, as_indices, as_space
from bioal.strategies._primitives import (
    distance_to_set,
    farthest_first,
    mismatch_groups,
    mismatch_levels,
    nearest_in_set,
    pick_distances,
)
from bioal.strategies._registry import STRATEGIES, Strategy, get_strategy, register

__all__ = [
    "select",
    "farthest_first",
    "mismatch_levels",
    "mismatch_groups",
    "candidate_mismatch",
    "distance_to_set",
    "nearest_in_set",
    "pick_distances",
    "labeled_mask",
    "CosineSpace",
    "STRATEGIES",
    "Strategy",
    "register",
    "get_strategy",
]


def labeled_mask(labeled: Any, n: int) -> np.ndarray:
    """Boolean mask ``[n]`` from indices or a mask."""
    mask = np.zeros(n, dtype=bool)
    mask[as_indices(labeled, n, "labeled")] = True
    return mask


def candidate_mismatch(
    space: Any, labeled: Any, clip_labels: Any, clip_pred: Any, *, device: Any = "cpu"
) -> tuple[np.ndarray, np.ndarray]:
    """``(candidates, levels)``: the unlabelled clips (ascending) and their mismatch levels.

    ``clip_labels [N, C]``: true clip tags (only the labelled rows are read).
    ``clip_pred``: predicted binary tags, ``[N, C]`` or ``[n_unlabelled, C]``.
    """
    space = as_space(space, device=device)
    mask = labeled_mask(labeled, space.n)
    if clip_labels is None or clip_pred is None:
        missing = [n for n, v in (("clip_labels", clip_labels), ("clip_pred", clip_pred)) if v is None]
        raise ValueError(f"mismatch-based selection after the init phase needs {missing}")
    clip_labels = np.asarray(clip_labels)
    clip_pred = np.asarray(clip_pred)
    if clip_labels.shape[0] != space.n:
        raise ValueError(f"clip_labels must have {space.n} rows (one per clip), got {clip_labels.shape}")
    cand = np.flatnonzero(~mask)
    base = np.flatnonzero(mask)
    if len(clip_pred) == space.n:
        pred = clip_pred[cand]
    elif len(clip_pred) == len(cand):
        pred = clip_pred
    else:
        raise ValueError(
            f"clip_pred must have {space.n} rows (all clips) or {len(cand)} (unlabelled), got {clip_pred.shape}"
        )
    return cand, mismatch_levels(space, base, clip_labels[base], cand, pred)


def select(
    name: str,
    *,
    embeddings: Any,
    labeled: Any,
    k: int,
    rng: np.random.Generator,
    clip_labels: Any = None,
    clip_pred: Any = None,
    init: bool = False,
    device: Any = "cpu",
    dtype: torch.dtype = torch.float32,
) -> np.ndarray:
    """Pick ``k`` unlabelled clips with strategy ``name`` (SPEC 3.5).

    ``embeddings``: ``[N, D]`` clip vectors or a :class:`CosineSpace` (reuse one across
    rounds to normalise once). ``labeled``: indices or ``[N]`` mask of the labelled clips.
    ``rng``: the generator for every random choice. ``clip_labels [N, C]`` true clip tags
    and ``clip_pred`` predicted binary tags (``[N, C]`` or ``[n_unlabelled, C]``) are
    needed by ``mp``/``mfft`` after the init phase. ``init``: the init-phase rule (random
    for ``mp``, FT for ``mfft``). Returns ``k`` unique unlabelled indices in pick order.
    """
    strategy = get_strategy(name)
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    space = as_space(embeddings, device=device, dtype=dtype)
    mask = labeled_mask(labeled, space.n)
    n_free = int((~mask).sum())
    k = int(k)
    if k < 0 or k > n_free:
        raise ValueError(f"{name}: cannot select k={k} clips, only {n_free} unlabelled clips are left")
    if k == 0:
        return np.zeros(0, dtype=np.int64)
    picks = np.asarray(strategy.fn(space, mask, k, rng, clip_labels, clip_pred, init), dtype=np.int64)
    if len(picks) != k or len(np.unique(picks)) != k or mask[picks].any():
        raise RuntimeError(f"strategy {name!r} returned an invalid selection (need {k} unique unlabelled clips)")
    return picks


# register the built-in strategies (one module each)
from bioal.strategies import ft, mfft, mp, random  # noqa: E402,F401
