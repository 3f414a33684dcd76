"""The prepared dataset: clip tables, frame labels, a torch ``ClipDataset``, split summaries.

``ensure_prepared(config)`` produces ``DATA_ROOT/prepared`` (DESIGN.md) from either the
synthetic stand-in (``bioal.synth.audio``) or the real DCASE 2024 Task 5 development set
(downloaded from Zenodo), every step resumable and skipped when done. The rest reads it:

* ``clip_table`` - one row per 10 s clip (5 s hop) in the paper's global order (sorted
  recordings of the split's label CSV, then clip index), method §1.5;
* ``split_frame_labels`` - ``[N, 32, C]`` float32 frame labels of every clip;
* ``matching_clips`` - the clips of a class, the clips with no positive frame, or all;
* ``ClipDataset`` - ``(waveform [320000], labels [32, C])`` pairs;
* ``split_summary`` - clips and positive clips per class and split.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import soundfile as sf
import torch

from bioal import dcase, download
from bioal.config import PAPER_DATA_ROOT, Config, ConfigError
from bioal.download import DCASE2024_RECORD
from bioal.grid import CLIP_SECONDS, LABEL_FRAMES, SAMPLE_RATE
from bioal.synth.audio import generate_development_set
from bioal.utils import read_json, resolve_path, write_json

__all__ = [
    "DataConfig",
    "ensure_prepared",
    "clip_table",
    "read_split_labels",
    "load_clip",
    "split_frame_labels",
    "clip_positive",
    "ALL_CLIPS",
    "NEGATIVE",
    "matching_clips",
    "ClipDataset",
    "split_summary",
    "pos_events",
    "DIVISIONS",
    "prepared_dir",
    "split_dir",
]

log = logging.getLogger(__name__)

DIVISIONS = dcase.SPLITS  # {"SL": ("train", "valid"), "AL": ("train", "valid", "test")}
#: The choices of :func:`matching_clips` besides a class name: every clip, and the clips
#: without any positive frame (the clip browsers show these words).
ALL_CLIPS = "(all clips)"
NEGATIVE = "Negative"


@dataclasses.dataclass(frozen=True)
class DataConfig(Config):
    """Where the data comes from and where it lives (notebook 01). Defaults: the paper's data."""

    data_source: Literal["synthetic", "dcase2024"] = "dcase2024"
    data_root: str = PAPER_DATA_ROOT
    synth_size: Literal["tiny", "demo", "large"] = "large"
    synth_seed: int = 0  # the synthetic set's own seed, separate from the experiment seeds (SEED, SEEDS)
    preset: str = "paper"

    def check(self) -> None:
        if not self.data_root:
            raise ConfigError("DATA_ROOT: must not be empty")
        if self.synth_seed < 0:
            raise ConfigError(f"SYNTH_SEED: must be >= 0, got {self.synth_seed}")

    @property
    def root(self) -> Path:
        """``DATA_ROOT`` resolved against the project root."""
        return resolve_path(self.data_root)


def _source_tag(config: DataConfig) -> dict:
    if config.data_source == "synthetic":
        return {"data_source": "synthetic", "synth_size": config.synth_size, "seed": config.synth_seed}
    return {"data_source": "dcase2024", "record": DCASE2024_RECORD}


def _check_source(marker: Path, tag: dict) -> bool:
    """True if ``marker`` exists and matches ``tag``; an error if it exists and differs."""
    if not marker.is_file():
        return False
    found = read_json(marker)
    if found != tag:
        raise ValueError(
            f"{marker}: this data folder was made from {found}, but the configuration asks for {tag}; "
            "choose another DATA_ROOT or delete the folder"
        )
    return True


def _ensure_raw_synthetic(config: DataConfig, raw: Path, progress: bool) -> None:
    marker = raw / ".bioal_source.json"
    tag = _source_tag(config)
    if _check_source(marker, tag):
        return
    generate_development_set(raw, size=config.synth_size, seed=config.synth_seed, progress=progress)
    write_json(marker, tag)


def _ensure_raw_dcase(raw: Path, progress: bool, api_base: str) -> None:
    marker = raw / ".bioal_source.json"
    tag = {"data_source": "dcase2024", "record": download.DCASE2024_RECORD}
    if _check_source(marker, tag):
        return
    downloads = raw / "downloads"
    names = [download.DEVELOPMENT_SET_ZIP, *dcase.CLASS_CSVS]  # the annotations zip repeats the set's CSVs
    download.download_zenodo_record(download.DCASE2024_RECORD, downloads, names=names, api_base=api_base,
                                    progress=progress)
    dcase.unpack_development_set(downloads / download.DEVELOPMENT_SET_ZIP, raw, progress=progress)
    for name in dcase.CLASS_CSVS:
        if not (raw / name).is_file():
            shutil.copyfile(downloads / name, raw / f".{name}.part")
            os.replace(raw / f".{name}.part", raw / name)
    write_json(marker, tag)


