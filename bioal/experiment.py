"""The active-learning loop and its run records (method §4.4-§4.6).

:func:`run_experiment` runs one strategy x start x seed over the budgets: start-up (cold: one
random clip + the init rule; warm: ``init_pos`` true positives per class + the init rule),
then one selection round per budget, each followed by a fresh classifier trained on the
labelled clips, its valid threshold and valid/test F1 and AP, and event-level test precision,
recall and F (method §6.6). MP/MFFT mismatch uses the
previous round's best classifier and its valid threshold. Every random choice comes from
``bioal.utils.rng(seed, component, round)`` / ``torch_generator(seed, component, round)``,
so the same seed on the same device gives identical selections and metrics.

Run records in ``RESULTS_DIR/runs/<run_name>/`` are written and read through
:mod:`bioal.records` (layout there): ``config.json`` (the frozen :class:`ExperimentConfig`),
one ``rounds/<n_labelled:05d>.json`` per finished round, ``labelled_round.npy``,
``inputs.json`` (the embeddings' digests, and the PANNs checkpoint's when ``PANNS_CHECKPOINT``
is set: a resumed run refuses other inputs), ``state.pt`` (the last round's classifier, for
resuming) and
``classifiers/<n_labelled:05d>.pt`` (every round's classifier, as the paper's release keeps them).

Resume: a run started again continues at the next unfinished round and ends with the same
records as an uninterrupted run (wall times aside). The round files are the source of truth:
the labelled set is rebuilt from them; when ``state.pt`` does not hold the last finished
round (interrupted between writes), that round's classifier is retrained, which gives the
same model because training is seeded.

Departures from the paper are named options with the paper's behaviour as default (method §8):
``mismatch_comparison`` (Q7: the paper binarises predictions for mismatch with ``>=``, F1
uses ``>``). Fixed, documented choices: mismatch groups keep ascending index order within a
level (Q8, see :mod:`bioal.strategies`); every random draw is seeded (Q17);
``selected_distance`` is the distance of a pick to the labelled set *and the earlier picks of
the same round* at the moment it was picked (null while that set is empty: the first clip of a
cold start); the full-supervision run records null distances and mismatch (nothing is selected).
The reasons come from the :class:`~bioal.strategies.Selection` that picked the clips: the loop
predicts once per round and never recomputes them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import torch
from tqdm.auto import tqdm

from bioal import records
from bioal.classifier import (
    ClassifierConfig,
    FeatureScaler,
    MLPClassifier,
    evaluate,
    predict_probs,
    train_classifier,
)
from bioal.config import PAPER_DATA_ROOT, PAPER_RESULTS_DIR, Config, ConfigError
from bioal.embeddings import SPLITS, EmbeddingSplit, embeddings_dir, read_split, split_file
from bioal.events import MERGE_RULES, label_events, split_event_scores
from bioal.grid import CLIP_SECONDS
from bioal.metrics import optimal_threshold
from bioal.records import ROUND_KEYS, RoundRecord, RunRecord, load_run, start_name
from bioal.strategies import STRATEGIES, CosineSpace, Selection, get_strategy, pick_distances, select
from bioal.utils import (
    array_digest,
    check_fingerprint,
    file_digest,
    pick_device,
    read_json,
    resolve_path,
    rng,
)

__all__ = [
    "ExperimentConfig",
    "RoundRecord",
    "RunRecord",
    "ROUND_KEYS",
    "run_name",
    "run_folder",
    "run_experiment",
    "load_run",
    "load_splits",
    "embeddings_folder",
    "splits_fingerprint",
    "inputs_fingerprint",
    "NON_RESULT_FIELDS",
]

#: Fields that do not change a run's results (they may differ when a run is resumed).
NON_RESULT_FIELDS = ("preset", "device", "data_root", "embeddings_dir", "results_dir", "threads")


@dataclasses.dataclass(frozen=True)
class ExperimentConfig(Config):
    """One AL run. Defaults are the paper's (``configs/paper.yaml``); presets override them.

    ``classifier`` is the per-round :class:`~bioal.classifier.ClassifierConfig`; in notebook
    parameters, presets and ``config.json`` its fields are flat names (``CLASSIFIER_HIDDEN``,
    ``MAX_EPOCHS``, ``BATCH_SIZE``, ``CLASSIFIER_LR``, ``MIN_LR``, ``THRESHOLD_LEVELS``,
    ``CLASSIFIER_INIT_SEED``, ``PANNS_CHECKPOINT``, ``CLASSIFIER_PRIOR``, ...). Build from flat names with
    :meth:`from_dict` / :meth:`from_namespace`.
    """

    FLAT_NAMES: ClassVar[dict[str, dict[str, str]]] = {
        "classifier": {
            "hidden": "classifier_hidden",
            "init_seed": "classifier_init_seed",
            "lr": "classifier_lr",
            "prior": "classifier_prior",
        }
    }
    RENAMED: ClassVar[dict[str, str]] = {"lr": "classifier_lr"}  # records written before CLASSIFIER_LR

    preset: str = "paper"
    seed: int = 0
    device: str = "auto"
    data_root: str = PAPER_DATA_ROOT
    embeddings_dir: str = ""  # default: DATA_ROOT/embeddings
    results_dir: str = PAPER_RESULTS_DIR
    strategy: str = "mfft"
    init_pos: int = 0  # 0 = cold start, 5 = the paper's warm start (true positives per class)
    budgets: tuple[int, ...] = (50, 100, 150, 200, 250, 300, 350, 400, 450, 500)
    full_supervision: bool = False  # one round on the whole pool (the fully annotated baseline)
    # PANNS_CHECKPOINT: the paper's resized-fc init, "" = seeded init; CLASSIFIER_INIT_SEED: the
    # same init in every round, strategy and run (like the paper's)
    classifier: ClassifierConfig = dataclasses.field(default_factory=ClassifierConfig)
    select_dtype: Literal["float32", "float16"] = "float32"
    mismatch_comparison: Literal[">=", ">"] = ">="  # method Q7: the paper uses >= for mismatch tags
    record_mismatch: bool = True  # also record mismatch levels of random/FT picks (for the explorer)
    # not the paper's: z-score each embedding dimension (pool statistics) before the classifier
    standardize_features: bool = False
    threads: int = 0  # torch CPU threads during the run (0 = leave torch's setting); 1 is fastest for small MLPs
    # event-level test scores (method §6.6, not in the paper): overlapping clips' frames merged by
    # EVENT_MERGE, events shorter than EVENT_MIN_DURATION s dropped after joining gaps of at most
    # EVENT_MAX_GAP s, a match needs IoU > EVENT_MIN_IOU
    event_merge: Literal["mean", "max"] = "mean"
    event_min_duration: float = 0.0
    event_max_gap: float = 0.0
    event_min_iou: float = 0.3

    def check(self) -> None:
        if self.strategy not in STRATEGIES:
            raise ConfigError(f"STRATEGY {self.strategy!r} is not one of {sorted(STRATEGIES)}")
        if self.init_pos < 0:
            raise ConfigError(f"INIT_POS must be >= 0, got {self.init_pos}")
        if not self.full_supervision:
            if not self.budgets or self.budgets[0] < 1:
                raise ConfigError(f"BUDGETS must be a non-empty list of positive sizes, got {self.budgets}")
            if any(b <= a for a, b in zip(self.budgets, self.budgets[1:], strict=False)):
                raise ConfigError(f"BUDGETS must increase strictly, got {self.budgets}")
        if self.threads < 0:
            raise ConfigError(f"THREADS must be >= 0, got {self.threads}")
        if self.event_merge not in MERGE_RULES:
            raise ConfigError(f"EVENT_MERGE must be one of {MERGE_RULES}, got {self.event_merge!r}")
        for name in ("event_min_duration", "event_max_gap"):
            if not (0 <= getattr(self, name) < math.inf):
                raise ConfigError(f"{name.upper()} must be a finite number >= 0, got {getattr(self, name)}")
        if not 0 <= self.event_min_iou < 1:
            raise ConfigError(f"EVENT_MIN_IOU must be in [0, 1), got {self.event_min_iou}")
        if self.seed < 0:
            raise ConfigError(f"SEED must be >= 0, got {self.seed}")

    @property
    def start(self) -> str:
        """``"full"``, ``"warm"`` (init_pos > 0) or ``"cold"`` (:func:`bioal.records.start_name`)."""
        return start_name(self.full_supervision, self.init_pos)


def run_name(config: ExperimentConfig) -> str:
    """``<strategy>-<cold|warm>-seed<seed>``, or ``full-seed<seed>`` for full supervision."""
    return records.run_name(config.strategy, config.start, config.seed)


def run_folder(config: ExperimentConfig) -> Path:
    """``RESULTS_DIR/runs/<run_name>``."""
    return records.run_folder(config.results_dir, run_name(config))


# --------------------------------------------------------------------------- data


def embeddings_folder(config: ExperimentConfig) -> Path:
    """``EMBEDDINGS_DIR``, default ``DATA_ROOT/embeddings`` (resolved)."""
    return resolve_path(config.embeddings_dir) if config.embeddings_dir else embeddings_dir(config.data_root)


def load_splits(config: ExperimentConfig) -> tuple[EmbeddingSplit, EmbeddingSplit, EmbeddingSplit]:
    """Read ``train/valid/test.h5`` from ``EMBEDDINGS_DIR`` (default ``DATA_ROOT/embeddings``) as float32."""
    folder = embeddings_folder(config)
    return tuple(read_split(split_file(folder, name), dtype=np.float32) for name in SPLITS)  # type: ignore[return-value]


@contextlib.contextmanager
def _naming_split(name: str) -> Iterator[None]:
    """Prefix a ``ValueError`` raised inside with the split it concerns (``"test split: ..."``)."""
    try:
        yield
    except ValueError as err:
        raise ValueError(f"{name} split: {err}") from None


def _check_splits(splits: Any) -> tuple[EmbeddingSplit, EmbeddingSplit, EmbeddingSplit]:
    """Check the three splits before anything is written: clips present, embeddings present and
    finite, labels in {0, 1}, the same classes, embedding size and frame count; errors name split and clip."""
    if len(splits) != 3:
        raise ValueError(f"splits must be (train, valid, test), got {len(splits)} items")
    train, valid, test = splits
    for name, s in zip(SPLITS, splits, strict=True):
        if not isinstance(s, EmbeddingSplit) or s.embeddings is None:
            raise ValueError(f"{name} split: expected an EmbeddingSplit with embeddings, got {type(s).__name__}")
        if len(s) == 0:
            raise ValueError(f"{name} split has no clips; the loop needs train, valid and test clips")
        finite = np.isfinite(s.embeddings).reshape(len(s), -1).all(axis=1)
        if not finite.all():
            bad = int(np.flatnonzero(~finite)[0])
            raise ValueError(
                f"{name} split: clip {bad} ({s.recording[bad]} at {s.clip_start[bad]:.1f} s) has NaN/inf "
                f"embeddings ({int((~finite).sum())} clip(s) do); re-extract the embeddings"
            )
        odd = ~np.isin(s.labels, (0.0, 1.0)).reshape(len(s), -1).all(axis=1)
        if odd.any():
            bad = int(np.flatnonzero(odd)[0])
            values = sorted({float(v) for v in np.unique(s.labels[bad])})
            raise ValueError(
                f"{name} split: clip {bad} ({s.recording[bad]} at {s.clip_start[bad]:.1f} s) has frame labels "
                f"{values}; expected 0 or 1 only"
            )
        if s.embeddings.shape[1] != train.embeddings.shape[1]:
            raise ValueError(f"{name} split has {s.embeddings.shape[1]} frames per clip, train {train.embeddings.shape[1]}")
        if s.class_names != train.class_names:
            raise ValueError(f"{name} split classes {s.class_names} differ from train {train.class_names}")
        if s.embeddings.shape[2] != train.embeddings.shape[2]:
            raise ValueError(
                f"{name} split embedding size {s.embeddings.shape[2]} != train {train.embeddings.shape[2]}"
            )
    return train, valid, test


def splits_fingerprint(splits: Any) -> dict[str, str]:
    """``{split: SHA-256 of its embeddings, labels, class names, recordings and clip starts}``."""
    return {
        name: array_digest(s.embeddings, s.labels, np.asarray(s.class_names), s.recording, s.clip_start)
        for name, s in zip(SPLITS, splits, strict=True)
    }


# --------------------------------------------------------------------------- the loop


def _none_if_nan(values: np.ndarray) -> list[float | None]:
    return [None if (v is None or math.isnan(v)) else float(v) for v in values]


def _pred_tags(
    model: MLPClassifier, x: np.ndarray, index: np.ndarray, threshold: float, rule: str, device
) -> np.ndarray:
    """Clip-level predicted tags ``[len(index), C]``: max over frames, then ``>= t`` or ``> t``."""
    out = []
    for s in range(0, len(index), 2048):
        p = predict_probs(model, x[index[s : s + 2048]], device=device, reduce="max")
        out.append((p >= threshold if rule == ">=" else p > threshold).cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, model.n_classes), dtype=bool)


def start_clips(start: str, tags: np.ndarray, class_names: Any, init_pos: int, seed: int) -> np.ndarray:
    """The clips labelled before the init rule runs (method §4.5), in order, int64.

    ``cold`` and ``full``: one clip drawn uniformly from the pool. ``warm``: for each class
    in turn, ``init_pos`` of its positive clips (``tags [N, C]`` bool) drawn without
    replacement, a clip positive for several classes counted once; a class with fewer
    positives gives them all, with a warning.
    """
    n = len(tags)
    if start in ("cold", "full"):
        return np.asarray([int(rng(seed, "cold-start").integers(n))], dtype=np.int64)
    if start != "warm":
        raise ValueError(f"start must be 'cold', 'warm' or 'full', got {start!r}")
    g = rng(seed, "warm-start")
    first: list[int] = []
    for c, name in enumerate(class_names):
        positives = np.flatnonzero(tags[:, c])
        if len(positives) < init_pos:
            warnings.warn(
                f"class {name!r} has only {len(positives)} positive clips for a warm start of "
                f"{init_pos}; taking all of them",
                stacklevel=3,
            )
        for i in g.choice(positives, size=min(init_pos, len(positives)), replace=False):
            if int(i) not in first:
                first.append(int(i))
    return np.asarray(first, dtype=np.int64)


class _Run:
    """State of one run while it executes (private)."""

    def __init__(self, config: ExperimentConfig, splits: Any, progress: bool) -> None:
        self.config = config
        self.progress = progress
        self.folder = run_folder(config)
        self.train, self.valid, self.test = _check_splits(splits)
        self.n = len(self.train)
        self.budgets = (self.n,) if config.full_supervision else tuple(config.budgets)
        if self.budgets[-1] > self.n:
            raise ConfigError(f"BUDGETS up to {self.budgets[-1]} exceed the {self.n} clips of the train split")
        self.device = pick_device(config.device)
        self.strategy = get_strategy("random" if config.full_supervision else config.strategy)
        self.space = CosineSpace(
            self.train.clip_vectors(),
            device=self.device,
            dtype=torch.float16 if config.select_dtype == "float16" else torch.float32,
        )
        self.tags = self.train.clip_labels()
        # classifier inputs; strategies always see the raw clip vectors above
        scaler = FeatureScaler.fit(self.train.embeddings) if config.standardize_features else None
        self.pool_x = scaler.transform(self.train.embeddings) if scaler else self.train.embeddings
        valid_x, test_x = (scaler.transform(s.embeddings) if scaler else s.embeddings for s in (self.valid, self.test))
        self.valid_x = torch.from_numpy(np.ascontiguousarray(valid_x, dtype=np.float32)).to(self.device)
        self.test_x = torch.from_numpy(np.ascontiguousarray(test_x, dtype=np.float32)).to(self.device)
        self.classifier_config = config.classifier
        # the test split's reference events, the same in every round (method §6.6), on clips of
        # the split's own length (attrs["clip_seconds"], default 10 s)
        with _naming_split("test"):
            self.test_events = label_events(
                self.test.labels, self.test.recording, self.test.clip_start, self.test.class_names,
                clip_seconds=self.test.clip_seconds,
            )

    def event_scores(self, probs: np.ndarray, threshold: float) -> dict[str, Any]:
        """Event-level test scores of one round's test frame probabilities ``[N_test, T, C]``."""
        cfg = self.config
        with _naming_split("test"):
            return split_event_scores(
                probs,
                self.test.labels,
                self.test.recording,
                self.test.clip_start,
                self.test.class_names,
                threshold,
                merge=cfg.event_merge,
                min_duration=cfg.event_min_duration,
                max_gap=cfg.event_max_gap,
                min_iou=cfg.event_min_iou,
                reference=self.test_events,
                clip_seconds=self.test.clip_seconds,
            )

    # ----------------------------------------------------------------- selection
    def start_up(self) -> Selection:
        """Round 0's picks in order: cold (1 random + init rule), warm (positives + init rule), full.

        Distances are those of the whole round (the first pick has none); no mismatch yet.
        """
        cfg, seed = self.config, self.config.seed
        first = start_clips(cfg.start, self.tags, self.train.class_names, cfg.init_pos, seed)
        if len(first) > self.budgets[0]:
            raise ConfigError(f"the warm start labels {len(first)} clips, more than the first budget {self.budgets[0]}")
        labelled = np.zeros(self.n, dtype=bool)
        labelled[first] = True
        rest = select(
            self.strategy.name,
            embeddings=self.space,
            labeled=labelled,
            k=self.budgets[0] - len(first),
            rng=rng(seed, "select", 0),
            init=True,
            explain=False,
        )
        picks = np.concatenate([first, rest.indices])
        if cfg.full_supervision:
            return Selection.of(picks)
        return Selection.of(picks, distance=pick_distances(self.space, np.zeros(0, dtype=np.int64), picks))

    def select_round(self, r: int, labelled: np.ndarray, model: MLPClassifier, threshold: float) -> Selection:
        """Round ``r``'s picks with their reasons (mismatch against ``model``, distance)."""
        k = self.budgets[r] - int(labelled.sum())
        init = int(labelled.sum()) < self.budgets[0]
        predict = None
        if self.strategy.needs_classifier or self.config.record_mismatch:

            def predict(index: np.ndarray) -> np.ndarray:
                return _pred_tags(model, self.pool_x, index, threshold, self.config.mismatch_comparison, self.device)

        return select(
            self.strategy.name,
            embeddings=self.space,
            labeled=labelled,
            k=k,
            rng=rng(self.config.seed, "select", r),
            clip_labels=self.tags,
            clip_pred=predict,
            init=init,
        )

    # ----------------------------------------------------------------- training
    def train_round(self, r: int, labelled: np.ndarray):
        index = np.flatnonzero(labelled)  # ascending, as the paper's mask
        return train_classifier(
            self.pool_x[index],
            self.train.labels[index],
            self.valid_x,
            self.valid.labels,
            self.classifier_config,
            seed=self.config.seed,
            device=self.device,
            progress=self.progress,
            keys=("round", r),
        )

    def load_state(self, r: int, labelled: np.ndarray) -> tuple[MLPClassifier, float]:
        """The classifier of finished round ``r``: from ``state.pt`` or retrained (seeded)."""
        state = records.load_state(self.folder, map_location=self.device)
        if state is not None and int(state["round"]) == r:
            model = MLPClassifier(
                self.train.n_classes, self.train.embeddings.shape[2], self.classifier_config.hidden
            ).to(self.device)
            model.load_state_dict(state["model"])
            model.eval()
            return model, float(state["threshold"])
        trained = self.train_round(r, labelled)
        probs = predict_probs(trained.model, self.valid_x, device=self.device)
        threshold, _ = optimal_threshold(probs, self.valid.labels, self.config.classifier.threshold_levels)
        return trained.model, threshold


