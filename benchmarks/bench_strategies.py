"""Benchmark: one FT / MP / MFFT selection round at the paper's size, matrix-free vs the
straightforward way (a precomputed N x N float32 cosine-distance matrix in HDF5, read back
each round, as the paper's release does), plus one per-round classifier training.

The matrix round is measured twice: with the file in the OS page cache (warm: each read is a
1.7 GiB memory copy) and with its pages dropped before each read (``posix_fadvise``
DONTNEED), so that it comes from the disk as in the paper's runs, which re-read ~15 GB of
embeddings and matrices per round (method §7.2) and cannot count on the cache.

    .venv/bin/python benchmarks/bench_strategies.py [--n 21414] [--dim 2048] [--threads 2]

Each case runs in its own subprocess; peak memory is the peak resident set size sampled
every 2 ms during the case minus the resident size just before it (the clip vectors, which
both approaches hold, are loaded before). Selection timings exclude the classifier inference
that produces the predicted tags (identical in both approaches; timed separately).
Prints a Markdown block for ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
EPS = np.float32(np.finfo(np.float32).eps)


def _rss() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class PeakRSS:
    """Context manager sampling the resident set size; ``.peak`` bytes above the start."""

    def __enter__(self):
        self.start = _rss()
        self.peak_abs = self.start
        self._stop = False
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()
        return self

    def _poll(self):
        while not self._stop:
            self.peak_abs = max(self.peak_abs, _rss())
            time.sleep(0.002)

    def __exit__(self, *exc):
        self._stop = True
        self._thread.join()
        self.peak_abs = max(self.peak_abs, _rss())
        self.peak = self.peak_abs - self.start


def _problem(n, dim, seed=0):
    from bioal.synth.embeddings import paper_shaped_clip_vectors
    from bioal.utils import rng

    x, tags = paper_shaped_clip_vectors(n=n, dim=dim, seed=seed)
    g = rng(seed, "bench-labelled")
    labelled = np.zeros(n, dtype=bool)
    labelled[g.choice(n, 450, replace=False)] = True
    # predicted tags: the truth with 10 % of the bits flipped (stands in for a classifier)
    pred = tags ^ (g.random(tags.shape) < 0.1)
    return x, tags, pred, labelled


# ----------------------------------------------------------------------------- straightforward way


def build_matrix(x: np.ndarray, path: Path) -> float:
    """The paper's matrix: 1 - cos of the normalised vectors, diagonal 0, float32, in HDF5."""
    import h5py

    start = time.perf_counter()
    u = x / (np.linalg.norm(x, axis=1, keepdims=True) + EPS)
    with h5py.File(path, "w") as handle:
        ds = handle.create_dataset("dist_mtx", shape=(len(x), len(x)), dtype=np.float32)
        for s in range(0, len(x), 2048):
            block = 1 - np.clip(u[s : s + 2048] @ u.T, -1, 1)
            for i in range(block.shape[0]):
                block[i, s + i] = 0
            ds[s : s + 2048] = block
    return time.perf_counter() - start


COLD_CACHE = False  # set by --cache cold: every read of the matrix comes from the disk


