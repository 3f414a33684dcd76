"""Synthetic clip and frame embeddings for teaching, tests and benchmarks.

* :func:`toy_pool` - a 2-D pool for notebook 04: a few common clusters, a background
  (negative) cloud and one small rare cluster, laid out by *direction* because cosine
  distance only sees the angle between vectors.
* :func:`paper_shaped_splits` - train/valid/test :class:`~bioal.embeddings.EmbeddingSplit`
  with the paper's shapes (21414 / 4600 / 4600 clips, 32 frames, D = 2048, 7 classes) and
  class imbalance (method §6.3 ``Total_*`` counts scaled to N, at most one class per clip),
  non-negative like ReLU encoder outputs, with class-dependent structure a classifier can
  learn: each class adds its own prototype on the frames of one event, on top of a
  per-recording background. Song thrush and blackbird share half of their prototype, as the
  two similar songs do in the real data.
* :func:`paper_shaped_clip_vectors` - only the ``[N, D]`` clip vectors and clip tags, for
  strategy benchmarks at the paper's size without the 5.6 GB of frames.

Everything is drawn from ``bioal.utils.rng(seed, ...)``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from bioal.dcase import AL_CLASSES, PAPER_POOL_SIZE, PAPER_POOL_TOTALS
from bioal.embeddings import EmbeddingSplit
from bioal.utils import rng

__all__ = [
    "ToyPool",
    "toy_pool",
    "class_counts",
    "paper_shaped_splits",
    "paper_shaped_clip_vectors",
]


@dataclasses.dataclass
class ToyPool:
    """A 2-D toy pool: ``x [N, 2]``, clip tags ``labels [N, C]`` bool, ``cluster [N]`` int
    (-1 background), ``class_names``, and ``rare`` (the rare class's column)."""

    x: np.ndarray
    labels: np.ndarray
    cluster: np.ndarray
    class_names: list[str]
    rare: int


def toy_pool(n: int = 400, seed: int = 0, rare_size: int = 6) -> ToyPool:
    """A 2-D pool of ``n`` points: three common classes, a rare class of ``rare_size``
    points in its own direction, and a negative background spread over the common classes'
    directions (-10 to 230 degrees); the rare cluster sits alone at 300 degrees."""
    g = rng(seed, "toy-pool")
    names = ["common A", "common B", "common C", "rare"]
    angles = np.deg2rad([20.0, 100.0, 200.0, 300.0])
    spread = np.deg2rad([12.0, 12.0, 15.0, 4.0])
    n_class = [int(0.18 * n), int(0.14 * n), int(0.1 * n), rare_size]
    n_bg = n - sum(n_class)
    if n_bg < 0:
        raise ValueError(f"n={n} is too small for the toy clusters")
    # the background covers the common clusters' directions only: the rare cluster sits alone
    theta, cluster = [g.uniform(np.deg2rad(-10.0), np.deg2rad(230.0), n_bg)], [np.full(n_bg, -1)]
    for c, (a, s, m) in enumerate(zip(angles, spread, n_class, strict=True)):
        theta.append(g.normal(a, s, m))
        cluster.append(np.full(m, c))
    theta_all = np.concatenate(theta)
    cluster_all = np.concatenate(cluster)
    radius = g.uniform(0.5, 1.5, n)
    order = g.permutation(n)  # clusters not in index order
    theta_all, cluster_all = theta_all[order], cluster_all[order]
    x = np.stack([radius * np.cos(theta_all), radius * np.sin(theta_all)], axis=1).astype(np.float32)
    labels = np.zeros((n, len(names)), dtype=bool)
    labels[cluster_all >= 0, cluster_all[cluster_all >= 0]] = True
    return ToyPool(x=x, labels=labels, cluster=cluster_all, class_names=names, rare=3)


def class_counts(n: int, classes: int = 7) -> np.ndarray:
    """Positive clips per class for a pool of ``n`` clips: the paper's ``Total_*`` scaled to
    ``n`` (at least 1 each; classes beyond 7 reuse the pattern)."""
    paper = list(PAPER_POOL_TOTALS.values())
    totals = np.array([paper[c % len(paper)] for c in range(classes)], dtype=np.float64)
    counts = np.maximum(1, np.round(totals * n / PAPER_POOL_SIZE)).astype(np.int64)
    if counts.sum() > n:
        raise ValueError(f"{n} clips cannot hold {counts.sum()} positives of {classes} classes")
    return counts


class _Structure:
    """Shared prototypes: per-class event prototypes and per-recording backgrounds."""

    def __init__(self, dim: int, classes: int, seed: int, n_recordings: int = 12) -> None:
        g = rng(seed, "synth-embeddings", "structure")
        self.proto = np.abs(g.standard_normal((classes, dim), dtype=np.float32))
        self.proto *= g.random((classes, dim), dtype=np.float32) < 0.25  # sparse, class-specific
        if classes >= 6:  # song thrush (4) and blackbird (5) share half their prototype
            self.proto[5] = 0.5 * self.proto[4] + 0.5 * self.proto[5]
        self.background = np.abs(g.standard_normal((n_recordings, dim), dtype=np.float32))
        self.n_recordings = n_recordings


def _tags(n: int, counts: np.ndarray, g: np.random.Generator) -> np.ndarray:
    """Clip class ``[n]`` (-1 negative), exactly ``counts[c]`` clips of class c, shuffled."""
    cls = np.full(n, -1, dtype=np.int64)
    cls[: counts.sum()] = np.repeat(np.arange(len(counts)), counts)
    return cls[g.permutation(n)]


def _split(
    n: int, frames: int, structure: _Structure, counts: np.ndarray, seed: int, name: str, dtype: Any, classes: int
) -> EmbeddingSplit:
    g = rng(seed, "synth-embeddings", name)
    cls = _tags(n, counts, g)
    rec = g.integers(0, structure.n_recordings, n)
    dim = structure.proto.shape[1]
    x = np.empty((n, frames, dim), dtype=dtype)
    y = np.zeros((n, frames, classes), dtype=np.float32)
    chunk = max(1, (1 << 22) // (frames * dim))
    for s in range(0, n, chunk):
        e = min(n, s + chunk)
        noise = g.standard_normal((e - s, frames, dim), dtype=np.float32)
        block = 0.6 * structure.background[rec[s:e]][:, None, :] + 0.5 * noise
        for i in range(s, e):
            if cls[i] >= 0:
                length = int(g.integers(max(1, frames // 8), max(2, frames // 2) + 1))
                start = int(g.integers(0, frames - length + 1))
                amp = g.uniform(0.6, 1.4)
                block[i - s, start : start + length] += amp * structure.proto[cls[i]]
                y[i, start : start + length, cls[i]] = 1.0
        x[s:e] = np.maximum(block, 0)  # non-negative, like ReLU outputs
    names = list(AL_CLASSES) if classes == 7 else [f"class_{c}" for c in range(classes)]
    per_rec = np.zeros(structure.n_recordings, dtype=np.int64)
    starts = np.empty(n)
    for i, r in enumerate(rec):
        starts[i] = 5.0 * per_rec[r]
        per_rec[r] += 1
    return EmbeddingSplit(
        embeddings=x,
        labels=y,
        class_names=names,
        recording=np.array([f"synthetic_{name}_rec{r:02d}.wav" for r in rec], dtype=object),
        clip_start=starts,
        attrs={"source": "bioal.synth.embeddings", "seed": seed},
    )


def paper_shaped_splits(
    n_train: int = PAPER_POOL_SIZE,
    n_valid: int = 4600,
    n_test: int = 4600,
    frames: int = 32,
    dim: int = 2048,
    classes: int = 7,
    seed: int = 0,
    dtype: Any = np.float32,
) -> tuple[EmbeddingSplit, EmbeddingSplit, EmbeddingSplit]:
    """Train/valid/test splits ``[N, frames, dim]`` with the paper's imbalance.

    Memory: ``n * frames * dim`` values per split (the full paper size is 5.6 GB for train in
    float32); use small ``n`` / ``dim`` for tests or :func:`paper_shaped_clip_vectors`.
    """
    structure = _Structure(dim, classes, seed)
    return tuple(  # type: ignore[return-value]
        _split(n, frames, structure, class_counts(n, classes), seed, name, dtype, classes)
        for name, n in (("train", n_train), ("valid", n_valid), ("test", n_test))
    )


def paper_shaped_clip_vectors(
    n: int = PAPER_POOL_SIZE, dim: int = 2048, classes: int = 7, seed: int = 0, dtype: Any = np.float32
) -> tuple[np.ndarray, np.ndarray]:
    """Clip vectors ``[n, dim]`` (max over frames of the same model) and clip tags ``[n, C]`` bool.

    Drawn clip by clip as the max of 32 frames' background + noise, plus the class prototype,
    without materialising the frames; the same class structure as :func:`paper_shaped_splits`.
    """
    structure = _Structure(dim, classes, seed)
    g = rng(seed, "synth-clip-vectors")
    cls = _tags(n, class_counts(n, classes), g)
    rec = g.integers(0, structure.n_recordings, n)
    x = np.empty((n, dim), dtype=dtype)
    chunk = 4096
    for s in range(0, n, chunk):
        e = min(n, s + chunk)
        # max of 32 standard normals is about 2.0 +- 0.4
        peak = 2.0 + 0.4 * g.standard_normal((e - s, dim), dtype=np.float32)
        block = 0.6 * structure.background[rec[s:e]] + 0.5 * peak
        pos = cls[s:e] >= 0
        block[pos] += g.uniform(0.6, 1.4, (int(pos.sum()), 1)).astype(np.float32) * structure.proto[cls[s:e][pos]]
        x[s:e] = np.maximum(block, 0)
    tags = np.zeros((n, classes), dtype=bool)
    tags[cls >= 0, cls[cls >= 0]] = True
    return x, tags
