"""Benchmark: the cost of event-level scoring (method §6.6) per active-learning round.

Three measurements, each printed as a Markdown block for ``benchmarks/RESULTS.md``:

1. **Demo test split.** The clip table and frame labels of the demo's AL test split, built from
   the synthetic development set's plan (``bioal.synth.audio.plan_development_set``, no audio):
   the method §1.4 temporal split of every Validation_Set recording, 10 s clips every 5 s, frame
   labels ``[N, 32, 7]``. Frame probabilities stand in for a classifier: the labels blurred over
   neighbouring frames plus seeded noise. Timed: the reference events (built once per run) and
   one round's scoring (``split_event_scores`` with the reference given, as the loop calls it),
   split into ``frames_to_events`` and ``score_events``.
2. **Paper-sized test split.** The same recordings repeated under new names (fresh noise) until
   the split has at least ``--paper-clips`` (4,600) clips, the size of the paper's AL test split.
3. **Inside the loop.** ``run_experiment`` on demo-shaped synthetic embeddings (``paper_shaped_splits``,
   D = 256, the demo classifier settings) for a few rounds: ``event_seconds`` against the
   round's selection and training time, read from the round records.

    .venv/bin/python benchmarks/bench_events.py [--repeats 5] [--paper-clips 4600] [--rounds 4]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from bioal.dcase import (
    AL_CLASSES,
    AL_RATIOS,
    DUPLICATE_RECORDINGS,
    clip_frame_labels,
    clip_starts,
    normalise_name,
    split_times,
)
from bioal.events import frames_to_events, label_events, score_events, split_event_scores
from bioal.experiment import ExperimentConfig, run_experiment
from bioal.synth.audio import plan_development_set
from bioal.synth.embeddings import paper_shaped_splits
from bioal.utils import rng


def demo_test_split(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(labels [N, 32, 7], recording [N], clip_start [N])`` of the demo's AL test split."""
    labels, names, starts = [], [], []
    for plan in plan_development_set("demo", seed):
        if plan.division != "Validation_Set" or (plan.division, plan.subset, plan.name) in DUPLICATE_RECORDINGS:
            continue
        pos_calls = {normalise_name(e.call) for e in plan.events if "POS" in e.cells}
        table = pd.DataFrame(
            {
                "Starttime": [e.start for e in plan.events],
                "Endtime": [e.end for e in plan.events],
                **{
                    c: [(1 if "POS" in e.cells else -1) if c in pos_calls else 0 for e in plan.events]
                    for c in AL_CLASSES
                },
            }
        )
        cuts = split_times(table, AL_CLASSES, AL_RATIOS, plan.name)
        test = table[table.Endtime >= cuts[1]].copy()
        test[["Starttime", "Endtime"]] = (test[["Starttime", "Endtime"]] - cuts[1]).clip(lower=0)
        clip_s = clip_starts(plan.duration - cuts[1])
        positive = test[list(AL_CLASSES)].to_numpy() == 1
        labels.append(clip_frame_labels(test.Starttime.to_numpy(), test.Endtime.to_numpy(), positive, clip_s))
        names += [f"{plan.name}.wav"] * len(clip_s)
        starts.append(clip_s)
    return np.concatenate(labels), np.array(names, dtype=object), np.concatenate(starts)


def tile(labels, names, starts, min_clips: int):
    """The split repeated under new recording names until it has at least ``min_clips`` clips."""
    k = -(-min_clips // len(labels))
    return (
        np.concatenate([labels] * k),
        np.concatenate([np.array([f"copy{i}_{n}" for n in names], dtype=object) for i in range(k)]),
        np.concatenate([starts] * k),
    )


def fake_probs(labels: np.ndarray, seed: int) -> np.ndarray:
    """A classifier stand-in: labels blurred over +-1 frame, scaled, plus seeded noise, in [0, 1]."""
    blurred = labels.copy()
    blurred[:, 1:] = np.maximum(blurred[:, 1:], 0.5 * labels[:, :-1])
    blurred[:, :-1] = np.maximum(blurred[:, :-1], 0.5 * labels[:, 1:])
    noise = rng(seed, "bench-events").normal(0.0, 0.15, labels.shape)
    return np.clip(0.1 + 0.7 * blurred + noise, 0.0, 1.0).astype(np.float32)


def _median_seconds(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def time_split(name: str, labels, names, starts, repeats: int) -> str:
    classes = list(AL_CLASSES)
    probs = fake_probs(labels, 0)
    t0 = time.perf_counter()
    reference = label_events(labels, names, starts, classes)
    ref_seconds = time.perf_counter() - t0
    threshold = 0.5
    pred = frames_to_events(probs, names, starts, classes, threshold)
    files = pd.DataFrame([(c, n) for c in classes for n in sorted(set(names))], columns=["subset", "Audiofilename"])
    out = split_event_scores(probs, labels, names, starts, classes, threshold, reference=reference)
    per_round = _median_seconds(
        lambda: split_event_scores(probs, labels, names, starts, classes, threshold, reference=reference), repeats
    )
    to_events = _median_seconds(lambda: frames_to_events(probs, names, starts, classes, threshold), repeats)
    scoring = _median_seconds(
        lambda: score_events(
            pred.rename(columns={"label": "subset"}),
            reference.rename(columns={"label": "subset"}),
            files,
            n_shots=0,
        ),
        repeats,
    )
    o = out["overall"]
    return (
        f"| {name} | {len(labels)} | {len(set(names))} | {len(reference)} | {len(pred)} | {ref_seconds:.3f} | "
        f"{to_events:.3f} | {scoring:.3f} | **{per_round:.3f}** | {100 * o['f-measure']:.1f} |"
    )


def loop_rounds(n_test: int, rounds: int) -> str:
    splits = paper_shaped_splits(n_train=3700, n_valid=800, n_test=n_test, frames=32, dim=256, seed=0)
    budgets = tuple(35 * (i + 1) for i in range(rounds))
    with tempfile.TemporaryDirectory() as tmp:
        cfg = ExperimentConfig.from_dict(
            {
                "results_dir": str(Path(tmp) / "results"),
                "strategy": "mfft",
                "budgets": budgets,
                "classifier_hidden": 64,
                "max_epochs": 45,
                "standardize_features": True,
                "device": "cpu",
                "threads": 1,
            }
        )
        record = run_experiment(cfg, splits=splits, progress=False)
    lines = ["| round | n labelled | select s | train + evaluate s | event scoring s | event share of the round |",
             "|---:|---:|---:|---:|---:|---:|"]
    for r in record.rounds:
        total = r.select_seconds + r.train_seconds + r.event_seconds
        lines.append(
            f"| {r.round} | {r.n_labelled} | {r.select_seconds:.3f} | {r.train_seconds:.3f} | "
            f"{r.event_seconds:.3f} | {100 * r.event_seconds / total:.1f} % |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--paper-clips", type=int, default=4600)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    torch.set_num_threads(1)
    labels, names, starts = demo_test_split()
    print(
        "| split | clips | recordings | reference events | predicted events | reference (once) s | "
        "frames_to_events s | score_events s | per round s | overall F % |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    print(time_split("demo test split", labels, names, starts, args.repeats))
    print(time_split("paper-sized (tiled)", *tile(labels, names, starts, args.paper_clips), args.repeats))
    print()
    print(loop_rounds(len(labels), args.rounds))


if __name__ == "__main__":
    main()