def ensure_prepared(config: DataConfig, progress: bool = True, api_base: str = download.ZENODO_API) -> Path:
    """Make ``DATA_ROOT/prepared`` exist and be complete; return it.

    synthetic: generate ``DATA_ROOT/raw`` with ``bioal.synth.audio``, then prepare.
    dcase2024: download record 10829604 into ``DATA_ROOT/raw/downloads``, unpack, prepare.
    Each step is resumable and skipped when already done; a folder made from another source,
    size or seed is an error rather than silently reused.
    """
    root = config.root
    raw, prepared = root / "raw", prepared_dir(root)
    tag = _source_tag(config)
    prepared_marker = prepared / "source.json"
    if dcase.is_prepared(prepared) and _check_source(prepared_marker, tag):
        return dcase.prepare(raw, prepared, progress=progress)  # refuses if the raw inputs changed since
    if config.data_source == "synthetic":
        _ensure_raw_synthetic(config, raw, progress)
    else:
        _ensure_raw_dcase(raw, progress, api_base)
    _check_source(prepared_marker, tag)
    dcase.prepare(raw, prepared, progress=progress, workers=min(4, os.cpu_count() or 1))
    write_json(prepared_marker, tag)
    return prepared


# --------------------------------------------------------------------------- reading the prepared data


def prepared_dir(data_root: str | os.PathLike) -> Path:
    """``DATA_ROOT/prepared`` (resolved against the project root)."""
    return resolve_path(data_root) / "prepared"


def split_dir(prepared_root: str | os.PathLike, division: str, split: str) -> Path:
    """``<prepared_root>/<division>/<split>``, the prepared chunks of one split."""
    if division not in DIVISIONS or split not in DIVISIONS[division]:
        raise ValueError(f"no split {division}/{split}; choose from {DIVISIONS}")
    return Path(prepared_root) / division / split


def read_split_labels(prepared_root: str | os.PathLike, division: str, split: str) -> tuple[pd.DataFrame, list[str]]:
    """The split's label table (``Audiofilename, Starttime, Endtime`` + classes) and class names."""
    split_dir(prepared_root, division, split)
    return dcase.read_label_table(Path(prepared_root) / division / f"{split}_label.csv")


def clip_table(prepared_root: str | os.PathLike, division: str, split: str) -> pd.DataFrame:
    """One row per clip: ``recording`` (wav name), ``start_s``, ``duration_s`` (of the recording).

    Global order of method §1.5: sorted unique Audiofilename of the split's label CSV, then clip k.
    """
    folder = split_dir(prepared_root, division, split)
    labels, _ = read_split_labels(prepared_root, division, split)
    rows = []
    for rec in sorted(labels["Audiofilename"].unique()):
        path = folder / rec
        if not path.is_file():
            raise FileNotFoundError(f"{path}: listed in {division}/{split}_label.csv but missing")
        info = sf.info(str(path))
        duration = info.frames / info.samplerate
        for start in dcase.clip_starts(duration):
            rows.append((rec, float(start), duration))
    return pd.DataFrame(rows, columns=["recording", "start_s", "duration_s"])


def load_clip(wav_path: str | os.PathLike, start_s: float, clip_s: float = CLIP_SECONDS, sr: int = SAMPLE_RATE) -> np.ndarray:
    """Samples ``[clip_s*sr]`` float32 from ``start_s`` (channel 0), zero-padded past the end."""
    n = int(round(clip_s * sr))
    offset = int(round(start_s * sr))
    try:
        with sf.SoundFile(str(wav_path)) as handle:
            if handle.samplerate != sr:
                raise ValueError(f"{wav_path}: sample rate {handle.samplerate}, expected {sr}")
            out = np.zeros(n, dtype=np.float32)
            if offset < handle.frames:
                handle.seek(offset)
                data = handle.read(min(n, handle.frames - offset), dtype="float32", always_2d=True)
                out[: len(data)] = data[:, 0]
    except sf.LibsndfileError as err:
        raise ValueError(f"{wav_path}: cannot read audio ({err})") from err
    return out


def _frame_labels_for(labels: pd.DataFrame, class_names: list[str], clips: pd.DataFrame) -> np.ndarray:
    out = np.zeros((len(clips), LABEL_FRAMES, len(class_names)), dtype=np.float32)
    groups = {rec: g for rec, g in labels.groupby("Audiofilename", sort=False)}
    for rec, idx in clips.groupby("recording", sort=False).indices.items():
        events = groups[rec]
        out[idx] = dcase.clip_frame_labels(
            events["Starttime"].to_numpy(float),
            events["Endtime"].to_numpy(float),
            events[class_names].to_numpy() == 1,
            clips["start_s"].to_numpy()[idx],
        )
    return out


