"""Which clips a run picked in a round, and why: the selected-samples explorer's logic.

Pure functions over the run records (read through :mod:`bioal.records`) and the train
split's metadata (``read_split(..., meta_only=True)``: recording, clip start, frame labels;
not the embeddings). :mod:`bioal.plots.explorer` draws the gallery and
:mod:`bioal.widgets.explorer` is the live view over these functions.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bioal import records
from bioal.data import load_clip
from bioal.embeddings import EmbeddingSplit, embeddings_dir, read_split, split_file
from bioal.features import log_mel
from bioal.grid import CLIP_SECONDS, SAMPLE_RATE
from bioal.records import RoundRecord
from bioal.strategies import STRATEGIES

__all__ = [
    "list_runs",
    "read_round",
    "read_train_meta",
    "selection_table",
    "explorer_table",
    "why_picked",
    "explorer_options",
    "default_state",
    "clip_audio",
    "clip_spectrogram",
]


def list_runs(results_dir: str | os.PathLike) -> pd.DataFrame:
    """Active-learning runs with finished rounds (:func:`bioal.records.list_runs`), the
    paper's method first: strategies in reverse display order, then start and seed."""
    table = records.list_runs(results_dir)
    rank = {s: -STRATEGIES[s].order for s in STRATEGIES}
    table["_order"] = table.strategy.map(lambda s: rank.get(s, 1))
    return table.sort_values(["_order", "strategy", "start", "seed"]).drop(columns="_order").reset_index(drop=True)


def read_round(folder: str | os.PathLike, round_index: int) -> RoundRecord:
    """The record of round ``round_index`` (0-based, budget order) of a run folder."""
    rounds = records.load_run(folder).rounds
    if not 0 <= round_index < len(rounds):
        raise IndexError(f"{folder}: round {round_index} does not exist (rounds 0..{len(rounds) - 1} are recorded)")
    return rounds[round_index]


def read_train_meta(data_root: str | os.PathLike) -> EmbeddingSplit:
    """``DATA_ROOT/embeddings/train.h5`` without its embeddings."""
    return read_split(split_file(embeddings_dir(data_root), "train"), meta_only=True)


def _scores(values: list[Any]) -> list[float]:
    return [math.nan if v is None else float(v) for v in values]


def selection_table(record: RoundRecord) -> pd.DataFrame:
    """The clips one round selected, in pick order: columns ``pick`` (0-based), ``index``
    (into the train split), ``mismatch`` and ``distance`` (NaN where the record has none)."""
    n = len(record.selected)
    return pd.DataFrame(
        {
            "pick": np.arange(n),
            "index": np.asarray(record.selected, dtype=np.int64),
            "mismatch": _scores(record.selected_mismatch),
            "distance": _scores(record.selected_distance),
        }
    )


def why_picked(strategy: str, start: str, round_index: int, pick: int, mismatch: float, distance: float) -> str:
    """One line saying why a clip was picked, from its recorded mismatch and distance."""
    parts = []
    if not math.isnan(mismatch):
        parts.append(f"mismatch {int(mismatch)}")
    if not math.isnan(distance):
        parts.append(f"distance {distance:.3f}")
    if round_index == 0 and start == "cold" and pick == 0 and math.isnan(distance):
        return "first clip of the cold start (random)"
    if round_index == 0 and start == "warm" and math.isnan(distance) and math.isnan(mismatch):
        return "warm start: a known positive"
    if not parts:
        random_later = strategy in STRATEGIES and STRATEGIES[strategy].random_later
        return "random pick" if random_later else "no score recorded"
    return ", ".join(parts)


def explorer_table(
    results_dir: str | os.PathLike, meta: EmbeddingSplit, strategy: str, start: str, seed: int, round_index: int
) -> pd.DataFrame:
    """The clips of one round with everything the gallery shows: ``pick, index, recording,
    clip_start, classes`` (positive classes, comma-separated, ``"none"``), ``positive_frames``,
    ``mismatch``, ``distance``, ``why``; plus ``n_labelled`` and ``round`` as attributes."""
    folder = records.find_run(results_dir, strategy, start, seed)
    record = read_round(folder, round_index)
    table = selection_table(record)
    outside = (table["index"] >= len(meta)) | (table["index"] < 0)
    if outside.any():
        bad = int(table["index"][outside].iloc[0])
        raise IndexError(f"{folder} round {round_index}: selected clip {bad} is outside the train split ({len(meta)} clips)")
    idx = table["index"].to_numpy()
    frames = meta.labels[idx] > 0.5  # [k, 32, C]
    tags = frames.any(axis=1)
    table["recording"] = meta.recording[idx]
    table["clip_start"] = meta.clip_start[idx]
    table["classes"] = [", ".join(c for c, t in zip(meta.class_names, row, strict=True) if t) or "none" for row in tags]
    table["positive_frames"] = frames.any(axis=2).sum(axis=1)
    table["why"] = [
        why_picked(strategy, start, round_index, int(p), m, d)
        for p, m, d in zip(table.pick, table.mismatch, table.distance, strict=True)
    ]
    table.attrs["n_labelled"] = int(record.n_labelled)
    table.attrs["round"] = int(record.round)
    return table


def explorer_options(results_dir: str | os.PathLike) -> dict[str, list[Any]]:
    """The choices the records support: ``strategy`` (paper's method first), ``start``, ``seed`` (sorted)."""
    runs = list_runs(results_dir)
    if runs.empty:
        raise FileNotFoundError(f"no active-learning runs with finished rounds under {records.runs_dir(results_dir)}")
    return {
        "strategy": list(dict.fromkeys(runs.strategy)),
        "start": sorted(set(runs.start)),
        "seed": sorted(set(int(s) for s in runs.seed)),
    }


def default_state(results_dir: str | os.PathLike) -> dict[str, Any]:
    """The explorer's first view: MFFT (else the first strategy), cold start, lowest seed,
    and round 1 (the first round chosen by mismatch), or round 0 if only that exists."""
    runs = list_runs(results_dir)
    if runs.empty:
        raise FileNotFoundError(f"no active-learning runs with finished rounds under {records.runs_dir(results_dir)}")
    preferred = runs[(runs.strategy == "mfft") & (runs.start == "cold")]
    row = (preferred if len(preferred) else runs).sort_values("seed").iloc[0]
    return {"strategy": row.strategy, "start": row.start, "seed": int(row.seed), "round": 1 if row.n_rounds > 1 else 0}


def clip_audio(prepared_dir: str | os.PathLike, recording: str, clip_start: float) -> np.ndarray:
    """The clip's waveform ``[320000]`` float32 from ``<prepared_dir>/<recording>``."""
    path = Path(prepared_dir) / recording
    if not path.is_file():
        raise FileNotFoundError(f"no prepared audio for clip {recording} at {clip_start:.1f} s: {path}")
    return load_clip(path, clip_start, CLIP_SECONDS, SAMPLE_RATE)


def clip_spectrogram(prepared_dir: str | os.PathLike, recording: str, clip_start: float) -> tuple[np.ndarray, np.ndarray]:
    """``(waveform [320000], log-mel [1001, 64] dB)`` of one clip."""
    wave = clip_audio(prepared_dir, recording, clip_start)
    return wave, np.asarray(log_mel(wave))
