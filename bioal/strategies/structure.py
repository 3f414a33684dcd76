"""How a pool looks to a selection strategy: neighbours, isolation and the main axis of its clip
vectors, in the strategies' own space (cosine distance between clip vectors).

The strategies see a pool only through its clip vectors. :func:`pool_structure` measures, from
the vectors and the pool's true tags, what decides their picks: whether clips lie among the clips
of their own recording or among clips of their class, whether the clips farthest from everything
hold calls, and whether one direction separates the clips that hold a call from the rest (the
book's method page, §9, says what the real pool is known to look like).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch

from bioal.strategies._cosine import _block_rows, as_count, as_space, binary_tags

__all__ = ["rarest_classes", "nearest_neighbours", "pool_structure", "describe_pool_structure"]


def rarest_classes(positives: Any, k: int = 2) -> np.ndarray:
    """Indices ``[k]`` of the ``k`` classes with the fewest positive clips, fewest first (ties:
    the earlier class), from counts per class ``[C]``."""
    counts = np.asarray(positives)
    if counts.ndim != 1:
        raise ValueError(f"positive clips per class must be [C], got shape {counts.shape}")
    k = as_count(k)
    if not 1 <= k <= len(counts):
        raise ValueError(f"k must be between 1 and the number of classes ({len(counts)}), got {k}")
    return np.argsort(counts, kind="stable")[:k]


def nearest_neighbours(embeddings: Any, k: int = 5, device: Any = "cpu") -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest other clips of every clip: indices ``[N, k]`` and cosine distances
    ``[N, k]``, nearest first. ``embeddings``: ``[N, D]`` clip vectors or
    a :class:`~bioal.strategies.CosineSpace`. Computed in blocks of rows; nothing ``N x N`` is kept."""
    space = as_space(embeddings, device=device)
    k = as_count(k)
    if not 1 <= k < space.n:
        raise ValueError(f"k must be between 1 and the number of clips - 1 ({space.n - 1}), got {k}")
    unit = space.unit.float()
    index = np.empty((space.n, k), dtype=np.int64)
    dist = np.empty((space.n, k), dtype=np.float32)
    block = _block_rows(space.n)
    for s in range(0, space.n, block):
        sims = (unit[s : s + block] @ unit.T).clamp_(-1.0, 1.0)  # [b, N]
        rows = torch.arange(s, s + len(sims), device=sims.device)
        sims[torch.arange(len(sims), device=sims.device), rows] = -float("inf")  # not its own neighbour
        best, order = torch.topk(sims, k, dim=1)  # sorted, nearest first
        index[s : s + len(sims)] = order.cpu().numpy()
        dist[s : s + len(sims)] = (1.0 - best).cpu().numpy()
    return index, dist