def run_experiment(
    config: ExperimentConfig,
    splits: tuple[EmbeddingSplit, EmbeddingSplit, EmbeddingSplit] | None = None,
    progress: bool = True,
    stop_after: int | None = None,
) -> RunRecord:
    """Run (or resume) one AL run and return its records.

    ``splits``: in-memory ``(train, valid, test)`` embeddings; default: read
    ``EMBEDDINGS_DIR/{train,valid,test}.h5``. ``stop_after``: stop once that many rounds are
    finished (the run can be resumed later). Finished rounds are never redone.
    """
    folder = run_folder(config)
    existing = load_run(folder) if (folder / "config.json").is_file() else None
    if existing is not None:
        # a key missing from an older record is a field added since, which then had its default
        old = ExperimentConfig.recorded(existing.config)
        new = config.to_dict()
        diff = sorted(k for k in set(old) | set(new) if k not in NON_RESULT_FIELDS and old.get(k) != new.get(k))
        if diff:
            raise ValueError(
                f"{folder} holds a run with a different configuration ({', '.join(diff)}); "
                "use another RESULTS_DIR or delete the folder"
            )
    if existing is not None and len(existing.rounds) >= existing.n_budgets:
        # finished: returned as it is, but only for the embeddings it was run on
        _check_inputs(folder, splits if splits is not None else load_splits(config), config)
        return existing
    threads = torch.get_num_threads()
    if config.threads > 0:
        torch.set_num_threads(config.threads)
    try:
        return _run(config, folder, existing, splits, progress, stop_after)
    finally:
        torch.set_num_threads(threads)


