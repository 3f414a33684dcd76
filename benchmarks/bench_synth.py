"""Benchmark: time to generate the synthetic Development_Set (default: the demo size, 2 workers).

Usage: ``.venv/bin/python benchmarks/bench_synth.py [--size demo] [--workers 2] [--keep DIR]``.
Prints a Markdown block (timings, audio volume, disk size, and what preparation will make of it:
AL clips and positive clips per class and split) for ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import logging
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from helpers_synth import al_class_summary  # noqa: E402

from bioal.synth.audio import generate_development_set, plan_development_set  # noqa: E402


def _cpu_seconds() -> float:
    usage = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    return sum(u.ru_utime + u.ru_stime for u in usage)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="demo")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--keep", type=Path, default=None, help="write here and keep it (default: a temp dir)")
    args = parser.parse_args()
    logging.getLogger("bioal.dcase").setLevel(logging.ERROR)

    t0 = time.perf_counter()
    plans = plan_development_set(args.size, args.seed)
    t_plan = time.perf_counter() - t0
    base = args.keep or Path(tempfile.mkdtemp(prefix="bench_synth_"))
    root = base / "raw"
    cpu0, t0 = _cpu_seconds(), time.perf_counter()
    generate_development_set(root, args.size, args.seed, progress=False, workers=args.workers)
    wall, cpu = time.perf_counter() - t0, _cpu_seconds() - cpu0
    t0 = time.perf_counter()
    generate_development_set(root, args.size, args.seed, progress=False, workers=args.workers)
    t_again = time.perf_counter() - t0
    nbytes = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    if args.keep is None:
        shutil.rmtree(base)

    for division in ("Training_Set", "Validation_Set"):
        sel = [p for p in plans if p.division == division]
        hours = sum(p.duration for p in sel) / 3600
        msamples = sum(p.n_samples * p.channels for p in sel) / 1e6
        print(f"- {division}: {len(sel)} recordings, {hours:.2f} h of audio, {msamples:.0f} M samples")
    print(f"- plan (no audio): {t_plan:.2f} s")
    print(f"- generation, size `{args.size}`, seed {args.seed}, {args.workers} workers: "
          f"**{wall:.1f} s wall**, {cpu:.1f} s CPU (all processes); {nbytes / 2**20:.0f} MiB written")
    print(f"- second call on the finished tree (manifest check only): {t_again * 1000:.0f} ms")
    print()
    print("What preparation (method §1.4 split, 10 s clips / 5 s hop) makes of the AL part:")
    print()
    print(al_class_summary(plans).to_markdown())


if __name__ == "__main__":
    main()
