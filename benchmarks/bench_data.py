"""Benchmark: time to generate and prepare the synthetic data (notebook 01's work).

    .venv/bin/python benchmarks/bench_data.py [--size demo] [--seed 0] [--workers 2] [--root DIR]

Runs, in a fresh folder (a temporary one unless ``--root`` is given), the two steps that
``bioal.data.ensure_prepared`` runs for ``DATA_SOURCE = "synthetic"``:
``bioal.synth.audio.generate_development_set`` and ``bioal.dcase.prepare`` (method §1.1-§1.4:
label tables, temporal split, soxr_hq resampling to 32 kHz, PCM16 chunks). Reports wall
and CPU time (this process and its children) per step, the no-op time of a second
``ensure_prepared`` call, and the prepared clip counts. Prints a Markdown block for
``benchmarks/RESULTS.md``. Target: generate + prepare ``demo`` in under 2 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path


def _cpu() -> float:
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _timed(fn):
    wall, cpu = time.perf_counter(), _cpu()
    out = fn()
    return out, time.perf_counter() - wall, _cpu() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="demo", choices=["tiny", "demo", "large"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2, help="generator and preparation processes")
    parser.add_argument("--root", default=None, help="data folder (default: a temporary folder, removed after)")
    args = parser.parse_args()

    os.environ.setdefault("NUMBA_CACHE_DIR", str(Path(__file__).resolve().parents[1] / ".numba_cache"))
    import torch

    torch.set_num_threads(2)
    from bioal import data, dcase
    from bioal.synth.audio import generate_development_set

    root = Path(args.root) if args.root else Path(tempfile.mkdtemp(prefix="bench_data_"))
    try:
        raw, prepared = root / "raw", root / "prepared"
        _, gen_wall, gen_cpu = _timed(lambda: generate_development_set(raw, args.size, args.seed, progress=False,
                                                                       workers=args.workers))
        _, prep_wall, prep_cpu = _timed(lambda: dcase.prepare(raw, prepared, progress=False, workers=args.workers))
        audio_s = {}
        for division in ("AL", "SL"):
            import soundfile as sf

            audio_s[division] = sum(sf.info(p).duration for p in (prepared / division).rglob("*.wav"))
        # the marker ensure_prepared expects, then a no-op call
        config = data.DataConfig(data_source="synthetic", data_root=str(root), synth_size=args.size, seed=args.seed)
        data._ensure_raw_synthetic(config, raw, progress=False)
        _, noop_wall, _ = _timed(lambda: data.ensure_prepared(config, progress=False))
        summary = data.split_summary(prepared)
        load = os.getloadavg()
    finally:
        if not args.root:
            shutil.rmtree(root, ignore_errors=True)

    al = summary.loc["AL"]
    print(f"`benchmarks/bench_data.py --size {args.size} --seed {args.seed} --workers {args.workers}`\n")
    print("| step | wall (s) | CPU (s, all processes) |")
    print("|---|---:|---:|")
    print(f"| generate (`bioal.synth.audio`, {args.workers} workers) | {gen_wall:.1f} | {gen_cpu:.1f} |")
    print(f"| prepare (`bioal.dcase.prepare`, {args.workers} workers) | {prep_wall:.1f} | {prep_cpu:.1f} |")
    print(f"| **total** | **{gen_wall + prep_wall:.1f}** | {gen_cpu + prep_cpu:.1f} |")
    print(f"| second `ensure_prepared` (skipped, done) | {noop_wall:.3f} | |\n")
    print(f"Prepared audio: AL {audio_s['AL'] / 3600:.2f} h, SL {audio_s['SL'] / 3600:.2f} h at 32 kHz "
          f"(prepare: {(audio_s['AL'] + audio_s['SL']) / prep_wall:.0f}x real time).")
    print(f"AL clips train/valid/test: {al.loc['All clips', 'train']}/{al.loc['All clips', 'valid']}/"
          f"{al.loc['All clips', 'test']}; train all-negative {al.loc['Negative', 'train']}.")
    print(f"Load average at the end (1/5/15 min): {load[0]:.1f}/{load[1]:.1f}/{load[2]:.1f}.")


if __name__ == "__main__":
    main()