def inputs_fingerprint(splits: Any, config: ExperimentConfig) -> dict[str, Any]:
    """What a run reads: ``{"embeddings": splits_fingerprint(splits)}``, plus ``"clip_seconds"``
    (``{split: seconds}``) for splits whose clips are not ``CLIP_SECONDS`` long and
    ``"panns_checkpoint"`` (SHA-256 of the file) when ``PANNS_CHECKPOINT`` is set; a run on
    10 s clips without a checkpoint records the embeddings only, as runs always did."""
    fingerprint: dict[str, Any] = {"embeddings": splits_fingerprint(splits)}
    lengths = {name: s.clip_seconds for name, s in zip(SPLITS, splits, strict=True) if s.clip_seconds != CLIP_SECONDS}
    if lengths:
        fingerprint["clip_seconds"] = lengths
    if config.classifier.panns_checkpoint:
        path = resolve_path(config.classifier.panns_checkpoint)
        if not path.is_file():
            raise FileNotFoundError(
                f"PANNs checkpoint {path} does not exist (set PANNS_CHECKPOINT to '' for a seeded init)"
            )
        fingerprint["panns_checkpoint"] = file_digest(path)
    return fingerprint


def _check_inputs(folder: Path, splits: Any, config: ExperimentConfig) -> None:
    """Record what a run reads (:func:`inputs_fingerprint`) in ``inputs.json``, or refuse other
    inputs. An input that an older ``inputs.json`` did not record yet (``panns_checkpoint``,
    ``clip_seconds``) is not compared: what the run read then is not known."""
    path = records.inputs_path(folder)
    fingerprint = inputs_fingerprint(splits, config)
    try:
        recorded = read_json(path) if path.is_file() else None
    except (OSError, ValueError):
        recorded = None  # unreadable: check_fingerprint names the file
    if isinstance(recorded, dict):
        fingerprint = {k: v for k, v in fingerprint.items() if k == "embeddings" or k in recorded}
    check_fingerprint(
        path,
        fingerprint,
        f"the run in {folder}",
        f"delete {folder} (or use another RESULTS_DIR) to run it on these inputs.",
    )