def pool_structure(
    embeddings: Any,
    clip_labels: Any,
    recordings: Sequence[str] | np.ndarray,
    *,
    class_names: Sequence[str] | None = None,
    k: int = 5,
    rare: Sequence[int] | None = None,
    isolated: float = 0.05,
    device: Any = "cpu",
) -> pd.DataFrame:
    """What decides a strategy's picks in a pool, measured on its true tags.

    ``embeddings``: clip vectors ``[N, D]`` (the max over frames) or a :class:`~bioal.strategies.CosineSpace`;
    ``clip_labels``: true clip tags ``[N, C]`` (0/1); ``recordings``: ``[N]`` the recording of
    each clip; ``rare``: the class indices counted as rare (default: the two with the fewest
    positive clips); ``isolated``: the share of clips, farthest from their nearest neighbour,
    counted as isolated. Returns one row per measure (index ``measure``), its ``value`` in
    percent and the ``clips`` it is taken over:

    - the clips' ``k`` nearest neighbours from their own recording;
    - the call clips' (those holding a class) neighbours sharing a class with them, and their
      neighbours that are clips of their own recording without a call;
    - the rare clips' neighbours that are rare clips;
    - call clips in the pool, and among the isolated clips;
    - the variance along the first principal axis of the unit clip vectors, and how well that
      axis alone separates call clips from the rest (ROC AUC, as a percentage; 50 is chance).
    """
    space = as_space(embeddings, device=device)
    tags = binary_tags(clip_labels, "clip_labels", (space.n,)).astype(bool)
    recordings = np.asarray(recordings, dtype=object)
    if recordings.shape != (space.n,):
        raise ValueError(f"recordings must be [{space.n}] (one per clip), got shape {recordings.shape}")
    n_classes = tags.shape[1]
    names = [f"class {c}" for c in range(n_classes)] if class_names is None else [str(c) for c in class_names]
    if len(names) != n_classes:
        raise ValueError(f"class_names has {len(names)} names but clip_labels has {n_classes} classes")
    if not 0 < isolated < 1:
        raise ValueError(f"isolated must be a share in (0, 1), got {isolated}")
    calls = tags.any(axis=1)
    if not calls.any() or calls.all():
        raise ValueError(
            "pool_structure compares clips with and without a call: "
            f"{'no clip holds a class' if not calls.any() else 'every clip holds a class'}"
        )
    rare_idx = rarest_classes(tags.sum(axis=0), min(2, n_classes)) if rare is None else np.asarray(rare, dtype=np.int64)
    if rare_idx.ndim != 1 or len(rare_idx) == 0 or ((rare_idx < 0) | (rare_idx >= n_classes)).any():
        raise ValueError(f"rare must be class indices in [0, {n_classes}), got {list(rare_idx)}")
    is_rare = tags[:, rare_idx].any(axis=1)

    nn, nn_dist = nearest_neighbours(space, k)
    same_rec = recordings[nn] == recordings[:, None]  # [N, k]
    shares_class = (tags[nn] & tags[:, None, :]).any(axis=2)  # [N, k]
    own_silent = same_rec & ~calls[nn]
    n_iso = max(1, int(round(isolated * space.n)))
    iso = np.argsort(-nn_dist[:, 0], kind="stable")[:n_iso]

    from sklearn.decomposition import PCA  # here, not at import: the strategies load without scikit-learn's cost
    from sklearn.metrics import roc_auc_score

    unit = space.unit.float().cpu().numpy()
    pca = PCA(n_components=1, svd_solver="full").fit(unit)
    auc = roc_auc_score(calls, pca.transform(unit)[:, 0])
    rare_names = " and ".join(names[c] for c in rare_idx)
    rows = [
        ("own_recording", f"neighbours (of {k}) from the clip's own recording", same_rec.mean(), space.n),
        ("class", "call clips: neighbours sharing a class", shares_class[calls].mean(), int(calls.sum())),
        ("own_silent", "call clips: neighbours of their own recording without a call", own_silent[calls].mean(),
         int(calls.sum())),
        ("rare", f"rare clips ({rare_names}): neighbours that are rare clips",
         is_rare[nn][is_rare].mean() if is_rare.any() else np.nan, int(is_rare.sum())),
        ("calls", "call clips in the pool", calls.mean(), space.n),
        ("isolated", f"call clips among the {100 * isolated:g} % most isolated clips", calls[iso].mean(), n_iso),
        ("axis", "variance along the first principal axis", pca.explained_variance_ratio_[0], space.n),
        ("axis_auc", "call clips told apart by that axis alone (ROC AUC)", max(auc, 1 - auc), space.n),
    ]
    table = pd.DataFrame([r[1:] for r in rows], columns=["measure", "value", "clips"]).set_index("measure")
    table["value"] = (100 * table["value"].astype(float)).round(1)
    table.attrs.update(k=k, isolated=isolated, rare=[names[c] for c in rare_idx], rows={r[0]: r[1] for r in rows})
    return table


def describe_pool_structure(table: pd.DataFrame) -> str:
    """The facts of a :func:`pool_structure` table in three sentences."""
    try:
        value = {key: float(table.loc[label, "value"]) for key, label in table.attrs["rows"].items()}
    except KeyError as err:
        raise ValueError(f"not a pool_structure table (no measure {err}); pass the table it returned") from None
    lean = value["isolated"] / value["calls"]
    isolated = 100 * table.attrs["isolated"]
    return (
        f"Call clips are {value['calls']:.0f} % of the pool and {value['isolated']:.0f} % of its {isolated:g} % most "
        f"isolated clips ({lean:.1f} times their share). "
        f"The first principal axis holds {value['axis']:.0f} % of the variance and, alone, tells call clips from "
        f"the rest with an AUC of {value['axis_auc']:.0f} % (50 % is chance). "
        f"Of a call clip's {table.attrs['k']} nearest neighbours, {value['class']:.0f} % share a class with it and "
        f"{value['own_silent']:.0f} % are clips of its own recording without a call."
    )
