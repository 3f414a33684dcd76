"""Run records: the one reader and writer of run folders, run names and the start rule.

A run folder ``RESULTS_DIR/runs/<run_name>/`` (DESIGN.md "Run records") holds:

* ``config.json`` - the frozen experiment configuration (a flat dict);
* ``rounds/<n_labelled:05d>.json`` - one per budget, written atomically when the round ends,
  with the keys of :data:`ROUND_KEYS`;
* ``labelled_round.npy`` - int ``[N_train]``, the round each clip was labelled in, -1 never;
* ``inputs.json`` - the fingerprint of what the run read (its embeddings, and the PANNs
  checkpoint when one is set), checked when the run is resumed (:data:`INPUTS_FILE`);
* ``state.pt`` - the last round's classifier ``{round, threshold, model}``, for resuming
  (:func:`write_state` / :func:`load_state`);
* ``classifiers/<n_labelled:05d>.pt`` - every round's classifier ``{round, threshold, model}``
  (the state_dict), as the paper's release keeps one checkpoint per budget; folders written
  before this file existed still load, they only lack these (:func:`load_classifier` says so).

Run names are ``<strategy>-<cold|warm>-seed<seed>`` and ``full-seed<seed>``; the start of a
run is ``full`` (full supervision), ``warm`` (``init_pos > 0``) or ``cold``. Everything that
reads or names runs (the loop, the sweep, the results tables, the explorer, the book) goes
through this module.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from bioal.utils import (
    OS_METADATA_FILES,
    CheckpointFileError,
    atomic_path,
    check_tensors,
    is_unfinished_write,
    load_torch_file,
    read_json,
    resolve_path,
    write_json,
)

__all__ = [
    "ROUND_KEYS",
    "EVENT_KEYS",
    "START_NAMES",
    "RoundRecord",
    "RunRecord",
    "start_name",
    "config_start",
    "run_name",
    "parse_run_name",
    "runs_dir",
    "run_folder",
    "run_folders",
    "round_paths",
    "INPUTS_FILE",
    "STATE_FILE",
    "inputs_path",
    "write_state",
    "load_state",
    "load_run",
    "list_runs",
    "find_run",
    "write_config",
    "write_round",
    "write_labelled_round",
    "classifier_path",
    "TIMING_KEYS",
    "write_classifier",
    "load_classifier",
]

ROUND_KEYS = (
    "round",
    "n_labelled",
    "selected",
    "selected_mismatch",
    "selected_distance",
    "threshold",
    "epochs",
    "select_seconds",
    "train_seconds",
    "class_names",
    "class_counts",
    "valid_ap",
    "valid_f1",
    "test_ap",
    "test_f1",
    "history",
)
#: Event-level test scores (method §6.6), added after the first records were written: a round
#: file without them reads as None. Per-class lists (fractions 0..1, or [TP, FP, FN] per class
#: for ``test_event_counts``), ``test_event_overall`` (harmonic means over classes and summed
#: counts: ``precision``, ``recall``, ``f-measure``, ``TP``, ``FP``, ``FN``) and ``event_seconds``.
EVENT_KEYS = (
    "test_event_precision",
    "test_event_recall",
    "test_event_f",
    "test_event_counts",
    "test_event_overall",
    "event_seconds",
)
#: Wall-clock timings in a round record: the only keys that differ between two runs of the same inputs.
TIMING_KEYS: tuple[str, ...] = ("select_seconds", "train_seconds", "event_seconds")
#: The per-class lists of a round record (one value per class).
_PER_CLASS = ("class_counts", "valid_ap", "valid_f1", "test_ap", "test_f1")
_PER_CLASS_EVENTS = ("test_event_precision", "test_event_recall", "test_event_f", "test_event_counts")
START_NAMES: tuple[str, ...] = ("cold", "warm", "full")
#: The strategy part of a run name: what a registered strategy may be called.
_STRATEGY = "[a-z0-9_]+"
STRATEGY_NAME = re.compile(f"^{_STRATEGY}$")
_RUN_NAME = re.compile(rf"^(?:(?P<strategy>{_STRATEGY})-(?P<start>cold|warm)|(?P<full>full))-seed(?P<seed>\d+)$")
#: A round file's name: ``<n_labelled:05d>.json``.
_ROUND_FILE = re.compile(r"^\d+\.json$")
#: The run's input fingerprint (:func:`bioal.utils.check_fingerprint`) and its resume state.
INPUTS_FILE = "inputs.json"
STATE_FILE = "state.pt"


# --------------------------------------------------------------------------- names


def start_name(full_supervision: bool, init_pos: int) -> str:
    """The start rule: ``"full"`` for full supervision, ``"warm"`` when ``init_pos > 0``, else ``"cold"``."""
    if full_supervision:
        return "full"
    return "warm" if int(init_pos) > 0 else "cold"


def config_start(config: Mapping[str, Any]) -> str:
    """:func:`start_name` of a run's ``config.json`` dict (missing keys: not full, cold)."""
    return start_name(bool(config.get("full_supervision", False)), int(config.get("init_pos", 0)))


