"""Selection primitives on a :class:`CosineSpace` (method §4.3-§4.4), matrix-free (private)."""

from __future__ import annotations

import heapq
from typing import Any

import numpy as np
import torch

from bioal.strategies._cosine import CosineSpace, as_count, as_indices, as_space, binary_tags


def farthest_first(embeddings: Any, base: Any, k: int, candidates: Any = None, *, device: Any = "cpu") -> np.ndarray:
    """Greedy k-centre (farthest-first) traversal under cosine distance ``1 - cos``.

    ``embeddings`` ``[N, D]`` clip vectors (or a :class:`CosineSpace`); ``base`` the
    already-chosen set (indices or boolean mask; may be empty: the first pick is then the
    first candidate); ``candidates`` the pool to pick from, in tie-break order (default:
    every clip not in ``base``, ascending). Returns ``k`` indices in pick order: each pick is
    the candidate farthest from ``base`` and the earlier picks; ties go to the earliest
    candidate. Never returns a base member or a duplicate (picked clips are masked, so exact
    duplicates and zero vectors are handled). Cost: one ``[|cand|, D]`` matrix-vector
    product per pick plus one blocked ``|cand| x |base|`` pass; memory ``O(N)`` beyond the
    embeddings.
    """
    space = as_space(embeddings, device=device)
    base_idx = as_indices(base, space.n, "base")
    if candidates is None:
        mask = np.ones(space.n, dtype=bool)
        mask[base_idx] = False
        cand = np.flatnonzero(mask)
    else:
        cand = as_indices(candidates, space.n, "candidates")
        overlap = np.intersect1d(cand, base_idx)
        if len(overlap):
            raise ValueError(f"candidates {overlap[:10].tolist()} are also in base")
    k = as_count(k)
    if k < 0 or k > len(cand):
        raise ValueError(f"cannot pick k={k} clips from {len(cand)} candidates")
    if k == 0:
        return np.zeros(0, dtype=np.int64)
    d = space.min_distance(cand, base_idx)  # [|cand|], +inf where base is empty
    if space.device.type == "cpu" and space.dtype == torch.float32:
        return _lazy_traversal(space, cand, d.numpy().copy(), k)
    cand_t = torch.as_tensor(cand, device=space.device)
    # gather the candidate rows once when they are a small part of the pool
    rows = cand_t if len(cand) < space.n // 2 else None
    out = np.empty(k, dtype=np.int64)
    for i in range(k):
        j = int(torch.argmax(d))  # first maximum = earliest candidate
        out[i] = cand[j]
        if i + 1 == k:
            break
        if rows is not None:
            dj = space.distances_to(int(cand[j]), rows)
        else:
            dj = space.distances_to(int(cand[j]))[cand_t]
        d = torch.minimum(d, dj)
        d[j] = -torch.inf  # picked: never again
    return out


def _lazy_traversal(space: CosineSpace, cand: np.ndarray, d: np.ndarray, k: int) -> np.ndarray:
    """Farthest-first with lazy updates (CPU): the same picks as the eager loop.

    Min-distances only decrease as picks are added, so a stale value is an upper bound. A
    heap ordered by (-stale distance, candidate position) is popped until its top is up to
    date with every pick; that candidate is the first maximum. Only the candidates that
    reach the top are refreshed (against the picks made since their last refresh), instead
    of a matrix-vector product over the whole pool per pick.
    """
    unit = space.unit.numpy()
    out = np.empty(k, dtype=np.int64)
    fresh = np.zeros(len(cand), dtype=np.int64)  # number of picks each d[] accounts for
    if np.isinf(d).all():  # empty base: the first candidate, then one full update
        out[0] = cand[0]
        if k == 1:
            return out
        d = 1.0 - np.clip(unit[cand] @ unit[cand[0]], -1.0, 1.0)
        d[0] = -np.inf
        fresh[:] = 1
        n_picked = 1
    else:
        n_picked = 0
    heap = [(-float(v), i) for i, v in enumerate(d) if v != -np.inf]
    heapq.heapify(heap)
    picked_vectors = np.empty((k, unit.shape[1]), dtype=np.float32)
    if n_picked:
        picked_vectors[0] = unit[cand[0]]
    while n_picked < k:
        neg, i = heap[0]
        if fresh[i] == n_picked:
            heapq.heappop(heap)
            out[n_picked] = cand[i]
            picked_vectors[n_picked] = unit[cand[i]]
            n_picked += 1
            continue
        sims = picked_vectors[fresh[i] : n_picked] @ unit[cand[i]]
        value = min(-neg, float((1.0 - np.clip(sims, -1.0, 1.0)).min()))
        fresh[i] = n_picked
        heapq.heapreplace(heap, (-value, i))
    return out


def nearest_in_set(
    embeddings: Any, base: Any, candidates: Any, *, device: Any = "cpu"
) -> tuple[np.ndarray, np.ndarray]:
    """For each candidate: (distance to the nearest clip of ``base``, that clip's index).

    Ties go to the earliest member of ``base`` in the order given. Empty ``base``:
    distances NaN and indices -1.
    """
    space = as_space(embeddings, device=device)
    base_idx = as_indices(base, space.n, "base")
    cand = as_indices(candidates, space.n, "candidates")
    dist, pos = space.nearest(cand, base_idx)
    dist = dist.double().cpu().numpy()
    pos = pos.cpu().numpy()
    if len(base_idx) == 0:
        return np.full(len(cand), np.nan), np.full(len(cand), -1, dtype=np.int64)
    return dist, base_idx[pos]