def split_frame_labels(prepared_root: str | os.PathLike, division: str, split: str) -> np.ndarray:
    """Frame labels of every clip of the split, ``[N, 32, C]`` float32, in ``clip_table`` order."""
    labels, classes = read_split_labels(prepared_root, division, split)
    return _frame_labels_for(labels, classes, clip_table(prepared_root, division, split))


def clip_positive(frame_labels: np.ndarray) -> np.ndarray:
    """Clip tags ``[N, C]`` bool: positive if any of the 32 frames is."""
    return frame_labels.max(axis=1) > 0.5


def matching_clips(frame_labels: np.ndarray, class_names: Sequence[str], choice: str) -> np.ndarray:
    """Indices of the clips (rows of ``frame_labels [N, 32, C]``) that fit ``choice``.

    A class name: clips with a positive frame of that class; :data:`NEGATIVE`: clips without
    any positive frame; :data:`ALL_CLIPS`: every clip. Unknown choices raise ``KeyError``.
    """
    tags = clip_positive(np.asarray(frame_labels))
    names = list(class_names)
    if choice == ALL_CLIPS:
        return np.arange(len(tags))
    if choice == NEGATIVE:
        return np.flatnonzero(~tags.any(axis=1))
    if choice not in names:
        raise KeyError(f"unknown class {choice!r}; choose from {[*names, NEGATIVE, ALL_CLIPS]}")
    return np.flatnonzero(tags[:, names.index(choice)])


class ClipDataset(torch.utils.data.Dataset):
    """Sequential 10 s clips of one split: ``(waveform FloatTensor [320000], labels FloatTensor [32, C])``.

    Attributes: ``clips`` (the clip table), ``class_names``, ``events`` (the label table),
    ``labels`` (``[N, 32, C]`` float32, computed once), ``wav_path(recording)``.
    """

    def __init__(self, prepared_root: str | os.PathLike, division: str, split: str) -> None:
        self.prepared_root = Path(prepared_root)
        self.division, self.split = division, split
        self.folder = split_dir(prepared_root, division, split)
        self.events, self.class_names = read_split_labels(prepared_root, division, split)
        self.clips = clip_table(prepared_root, division, split)
        self.labels = _frame_labels_for(self.events, self.class_names, self.clips)

    def wav_path(self, recording: str) -> Path:
        return self.folder / recording

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        if not -len(self) <= index < len(self):
            raise IndexError(f"clip {index} out of range for {len(self)} clips of {self.division}/{self.split}")
        row = self.clips.iloc[index]
        wave = load_clip(self.wav_path(row["recording"]), float(row["start_s"]))
        return torch.from_numpy(wave), torch.from_numpy(self.labels[index])


def split_summary(prepared_root: str | os.PathLike) -> pd.DataFrame:
    """Clips and positive clips per class and split, for AL and SL.

    Rows ``(division, class)`` with the classes in label order, then ``Negative`` (clips with
    no positive frame) and ``All clips``; columns ``train``, ``valid``, ``test`` (empty for SL
    test). The AL ``train`` column is the paper's ``Total_<class>`` / ``Total_Negative``.
    """
    blocks = []
    for division, splits in DIVISIONS.items():
        columns = {}
        index: list[str] = []
        for split in splits:
            tags = clip_positive(split_frame_labels(prepared_root, division, split))
            _, classes = read_split_labels(prepared_root, division, split)
            index = [*classes, NEGATIVE, "All clips"]
            columns[split] = [*tags.sum(axis=0).tolist(), int((~tags.any(axis=1)).sum()), len(tags)]
        frame = pd.DataFrame(columns, index=index)
        frame.index = pd.MultiIndex.from_product([[division], index], names=["division", "class"])
        blocks.append(frame)
    out = pd.concat(blocks).reindex(columns=["train", "valid", "test"])
    return out.astype("Int64")


def pos_events(prepared_root: str | os.PathLike, division: str = "AL") -> pd.DataFrame:
    """Every POS event of the division's splits: ``split, recording, class, start_s, duration_s``.

    An event straddling a split cut appears, truncated, in both splits (method §1.4).
    """
    rows = []
    for split in DIVISIONS[division]:
        labels, classes = read_split_labels(prepared_root, division, split)
        for c in classes:
            pos = labels[labels[c] == 1]
            rows.append(pd.DataFrame({
                "split": split, "recording": pos["Audiofilename"].to_numpy(), "class": c,
                "start_s": pos["Starttime"].to_numpy(), "duration_s": (pos["Endtime"] - pos["Starttime"]).to_numpy(),
            }))
    return pd.concat(rows, ignore_index=True)