def run_name(strategy: str, start: str, seed: int) -> str:
    """``mfft-cold-seed0``; ``full-seed0`` when ``start`` is ``"full"`` (the strategy is then ignored)."""
    if start not in START_NAMES:
        raise ValueError(f"start must be one of {START_NAMES}, got {start!r}")
    return f"full-seed{int(seed)}" if start == "full" else f"{strategy}-{start}-seed{int(seed)}"


def parse_run_name(name: str) -> dict[str, Any] | None:
    """``"mfft-cold-seed0"`` -> ``{"strategy": "mfft", "start": "cold", "seed": 0}``;
    ``"full-seed1"`` -> strategy and start ``"full"``; None for other names."""
    match = _RUN_NAME.match(name)
    if match is None:
        return None
    if match["full"]:
        return {"strategy": "full", "start": "full", "seed": int(match["seed"])}
    return {"strategy": match["strategy"], "start": match["start"], "seed": int(match["seed"])}


def runs_dir(results_dir: str | os.PathLike) -> Path:
    """``RESULTS_DIR/runs`` (relative paths resolve against the project root)."""
    return resolve_path(results_dir) / "runs"


def run_folder(results_dir: str | os.PathLike, name: str) -> Path:
    """``RESULTS_DIR/runs/<name>``."""
    return runs_dir(results_dir) / name


def run_folders(results_dir: str | os.PathLike) -> list[Path]:
    """Run folders (holding ``config.json``) under ``RESULTS_DIR/runs``, sorted by name."""
    runs = runs_dir(results_dir)
    if not runs.is_dir():
        return []
    return sorted(p for p in runs.iterdir() if (p / "config.json").is_file())


def round_paths(folder: str | os.PathLike) -> list[Path]:
    """The round files ``rounds/<n_labelled:05d>.json`` of a run, in budget order.

    A round file whose write was cut short (:func:`bioal.utils.is_unfinished_write`) and a file
    browser's metadata (``.DS_Store``) are passed over; any other file (e.g. a macOS
    ``._00010.json``) raises ``ValueError`` naming the folder and the file.
    """
    rounds = Path(folder) / "rounds"
    if not rounds.is_dir():
        return []
    paths = sorted(p for p in rounds.iterdir() if not is_unfinished_write(p.name) and p.name not in OS_METADATA_FILES)
    stray = [p.name for p in paths if not _ROUND_FILE.match(p.name)]
    if stray:
        raise ValueError(
            f"{rounds}: {stray[0]!r} is not a round file (<n_labelled:05d>.json)"
            + (f", nor are {stray[1:6]}" if len(stray) > 1 else "")
            + "; move it out of the folder"
        )
    return sorted(paths, key=lambda p: int(p.stem))


# --------------------------------------------------------------------------- records


@dataclasses.dataclass
class RoundRecord:
    """One ``rounds/<n>.json`` file (per-class lists are fractions 0..1, in class order).

    The :data:`EVENT_KEYS` fields are None for rounds written before event scoring.
    """

    round: int
    n_labelled: int
    selected: list[int]
    selected_mismatch: list[int | None]
    selected_distance: list[float | None]
    threshold: float
    epochs: int
    select_seconds: float
    train_seconds: float
    class_names: list[str]
    class_counts: list[int]
    valid_ap: list[float]
    valid_f1: list[float]
    test_ap: list[float]
    test_f1: list[float]
    history: list[dict[str, float]]
    test_event_precision: list[float] | None = None
    test_event_recall: list[float] | None = None
    test_event_f: list[float] | None = None
    test_event_counts: list[list[int]] | None = None
    test_event_overall: dict[str, float] | None = None
    event_seconds: float | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: Any = "") -> RoundRecord:
        """A record from a round file's dict; missing keys and per-class lists of the wrong
        length raise errors naming ``source`` (the file)."""
        missing = [k for k in ROUND_KEYS if k not in data]
        if missing:
            raise KeyError(f"{source}: round record lacks keys {missing}")
        n_classes = len(data["class_names"])
        for key in _PER_CLASS:
            if len(data[key]) != n_classes:
                raise ValueError(f"{source}: {key!r} has {len(data[key])} values for {n_classes} classes")
        n = len(data["selected"])
        for key in ("selected_mismatch", "selected_distance"):
            if data[key] is None:  # records written before every pick carried its reasons
                data = {**data, key: [None] * n}
            elif len(data[key]) != n:
                raise ValueError(f"{source}: {key} has {len(data[key])} entries for {n} selected clips")
        for key in _PER_CLASS_EVENTS:
            if data.get(key) is not None and len(data[key]) != n_classes:
                raise ValueError(f"{source}: {key!r} has {len(data[key])} values for {n_classes} classes")
        overall = data.get("test_event_overall")
        if overall is not None:
            lacking = [k for k in ("precision", "recall", "f-measure", "TP", "FP", "FN") if k not in overall]
            if lacking:
                raise KeyError(f"{source}: test_event_overall lacks keys {lacking}")
        return cls(**{k: data[k] for k in ROUND_KEYS}, **{k: data.get(k) for k in EVENT_KEYS})

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in (*ROUND_KEYS, *EVENT_KEYS)}

    @property
    def has_events(self) -> bool:
        """True when the round carries event-level scores (method §6.6)."""
        return self.test_event_f is not None

    @property
    def valid_cmap(self) -> float:
        return float(np.mean(self.valid_ap))

    @property
    def test_cmap(self) -> float:
        return float(np.mean(self.test_ap))

    @property
    def test_macro_f1(self) -> float:
        return float(np.mean(self.test_f1))


