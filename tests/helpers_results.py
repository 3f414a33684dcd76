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
    events: bool = True,
) -> Path:
    """Write one run folder with random but valid records; return the folder.

    ``events=False`` writes rounds as recorded before event-level scores (method §6.6)."""
    name = f"full-seed{seed}" if full else f"{strategy}-{'warm' if init_pos else 'cold'}-seed{seed}"
    folder = results_dir / "runs" / name
    gen = rng(seed, "fake-run", strategy, init_pos, int(full))
    write_json(
        folder / "config.json",
        {"strategy": strategy, "init_pos": init_pos, "seed": seed, "budgets": list(budgets), "full_supervision": full},
    )
    labelled = np.full(POOL_SIZE, -1, dtype=np.int64)
    order = gen.permutation(POOL_SIZE)
    previous = 0
    for r, n in enumerate((POOL_SIZE,) if full else budgets):
        selected = order[previous:n]
        counts = POOL_TOTALS.copy() if full else np.minimum(gen.integers(0, n // 10, size=7), POOL_TOTALS)
        record = {
            "round": r,
            "n_labelled": n,
            "selected": selected.tolist(),
            "selected_mismatch": None if r == 0 else gen.integers(0, 3, len(selected)).tolist(),
            "selected_distance": [None] + gen.uniform(0, 1, len(selected) - 1).tolist(),
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
        if events:  # its own generator: the other fields are the same with or without events
            eg = rng(seed, "fake-events", strategy, init_pos, int(full), r)
            counts3 = eg.integers(0, 20, (7, 3))
            p, r_, f = (eg.uniform(0.01, 1, 7) for _ in range(3))
            record.update(
                test_event_precision=p.tolist(),
                test_event_recall=r_.tolist(),
                test_event_f=f.tolist(),
                test_event_counts=counts3.tolist(),
                test_event_overall={
                    "precision": 7 / np.sum(1 / p),
                    "recall": 7 / np.sum(1 / r_),
                    "f-measure": 7 / np.sum(1 / f),
                    **dict(zip(("TP", "FP", "FN"), counts3.sum(axis=0).tolist(), strict=True)),
                },
                event_seconds=float(eg.uniform(0, 0.1)),
            )
        write_json(folder / "rounds" / f"{n:05d}.json", record)
        labelled[selected] = r
        previous = n
    np.save(folder / "labelled_round.npy", labelled)
    return folder


def write_prepared_audio(data_root: Path, recordings, seconds: float = 1.0) -> None:
    """Short noise WAVs at 32 kHz as ``prepared/AL/train/<rec>``: clips past the end are
    zero-padded by the readers, so the explorer can draw any clip."""
    import soundfile as sf

    folder = data_root / "prepared" / "AL" / "train"
    folder.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(sorted(set(recordings))):
        wave = 0.05 * rng(i, "fake-audio").standard_normal(int(seconds * 32000)).astype(np.float32)
        sf.write(folder / name, wave, 32000, subtype="PCM_16")


def write_fake_data_root(data_root: Path, recordings: np.ndarray | None = None) -> Path:
    """A train embedding file for the fake pool (tiny D) and its prepared audio; ``recordings``
    ``[POOL_SIZE]`` names each clip's recording (default: four recordings, round robin)."""
    from bioal.embeddings import EmbeddingSplit, write_split

    gen = rng(0, "fake-data")
    labels = np.zeros((POOL_SIZE, 32, 7), dtype=np.float32)
    start = 0
    for c, total in enumerate(POOL_TOTALS):
        labels[start : start + total, 4:12, c] = 1
        start += total
    if recordings is None:
        recordings = np.array([f"rec{i % 4}.wav" for i in range(POOL_SIZE)], dtype=object)
    split = EmbeddingSplit(
        gen.uniform(0, 1, (POOL_SIZE, 32, 4)).astype(np.float32),
        labels,
        list(PAPER_CLASSES),
        recordings,
        (np.arange(POOL_SIZE) // 4) * 5.0,
    )
    write_split(data_root / "embeddings" / "train.h5", split)
    write_prepared_audio(data_root, recordings)
    return data_root


def write_fake_sweep(results_dir: Path, seeds=(0, 1, 2), budgets=(50, 100), full_seeds=(0, 1)) -> None:
    """All four strategies x cold/warm x ``seeds`` plus full-supervision runs."""
    for strategy in ("random", "ft", "mp", "mfft"):
        for init_pos in (0, 5):
            for seed in seeds:
                write_fake_run(results_dir, strategy, init_pos, seed, budgets)
    for seed in full_seeds:
        write_fake_run(results_dir, "random", 0, seed, full=True)