def drop_from_page_cache(path) -> None:
    """Evict the file's (clean) pages from the OS page cache, so the next read hits the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fdatasync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def _read(path):
    import h5py

    if COLD_CACHE:
        drop_from_page_cache(path)
    with h5py.File(path, "r") as handle:
        return handle["dist_mtx"][()]


def read_seconds(path) -> float:
    start = time.perf_counter()
    _read(path)
    return time.perf_counter() - start


def matrix_ft(path, base, k, cand):
    dm = _read(path)
    d = dm[np.ix_(cand, base)].min(axis=1) if len(base) else np.full(len(cand), np.inf, np.float32)
    out = []
    for _ in range(k):
        j = int(np.argmax(d))
        out.append(cand[j])
        d = np.minimum(d, dm[cand, cand[j]])
        d[j] = -np.inf
    return np.array(out)


def matrix_groups(path, labelled, tags, pred):
    dm = _read(path)
    base, cand = np.flatnonzero(labelled), np.flatnonzero(~labelled)
    nn = base[np.argmin(dm[np.ix_(cand, base)], axis=1)]
    levels = (pred[cand] != tags[nn]).sum(axis=1)
    return [cand[levels == v] for v in np.unique(levels)[::-1]]


def matrix_select(name, path, labelled, tags, pred, k, g):
    if name == "ft":
        return matrix_ft(path, np.flatnonzero(labelled), k, np.flatnonzero(~labelled))
    taken, remaining = [], k
    for group in matrix_groups(path, labelled, tags, pred):
        if remaining == 0:
            break
        if len(group) <= remaining:
            taken.append(group)
            remaining -= len(group)
        elif name == "mp":
            taken.append(g.choice(group, remaining, replace=False))
            remaining = 0
        else:
            base = np.concatenate([np.flatnonzero(labelled), *taken])
            taken.append(matrix_ft(path, base, remaining, group))
            remaining = 0
    return np.concatenate(taken)


# ----------------------------------------------------------------------------- cases


def case(kind: str, name: str, n: int, dim: int, threads: int, matrix_path: str) -> dict:
    import torch

    torch.set_num_threads(threads)
    from bioal.strategies import CosineSpace, select
    from bioal.utils import rng

    x, tags, pred, labelled = _problem(n, dim)
    result = {"kind": kind, "name": name}
    if kind == "matrixfree":
        kwargs = dict(k=50, clip_labels=tags, clip_pred=pred, explain=False)  # time the picking only
        with PeakRSS() as mem:
            t0 = time.perf_counter()
            space = CosineSpace(x, device="cpu")
            result["normalise_s"] = time.perf_counter() - t0
            # cold: a fresh space, nothing cached
            t0 = time.perf_counter()
            picks = select(name, embeddings=space, labeled=labelled, rng=rng(0, "bench"), **kwargs)
            result["cold_seconds"] = time.perf_counter() - t0
            # steady state of an AL run: the same space served the previous round (400 labelled)
            steady = []
            for rep in range(2):
                del space  # one normalised copy at a time
                space = CosineSpace(x, device="cpu")
                before = labelled.copy()
                before[np.flatnonzero(labelled)[rng(rep, "bench-prev").choice(450, 50, replace=False)]] = False
                select(name, embeddings=space, labeled=before, rng=rng(0, "bench"), **kwargs)
                t0 = time.perf_counter()
                again = select(name, embeddings=space, labeled=labelled, rng=rng(0, "bench"), **kwargs)
                steady.append(time.perf_counter() - t0)
                assert again.tolist() == picks.tolist()
        result["seconds"] = min(steady)
    else:
        global COLD_CACHE
        COLD_CACHE = kind == "matrix-cold"
        result["read_s"] = min(read_seconds(matrix_path) for _ in range(2))
        with PeakRSS() as mem:
            times = []
            for _ in range(2):
                t0 = time.perf_counter()
                picks = matrix_select(name, matrix_path, labelled, tags, pred, 50, rng(0, "bench"))
                times.append(time.perf_counter() - t0)
        result["seconds"] = min(times)
    result["peak_bytes"] = mem.peak
    result["picks"] = [int(i) for i in picks]
    return result


def classifier_case(threads: int, epochs: int, dim: int, hidden: int) -> dict:
    """One per-round classifier training: 500 labelled clips, a 4600-clip valid set, 32 frames."""
    import torch

    torch.set_num_threads(threads)
    from bioal.classifier import ClassifierConfig, train_classifier
    from bioal.synth.embeddings import paper_shaped_splits

    train, valid, _ = paper_shaped_splits(n_train=500, n_valid=4600, n_test=100, dim=dim, seed=0)
    cfg = ClassifierConfig(hidden=hidden, max_epochs=epochs)
    with PeakRSS() as mem:
        t0 = time.perf_counter()
        out = train_classifier(train.embeddings, train.labels, valid.embeddings, valid.labels, cfg, seed=0)
        seconds = time.perf_counter() - t0
    return {"seconds": seconds, "epochs": out.epochs, "per_epoch": seconds / out.epochs, "peak_bytes": mem.peak}


def _sub(args: list[str]) -> dict:
    out = subprocess.run([sys.executable, __file__, *args], check=True, capture_output=True, text=True, cwd=ROOT).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=21414)
    parser.add_argument("--dim", type=int, default=2048)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--classifier-epochs", type=int, default=3)
    parser.add_argument("--case", nargs=2, metavar=("KIND", "NAME"))
    parser.add_argument("--classifier", action="store_true")
    parser.add_argument("--matrix", default="")
    args = parser.parse_args()
    if args.case:
        print(json.dumps(case(args.case[0], args.case[1], args.n, args.dim, args.threads, args.matrix)))
        return
    if args.classifier:
        print(json.dumps(classifier_case(args.threads, args.classifier_epochs, args.dim, 1024)))
        return

    common = ["--n", str(args.n), "--dim", str(args.dim), "--threads", str(args.threads)]
    rows = []
    with tempfile.TemporaryDirectory(dir=ROOT / "benchmarks") as tmp:
        matrix = Path(tmp) / "dist_mtx.h5"
        x, *_ = _problem(args.n, args.dim)
        build_s = build_matrix(x, matrix)
        os.sync()  # written pages are clean, so they can be dropped from the page cache
        del x
        for name in ("ft", "mp", "mfft"):
            free = _sub([*common, "--case", "matrixfree", name])
            warm = _sub([*common, "--case", "matrix-warm", name, "--matrix", str(matrix)])
            cold = _sub([*common, "--case", "matrix-cold", name, "--matrix", str(matrix)])
            same = free["picks"] == warm["picks"] == cold["picks"]
            rows.append((name, free, warm, cold, same))
            print(name, free["seconds"], warm["seconds"], cold["seconds"], same, file=sys.stderr)
    clf = _sub(["--classifier", *common, "--classifier-epochs", str(args.classifier_epochs)])

    gib = 1024**3
    print(f"N = {args.n}, D = {args.dim}, 450 labelled, k = 50, {args.threads} torch threads.")
    print(
        f"Building the N x N float32 matrix into HDF5 (once): {build_s:.1f} s, {args.n**2 * 4 / gib:.2f} GiB on disk.\n"
    )
    print(
        f"One read of the matrix: {rows[0][2]['read_s']:.2f} s from the page cache (warm), "
        f"{rows[0][3]['read_s']:.2f} s from the disk (cold: the file's pages dropped before each read).\n"
    )
    print(
        "| strategy | matrix-free round, in a run | matrix-free, cold start | matrix round, warm cache "
        "| matrix round, from disk | speed-up vs warm / from disk (in a run) | matrix-free peak mem "
        "| matrix peak mem | memory ratio | same picks |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, free, warm, cold, same in rows:
        print(
            f"| {name} | {free['seconds']:.3f} s | {free['cold_seconds']:.2f} s | {warm['seconds']:.2f} s "
            f"| {cold['seconds']:.2f} s | {warm['seconds'] / free['seconds']:.0f}x / {cold['seconds'] / free['seconds']:.0f}x "
            f"| {free['peak_bytes'] / 2**20:.0f} MiB | {warm['peak_bytes'] / 2**20:.0f} MiB "
            f"| 1/{warm['peak_bytes'] / max(free['peak_bytes'], 1):.1f} | {'yes' if same else 'no'} |"
        )
    print(
        f"\nMatrix-free normalisation of the clip vectors (once per run, inside the peak above): "
        f"{rows[0][1]['normalise_s']:.2f} s."
    )
    print(
        f"\nClassifier round (hidden 1024, 500 labelled clips, 4600 x 32 valid frames, D = 2048): "
        f"{clf['per_epoch']:.2f} s per epoch over {clf['epochs']} epochs, peak {clf['peak_bytes'] / 2**20:.0f} MiB; "
        f"the paper's minimum of 43 epochs -> {43 * clf['per_epoch']:.0f} s per round."
    )


if __name__ == "__main__":
    main()
