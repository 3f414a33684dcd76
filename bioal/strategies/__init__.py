"""Active-learning selection strategies, matrix-free (method §4.2-§4.4).

Works on any ``[N, D]`` clip vectors (the paper uses the max over the 32 frames of the frozen
encoder's embeddings) and clip tags; nothing else from the pipeline is needed::

    from bioal.strategies import select, farthest_first, mismatch_levels
    picks = select("mfft", embeddings=X, labeled=mask, k=50, rng=np.random.default_rng(0),
                   clip_labels=Y, clip_pred=Y_hat)
    picks.indices, picks.mismatch, picks.distance   # [50] each: the picks and why

``select`` returns a :class:`Selection`: the picks in order and, per pick, the score that
chose it (mismatch level, cosine distance at pick time). A strategy function (a
:class:`StrategyFn`) returns indices or a ``Selection`` with the scores it computed; ``select``
fills in the rest once.

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
index order inside a group (a stable order in place of the paper's unstable sort, method Q8).
Random choices come only from the ``rng`` passed in.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from bioal.strategies._cosine import CosineSpace, as_count, as_space, binary_tags
from bioal.strategies._primitives import (
    candidate_mismatch,
    distance_to_set,
    farthest_first,
    labeled_mask,
    mismatch_groups,
    mismatch_levels,
    nearest_in_set,
    pick_distances,
)
from bioal.strategies._registry import (
    FULL,
    STRATEGIES,
    Selection,
    Strategy,
    StrategyFn,
    from_paper_name,
    get_strategy,
    ordered,
    paper_name,
    register,
    strategy_colours,
    strategy_label,
    strategy_names,
    strategy_title,
)
from bioal.strategies.structure import describe_pool_structure, nearest_neighbours, pool_structure, rarest_classes

__all__ = [
    "binary_tags",
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
    "FULL",
    "Selection",
    "Strategy",
    "StrategyFn",
    "register",
    "get_strategy",
    "strategy_names",
    "ordered",
    "strategy_label",
    "strategy_title",
    "strategy_colours",
    "paper_name",
    "from_paper_name",
    "pool_structure",
    "describe_pool_structure",
    "nearest_neighbours",
    "rarest_classes",
]


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
    explain: bool = True,
    device: Any = "cpu",
    dtype: torch.dtype = torch.float32,
) -> Selection:
    """Pick ``k`` unlabelled clips with strategy ``name`` (method §4.4).

    ``embeddings``: ``[N, D]`` clip vectors or a :class:`CosineSpace` (reuse one across
    rounds to normalise once). ``labeled``: indices or ``[N]`` mask of the labelled clips.
    ``rng``: the generator for every random choice. ``clip_labels [N, C]`` true clip tags
    and ``clip_pred`` predicted binary tags (``[N, C]`` or ``[n_unlabelled, C]``, or a
    function ``indices [m] -> [m, C]`` called only for the clips that need a prediction)
    are needed by ``mp``/``mfft`` after the init phase. ``init``: the init-phase rule
    (random for ``mp``, FT for ``mfft``).

    Returns a :class:`Selection`: ``k`` unique unlabelled indices in pick order and, per
    pick, its mismatch level and distance. Scores the strategy used are kept as it computed
    them; with ``explain`` the others are filled in once here: the distance of each pick
    to the labelled set and the earlier picks, and, when ``clip_pred`` is given for a
    strategy that does not use it, the mismatch level of each pick. ``explain=False``
    skips that (e.g. a whole-pool selection).
    """
    strategy = get_strategy(name)
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    space = as_space(embeddings, device=device, dtype=dtype)
    mask = labeled_mask(labeled, space.n)
    n_free = int((~mask).sum())
    k = as_count(k)
    if k < 0 or k > n_free:
        raise ValueError(f"{name}: cannot select k={k} clips, only {n_free} unlabelled clips are left")
    if clip_labels is not None:
        clip_labels = binary_tags(clip_labels, "clip_labels", (space.n,))
    n_classes = None if clip_labels is None else clip_labels.shape[1]
    if k == 0:
        return Selection.of(np.zeros(0, dtype=np.int64))
    predict = None
    if callable(clip_pred):
        given = clip_pred

        def predict(index: np.ndarray) -> np.ndarray:
            return binary_tags(given(index), "clip_pred(indices)", (len(index),), n_classes)

    elif clip_pred is not None:
        clip_pred = binary_tags(clip_pred, "clip_pred", (space.n, n_free), n_classes)
    if predict is not None:  # predictions only where they are used
        clip_pred = predict(np.flatnonzero(~mask)) if strategy.needs_classifier and not init else None
    out = strategy.fn(space, mask, k, rng, clip_labels, clip_pred, init)
    selection = out if isinstance(out, Selection) else Selection.of(out)
    picks = selection.indices
    if len(picks) != k or len(np.unique(picks)) != k or mask[picks].any():
        raise RuntimeError(f"strategy {name!r} returned an invalid selection (need {k} unique unlabelled clips)")
    if not explain:
        return selection
    distance, mismatch = selection.distance, selection.mismatch
    if np.isnan(distance).all():
        distance = pick_distances(space, mask, picks)
    if np.isnan(mismatch).all() and clip_labels is not None and mask.any():
        if clip_pred is not None:
            pred = _rows_of_picks(np.asarray(clip_pred), mask, picks)
        elif predict is not None:
            pred = np.asarray(predict(picks))
        else:
            pred = None
        if pred is not None:
            base = np.flatnonzero(mask)
            labels = np.asarray(clip_labels)
            mismatch = mismatch_levels(space, base, labels[base], picks, pred).astype(np.float64)
    return Selection(picks, mismatch, distance)



def _rows_of_picks(clip_pred: np.ndarray, mask: np.ndarray, picks: np.ndarray) -> np.ndarray:
    """The rows of ``clip_pred`` (``[N, C]`` or ``[n_unlabelled, C]``) for ``picks``."""
    if len(clip_pred) == len(mask):
        return clip_pred[picks]
    cand = np.flatnonzero(~mask)
    if len(clip_pred) != len(cand):
        raise ValueError(
            f"clip_pred must have {len(mask)} rows (all clips) or {len(cand)} (unlabelled), got {clip_pred.shape}"
        )
    return clip_pred[np.searchsorted(cand, picks)]


# register the built-in strategies (one module each; they import only the private modules above)
from bioal.strategies import ft, mfft, mp, random  # noqa: E402,F401
