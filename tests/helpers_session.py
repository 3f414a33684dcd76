"""A small collection of three 60 s recordings with tones for the session and labeller tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf

from bioal.collection import CollectionConfig, build_collection
from bioal.session import SessionConfig
from bioal.utils import rng

ROOT = Path(__file__).resolve().parents[1]
SR = 8000


def make_recordings(folder: Path) -> pd.DataFrame:
    """Three 60 s recordings with 0.5 s tones ('hi' 3 kHz, 'lo' 1 kHz); their events."""
    folder.mkdir(parents=True)
    gen = rng(0, "test-session-audio")
    rows = []
    for i in range(3):
        x = 0.01 * gen.standard_normal(SR * 60)
        for _ in range(6):
            start = float(gen.uniform(0, 58))
            label, freq = ("hi", 3000) if i % 2 else ("lo", 1000)
            t = np.arange(SR // 2) / SR
            x[int(start * SR) : int(start * SR) + len(t)] += 0.3 * np.sin(2 * np.pi * freq * t)
            rows.append((f"rec {i}.wav", start, start + 0.5, label))
        sf.write(folder / f"rec {i}.wav", x, SR)
    return pd.DataFrame(rows, columns=["recording", "start", "end", "label"])


def build_small_collection(root: Path) -> pd.DataFrame:
    """Recordings under ``root/audio``, their collection under ``root/col`` (random encoder),
    the events as ``root/events.csv``; returns the events."""
    events = make_recordings(root / "audio")
    config = CollectionConfig(audio_dir=str(root / "audio"), collection_dir=str(root / "col"), encoder="random",
                              width=0.0625, standardise="collection", stats_clips=4)
    build_collection(config, progress=False)
    events.to_csv(root / "events.csv", index=False)
    return events


def fresh_copy(root: Path, target: Path) -> Path:
    """A copy of the built collection folder (each test gets its own journal)."""
    shutil.copytree(root / "col", target)
    return target


CONFIG = SessionConfig(k=4, max_epochs=8, classifier_hidden=16, standardize_features=True)