@dataclasses.dataclass
class RunRecord:
    """A run folder read back: config (dict), rounds in order, labelled-in-round array."""

    folder: Path
    config: dict[str, Any]
    rounds: list[RoundRecord]
    labelled_round: np.ndarray

    @property
    def name(self) -> str:
        return self.folder.name

    @property
    def start(self) -> str:
        return config_start(self.config)

    @property
    def strategy(self) -> str:
        return "full" if self.start == "full" else str(self.config["strategy"])

    @property
    def init_pos(self) -> int:
        return int(self.config.get("init_pos", 0))

    @property
    def seed(self) -> int:
        return int(self.config["seed"])

    @property
    def class_names(self) -> list[str]:
        return list(self.rounds[0].class_names) if self.rounds else []

    @property
    def n_budgets(self) -> int:
        """Rounds a finished run has: one per budget, or one for full supervision."""
        return 1 if self.start == "full" else len(self.config["budgets"])

    @property
    def complete(self) -> bool:
        """A round per budget; for full supervision, one round that labelled the whole pool."""
        if self.start == "full":
            return len(self.rounds) == 1 and self.rounds[0].n_labelled == len(self.labelled_round)
        return len(self.rounds) == self.n_budgets


def load_run(folder: str | os.PathLike) -> RunRecord:
    """Read a run folder (``config.json``, ``rounds/*.json``, ``labelled_round.npy``).

    Errors name the folder or file: no ``config.json``, a config without ``strategy`` /
    ``seed``, a round file lacking keys or with per-class lists of the wrong length, or
    round files that are not consecutive.
    """
    folder = Path(folder)
    config_path = folder / "config.json"
    if not config_path.is_file():
        raise FileNotFoundError(f"{folder}: not a run folder (no config.json)")
    config = read_json(config_path)
    for key in ("strategy", "seed"):
        if key not in config:
            raise KeyError(f"{config_path}: key {key!r} is missing")
    rounds = [RoundRecord.from_dict(read_json(p), p) for p in round_paths(folder)]
    rounds.sort(key=lambda r: r.round)
    for i, r in enumerate(rounds):
        if r.round != i:
            raise ValueError(f"{folder}: round files are not consecutive (found round {r.round} at position {i})")
    path = folder / "labelled_round.npy"
    labelled_round = np.load(path) if path.is_file() else np.zeros(0, dtype=np.int64)
    return RunRecord(folder=folder, config=config, rounds=rounds, labelled_round=labelled_round)


def list_runs(results_dir: str | os.PathLike, *, include_full: bool = False) -> pd.DataFrame:
    """Runs with at least one finished round under ``RESULTS_DIR/runs``: columns
    ``run_name, strategy, start, seed, n_rounds, folder``, in folder-name order.
    Full-supervision runs are left out unless ``include_full``."""
    rows = []
    for folder in run_folders(results_dir):
        info = parse_run_name(folder.name)
        if info is None or (info["start"] == "full" and not include_full):
            continue
        n = len(round_paths(folder))
        if n:
            rows.append({"run_name": folder.name, **info, "n_rounds": n, "folder": folder})
    return pd.DataFrame(rows, columns=["run_name", "strategy", "start", "seed", "n_rounds", "folder"])


def find_run(results_dir: str | os.PathLike, strategy: str, start: str, seed: int) -> Path:
    """The folder of one run with finished rounds; the error lists the runs that have some."""
    folder = run_folder(results_dir, run_name(strategy, start, seed))
    if not round_paths(folder):
        available = list(list_runs(results_dir, include_full=True).run_name)
        raise FileNotFoundError(f"no finished rounds in {folder} (runs with records: {available})")
    return folder


