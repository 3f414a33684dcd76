"""Chapter 08 (your own recordings), end to end: its configuration, the synthetic stand-in for a
person's folder, the labelled validation set when one exists, and the unattended rounds.

The stand-in (:func:`stand_in`) copies the shortest validation recording of each of the
``n_recordings`` sub-datasets with the shortest such recordings from ``DATA_ROOT/raw`` into a
folder and treats it as an unlabelled collection; their annotation CSVs feed only the simulated
annotator (:class:`bioal.session.SimulatedAnnotator`), as events labelled with the recording's
class name.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import soundfile as sf
from tqdm.auto import tqdm

from bioal.annotations import read_dcase_csv
from bioal.collection import Collection, CollectionConfig, build_collection, read_collection
from bioal.config import Config, ConfigError
from bioal.dcase import VALIDATION_CLASSES_CSV, normalise_name, read_validation_classes
from bioal.embeddings import EmbeddingSplit, embeddings_dir, read_split, split_file
from bioal.session import Session, SessionConfig, SimulatedAnnotator
from bioal.utils import resolve_path

__all__ = [
    "RecordingsConfig",
    "stand_in",
    "open_collection",
    "open_session",
    "validation_split",
    "validation_for",
    "run_rounds",
    "rounds_table",
]


@dataclasses.dataclass(frozen=True)
class RecordingsConfig(Config):
    """Chapter 08. ``audio_dir`` "" = the synthetic stand-in (``n_recordings`` recordings copied
    to ``<collection_dir>/audio``); ``collection_dir`` "" = ``DATA_ROOT/recordings``. The encoder
    fields are :class:`bioal.collection.CollectionConfig`'s, the round fields
    :class:`bioal.session.SessionConfig`'s; ``rounds`` unattended rounds of ``k`` clips;
    ``min_duration``/``max_gap`` (s) shape the detections."""

    preset: str = "paper"
    data_root: str = CollectionConfig.data_root
    audio_dir: str = ""
    collection_dir: str = ""
    n_recordings: int = 3
    encoder: Literal["trained", "panns", "random", "file"] = CollectionConfig.encoder
    embeddings_file: str = CollectionConfig.embeddings_file
    panns_checkpoint: str = CollectionConfig.panns_checkpoint
    width: float = CollectionConfig.width
    encoder_batch_size: int = CollectionConfig.encoder_batch_size
    embed_dtype: Literal["float32", "float16"] = CollectionConfig.embed_dtype
    skip_unreadable: bool = CollectionConfig.skip_unreadable
    device: str = CollectionConfig.device
    seed: int = SessionConfig.seed
    strategy: str = SessionConfig.strategy
    k: int = SessionConfig.k
    rounds: int = 6
    classifier_hidden: int = SessionConfig.classifier_hidden
    max_epochs: int = SessionConfig.max_epochs
    classifier_lr: float = SessionConfig.classifier_lr
    classifier_prior: float = SessionConfig.classifier_prior
    standardize_features: bool = SessionConfig.standardize_features
    kappa_threshold: float = SessionConfig.kappa_threshold
    kappa_window: int = SessionConfig.kappa_window
    stop_needs_positives: bool = SessionConfig.stop_needs_positives
    min_duration: float = 0.0
    max_gap: float = 0.0

    def check(self) -> None:
        if self.n_recordings < 1 or self.rounds < 1:
            raise ConfigError(f"N_RECORDINGS and ROUNDS must be >= 1, got {self.n_recordings}, {self.rounds}")
        if self.min_duration < 0 or self.max_gap < 0:
            raise ConfigError(f"MIN_DURATION and MAX_GAP must be >= 0, got {self.min_duration}, {self.max_gap}")
        self.collection_config()
        self.session_config()

    @property
    def folder(self) -> Path:
        return resolve_path(self.collection_dir) if self.collection_dir else resolve_path(self.data_root) / "recordings"

    @property
    def audio(self) -> Path:
        return resolve_path(self.audio_dir) if self.audio_dir else self.folder / "audio"

    @property
    def raven_dir(self) -> Path:
        """``<collection>/raven``: the rounds' Raven selection tables."""
        return self.folder / "raven"

    @property
    def detections_dir(self) -> Path:
        """``<collection>/detections``: one Raven table per recording and ``detections.csv``."""
        return self.folder / "detections"

    def raven_round_file(self, round_index: int) -> Path:
        """``raven/round <i>.selections.txt``: round ``i``'s clips as a Raven selection table."""
        return self.raven_dir / f"round {round_index}.selections.txt"

    def _shared(self, cls: type) -> dict[str, Any]:
        """The values of the fields this config shares with ``cls``, by name."""
        names = {f.name for f in dataclasses.fields(cls)} & {f.name for f in dataclasses.fields(self)}
        return {name: getattr(self, name) for name in names}

    def collection_config(self) -> CollectionConfig:
        """The :class:`CollectionConfig` of this chapter: every field the two share, by name,
        with the folders resolved (:attr:`audio`, :attr:`folder`)."""
        return CollectionConfig(**{**self._shared(CollectionConfig), "audio_dir": str(self.audio),
                                   "collection_dir": str(self.folder)})

    def session_config(self) -> SessionConfig:
        """The :class:`SessionConfig` of this chapter: every field the two share, by name."""
        return SessionConfig(**self._shared(SessionConfig))