def _run(config, folder, existing, splits, progress, stop_after) -> RunRecord:
    run = _Run(config, splits if splits is not None else load_splits(config), progress)
    _check_inputs(folder, (run.train, run.valid, run.test), config)
    records.write_config(folder, config.to_dict())

    labelled_round = np.full(run.n, -1, dtype=np.int64)
    done = existing.rounds if existing is not None else []
    for rec in done:
        if rec.class_names != run.train.class_names or max(rec.selected, default=-1) >= run.n:
            raise ValueError(f"{folder}: round {rec.round} does not match the train split in use")
        labelled_round[rec.selected] = rec.round
    model, threshold = None, 0.5
    if done:
        model, threshold = run.load_state(len(done) - 1, labelled_round >= 0)

    rounds = tqdm(range(len(done), len(run.budgets)), desc=run_name(config), disable=not progress)
    for r in rounds:
        if stop_after is not None and r >= stop_after:
            break
        labelled = labelled_round >= 0
        t0 = time.perf_counter()
        selection = run.start_up() if r == 0 else run.select_round(r, labelled, model, threshold)
        select_seconds = time.perf_counter() - t0
        picks = selection.indices
        labelled_round[picks] = r
        labelled = labelled_round >= 0

        t0 = time.perf_counter()
        trained = run.train_round(r, labelled)
        ev = evaluate(
            trained.model,
            run.valid_x,
            run.valid.labels,
            run.test_x,
            run.test.labels,
            config.classifier.threshold_levels,
            device=run.device,
        )
        train_seconds = time.perf_counter() - t0
        model, threshold = trained.model, ev.threshold
        t0 = time.perf_counter()
        events = run.event_scores(ev.test_probs, ev.threshold)
        event_seconds = time.perf_counter() - t0
        per_class = [events["per_subset"][c] for c in run.train.class_names]

        record = RoundRecord(
            round=r,
            n_labelled=int(labelled.sum()),
            selected=[int(i) for i in picks],
            selected_mismatch=[None if math.isnan(v) else int(v) for v in selection.mismatch],
            selected_distance=_none_if_nan(selection.distance),
            threshold=float(ev.threshold),
            epochs=trained.epochs,
            select_seconds=select_seconds,
            train_seconds=train_seconds,
            class_names=list(run.train.class_names),
            class_counts=[int(v) for v in run.tags[labelled].sum(axis=0)],
            valid_ap=[float(v) for v in ev.valid_ap],
            valid_f1=[float(v) for v in ev.valid_f1],
            test_ap=[float(v) for v in ev.test_ap],
            test_f1=[float(v) for v in ev.test_f1],
            history=trained.history,
            test_event_precision=[float(v["precision"]) for v in per_class],
            test_event_recall=[float(v["recall"]) for v in per_class],
            test_event_f=[float(v["f-measure"]) for v in per_class],
            test_event_counts=[[int(v["TP"]), int(v["FP"]), int(v["FN"])] for v in per_class],
            test_event_overall={k: (int(v) if k in ("TP", "FP", "FN") else float(v)) for k, v in events["overall"].items()},
            event_seconds=event_seconds,
        )
        # state, classifier and labels first, the round file last: it marks the round as finished
        records.write_state(folder, r, threshold, model.state_dict())
        records.write_classifier(folder, record.n_labelled, r, threshold, model.state_dict())
        records.write_labelled_round(folder, labelled_round)
        records.write_round(folder, record)
        rounds.set_postfix(n=record.n_labelled, test_cmap=f"{record.test_cmap:.3f}")
    return load_run(folder)