# --------------------------------------------------------------------------- writing


def write_config(folder: str | os.PathLike, config: Mapping[str, Any]) -> Path:
    """Write ``config.json`` (atomically), creating the folder."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    write_json(folder / "config.json", dict(config))
    return folder / "config.json"


def write_labelled_round(folder: str | os.PathLike, labelled_round: np.ndarray) -> None:
    """Write ``labelled_round.npy`` (int ``[N_train]``) atomically."""
    with atomic_path(Path(folder) / "labelled_round.npy") as tmp, open(tmp, "wb") as handle:
        np.save(handle, np.asarray(labelled_round, dtype=np.int64))


def write_round(folder: str | os.PathLike, record: RoundRecord) -> Path:
    """Write ``rounds/<n_labelled:05d>.json`` atomically: the mark that the round finished."""
    path = Path(folder) / "rounds" / f"{record.n_labelled:05d}.json"
    write_json(path, record.to_dict())
    return path


def inputs_path(folder: str | os.PathLike) -> Path:
    """``<run folder>/inputs.json``: the fingerprint of the inputs the run read."""
    return Path(folder) / INPUTS_FILE


def _save_classifier(path: Path, round_: int, threshold: float, state: Mapping[str, Any]) -> Path:
    """Write ``{round, threshold, model}`` atomically to ``path``."""
    with atomic_path(path) as tmp:
        torch.save({"round": int(round_), "threshold": float(threshold), "model": dict(state)}, tmp)
    return path


def _read_classifier(path: Path, what: str, map_location: Any = "cpu", advice: str = "") -> dict[str, Any]:
    """``{round, threshold, model}`` read from ``path``; bad files raise
    :class:`~bioal.utils.CheckpointFileError` naming it (``what`` says what it is, ``advice``
    is appended to the other errors)."""
    state = load_torch_file(path, map_location=map_location, what=what)
    try:
        if not isinstance(state, dict):
            raise CheckpointFileError(
                f"{path}: expected a dict with round, threshold and model, got {type(state).__name__}"
            )
        missing = [k for k in ("round", "threshold", "model") if k not in state]
        if missing:
            raise CheckpointFileError(f"{path}: lacks keys {missing}")
        check_tensors(state["model"], f"{path} ['model']")
    except CheckpointFileError as err:
        if not advice:
            raise
        raise CheckpointFileError(f"{err}; {advice}") from None
    return state


def write_state(folder: str | os.PathLike, round_: int, threshold: float, state: Mapping[str, Any]) -> Path:
    """Write ``state.pt``, the last finished round's classifier ``{round, threshold, model}``, atomically."""
    return _save_classifier(Path(folder) / STATE_FILE, round_, threshold, state)


def load_state(folder: str | os.PathLike, map_location: Any = "cpu") -> dict[str, Any] | None:
    """``state.pt`` as ``{round, threshold, model}``, or None when the folder has none.

    A bad file raises :class:`~bioal.utils.CheckpointFileError` naming it and saying to
    delete it (the loop then retrains the last round's classifier from the round records).
    """
    path = Path(folder) / STATE_FILE
    if not path.is_file():
        return None
    what = "run state (delete it: the last round's classifier is then retrained from the round records)"
    return _read_classifier(path, what, map_location, advice="delete it to retrain")


def classifier_path(folder: str | os.PathLike, n_labelled: int) -> Path:
    """``<run folder>/classifiers/<n_labelled:05d>.pt``: the classifier of the round ending at that budget."""
    return Path(folder) / "classifiers" / f"{int(n_labelled):05d}.pt"


def write_classifier(
    folder: str | os.PathLike, n_labelled: int, round_: int, threshold: float, state: Mapping[str, Any]
) -> Path:
    """Write one round's classifier ``{round, threshold, model}`` atomically (before its round file)."""
    return _save_classifier(classifier_path(folder, n_labelled), round_, threshold, state)


def load_classifier(folder: str | os.PathLike, n_labelled: int) -> dict[str, Any]:
    """One round's classifier ``{round, threshold, model}`` (:func:`~bioal.utils.load_torch_file`).

    A folder written before per-round classifiers were kept raises ``FileNotFoundError``
    naming the file and saying to run the run again into a fresh ``RESULTS_DIR``. A truncated
    file, other keys, or weights that are not finite tensors raise
    :class:`~bioal.utils.CheckpointFileError` naming the file.
    """
    path = classifier_path(folder, n_labelled)
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: no classifier for the round ending at {n_labelled} labels; this run folder was written "
            "before bioal kept one classifier per round: run it again into a fresh RESULTS_DIR"
        )
    return _read_classifier(path, "round classifier")
