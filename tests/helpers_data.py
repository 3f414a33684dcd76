"""A tiny hand-made ``Development_Set/`` for the data-layer tests (independent of bioal.synth)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

from bioal.utils import rng

# (subset, dataset, file stem, sample rate, channels, duration s, header codes, events)
# events: (start, end, {code: "POS"/"NEG"/"UNK"})
TRAIN_CLASSES = [
    ("BV", "AMRE", "American Redstart"),
    ("BV", "OVEN", "Ovenbird"),
    ("WMW", "c_4", "Tachybaptus ruficollis song"),
    ("WMW", "c_5", "Tachybaptus ruficollis song"),
    ("WMW", "c_9", "Anas platyrhynchos song"),
]
VALID_CLASSES = [
    ("HB", "R4_cleaned recording_13-10-17 ", "Q", "Mosquito"),
    ("ME", "ME1", "Q", "Meerkat alarm call"),
    ("PB", "BUK1_20181011_001004", "Q", "Blackbird call"),
    ("PB", "BUK5_20180921_015906a", "Q", "Blackbird call"),
]


def _events(n: int, duration: float, seed: int, key: str) -> list[tuple[float, float]]:
    gen = rng(seed, "helpers_data", key)
    starts = np.sort(gen.uniform(0.5, duration - 2.0, size=n))
    return [(round(float(s), 3), round(float(s + gen.uniform(0.2, 1.0)), 3)) for s in starts]


def _write_pair(folder: Path, stem: str, sr: int, channels: int, duration: float, header: list[str],
                rows: list[list[str]], seed: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    gen = rng(seed, "helpers_data", "audio", stem)
    audio = 0.1 * gen.standard_normal((int(duration * sr), channels))
    sf.write(folder / f"{stem}.wav", audio if channels > 1 else audio[:, 0], sr, subtype="PCM_16")
    lines = [",".join(header)] + [",".join(r) for r in rows]
    (folder / f"{stem}.csv").write_text("\r\n".join(lines), encoding="utf-8")  # CRLF, no final newline


def make_dev_set(root: Path, seed: int = 0) -> Path:
    """Write ``root/Development_Set`` + the two class CSVs; return ``root``.

    Training: BV/bv1 (16 kHz, codes AMRE, OVEN), WMW/wmw-1 (44.1 kHz stereo, c_4, c_5, c_9).
    Validation: HB/'R4_cleaned recording_13-10-17' (Mosquito), ME/ME1 (Meerkat alarm), PB/BUK1...
    (Blackbird) and the duplicate PB/BUK5_20180921_015906a that preparation drops.
    """
    dev = root / "Development_Set"
    # --- training
    ev = _events(12, 40.0, seed, "bv1")
    rows = [["bv1.wav", f"{s:.3f}", f"{e:.3f}", "POS" if i % 2 == 0 else "NEG", "POS" if i % 2 else "UNK"]
            for i, (s, e) in enumerate(ev)]
    rows = rows[::-1]  # unsorted rows
    _write_pair(dev / "Training_Set" / "BV", "bv1", 16000, 1, 40.0, ["Audiofilename", "Starttime", "Endtime",
                "AMRE", "OVEN"], rows, seed)
    ev = _events(10, 30.0, seed, "wmw")
    rows = [["wmw-1.wav", f"{s:.3f}", f"{e:.3f}", ["POS", "NEG", "UNK"][i % 3], "POS" if i % 4 == 1 else "NEG",
             "POS" if i == 2 else "NEG"] for i, (s, e) in enumerate(ev)]
    _write_pair(dev / "Training_Set" / "WMW", "wmw-1", 44100, 2, 30.0, ["Audiofilename", "Starttime", "Endtime",
                "c_4", "c_5", "c_9"], rows, seed)
    # --- validation
    for (sub, stem, _, _), dur, n, sr in zip(VALID_CLASSES, (45.0, 32.0, 50.0, 20.0), (15, 8, 12, 4),
                                            (8000, 32000, 22050, 22050), strict=True):
        stem = stem.strip()
        ev = _events(n, dur, seed, stem)
        rows = [[f"{stem}.wav", f"{s:.3f}", f"{e:.3f}", "POS" if i % 5 else "UNK"] for i, (s, e) in enumerate(ev)]
        _write_pair(dev / "Validation_Set" / sub, stem, sr, 1, dur, ["Audiofilename", "Starttime", "Endtime", "Q"],
                    rows, seed)
    train = ["dataset,class_code,class_name"] + [",".join(r) for r in TRAIN_CLASSES]
    (root / "DCASE2024_task5_training_set_classes.csv").write_text("\r\n".join(train), encoding="utf-8")
    valid = ["dataset,recording,class_code,class_name"] + [",".join(r) for r in VALID_CLASSES]
    (root / "DCASE2024_task5_validation_set_classes.csv").write_text("\r\n".join(valid), encoding="utf-8")
    return root
