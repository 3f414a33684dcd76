"""Active learning on your own recordings: a labelling session over a collection (chapter 08).

A :class:`Session` lives beside a collection (``bioal.collection``) and keeps everything in an
append-only journal, ``<collection_dir>/journal.jsonl``: one JSON object per line, written and
fsync'ed when it happens, replayed when the session is opened. Record types:

* ``session``: the first line; the collection it belongs to, the seed and the settings that
  shape the session's models and tags (:data:`SETTINGS`); another collection, seed or setting
  is refused;
* ``class``: a class added (classes keep their order of addition);
* ``round``: a round's picks (clip indices in pick order) and strategy, written when they are
  chosen, so a resumed session shows the same clips;
* ``answer``: one clip's answer: ``status`` ``labelled`` (``tags`` the classes present, empty
  = no class; optional ``events`` ``[start, end, label]`` in seconds within the clip),
  ``unsure`` or ``skip``; the latest answer of a clip counts;
* ``trained``: a round finished: the classifier was retrained on the labelled clips, its
  predictions saved, the round's kappa (method §10.3) computed. While the labelled clips hold
  no positive of any class there is nothing to learn: the round is recorded without a model
  (``model`` false) and the next round picks by the strategy's start-up rule again.

A killed kernel loses at most a line being written: a torn last line is reported and cut off on
the next open; a malformed line elsewhere is an error naming the file and line. Unsure and skipped
clips are not trained on; an unsure clip is not offered again, a skipped one returns to the pool.
(For MP/MFFT an unsure clip counts among the annotated clips with no class, since the strategies
take one mask of clips not to pick.)
Without a validation set the classifier's epochs are chosen on the labelled clips themselves.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from bioal.annotations import EVENT_COLUMNS, as_events, read_raven, write_raven
from bioal.classifier import ClassifierConfig, FeatureScaler, MLPClassifier, predict_probs, train_classifier
from bioal.collection import JOURNAL_FILE, Collection, read_collection
from bioal.config import Config, ConfigError
from bioal.dcase import END_SLACK_SECONDS, clip_frame_labels, frame_boundaries
from bioal.metrics import class_average_precision
from bioal.stopping import KAPPA_THRESHOLD, KAPPA_WINDOW, prediction_kappa, stopping_table
from bioal.strategies import CosineSpace, get_strategy, select
from bioal.utils import atomic_path, check_tensors, load_torch_file, pick_device, rng

__all__ = [
    "JOURNAL_FILE",
    "SETTINGS",
    "STATUSES",
    "SessionConfig",
    "JournalError",
    "Journal",
    "Session",
    "SimulatedAnnotator",
    "parse_answer_text",
]

STATE_DIR = "session"
STATUSES = ("labelled", "unsure", "skip")
#: Words of a Raven annotation cell that are answers, not class names.
NO_CLASS = "none"
_RESERVED = {NO_CLASS, "unsure", "skip", ""}
#: The :class:`SessionConfig` fields that shape the models and tags of a session: recorded in
#: the journal's first line, and a reopened session must use the same values.
SETTINGS = ("threshold", "classifier_hidden", "max_epochs", "classifier_lr", "classifier_prior",
            "standardize_features")


@dataclasses.dataclass(frozen=True)
class SessionConfig(Config):
    """A labelling session: ``strategy`` (any registered one; MFFT by default), ``k`` clips per
    round, ``seed`` for every random choice, the tag ``threshold`` on clip probabilities, the
    classifier's ``classifier_hidden``, ``max_epochs``, ``classifier_lr`` and ``classifier_prior``
    (:class:`~bioal.classifier.ClassifierConfig`), ``standardize_features`` (z-scored
    classifier inputs), the stopping rule's ``kappa_threshold`` and ``kappa_window``, and
    ``stop_needs_positives``: no stop is recommended while a class has no labelled positive
    clip (the rule's kappa says nothing about a class the classifier has never seen)."""

    strategy: str = "mfft"
    k: int = 10
    seed: int = 0
    threshold: float = 0.5
    classifier_hidden: int = ClassifierConfig.hidden
    max_epochs: int = ClassifierConfig.max_epochs
    classifier_lr: float = ClassifierConfig.lr
    classifier_prior: float = ClassifierConfig.prior
    standardize_features: bool = False
    kappa_threshold: float = KAPPA_THRESHOLD
    kappa_window: int = KAPPA_WINDOW
    stop_needs_positives: bool = True
    device: str = "cpu"

    def check(self) -> None:
        get_strategy(self.strategy)  # raises naming the registered strategies
        if self.k < 1:
            raise ConfigError(f"K: clips per round must be >= 1, got {self.k}")
        if not 0 < self.threshold < 1:
            raise ConfigError(f"THRESHOLD must be in (0, 1), got {self.threshold}")
        if self.kappa_window < 1:
            raise ConfigError(f"KAPPA_WINDOW must be >= 1, got {self.kappa_window}")
        if not 0 < self.kappa_threshold <= 1:
            raise ConfigError(f"KAPPA_THRESHOLD must be in (0, 1], got {self.kappa_threshold}")
        if self.seed < 0:
            raise ConfigError(f"SEED must be >= 0, got {self.seed}")
        self.classifier()  # the classifier fields, checked by ClassifierConfig (names the field)

    def classifier(self) -> ClassifierConfig:
        return ClassifierConfig(
            hidden=self.classifier_hidden, max_epochs=self.max_epochs, lr=self.classifier_lr,
            prior=self.classifier_prior,
        )


class JournalError(ValueError):
    """A journal that cannot be replayed: the message names the file and line."""


class Journal:
    """An append-only JSON-lines file; each :meth:`append` is one ``write`` + fsync."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    def read(self) -> list[dict[str, Any]]:
        """All records. A torn last line (a write cut short) is cut off with a warning."""
        if not self.path.is_file():
            return []
        data = self.path.read_bytes()
        records: list[dict[str, Any]] = []
        pos = 0
        number = 0
        while pos < len(data):
            number += 1
            end = data.find(b"\n", pos)
            line = data[pos:] if end < 0 else data[pos:end]
            try:
                record = json.loads(line.decode("utf-8"))
                if not isinstance(record, dict) or "type" not in record:
                    raise ValueError("not a record")
            except ValueError as err:
                if end < 0:  # the last line, never finished: a write cut short by a kill
                    warnings.warn(
                        f"{self.path}, line {number}: incomplete last record ({len(line)} bytes) "
                        "from an interrupted write; it is dropped",
                        stacklevel=2,
                    )
                    with open(self.path, "r+b") as handle:
                        handle.truncate(pos)
                        handle.flush()
                        os.fsync(handle.fileno())
                    break
                raise JournalError(f"{self.path}, line {number}: not a journal record ({err})") from err
            if end < 0:  # complete JSON without its newline: finish the line
                with open(self.path, "ab") as handle:
                    handle.write(b"\n")
                    handle.flush()
                    os.fsync(handle.fileno())
                end = len(data)
            records.append(record)
            pos = end + 1
        return records

    def append(self, record: dict[str, Any]) -> None:
        line = (json.dumps(record, sort_keys=True, allow_nan=False) + "\n").encode("utf-8")
        new = not self.path.exists()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)
        if new:  # make the new directory entry durable too
            dir_fd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)


def parse_answer_text(text: str, classes: Sequence[str]) -> dict[str, Any] | None:
    """A Raven annotation cell -> an answer: ``""`` None (not answered), ``unsure``, ``skip``,
    ``none`` (no class), else class names separated by ``;`` or ``,``. Unknown names are
    returned in ``unknown`` for the caller to refuse or add."""
    text = text.strip()
    if not text:
        return None
    low = text.lower()
    if low in ("unsure", "skip"):
        return {"status": low, "tags": [], "unknown": []}
    if low == NO_CLASS:
        return {"status": "labelled", "tags": [], "unknown": []}
    names = [t.strip() for t in text.replace(",", ";").split(";") if t.strip()]
    return {"status": "labelled", "tags": names, "unknown": [n for n in names if n not in classes]}


class Session:
    """One person's labelling session over a collection (see the module docstring)."""

    def __init__(self, collection_dir: str | os.PathLike, config: SessionConfig, collection: Collection | None = None):
        self.dir = Path(collection_dir)
        self.config = config
        self.collection = collection if collection is not None else read_collection(self.dir)
        split = self.collection.split
        if split.embeddings is None:
            raise ValueError(f"{self.collection.path}: a session needs the embeddings (read without meta_only)")
        self.n = len(split)
        self.frames = split.embeddings.shape[1]
        self.clip_seconds = self.collection.clip_seconds
        self.bounds = frame_boundaries(self.frames, clip_s=self.clip_seconds)
        self.device = pick_device(config.device)
        self.space = CosineSpace(split.clip_vectors(), device=self.device)
        self.scaler = FeatureScaler.fit(split.embeddings) if config.standardize_features else None
        self.x = self.scaler.transform(split.embeddings) if self.scaler else split.embeddings
        self.journal = Journal(self.dir / JOURNAL_FILE)
        self.state_dir = self.dir / STATE_DIR
        self.classes: list[str] = []
        self.answers: dict[int, dict[str, Any]] = {}
        self.rounds: list[dict[str, Any]] = []
        self.trained: list[dict[str, Any]] = []
        self._model: tuple[int, MLPClassifier] | None = None
        self._replay()

    # ----------------------------------------------------------------- journal
    def _identity(self) -> dict[str, Any]:
        attrs = self.collection.split.attrs
        return {"n_clips": self.n, "files": str(attrs.get("files", "")), "encoder": str(attrs.get("encoder", ""))}

    def _replay(self) -> None:
        records = self.journal.read()
        settings = {name: getattr(self.config, name) for name in SETTINGS}
        if not records:
            self.journal.append({"type": "session", "collection": self._identity(), "seed": self.config.seed,
                                 "settings": settings})
            return
        head = records[0]
        if head.get("type") != "session":
            raise JournalError(f"{self.journal.path}, line 1: expected the session record, got {head.get('type')!r}")
        if head["collection"] != self._identity():
            raise JournalError(
                f"{self.journal.path}: belongs to another collection ({head['collection']}, this one is "
                f"{self._identity()}); move it away to start a new session"
            )
        if head["seed"] != self.config.seed:
            raise JournalError(f"{self.journal.path}: started with seed {head['seed']}, not {self.config.seed}")
        recorded = head.get("settings", settings)  # journals written before settings were recorded
        changed = {k: (recorded.get(k), settings[k]) for k in SETTINGS if recorded.get(k) != settings[k]}
        if changed:
            listed = ", ".join(f"{k.upper()} {old!r} in the journal, {new!r} now" for k, (old, new) in changed.items())
            raise JournalError(
                f"{self.journal.path}: the session was started with other settings ({listed}); reopen it with "
                "the journal's values, or move the journal away to start a new session"
            )
        for number, record in enumerate(records[1:], start=2):
            kind = record["type"]
            if kind == "class":
                self.classes.append(record["name"])
            elif kind == "round":
                self.rounds.append(record)
            elif kind == "answer":
                self.answers[int(record["clip"])] = record
            elif kind == "trained":
                self.trained.append(record)
            else:
                raise JournalError(f"{self.journal.path}, line {number}: unknown record type {kind!r}")

    # ----------------------------------------------------------------- classes and answers
    def add_class(self, name: str) -> None:
        """Add a class (a no-op for a known one); later answers may use it."""
        name = str(name).strip()
        if name.lower() in _RESERVED or "\t" in name or ";" in name or "," in name:
            raise ValueError(f"{name!r} cannot be a class name (reserved word, empty, or holds a tab, ';' or ',')")
        if name in self.classes:
            return
        self.journal.append({"type": "class", "name": name})
        self.classes.append(name)

    def answer(
        self,
        clip: int,
        tags: Iterable[str] = (),
        status: str = "labelled",
        events: Sequence[Sequence[Any]] | None = None,
        source: str = "widget",
    ) -> None:
        """Record clip ``clip``'s answer now (journal line + fsync).

        ``tags``: the classes present (labelled only; empty = none of the classes); ``events``:
        optional ``[start, end, label]`` in seconds within the clip, each label among ``tags``.
        """
        clip = int(clip)
        if not 0 <= clip < self.n:
            raise IndexError(f"clip {clip} is not in the collection (0..{self.n - 1})")
        if status not in STATUSES:
            raise ValueError(f"clip {clip}: status {status!r}, expected one of {STATUSES}")
        tags = [str(t) for t in tags]
        unknown = [t for t in tags if t not in self.classes]
        if unknown:
            raise ValueError(f"clip {clip}: unknown class(es) {unknown}; known {self.classes} (add_class adds one)")
        if status != "labelled" and (tags or events):
            raise ValueError(f"clip {clip}: an {status!r} answer takes no tags or events")
        spans = []
        for event in events or []:
            start, end, label = float(event[0]), float(event[1]), str(event[2])
            if label not in tags:
                raise ValueError(f"clip {clip}: event label {label!r} is not among the tags {tags}")
            if not 0 <= start <= end <= self.clip_seconds:
                raise ValueError(f"clip {clip}: event {start}..{end} s is not within the {self.clip_seconds} s clip")
            spans.append([start, end, label])
        record = {"type": "answer", "clip": clip, "status": status, "tags": sorted(set(tags), key=tags.index),
                  "events": spans, "round": self.pending_round_index(), "source": source}
        self.journal.append(record)
        self.answers[clip] = record

    def labelled_mask(self) -> np.ndarray:
        """``[N]`` bool: clips whose latest answer is ``labelled``."""
        mask = np.zeros(self.n, dtype=bool)
        mask[[c for c, a in self.answers.items() if a["status"] == "labelled"]] = True
        return mask

    def excluded_mask(self) -> np.ndarray:
        """``[N]`` bool: clips not offered again (labelled or unsure); the rest is the unlabelled pool."""
        mask = self.labelled_mask()
        mask[[c for c, a in self.answers.items() if a["status"] == "unsure"]] = True
        return mask

    def clip_tags(self) -> np.ndarray:
        """``[N, C]`` bool: the answered class tags (False for unanswered clips)."""
        tags = np.zeros((self.n, len(self.classes)), dtype=bool)
        for clip, a in self.answers.items():
            if a["status"] == "labelled":
                tags[clip, [self.classes.index(t) for t in a["tags"]]] = True
        return tags

    def frame_labels(self, clips: np.ndarray) -> np.ndarray:
        """``[len(clips), T, C]`` float32: a tagged class covers the frames its events overlap,
        or the whole clip when it has no event."""
        out = np.zeros((len(clips), self.frames, len(self.classes)), dtype=np.float32)
        for row, clip in enumerate(clips):
            a = self.answers[int(clip)]
            for tag in a["tags"]:
                c = self.classes.index(tag)
                spans = [e for e in a["events"] if e[2] == tag]
                if not spans:
                    out[row, :, c] = 1.0
                    continue
                starts = np.array([e[0] for e in spans])
                ends = np.array([e[1] for e in spans])
                hit = clip_frame_labels(starts, ends, np.ones((len(spans), 1), bool), np.zeros(1), self.bounds)
                out[row, :, c] = hit[0, :, 0]
        return out

    # ----------------------------------------------------------------- rounds
    def pending_round_index(self) -> int | None:
        """The round being labelled (chosen, not yet trained), or None."""
        if self.rounds and len(self.rounds) > len(self.trained):
            return int(self.rounds[-1]["round"])
        return None

    def picks(self) -> np.ndarray:
        """The pending round's clips in pick order (empty when no round is pending)."""
        r = self.pending_round_index()
        return np.asarray(self.rounds[-1]["picks"] if r is not None else [], dtype=np.int64)

    def unanswered(self) -> np.ndarray:
        """The pending round's clips that have no answer given in this round yet."""
        r = self.pending_round_index()
        return np.asarray([c for c in self.picks() if self.answers.get(int(c), {}).get("round") != r], dtype=np.int64)

    def next_round(self, k: int | None = None, strategy: str | None = None) -> np.ndarray:
        """The clips to label now: the pending round's, or a new round's ``k`` picks by
        ``strategy`` (default the config's), recorded before they are returned."""
        if self.pending_round_index() is not None:
            return self.picks()
        k = self.config.k if k is None else int(k)
        name = strategy or self.config.strategy
        r = len(self.rounds)
        excluded = self.excluded_mask()
        free = int((~excluded).sum())
        if free == 0:
            raise ValueError("every clip of the collection is labelled or marked unsure")
        k = min(k, free)
        gen = rng(self.config.seed, "session-select", r)
        model = self.model()
        if model is None:  # nothing trained yet: the strategy's init rule (method §4.5)
            first = np.zeros(0, dtype=np.int64)
            if not excluded.any():
                first = np.asarray([int(gen.integers(self.n))], dtype=np.int64)
                excluded = excluded.copy()
                excluded[first] = True
            rest = select(name, embeddings=self.space, labeled=excluded, k=k - len(first), rng=gen, init=True,
                          explain=False)
            picks = np.concatenate([first, rest.indices])
        else:
            tags = self.clip_tags()

            def predict(index: np.ndarray) -> np.ndarray:
                probs = predict_probs(model, self.x[index], device=self.device, reduce="max")
                pred = np.zeros((len(index), tags.shape[1]), dtype=bool)  # classes added since: not predicted
                pred[:, : probs.shape[1]] = (probs >= self.config.threshold).cpu().numpy()
                return pred

            picks = select(name, embeddings=self.space, labeled=excluded, k=k, rng=gen, clip_labels=tags,
                           clip_pred=predict, init=False, explain=False).indices
        record = {"type": "round", "round": r, "picks": [int(i) for i in picks], "strategy": name}
        self.journal.append(record)
        self.rounds.append(record)
        return self.picks()

    def _model_path(self, r: int) -> Path:
        return self.state_dir / f"model_{r:04d}.pt"

    def _pred_path(self, r: int) -> Path:
        return self.state_dir / f"tags_{r:04d}.npy"

    def _modelled(self) -> list[dict[str, Any]]:
        """The finished rounds that trained a classifier."""
        return [t for t in self.trained if t.get("model", True)]

    def model(self) -> MLPClassifier | None:
        """The last finished round's classifier (None before the first, and while no labelled
        clip holds a positive)."""
        if not self.trained or not self.trained[-1].get("model", True):
            return None
        r = int(self.trained[-1]["round"])
        if self._model is None or self._model[0] != r:
            path = self._model_path(r)
            state = load_torch_file(path, map_location=self.device, what="session classifier")
            if not isinstance(state, dict) or not {"classes", "model"} <= set(state):
                raise JournalError(f"{path}: expected a dict with classes and model; finish the round again")
            check_tensors(state["model"], f"{path} ['model']")
            model = MLPClassifier(len(state["classes"]), self.x.shape[2], self.config.classifier_hidden).to(self.device)
            try:
                model.load_state_dict(state["model"])
            except RuntimeError as err:
                raise JournalError(f"{path}: does not fit this session's classifier ({err})") from err
            model.eval()
            self._model = (r, model)
        return self._model[1]

    def finish_round(self, validation: tuple[np.ndarray, np.ndarray] | None = None, progress: bool = False) -> dict:
        """Retrain the classifier on every labelled clip, predict the collection's clip tags,
        compute the round's kappa against the previous round's tags on the clips still
        unlabelled, and record the round as finished. ``validation``: optional ``(x [M, T, D],
        y [M, T, C])`` labelled clips (embedded like the collection, classes in the session's
        order) for choosing epochs and the round's valid mAP (mean over classes with positives).
        Returns the round's ``trained`` record."""
        r = self.pending_round_index()
        if r is None:
            raise ValueError("no round is pending: call next_round first")
        missing = self.unanswered()
        if len(missing):
            raise ValueError(f"round {r}: clips {missing.tolist()} have no answer yet")
        labelled = np.flatnonzero(self.labelled_mask())
        if len(labelled) == 0 or not self.classes:
            raise ValueError(f"round {r}: training needs at least one labelled clip and one class")
        y = self.frame_labels(labelled)
        found = y.reshape(-1, len(self.classes)).max(axis=0) > 0
        record: dict[str, Any] = {
            "type": "trained", "round": r, "n_labelled": int(len(labelled)), "n_answered": len(self.answers),
            "classes": list(self.classes), "without_positives": [c for c, f in zip(self.classes, found, strict=True) if not f],
        }
        if not found.any():  # nothing to learn yet: no model, and the start-up rule picks again
            record.update(model=False, kappa=None, valid_map=None, epochs=0, best_epoch=0)
            self.journal.append(record)
            self.trained.append(record)
            self._model = None
            return record
        if validation is not None:
            vx, vy = validation
            vx = self.scaler.transform(vx) if self.scaler else vx
            if vy.shape[2] != len(self.classes):
                raise ValueError(f"validation labels have {vy.shape[2]} classes, the session {len(self.classes)}")
        else:
            vx, vy = self.x[labelled], y
        trained = train_classifier(self.x[labelled], y, vx, vy, self.config.classifier(), seed=self.config.seed,
                                   device=self.device, progress=progress, keys=("session", r))
        if trained.best_epoch == 0:
            raise ValueError(
                f"round {r}: the classifier never scored above 0 on the validation clips, so it would stay "
                "untrained; do they hold positives of the session's classes? (nothing was recorded)"
            )
        model = trained.model
        self.state_dir.mkdir(parents=True, exist_ok=True)
        with atomic_path(self._model_path(r)) as tmp:
            torch.save({"round": r, "classes": list(self.classes), "model": model.state_dict()}, tmp)
        probs = predict_probs(model, self.x, device=self.device, reduce="max").cpu().numpy()  # [N, C]
        tags = probs >= self.config.threshold
        with atomic_path(self._pred_path(r)) as tmp, open(tmp, "wb") as handle:
            np.save(handle, tags)
        kappa = math.nan
        earlier = self._modelled()
        if earlier:  # the last round that trained a classifier
            previous = np.load(self._pred_path(int(earlier[-1]["round"])), allow_pickle=False)
            pool = ~self.excluded_mask()
            if pool.any():
                kappa = prediction_kappa(previous[pool], tags[pool, : previous.shape[1]])
        valid_map = None
        if validation is not None:
            ap = class_average_precision(predict_probs(model, vx, device=self.device), vy)
            present = np.asarray(vy).reshape(-1, vy.shape[2]).max(axis=0) > 0
            valid_map = float(ap[present].mean()) if present.any() else None
        record.update(model=True, kappa=None if math.isnan(kappa) else float(kappa), valid_map=valid_map,
                      epochs=trained.epochs, best_epoch=trained.best_epoch)
        self.journal.append(record)
        self.trained.append(record)
        self._model = (r, model)
        for old in self._modelled()[:-2]:  # keep the last two models' files (the kappa needs the previous tags)
            for path in (self._model_path(int(old["round"])), self._pred_path(int(old["round"]))):
                path.unlink(missing_ok=True)
        return record

    def stopping(self) -> pd.DataFrame:
        """Per finished round: labels spent, kappa, window mean, stop recommendation, valid mAP,
        and the number of classes without a labelled positive clip (no stop while there are any,
        with ``stop_needs_positives``)."""
        table = stopping_table(
            [t["n_labelled"] for t in self.trained],
            [math.nan if t["kappa"] is None else t["kappa"] for t in self.trained],
            self.config.kappa_threshold,
            self.config.kappa_window,
        )
        table.insert(0, "round", [int(t["round"]) for t in self.trained])
        table["valid_map"] = [math.nan if t["valid_map"] is None else t["valid_map"] for t in self.trained]
        table["without_positives"] = [len(t.get("without_positives", [])) for t in self.trained]
        if self.config.stop_needs_positives:
            table["stop"] &= table["without_positives"] == 0
        return table

    def predict_frames(self, batch_size: int = 4096) -> np.ndarray:
        """Frame probabilities ``[N, T, C]`` of the whole collection by the last classifier."""
        model = self.model()
        if model is None:
            raise ValueError("no classifier yet: no finished round has labelled clips with a positive")
        return predict_probs(model, self.x, batch_size=batch_size, device=self.device).cpu().numpy()

    # ----------------------------------------------------------------- Raven round trip and imports
    def _clip_span(self, clip: int) -> tuple[str, float, float]:
        rec = str(self.collection.split.recording[clip])
        start = float(self.collection.split.clip_start[clip])
        end = min(start + self.clip_seconds, self.collection.durations()[rec])
        return rec, start, end

    def export_round_raven(self, path: str | os.PathLike) -> Path:
        """The pending round's picks as one Raven table over the collection's files: one selection
        spanning each clip, the answer so far in ``Annotation`` (empty when unanswered), the clip
        index in ``Clip``. Fill ``Annotation`` with class names (``;``-separated), ``none``,
        ``unsure`` or ``skip`` and read it back with :meth:`import_round_raven`."""
        rows = []
        for clip in self.picks():
            rec, start, end = self._clip_span(int(clip))
            a = self.answers.get(int(clip))
            text = ""
            if a is not None and a.get("round") == self.pending_round_index():
                text = a["status"] if a["status"] != "labelled" else (";".join(a["tags"]) or NO_CLASS)
            rows.append({"recording": rec, "start": start, "end": end, "low_freq": math.nan, "high_freq": math.nan,
                         "label": text, "Clip": str(int(clip))})
        if not rows:
            raise ValueError("no round is pending: call next_round first")
        files = self.collection.files
        max_freq = float(files["samplerate"].min()) / 2
        return write_raven(pd.DataFrame(rows), path, durations=self.collection.durations(),
                           paths=dict(zip(files["recording"], files["path"], strict=True)), max_freq=max_freq)

    def import_round_raven(self, path: str | os.PathLike, add_classes: bool = False) -> dict[str, int]:
        """Record the answers of a table written by :meth:`export_round_raven` and filled in.
        Unknown class names are an error naming the selection, unless ``add_classes``. The
        whole table is checked before any answer is recorded. Returns counts: ``answered`` and
        ``empty`` (left for later)."""
        table = read_raven(path, label_column="Annotation")
        if "Clip" not in table.columns:
            raise ValueError(f"{path}: no 'Clip' column; it was not written by export_round_raven")
        picks = set(self.picks().tolist())
        answers: list[tuple[int, dict[str, Any]]] = []
        counts = {"answered": 0, "empty": 0}
        for i, row in enumerate(table.itertuples(index=False)):
            where = f"{path}: selection {i + 1}"
            text = str(row.Clip).strip()
            if not text.isdigit():
                raise ValueError(f"{where}: Clip {text!r} is not a clip index (a selection drawn by hand? "
                                 "answer in the exported selections' Annotation cells)")
            clip = int(text)
            if clip not in picks:
                raise ValueError(f"{where}: clip {clip} is not among the pending round's clips {sorted(picks)}")
            rec, start, _ = self._clip_span(clip)
            if row.recording != rec or abs(row.start - start) > 1e-6:
                raise ValueError(f"{where} says clip {clip} is {row.recording} at {row.start} s, "
                                 f"the collection has {rec} at {start} s")
            answer = parse_answer_text(row.label, self.classes)
            if answer is None:
                counts["empty"] += 1
                continue
            if answer["unknown"] and not add_classes:
                raise ValueError(f"{where} (clip {clip}) names unknown class(es) {answer['unknown']}; "
                                 f"known {self.classes} (add_classes=True adds them)")
            answers.append((clip, answer))
        for clip, answer in answers:
            for name in answer["unknown"]:
                self.add_class(name)
            self.answer(clip, answer["tags"], answer["status"], source=f"raven:{Path(path).name}")
            counts["answered"] += 1
        return counts

    def import_annotations(self, events: pd.DataFrame, complete: bool = False, source: str = "import") -> int:
        """Warm start: label the clips that annotated events overlap (tags = the events' labels,
        added as classes; events kept within each clip). ``complete``: the files' annotations are
        complete, so their other clips are labelled as holding no class. Events of ``status``
        UNK (DCASE CSVs) mark the clips they alone overlap as unsure. Recording names are
        matched by :meth:`~bioal.collection.Collection.find_recording` (a Raven table's
        ``Begin Path`` too). An event outside its recording is an error naming the row.
        Returns the clips answered."""
        events = as_events(events)
        if (events["label"].str.strip() == "").any():
            i = int(np.flatnonzero((events["label"].str.strip() == "").to_numpy())[0])
            raise ValueError(f"{source}: event {i} has an empty label")
        paths = events["Begin Path"] if "Begin Path" in events.columns else pd.Series([None] * len(events))
        names: dict[tuple[str, Any], str] = {}
        unknown: list[str] = []
        for key in dict.fromkeys(zip(events["recording"], paths, strict=True)):
            try:
                names[key] = self.collection.find_recording(key[0], key[1] or None)
            except KeyError as err:
                unknown.append(str(err.args[0]))
        if unknown:
            raise ValueError(f"{source}: recordings not in the collection: {'; '.join(unknown)}")
        events = events.assign(recording=[names[k] for k in zip(events["recording"], paths, strict=True)])
        durations = self.collection.durations()
        for i, e in enumerate(events.itertuples(index=False)):
            length = durations[e.recording]
            if e.start < 0 or e.start >= length or e.end > length + END_SLACK_SECONDS:
                raise ValueError(f"{source}: event {i} ({e.label}, {e.start}-{e.end} s) lies outside "
                                 f"{e.recording}, which is {length:.3f} s long")
        unsure = events["status"].astype(str).str.upper().eq("UNK") if "status" in events.columns else None
        sure = events if unsure is None else events[~unsure.to_numpy()]
        for label in dict.fromkeys(sure["label"]):
            self.add_class(label)
        split = self.collection.split
        count = 0
        for rec, group in events.groupby("recording", sort=False):
            for clip in np.flatnonzero(split.recording == rec):
                start = float(split.clip_start[clip])
                end = start + self.clip_seconds
                hit = _overlapping(group, start, end)
                pos = hit if unsure is None else hit[~unsure.loc[hit.index].to_numpy()]
                if pos.empty and len(hit):  # only uncertain events here
                    self.answer(int(clip), status="unsure", source=source)
                    count += 1
                    continue
                if pos.empty and not complete:
                    continue
                spans = [[max(0.0, e.start - start), min(self.clip_seconds, e.end - start), e.label]
                         for e in pos.itertuples(index=False)]
                self.answer(int(clip), list(dict.fromkeys(pos["label"])), events=spans, source=source)
                count += 1
        return count


def _overlapping(events: pd.DataFrame, start: float, end: float) -> pd.DataFrame:
    """The events that reach into a clip's span ``(start, end)``; one that only touches an edge does not."""
    return events[(events["start"] < end) & (events["end"] > start)]


class SimulatedAnnotator:
    """Answers from known annotations (an events table; chapter 08 runs unattended with it):
    a clip's tags are the labels of the events overlapping it, with their spans. A label that
    the session does not know yet is added first, as a person would on discovering it."""

    def __init__(self, events: pd.DataFrame) -> None:
        self.events = as_events(events)[EVENT_COLUMNS]
        self._by_recording = {rec: g for rec, g in self.events.groupby("recording", sort=False)}

    def answer(self, recording: str, start: float, clip_seconds: float) -> tuple[list[str], list[list[Any]]]:
        """``(tags, events)`` of the clip at ``start`` in ``recording``."""
        group = self._by_recording.get(recording)
        if group is None:
            return [], []
        end = start + clip_seconds
        hit = _overlapping(group, start, end)
        spans = [[max(0.0, e.start - start), min(clip_seconds, e.end - start), e.label] for e in hit.itertuples(index=False)]
        return list(dict.fromkeys(hit["label"])), spans

    def label_round(self, session: Session, limit: int | None = None) -> int:
        """Answer the pending round's unanswered clips (at most ``limit``); returns how many."""
        done = 0
        for clip in session.unanswered():
            if limit is not None and done >= limit:
                break
            tags, spans = self.answer(str(session.collection.split.recording[clip]),
                                      float(session.collection.split.clip_start[clip]), session.clip_seconds)
            for tag in tags:
                session.add_class(tag)
            session.answer(int(clip), tags, events=spans, source="simulated")
            done += 1
        return done
