"""Detections over a whole collection: the session's classifier on every clip, frame
probabilities merged into events with the shared post-processing (``bioal.events``), exported as
one Raven selection table per recording and one CSV."""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

import pandas as pd

from bioal.annotations import write_raven
from bioal.events import frames_to_events
from bioal.session import Session
from bioal.utils import atomic_write

__all__ = ["detect", "raven_table_name", "export_detections"]


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
    return out[["recording", "start", "end", "low_freq", "high_freq", "label"]]


def raven_table_name(recording: str) -> str:
    """``site b/night.flac`` -> ``site b__night.Table.1.selections.txt`` (one flat folder)."""
    stem = re.sub(r"\.(wav|flac)$", "", recording, flags=re.IGNORECASE)
    return stem.replace("/", "__") + ".Table.1.selections.txt"


def export_detections(session: Session, events: pd.DataFrame, out_dir: str | os.PathLike) -> dict[str, Path]:
    """Write ``out_dir/detections.csv`` (``Audiofilename, Starttime, Endtime, label``) and one
    Raven table per recording of the collection (header only where nothing was detected).
    Returns ``{"csv": path, <recording>: table path, ...}``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    csv = out_dir / "detections.csv"
    table = events.rename(columns={"recording": "Audiofilename", "start": "Starttime", "end": "Endtime"})
    with atomic_write(csv, newline="") as handle:
        table[["Audiofilename", "Starttime", "Endtime", "label"]].to_csv(handle, index=False)
    paths: dict[str, Path] = {"csv": csv}
    files = session.collection.files
    max_freq = dict(zip(files["recording"], files["samplerate"].astype(float) / 2, strict=True))
    for recording in files["recording"]:
        mine = events[events["recording"] == recording]
        path = out_dir / raven_table_name(recording)
        paths[recording] = write_raven(mine, path, max_freq=max_freq[recording])
    return paths
