"""Matrix-free cosine-distance machinery shared by the strategies (private).

Clip vectors are row-normalised once, ``u = x / (||x|| + eps)`` with ``eps`` the float32
machine epsilon (the paper's formula, method §4.2), and kept as one ``[N, D]`` tensor on the
device (float32, or float16 to halve memory at large N). Distances ``1 - clamp(u_i . u_j)``
are computed on demand: a block of rows against a small set (``block x |set|``), or one
matrix-vector product per farthest-first pick. No ``N x N`` array is ever built.

Zero vectors: with the eps formula a zero clip vector normalises to zero, so its cosine
similarity with every clip is 0 and its distance to every other clip is exactly 1 (the paper's
matrix gives the same, with its diagonal forced to 0). A zero vector is therefore "far from
everything": farthest-first tends to pick it early, and it is its own group of one. It is
never picked twice, because picked clips are masked rather than relying on a zero self-distance.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import torch

from bioal.utils import pick_device

EPS = float(np.finfo(np.float32).eps)
_CACHE_MIN_BASE = 32  # cache nearest-labelled searches for bases at least this large
_BLOCK_ELEMENTS = 1 << 22
_BLOCK_ROWS = 2048  # rows per block of the blocked products (a 2048 x 2048 float32 block is 16 MB)


def _block_rows(columns: int) -> int:
    """Rows per block of a blocked product against ``columns`` clips: at most ``_BLOCK_ROWS``
    rows and ``_BLOCK_ELEMENTS`` products, at least one row."""
    return max(1, min(_BLOCK_ROWS, _BLOCK_ELEMENTS // max(1, columns)))


def _cacheable(base: np.ndarray) -> bool:
    """Whether nearest-neighbour searches against ``base`` are cached: ascending (a labelled set) and large."""
    return len(base) >= _CACHE_MIN_BASE and bool(np.all(np.diff(base) > 0))


class CosineSpace:
    """Unit-normalised clip vectors ``[N, D]`` on a device, for cosine distances.

    ``embeddings``: ``[N, D]`` NumPy array or tensor of finite values. ``device``: "auto"
    (GPU when present), or a torch device. ``dtype``: ``torch.float32`` or ``torch.float16``
    storage; products accumulate in float32 and distances are float32.
    """

    def __init__(self, embeddings: Any, device: Any = "cpu", dtype: torch.dtype = torch.float32) -> None:
        x = embeddings if isinstance(embeddings, torch.Tensor) else torch.from_numpy(np.asarray(embeddings))
        if x.ndim != 2:
            raise ValueError(f"clip embeddings must be [N, D], got shape {tuple(x.shape)}")
        if dtype not in (torch.float32, torch.float16):
            raise ValueError(f"dtype must be torch.float32 or torch.float16, got {dtype}")
        self.device = pick_device(device) if isinstance(device, str) else torch.device(device)
        x = x.to(device=self.device, dtype=torch.float32)
        finite = torch.isfinite(x).all(dim=1)
        if not bool(finite.all()):
            bad = torch.nonzero(~finite).flatten()[:10].tolist()
            raise ValueError(f"clip embeddings have NaN/inf in rows {bad}")
        norms = torch.linalg.vector_norm(x, dim=1, keepdim=True)
        self.zero_rows = torch.nonzero(norms.flatten() == 0).flatten().cpu().numpy()
        self.unit = (x / (norms + EPS)).to(dtype)  # [N, D]
        self.dtype = dtype
        self._cache: tuple[np.ndarray, torch.Tensor, torch.Tensor] | None = None  # see nearest()

    @property
    def n(self) -> int:
        return int(self.unit.shape[0])

    @property
    def dim(self) -> int:
        return int(self.unit.shape[1])

    def _products(self, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
        """``unit[rows] @ unit[cols].T`` in float32 ``[len(rows), len(cols)]``."""
        a, b = self.unit[rows], self.unit[cols]
        if self.dtype == torch.float16 and self.device.type == "cpu":
            a, b = a.float(), b.float()
        return (a @ b.T).float()

    def distances_to(self, j: int, rows: torch.Tensor | None = None) -> torch.Tensor:
        """Distances ``[len(rows)]`` (or ``[N]``) from clip ``j``: one matrix-vector product."""
        v = self.unit[j]
        mat = self.unit if rows is None else self.unit[rows]
        if self.dtype == torch.float16 and self.device.type == "cpu":
            out = torch.empty(mat.shape[0], dtype=torch.float32, device=self.device)
            step = 1 << 14
            vf = v.float()
            for s in range(0, mat.shape[0], step):
                out[s : s + step] = mat[s : s + step].float() @ vf
            sims = out
        else:
            sims = (mat @ v).float()
        return 1.0 - sims.clamp_(-1.0, 1.0)

    def _block_nearest(self, rows_t: torch.Tensor, base_t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        dist = torch.full((len(rows_t),), float("inf"), device=self.device)
        pos = torch.full((len(rows_t),), -1, dtype=torch.long, device=self.device)
        if len(base_t) == 0 or len(rows_t) == 0:
            return dist, pos
        block = _block_rows(len(base_t))
        every = len(rows_t) == self.n and bool(
            (rows_t[[0, -1]] == torch.tensor([0, self.n - 1], device=self.device)).all()
        )
        b = self.unit[base_t]
        if self.dtype == torch.float16 and self.device.type == "cpu":
            b = b.float()
        for s in range(0, len(rows_t), block):
            a = self.unit[s : s + block] if every else self.unit[rows_t[s : s + block]]  # slice: no copy
            if self.dtype == torch.float16 and self.device.type == "cpu":
                a = a.float()
            d = 1.0 - (a @ b.T).float().clamp_(-1.0, 1.0)  # [b, |base|]
            values, where = torch.min(d, dim=1)  # first minimum
            dist[s : s + block] = values
            pos[s : s + block] = where
        return dist, pos

    def nearest(self, rows: np.ndarray, base: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """For each of ``rows``: the distance to, and position in ``base`` of, its nearest base clip.

        Ties go to the earliest position in ``base``. ``base`` empty -> distances ``+inf`` and
        positions ``-1``. Computed in blocks of rows, memory ``O(block x |base|)``.

        When ``base`` is in ascending index order (the labelled set) and large, the nearest
        base clip of *every* clip is cached, and a later call whose base contains the cached
        one (the labelled set after another round) only computes distances to the new
        members: the AL loop pays ``N x 50`` products per round instead of ``N x |L|``.
        """
        rows = np.asarray(rows, dtype=np.int64)
        base = np.asarray(base, dtype=np.int64)
        if not _cacheable(base):
            rows_t = torch.as_tensor(rows, dtype=torch.long, device=self.device)
            base_t = torch.as_tensor(base, dtype=torch.long, device=self.device)
            return self._block_nearest(rows_t, base_t)
        cache = self._cache
        if cache is None or not np.array_equal(cache[0], base):
            all_t = torch.arange(self.n, device=self.device)
            old = cache[0] if cache is not None else None
            if old is not None and len(old) <= len(base) and np.isin(old, base, assume_unique=True).all():
                new = np.setdiff1d(base, old, assume_unique=True)
                d_new, p_new = self._block_nearest(all_t, torch.as_tensor(new, device=self.device))
                i_new = torch.as_tensor(new, device=self.device)[p_new]
                d_old, i_old = cache[1], cache[2]
                take = (d_new < d_old) | ((d_new == d_old) & (i_new < i_old))
                dist, idx = torch.where(take, d_new, d_old), torch.where(take, i_new, i_old)
            else:
                dist, p = self._block_nearest(all_t, torch.as_tensor(base, device=self.device))
                idx = torch.as_tensor(base, device=self.device)[p]
            self._cache = cache = (base.copy(), dist, idx)
        rows_t = torch.as_tensor(rows, dtype=torch.long, device=self.device)
        idx = cache[2][rows_t]
        pos = torch.searchsorted(torch.as_tensor(base, device=self.device), idx)
        return cache[1][rows_t].clone(), pos

    def min_distance(self, rows: np.ndarray, base: np.ndarray) -> torch.Tensor:
        """Distance ``[len(rows)]`` of each row to its nearest ``base`` clip (``+inf`` if ``base`` is empty).

        When ``base`` contains the cached labelled set (MFFT's base: labelled + the clips of
        the higher mismatch groups), the cached distances are reused and only the extra
        members are searched: ``len(rows) x |extra|`` products instead of ``x |base|``.
        """
        rows = np.asarray(rows, dtype=np.int64)
        base = np.asarray(base, dtype=np.int64)
        cache = self._cache
        # a labelled set itself goes through nearest(), which moves the cache along with it
        if _cacheable(base) or cache is None or len(base) < len(cache[0]) or not np.isin(cache[0], base).all():
            return self.nearest(rows, base)[0]
        rows_t = torch.as_tensor(rows, dtype=torch.long, device=self.device)
        dist = cache[1][rows_t].clone()
        extra = np.setdiff1d(base, cache[0])
        if len(extra):
            d_extra, _ = self._block_nearest(rows_t, torch.as_tensor(extra, device=self.device))
            dist = torch.minimum(dist, d_extra)
        return dist


def as_space(embeddings: Any, device: Any = "cpu", dtype: torch.dtype = torch.float32) -> CosineSpace:
    """``embeddings`` itself if it already is a :class:`CosineSpace`, else a new one."""
    return embeddings if isinstance(embeddings, CosineSpace) else CosineSpace(embeddings, device=device, dtype=dtype)


def as_indices(index: Any, n: int, what: str) -> np.ndarray:
    """Indices (int array, order kept) from ints or a boolean mask of length ``n``; checked.

    An integer array is always read as indices: an integer 0/1 array of length ``n`` (a mask
    that is not bool) gets an error, or a warning where it is also valid as indices, saying so.
    """
    if index is None:
        return np.zeros(0, dtype=np.int64)
    if isinstance(index, torch.Tensor):
        index = index.detach().cpu().numpy()
    a = np.asarray(index)
    if a.dtype == np.bool_:
        if a.shape != (n,):
            raise ValueError(f"{what}: boolean mask must have shape ({n},), got {a.shape}")
        return np.flatnonzero(a).astype(np.int64)
    if a.size == 0:
        return np.zeros(0, dtype=np.int64)
    if a.ndim != 1 or not np.issubdtype(a.dtype, np.integer):
        raise ValueError(f"{what}: expected a 1-D array of integer indices or a boolean mask, got {a.dtype} {a.shape}")
    looks_like_mask = len(a) == n and bool(np.isin(a, (0, 1)).all())
    hint = (
        f"; {what} is an integer 0/1 array of length {n}: integer arrays are read as indices, "
        "pass a mask as bool (np.asarray(mask, dtype=bool))"
    ) if looks_like_mask else ""
    bad = (a < 0) | (a >= n)
    if bad.any():
        raise IndexError(f"{what}: index {int(a[bad][0])} is out of range for {n} clips")
    if len(np.unique(a)) != len(a):
        vals, counts = np.unique(a, return_counts=True)
        raise ValueError(f"{what}: duplicate indices {vals[counts > 1][:10].tolist()}{hint}")
    if looks_like_mask:
        warnings.warn(f"{what}: read as the indices {a.tolist()}{hint}", stacklevel=3)
    return a.astype(np.int64)


def as_count(value: Any, what: str = "k") -> int:
    """``value`` as an int after checking it is one (Python or NumPy integer, not bool):
    a float such as 2.7 is an error, never truncated."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{what} must be an integer number of clips, got {value!r} ({type(value).__name__})")
    return int(value)


