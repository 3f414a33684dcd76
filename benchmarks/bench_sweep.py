"""Benchmarks of the experiment sweep (results go to benchmarks/RESULTS.md, section "Sweep").

(a) ``demo``: the whole demo sweep, 4 strategies x {cold, warm} x 3 seeds x 10 budgets plus
    3 full-supervision runs, through papermill (notebook 05 per run, then notebook 06), on
    the demo embeddings ``data/demo/embeddings`` when notebooks 01-03 made them, otherwise
    on demo-shaped synthetic embeddings (N = 2500 train, 500 valid, 500 test, 32 frames,
    D = 256). Target: under 10 minutes on 2 CPU cores.
(b) ``paper-round``: one AL run on paper-shaped synthetic embeddings (N = 21414 train, 4600
    valid, 4600 test, 32 frames, D = 2048, 7 classes, classifier 2048-1024-7), budgets 50
    and 100 with MFFT, so the second round includes the mismatch step over the whole pool;
    the epoch cap is small and the per-epoch time is extrapolated to the paper's >= 43
    epochs per round, then to the 40 + 5 run grid.

Usage: ``python benchmarks/bench_sweep.py demo [--workers 2]`` or
``python benchmarks/bench_sweep.py paper-round [--epochs 3] [--dtype float16]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from bioal.config import load_preset
from bioal.embeddings import SPLITS, write_split
from bioal.utils import resolve_path


def demo_sweep(workers: int, work: Path, max_epochs: int | None = None) -> dict:
    from bioal import sweep
    from bioal.synth.embeddings import paper_shaped_splits

    data_root = resolve_path(load_preset("demo")["DATA_ROOT"])
    source = "data/demo/embeddings (notebooks 01-03)"
    if not all((data_root / "embeddings" / f"{s}.h5").is_file() for s in SPLITS):
        data_root = work / "data"
        source = "demo-shaped synthetic embeddings (N=2500/500/500, T=32, D=256)"
        for name, split in zip(SPLITS, paper_shaped_splits(2500, 500, 500, dim=256, seed=0), strict=True):
            write_split(data_root / "embeddings" / f"{name}.h5", split)
    overrides = {"DATA_ROOT": str(data_root), "RESULTS_DIR": str(work / "results")}
    if max_epochs is not None:
        overrides["MAX_EPOCHS"] = max_epochs
    began = time.perf_counter()
    report = sweep.run_sweep("demo", workers=workers, overrides=overrides, executed=work / "_executed", figures=False)
    seconds = time.perf_counter() - began
    per_run = [o.seconds for o in report.outcomes if o.status == "done"]
    return {
        "benchmark": "demo sweep",
        "data": source,
        "workers": workers,
        "max_epochs": max_epochs or load_preset("demo")["MAX_EPOCHS"],
        "runs": len(report.outcomes),
        "failed": len(report.by_status("failed")),
        "failures": [o.describe() for o in report.by_status("failed")],
        "wall_seconds": round(seconds, 1),
        "run_seconds_mean": round(float(np.mean(per_run)), 1) if per_run else None,
        "run_seconds_max": round(float(np.max(per_run)), 1) if per_run else None,
    }


def paper_round(epochs: int, dtype: str, work: Path) -> dict:
    from bioal.experiment import ExperimentConfig, run_experiment
    from bioal.synth.embeddings import paper_shaped_splits

    began = time.perf_counter()
    splits = paper_shaped_splits(21414, 4600, 4600, dim=2048, seed=0, dtype=np.dtype(dtype))
    make_seconds = time.perf_counter() - began
    config = ExperimentConfig.from_dict(dict(
        preset="bench",
        results_dir=str(work / "results"),
        strategy="mfft",
        init_pos=0,
        seed=0,
        budgets=(50, 100),
        classifier_hidden=1024,
        max_epochs=epochs,
        device="cpu",
    ))
    began = time.perf_counter()
    record = run_experiment(config, splits=splits, progress=False)
    run_seconds = time.perf_counter() - began
    rounds = [
        {
            "n_labelled": r.n_labelled,
            "epochs": r.epochs,
            "select_seconds": round(r.select_seconds, 2),
            "train_seconds": round(r.train_seconds, 2),
            "train_seconds_per_epoch": round(r.train_seconds / max(1, r.epochs), 2),
        }
        for r in record.rounds
    ]
    per_epoch = rounds[-1]["train_seconds_per_epoch"]
    select = rounds[-1]["select_seconds"]
    round_43 = select + 43 * per_epoch
    run_43 = 10 * round_43
    return {
        "benchmark": "paper-sized round (CPU)",
        "dtype": dtype,
        "epoch_cap": epochs,
        "make_data_seconds": round(make_seconds, 1),
        "run_seconds": round(run_seconds, 1),
        "rounds": rounds,
        "extrapolated_round_seconds_43_epochs": round(round_43, 1),
        "extrapolated_run_seconds": round(run_43, 1),
        "extrapolated_grid_hours_40_runs": round(40 * run_43 / 3600, 1),
        "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("which", choices=("demo", "paper-round"))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=3, help="paper-round: epoch cap per round")
    parser.add_argument(
        "--max-epochs", type=int, default=None, help="demo: override MAX_EPOCHS (default: the preset's)"
    )
    parser.add_argument("--dtype", default="float16", choices=("float16", "float32"))
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench_sweep_"))
    try:
        if args.which == "demo":
            result = demo_sweep(args.workers, work, args.max_epochs)
        else:
            result = paper_round(args.epochs, args.dtype, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result["machine"] = f"{platform.machine()}, {os.cpu_count()} CPUs visible"
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
