"""A tiny prepared dataset (``prepared/{AL,SL}/...``, DESIGN.md layout) for the encoder tests.

Written directly (no synthesis, no preparation) so the encoder, training and extraction tests
run in seconds: short 32 kHz recordings with class-specific tones over noise and their label CSVs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf

from bioal.utils import rng

SR = 32000
AL_TEST_CLASSES = ["Mosquito", "Meerkat_alarm_call", "Red_Deer"]
SL_TEST_CLASSES = ["Hyena_giggle", "Jackdaw_call", "Ovenbird"]
FREQS = [600.0, 2500.0, 6000.0]

# division -> split -> [(recording, duration s, [(start, end, class index)])]
LAYOUT = {
    "SL": {
        "train": [
            ("sl_a.wav", 22.0, [(1.0, 3.0, 0), (8.0, 9.5, 1), (15.0, 17.0, 0)]),
            ("sl_b.wav", 18.0, [(2.0, 4.0, 2), (11.0, 12.0, 1)]),
        ],
        "valid": [("sl_a.wav", 14.0, [(1.0, 2.5, 0), (6.0, 7.0, 1), (10.0, 12.0, 2)])],
    },
    "AL": {
        "train": [
            ("al_a.wav", 17.0, [(1.0, 2.0, 0), (9.0, 9.4, 1)]),
            ("al_b.wav", 12.0, [(3.0, 6.0, 2)]),
        ],
        "valid": [("al_a.wav", 12.0, [(2.0, 3.0, 0), (7.0, 8.0, 2)])],
        "test": [("al_b.wav", 11.0, [(0.5, 1.5, 1)])],
    },
}


def make_prepared(root: Path, seed: int = 0) -> Path:
    """Write ``root/prepared`` (AL: 3 classes, SL: 3 classes); return the prepared folder."""
    prepared = Path(root) / "prepared"
    for division, splits in LAYOUT.items():
        names = AL_TEST_CLASSES if division == "AL" else SL_TEST_CLASSES
        for split, recordings in splits.items():
            folder = prepared / division / split
            folder.mkdir(parents=True, exist_ok=True)
            rows = []
            for rec, duration, events in recordings:
                gen = rng(seed, "helpers_encoder", division, split, rec)
                n = int(duration * SR)
                t = np.arange(n) / SR
                audio = 0.02 * gen.standard_normal(n)
                for start, end, c in events:
                    part = (t >= start) & (t <= end)
                    audio[part] += 0.3 * np.sin(2 * np.pi * FREQS[c] * t[part])
                    rows.append([rec, start, end] + [1 if k == c else 0 for k in range(len(names))])
                sf.write(folder / rec, audio.astype(np.float32), SR, subtype="PCM_16")
            pd.DataFrame(rows, columns=["Audiofilename", "Starttime", "Endtime", *names]).to_csv(
                prepared / division / f"{split}_label.csv", index=False
            )
    return prepared
