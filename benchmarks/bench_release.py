"""Benchmark: notebook 07's work on a release of the demo's shape (or another shape).

    .venv/bin/python benchmarks/bench_release.py [--runs 3] [--budgets 35,70,...,350] [--dim 128]
        [--hidden 64] [--pool 3800] [--eval-clips 900]

Writes, in a temporary folder, a release in the authors' layout with random (seeded)
checkpoints of the given shape (``runs`` x 4 methods x 2 starts x budgets, plus ``runs`` full
runs) and random valid/test embeddings, zips it, then times each step of
``bioal.release``: ``unpack_zip``, ``scan_release``, ``release_tidy`` + ``release_layout``,
``check_clip_order`` and ``rescore_release`` (one checkpoint per run, every checkpoint, then
the resumed no-op). Writing the
stand-in from real run records (``write_standin_release``) is not included: it needs a sweep.
Prints a Markdown block for ``benchmarks/RESULTS.md``. Target: the demo shape in well under
60 s on 2 cores, so the chapter stays cheap.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import zipfile
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--budgets", default="35,70,105,140,175,210,245,280,315,350")
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--pool", type=int, default=3800)
    parser.add_argument("--eval-clips", type=int, default=900)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import numpy as np
    import torch

    torch.set_num_threads(2)
    from bioal import release
    from bioal.dcase import AL_CLASSES
    from bioal.embeddings import EmbeddingSplit
    from bioal.utils import rng

    budgets = [int(b) for b in args.budgets.split(",")]
    shapes = release.ReleaseShapes(in_dim=args.dim, hidden=args.hidden, n_classes=len(AL_CLASSES),
                                   pool_size=args.pool)
    gen = rng(args.seed, "bench-release")
    labels = (gen.uniform(size=(args.pool, 32, len(AL_CLASSES))) > 0.97).astype(np.float32)

    def split(n: int) -> EmbeddingSplit:
        return EmbeddingSplit(gen.normal(size=(n, 32, args.dim)).astype(np.float32),
                              (gen.uniform(size=(n, 32, len(AL_CLASSES))) > 0.95).astype(np.float32),
                              list(AL_CLASSES), np.array(["r.wav"] * n, dtype=object), np.arange(n, dtype=float))

    valid, test = split(args.eval_clips), split(args.eval_clips)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        archive = root / "models.zip"
        count = 0
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:

            def add(name: str, n: int) -> None:
                anno = np.zeros(args.pool, dtype=bool)
                anno[gen.choice(args.pool, n, replace=False)] = True
                data = {"anno_idx": anno,
                        "model": {k: torch.from_numpy(gen.normal(size=s).astype(np.float32))
                                  for k, s in shapes.state_shapes().items()},
                        **{k: torch.from_numpy(gen.uniform(size=len(AL_CLASSES))) for k in release.METRIC_KEYS},
                        "thres": 0.5}
                path = root / "one.pth"
                torch.save(data, path)
                zf.write(path, f"models/{name}")

            for e in range(1, args.runs + 1):
                for method in ("rand", "ft", "mp", "mfft"):
                    for k in (0, 5):
                        for b in budgets:
                            add(f"al_train/exp_{e}/{method}_with_{k}_pos_init/{b}.pth", b)
                            count += 1
                add(f"al_train_full/exp_{e}.pth", args.pool)
                count += 1

        times = {}

        def timed(name, fn):
            start = time.perf_counter()
            out = fn()
            times[name] = time.perf_counter() - start
            return out

        unpacked = timed("unpack_zip", lambda: release.unpack_zip(archive, root / "unpacked", progress=False))
        tree = release.locate_release(unpacked)
        scan = timed("scan_release", lambda: release.scan_release(tree))
        tidy = timed("release_tidy + release_layout",
                     lambda: release.release_tidy(scan, labels, shapes, progress=False))
        release.release_layout(tidy, labels)
        timed("check_clip_order", lambda: release.check_clip_order(scan, labels, shapes, progress=False))
        last = release.last_checkpoints(scan)
        timed(f"rescore_release, one checkpoint per run ({len(last)}, the chapter's default)",
              lambda: release.rescore_release(last, valid, test, root / "rescore_last", shapes, device="cpu",
                                              progress=False))
        timed(f"rescore_release, every checkpoint ({len(scan)})",
              lambda: release.rescore_release(scan, valid, test, root / "rescore", shapes, device="cpu",
                                              progress=False))
        timed("rescore_release (resumed, nothing to do)",
              lambda: release.rescore_release(scan, valid, test, root / "rescore", shapes, device="cpu",
                                              progress=False))
    print(f"### Released models (notebook 07): {count} checkpoints, D={args.dim}, hidden {args.hidden}, "
          f"pool {args.pool}, valid/test {args.eval_clips} clips each\n")
    print("| step | seconds |\n|---|---|")
    for name, seconds in times.items():
        print(f"| {name} | {seconds:.2f} |")
    print(f"| total | {sum(times.values()):.2f} |")


if __name__ == "__main__":
    main()