def binary_tags(value: Any, what: str, rows: tuple[int, ...], n_classes: int | None = None) -> np.ndarray:
    """``value`` as bool tags ``[rows, C]`` after checking it: 2-D, ``rows`` one of those
    allowed, ``C`` equal to ``n_classes`` when given, and every value bool or exactly 0 or 1
    (probabilities and -1/0 codes are errors, not binarised)."""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    array = np.asarray(value)
    if array.ndim != 2:
        raise ValueError(f"{what}: expected binary tags [N, C], got shape {array.shape}")
    if array.shape[0] not in rows:
        raise ValueError(f"{what}: expected {' or '.join(map(str, rows))} rows, got shape {array.shape}")
    if n_classes is not None and array.shape[1] != n_classes:
        raise ValueError(f"{what}: expected {n_classes} classes (as clip_labels), got shape {array.shape}")
    if array.dtype == bool:
        return array
    if not np.issubdtype(array.dtype, np.number):
        raise ValueError(f"{what}: expected bool or 0/1 tags, got dtype {array.dtype}")
    odd = ~((array == 0) | (array == 1))
    if odd.any():
        r, c = (int(i) for i in np.argwhere(odd)[0])
        raise ValueError(
            f"{what}: row {r}, class {c} is {array[r, c].item()!r}; expected binary tags (bool, or exactly 0 or 1): "
            "threshold probabilities first, and map -1 codes explicitly"
        )
    return array.astype(bool)