def stand_in(data_root: str | os.PathLike, audio_dir: str | os.PathLike, n_recordings: int) -> pd.DataFrame:
    """Copy the stand-in recordings into ``audio_dir`` (kept when already there) and return the
    simulated annotator's events (``recording`` = file name, ``label`` = class name, POS only)."""
    raw = resolve_path(data_root) / "raw"
    valid = raw / "Development_Set" / "Validation_Set"
    classes_csv = raw / VALIDATION_CLASSES_CSV
    if not valid.is_dir() or not classes_csv.is_file():
        raise FileNotFoundError(f"no validation recordings under {valid} (or no {classes_csv.name}); run notebook 01")
    classes = read_validation_classes(classes_csv)
    shortest: list[tuple[float, Path]] = []
    for sub in sorted(p for p in valid.iterdir() if p.is_dir()):
        wavs = sorted(sub.glob("*.wav"))
        if wavs:
            shortest.append(min((sf.info(str(w)).duration, w) for w in wavs))
    chosen = [path for _, path in sorted(shortest)[:n_recordings]]
    audio_dir = Path(audio_dir)
    audio_dir.mkdir(parents=True, exist_ok=True)
    parts = []
    for wav in chosen:
        target = audio_dir / wav.name
        if not target.is_file() or target.stat().st_size != wav.stat().st_size:
            shutil.copyfile(wav, target)
        name = classes.get(normalise_name(wav.stem))
        if name is None:
            raise KeyError(f"{classes_csv}: no class for recording {wav.stem!r}")
        events = read_dcase_csv(wav.with_suffix(".csv"))
        events = events[events["status"] == "POS"].assign(recording=wav.name, label=name)
        parts.append(events.drop(columns="status"))
    return pd.concat(parts, ignore_index=True)


def open_collection(config: RecordingsConfig) -> tuple[Collection, pd.DataFrame | None]:
    """Embed ``AUDIO_DIR`` into the collection (resumable) and read it. With ``AUDIO_DIR`` ""
    the stand-in recordings are copied first and their events (the simulated annotator's
    answers, :func:`stand_in`) come back too; for your own folder that table is None."""
    annotations = None if config.audio_dir else stand_in(config.data_root, config.audio, config.n_recordings)
    path = build_collection(config.collection_config())
    return read_collection(path, audio_dir=config.audio), annotations  # the folder may have moved since


def open_session(config: RecordingsConfig, pool: Collection, annotations: pd.DataFrame | None = None) -> Session:
    """The labelling session in ``COLLECTION_DIR`` (its journal replayed). The stand-in's
    species, from ``annotations``, are listed up front, as a person would list theirs."""
    session = Session(config.folder, config.session_config(), collection=pool)
    if annotations is not None:
        for name in dict.fromkeys(annotations["label"]):
            session.add_class(name)
    return session


def validation_split(data_root: str | os.PathLike, exclude: Any) -> EmbeddingSplit | None:
    """The clips of ``DATA_ROOT/embeddings/valid.h5`` (chapter 03) not cut from the recordings
    named in ``exclude`` (compared by normalised stem); None when that file does not exist."""
    path = split_file(embeddings_dir(data_root), "valid")
    if not path.is_file():
        return None
    split = read_split(path, dtype=np.float32)
    stems = {normalise_name(Path(str(r)).stem) for r in exclude}
    keep = np.array([normalise_name(Path(str(r)).stem) not in stems for r in split.recording])
    return split.subset(keep) if keep.any() else None


def validation_for(session: Session, split: EmbeddingSplit | None) -> tuple[np.ndarray, np.ndarray] | None:
    """``(x [M, T, D], y [M, T, C])`` with the label columns in the session's class order, or
    None when there is no split, the embeddings differ in shape, or a class is not in it."""
    if split is None or not session.classes or split.embeddings.shape[1:] != session.x.shape[1:]:
        return None
    if any(c not in split.class_names for c in session.classes):
        return None
    columns = [split.class_names.index(c) for c in session.classes]
    return split.embeddings, split.labels[:, :, columns]


def run_rounds(
    session: Session,
    annotator: SimulatedAnnotator,
    rounds: int,
    validation: EmbeddingSplit | None = None,
    progress: bool = True,
) -> pd.DataFrame:
    """Finish the pending round and run rounds until ``rounds`` are finished, the simulated
    annotator answering; resumes where the journal stopped. Returns ``session.stopping()``."""
    bar = tqdm(total=rounds, initial=min(len(session.trained), rounds), desc="rounds", disable=not progress)
    with bar:
        while len(session.trained) < rounds:
            session.next_round()
            annotator.label_round(session)
            session.finish_round(validation=validation_for(session, validation))
            bar.update(1)
    return session.stopping()


def rounds_table(
    session: Session, config: RecordingsConfig, annotations: pd.DataFrame | None = None, progress: bool = True
) -> pd.DataFrame:
    """The stopping table: with the stand-in's ``annotations`` the simulated annotator first
    labels up to ``ROUNDS`` rounds (:func:`run_rounds`, with the validation clips of other
    recordings when chapter 03 made them); for your own folder, the rounds you have finished."""
    if annotations is None:
        return session.stopping()
    valid = validation_split(config.data_root, session.collection.files["recording"])
    return run_rounds(session, SimulatedAnnotator(annotations), config.rounds, validation=valid, progress=progress)