def distance_to_set(embeddings: Any, base: Any, candidates: Any, *, device: Any = "cpu") -> np.ndarray:
    """Cosine distance ``[len(candidates)]`` of each candidate to its nearest ``base`` clip (NaN if ``base`` is empty)."""
    return nearest_in_set(embeddings, base, candidates, device=device)[0]


def pick_distances(embeddings: Any, labeled: Any, picks: Any, *, device: Any = "cpu") -> np.ndarray:
    """Distance of each pick, at the moment it was picked, to ``labeled`` plus the earlier picks.

    ``[len(picks)]`` float; NaN for a pick made while that set was empty (the first clip of a
    cold start). For a farthest-first round this is exactly the distance each pick maximised.
    """
    space = as_space(embeddings, device=device)
    base_idx = as_indices(labeled, space.n, "labeled")
    picks = as_indices(picks, space.n, "picks")
    d = distance_to_set(space, base_idx, picks)  # to the labelled set
    if len(picks) > 1:
        p = torch.as_tensor(picks, device=space.device)
        within = (1.0 - space._products(p, p).clamp_(-1.0, 1.0)).double().cpu().numpy()  # [k, k], k small
        for i in range(1, len(picks)):
            earlier = within[i, :i].min()
            d[i] = earlier if np.isnan(d[i]) else min(d[i], earlier)
    return d


def mismatch_levels(
    embeddings: Any, base: Any, base_labels: Any, candidates: Any, candidate_pred: Any, *, device: Any = "cpu"
) -> np.ndarray:
    """Mismatch level per candidate (method §4.3): Hamming distance between its predicted tags
    ``candidate_pred [len(candidates), C]`` and the tags ``base_labels [len(base), C]`` of
    its nearest ``base`` clip under cosine distance (ties -> earliest base member in the
    order given). Returns ``[len(candidates)]`` ints in ``0..C``. Both tag arrays must be bool
    or exactly 0/1 (probabilities and -1 codes are errors, as in ``select``).
    """
    space = as_space(embeddings, device=device)
    base_idx = as_indices(base, space.n, "base")
    cand = as_indices(candidates, space.n, "candidates")
    if len(base_idx) == 0:
        raise ValueError("mismatch_levels needs a non-empty labelled base")
    base_labels = binary_tags(base_labels, "base_labels", (len(base_idx),))
    pred = binary_tags(candidate_pred, "candidate_pred", (len(cand),), base_labels.shape[1])
    _, pos = space.nearest(cand, base_idx)
    nn_labels = base_labels[pos.cpu().numpy()]
    return (pred != nn_labels).sum(axis=1).astype(np.int64)


def mismatch_groups(levels: np.ndarray, candidates: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """Candidates grouped by mismatch level, highest level first, as ``(level, members)``.

    Within a group the candidates keep their given (ascending index) order. This stable
    order replaces the paper's ``argsort(...)[::-1]`` with NumPy's default unstable sort
    (method Q8), whose within-group order is platform dependent; it changes which clips the
    seeded random draw of MP returns and the tie-breaks of MFFT's traversal, not their
    distribution.
    """
    levels = np.asarray(levels)
    candidates = np.asarray(candidates)
    return [(int(v), candidates[levels == v]) for v in np.unique(levels)[::-1]]


def take_by_mismatch(levels: np.ndarray, candidates: np.ndarray, k: int, fill: Any) -> np.ndarray:
    """Walk the mismatch groups from the highest level: take whole groups while they fit,
    then ``fill(group, remaining, taken)`` picks ``remaining`` clips inside the first group
    that overflows (``taken``: the clips of the higher groups). Returns ``k`` indices.

    MP fills with a random draw, MFFT with farthest-first traversal (method §4.4).
    """
    taken: list[np.ndarray] = []
    remaining = int(k)
    for _, group in mismatch_groups(levels, candidates):
        if remaining == 0:
            break
        if len(group) <= remaining:
            taken.append(group)
            remaining -= len(group)
        else:
            higher = np.concatenate(taken) if taken else np.zeros(0, dtype=np.int64)
            taken.append(np.asarray(fill(group, remaining, higher)))
            remaining = 0
    return np.concatenate(taken).astype(np.int64) if taken else np.zeros(0, dtype=np.int64)


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
    ``clip_pred``: predicted binary tags, ``[N, C]`` or ``[n_unlabelled, C]``. Both bool or
    exactly 0/1 (probabilities and -1 codes are errors, as in ``select``).
    """
    space = as_space(space, device=device)
    mask = labeled_mask(labeled, space.n)
    if clip_labels is None or clip_pred is None:
        missing = [n for n, v in (("clip_labels", clip_labels), ("clip_pred", clip_pred)) if v is None]
        raise ValueError(f"mismatch-based selection after the init phase needs {missing}")
    clip_labels = binary_tags(clip_labels, "clip_labels", (space.n,))
    cand = np.flatnonzero(~mask)
    base = np.flatnonzero(mask)
    clip_pred = binary_tags(clip_pred, "clip_pred", (space.n, len(cand)), clip_labels.shape[1])
    pred = clip_pred[cand] if len(clip_pred) == space.n else clip_pred
    return cand, mismatch_levels(space, base, clip_labels[base], cand, pred)


def levels_of(picks: np.ndarray, candidates: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """The mismatch level ``[len(picks)]`` of each pick, looked up in ``(candidates ascending, levels)``."""
    return np.asarray(levels)[np.searchsorted(candidates, picks)]
