"""Hand-written run records (DESIGN.md "Run records") for the results tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bioal.paper import PAPER_CLASSES
from bioal.utils import rng, write_json

POOL_TOTALS = np.array([120, 100, 6, 4, 20, 20, 110])
POOL_SIZE = 2000


def write_fake_run(
    results_dir: Path,
    strategy: str,
    init_pos: int,
    seed: int,
    budgets: tuple[int, ...] = (50, 100),
    full: bool = False,
) -> Path:
    """Write one run folder with random but valid records; return the folder."""
    name = f"full-seed{seed}" if full else f"{strategy}-{'warm' if init_pos else 'cold'}-seed{seed}"
    folder = results_dir / "runs" / name
    gen = rng(seed, "fake-run", strategy, init_pos, int(full))
    write_json(
        folder / "config.json",
        {"strategy": strategy, "init_pos": init_pos, "seed": seed, "budgets": list(budgets), "full_supervision": full},
    )
    labelled = np.full(POOL_SIZE, -1, dtype=np.int64)
    for r, n in enumerate((POOL_SIZE,) if full else budgets):
        counts = POOL_TOTALS.copy() if full else np.minimum(gen.integers(0, n // 10, size=7), POOL_TOTALS)
        record = {
            "round": r,
            "n_labelled": n,
            "selected": [],
            "selected_mismatch": None,
            "selected_distance": None,
            "threshold": float(gen.uniform(0.1, 0.9)),
            "epochs": int(gen.integers(43, 80)),
            "select_seconds": float(gen.uniform(0, 1)),
            "train_seconds": float(gen.uniform(1, 5)),
            "class_names": list(PAPER_CLASSES),
            "class_counts": counts.tolist(),
            "valid_ap": gen.uniform(0, 1, 7).tolist(),
            "valid_f1": gen.uniform(0, 1, 7).tolist(),
            "test_ap": gen.uniform(0, 1, 7).tolist(),
            "test_f1": gen.uniform(0, 1, 7).tolist(),
            "history": [{"loss": 1.0, "valid_cmap": 0.5, "lr": 5e-4}],
        }
        write_json(folder / "rounds" / f"{n:05d}.json", record)
        labelled[:n] = np.where(labelled[:n] < 0, r, labelled[:n])
    np.save(folder / "labelled_round.npy", labelled)
    return folder


def write_fake_sweep(results_dir: Path, seeds=(0, 1, 2), budgets=(50, 100), full_seeds=(0, 1)) -> None:
    """All four strategies x cold/warm x ``seeds`` plus full-supervision runs."""
    for strategy in ("random", "ft", "mp", "mfft"):
        for init_pos in (0, 5):
            for seed in seeds:
                write_fake_run(results_dir, strategy, init_pos, seed, budgets)
    for seed in full_seeds:
        write_fake_run(results_dir, "random", 0, seed, full=True)
