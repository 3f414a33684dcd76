"""Detections over a whole collection: the session's classifier on every clip, frame
probabilities merged into events with the shared post-processing (``bioal.events``), exported as
one Raven selection table per recording and one CSV."""

from __future__ import annotations

import math
import os
import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from bioal.annotations import EVENT_COLUMNS, write_raven
from bioal.events import DETECTION_COLUMNS, frames_to_events
from bioal.session import Session
from bioal.utils import atomic_write

__all__ = ["detect", "raven_table_name", "raven_table_names", "export_detections"]

_TABLE = ".Table.1.selections.txt"


def detect(
    session: Session,
    threshold: float | None = None,
    min_duration: float = 0.0,
    max_gap: float = 0.0,
    merge: str = "mean",
) -> pd.DataFrame:
    """Events ``recording, start, end, low_freq, high_freq, label`` (frequencies NaN) detected by
    the session's last classifier on every clip (``bioal.events.frames_to_events``: overlapping
    clips merged per recording, ``prob > threshold`` (default the session's), gaps up to
    ``max_gap`` s joined, events shorter than ``min_duration`` s dropped, cut at the recording's end).
    """
    probs = session.predict_frames()  # [N, T, C]
    model_classes = session.classes[: probs.shape[2]]
    split = session.collection.split
    events = frames_to_events(
        probs, split.recording, split.clip_start, model_classes,
        session.config.threshold if threshold is None else threshold,
        merge=merge, min_duration=min_duration, max_gap=max_gap,
        recording_seconds=session.collection.durations(), clip_seconds=session.clip_seconds,
    )
    out = events.rename(columns={"Audiofilename": "recording", "Starttime": "start", "Endtime": "end"})
    out["low_freq"] = math.nan
    out["high_freq"] = math.nan
    return out[list(EVENT_COLUMNS)]


def raven_table_name(recording: str, keep_suffix: bool = False) -> str:
    """``site b/night.flac`` -> ``site b__night.Table.1.selections.txt`` (one flat folder);
    ``keep_suffix``: ``site b__night.flac.Table.1.selections.txt``."""
    stem = recording if keep_suffix else re.sub(r"\.(wav|flac)$", "", recording, flags=re.IGNORECASE)
    return stem.replace("/", "__") + _TABLE


def raven_table_names(recordings: Sequence[str]) -> dict[str, str]:
    """A distinct table name per recording: :func:`raven_table_name`, with the audio suffix kept
    where two recordings share a stem (``night.wav``, ``night.flac``), and ``__2``, ``__3``, ...
    in recording order where names still collide (``a/b.wav``, ``a__b.wav``)."""
    names = {r: raven_table_name(r) for r in recordings}
    shared = Counter(n.lower() for n in names.values())  # lower: case-insensitive file systems too
    names = {r: raven_table_name(r, keep_suffix=shared[n.lower()] > 1) for r, n in names.items()}
    used: set[str] = set()
    for r, name in names.items():
        candidate, i = name, 1
        while candidate.lower() in used:
            i += 1
            candidate = name.replace(_TABLE, f"__{i}{_TABLE}")
        used.add(candidate.lower())
        names[r] = candidate
    return names


def export_detections(session: Session, events: pd.DataFrame, out_dir: str | os.PathLike) -> dict[str, Path]:
    """Write ``out_dir/detections.csv`` (``Audiofilename, Starttime, Endtime, label``:
    :data:`bioal.events.DETECTION_COLUMNS`) and one
    Raven table per recording of the collection (header only where nothing was detected),
    named by :func:`raven_table_names`.
    Returns ``{"csv": path, <recording>: table path, ...}``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    csv = out_dir / "detections.csv"
    table = events.rename(columns={"recording": "Audiofilename", "start": "Starttime", "end": "Endtime"})
    with atomic_write(csv, newline="") as handle:
        table[list(DETECTION_COLUMNS)].to_csv(handle, index=False)
    paths: dict[str, Path] = {"csv": csv}
    files = session.collection.files
    max_freq = dict(zip(files["recording"], files["samplerate"].astype(float) / 2, strict=True))
    for recording, name in raven_table_names(files["recording"].tolist()).items():
        mine = events[events["recording"] == recording]
        path = out_dir / name
        paths[recording] = write_raven(mine, path, max_freq=max_freq[recording])
    return paths
