"""Event-level evaluation (method §6.6): frame probabilities -> events, and the DCASE Task 5 event metric.

* :func:`frames_to_events` turns frame probabilities ``[N_clips, T, C]`` of clips cut from
  recordings (``T = LABEL_FRAMES = 32`` frames per ``CLIP_SECONDS`` clip, clips every
  ``CLIP_HOP_SECONDS``, or any other clip table) into events on each recording's timeline:
  the overlapping frames of neighbouring clips are merged (``merge="mean"`` by default), a
  per-class threshold is applied (``prob > threshold``, the comparison of frame F1), gaps up to
  ``max_gap`` seconds are bridged and events shorter than ``min_duration`` dropped.
* :func:`dcase_event_scores` is the official DCASE 2024 Task 5 event metric on a predictions
  CSV and a reference folder (one sub-folder per sub-dataset of ``Audiofilename, Starttime,
  Endtime, Q`` CSVs); :func:`score_events` is its core on in-memory tables, which the
  active-learning loop uses with one "sub-dataset" per class (:func:`split_event_scores`).
* ``python -m bioal.events PRED.csv REF_ROOT [--n-shots 5] [--min-iou 0.3]`` prints the report
  as JSON.

Matching is exact: a maximum bipartite matching (Hopcroft-Karp,
``scipy.sparse.csgraph.maximum_bipartite_matching``) over the pairs whose IoU is strictly above
``min_iou``; never greedy.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import maximum_bipartite_matching
from scipy.stats import hmean

from bioal.dcase import CODES, KEYS, DatasetError, frame_boundaries, read_annotations, read_csv_rows
from bioal.grid import CLIP_SECONDS

__all__ = [
    "MERGE_RULES",
    "PREDICTION_COLUMNS",
    "REFERENCE_COLUMNS",
    "DETECTION_COLUMNS",
    "FLOOR",
    "EventsError",
    "frame_timeline",
    "frames_to_events",
    "read_predictions",
    "read_reference",
    "match_count",
    "score_events",
    "dcase_event_scores",
    "label_events",
    "split_event_scores",
    "main",
]

#: How the frames of overlapping clips are combined on a recording's timeline.
MERGE_RULES = ("mean", "max")
#: Columns of a predictions CSV, of a reference annotation CSV (read by
#: :func:`bioal.dcase.read_annotations`) and of the detected events of :func:`frames_to_events`.
PREDICTION_COLUMNS = tuple(KEYS)
REFERENCE_COLUMNS = (*KEYS, "Q")
DETECTION_COLUMNS = (*KEYS, "label")
#: The ``Q`` values a reference may hold (the metric has no NEG events).
Q_VALUES = ("POS", "UNK")
#: Precision, recall and F when TP is 0, and the least precision (method §6.6).
FLOOR = 1e-5
#: Times (s) closer than this are equal: timeline edges, and gaps and durations against
#: ``max_gap`` and ``min_duration`` (frame widths are not exact in binary).
_TIME_DECIMALS = 9
_TIME_TOL = 10.0**-_TIME_DECIMALS


class EventsError(ValueError):
    """Bad event input: the message names the file (or table), the row and what was expected."""


# --------------------------------------------------------------------------- frames -> events


def frame_timeline(
    probs: np.ndarray, clip_start: np.ndarray, *, merge: str = "mean", clip_seconds: float = CLIP_SECONDS
) -> tuple[np.ndarray, np.ndarray]:
    """The clips of ONE recording merged onto its timeline.

    ``probs`` [K, T, C] frame values of K clips starting at ``clip_start`` [K] s; frame ``t``
    of a clip spans ``clip_start + frame_boundaries(T)[t : t + 2]`` (method §1.5). Returns
    ``(edges [M + 1], values [M, C])``: piecewise-constant values between consecutive edges
    (the union of every clip's frame boundaries), where ``values`` is the mean (or max) of the
    frames of all clips covering the piece, NaN where no clip covers it.
    """
    if merge not in MERGE_RULES:
        raise ValueError(f"merge must be one of {MERGE_RULES}, got {merge!r}")
    probs = np.asarray(probs, dtype=np.float64)
    clip_start = np.asarray(clip_start, dtype=np.float64)
    if probs.ndim != 3 or len(probs) != len(clip_start):
        raise ValueError(f"probs must be [K, T, C] with K = {len(clip_start)} clip starts, got {probs.shape}")
    n_frames = probs.shape[1]
    bounds = frame_boundaries(n_frames, clip_s=clip_seconds)  # [T + 1], 0 .. clip_seconds
    # edges a rounding error apart (a hop not exact in binary) are one edge, not a sliver no clip covers
    edges = np.unique(np.round((clip_start[:, None] + bounds[None, :]).ravel(), _TIME_DECIMALS))
    mids = (edges[:-1] + edges[1:]) / 2
    # every (piece, clip) pair with the clip covering the piece, then the clip's frame there
    lo = np.searchsorted(mids, clip_start)
    hi = np.searchsorted(mids, clip_start + clip_seconds)
    n_pieces = hi - lo
    clip = np.repeat(np.arange(len(clip_start)), n_pieces)
    piece = np.repeat(lo, n_pieces) + np.arange(n_pieces.sum()) - np.repeat(np.cumsum(n_pieces) - n_pieces, n_pieces)
    frame = np.clip(np.searchsorted(bounds, mids[piece] - clip_start[clip], side="right") - 1, 0, n_frames - 1)
    frame_values = probs[clip, frame]  # [pairs, C]
    count = np.bincount(piece, minlength=len(mids))
    if merge == "mean":
        acc = np.stack([np.bincount(piece, frame_values[:, c], minlength=len(mids)) for c in range(probs.shape[2])], 1)
        with np.errstate(invalid="ignore", divide="ignore"):
            values = acc / count[:, None]
    else:
        values = np.full((len(mids), probs.shape[2]), -np.inf)
        np.maximum.at(values, piece, frame_values)
    values[count == 0] = np.nan
    return edges, values


def _runs(active: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive) indices of the runs of True in a bool vector."""
    padded = np.concatenate([[False], active, [False]]).astype(np.int8)
    change = np.diff(padded)
    return np.flatnonzero(change == 1), np.flatnonzero(change == -1)


def frames_to_events(
    probs: np.ndarray,
    recordings: Sequence[str] | np.ndarray,
    clip_starts: Sequence[float] | np.ndarray,
    class_names: Sequence[str],
    threshold: float | Sequence[float] | np.ndarray,
    *,
    merge: str = "mean",
    min_duration: float = 0.0,
    max_gap: float = 0.0,
    recording_seconds: Mapping[str, float] | None = None,
    clip_seconds: float = CLIP_SECONDS,
) -> pd.DataFrame:
    """Events ``Audiofilename, Starttime, Endtime, label`` from frame probabilities.

    ``probs`` [N, T, C] (T = ``LABEL_FRAMES`` for the AL grid) for N clips; the clip table is
    given explicitly: ``recordings`` [N] (the recording each clip was cut from, written as
    ``Audiofilename``) and ``clip_starts`` [N] (s within it), in any order, so any clip table
    works (DCASE splits, a user's recordings). ``class_names`` [C] become ``label``.

    * ``merge``: ``"mean"`` (default) or ``"max"`` of the frames of overlapping clips (method §6.6:
      the mean keeps the probability scale the threshold was chosen on; the max raises it).
    * ``threshold``: one value or one per class [C]; a piece of the timeline is active when its
      merged value is ``> threshold`` (the frame-F1 rule). The loop passes the round's
      validation threshold.
    * ``max_gap``: active runs separated by at most this many seconds are joined; then
      ``min_duration``: events shorter than this are dropped.
    * ``recording_seconds``: optional length of each recording; events are cut there (the last
      clip of a recording may be zero-padded past its end).

    Rows are sorted by ``Audiofilename``, ``Starttime``, ``label``.
    """
    probs = np.asarray(probs)
    recordings = np.asarray(recordings, dtype=object)
    clip_starts = np.asarray(clip_starts, dtype=np.float64)
    if probs.ndim != 3:
        raise ValueError(f"probs must be [N, T, C], got shape {probs.shape}")
    if len(recordings) != len(probs) or len(clip_starts) != len(probs):
        raise ValueError(
            f"probs has {len(probs)} clips but recordings has {len(recordings)} and clip_starts {len(clip_starts)}"
        )
    n_classes = probs.shape[2]
    if len(class_names) != n_classes:
        raise ValueError(f"probs has {n_classes} classes but class_names has {len(class_names)}")
    thresholds = np.asarray(threshold, dtype=np.float64)
    if thresholds.ndim == 0:
        thresholds = np.full(n_classes, float(thresholds))
    if thresholds.shape != (n_classes,):
        raise ValueError(f"threshold must be one value or {n_classes} (one per class), got {np.shape(threshold)}")
    if min_duration < 0 or max_gap < 0:
        raise ValueError(f"min_duration and max_gap must be >= 0, got {min_duration} and {max_gap}")
    finite = np.isfinite(probs).reshape(len(probs), -1).all(axis=1)
    if not finite.all():
        bad = int(np.flatnonzero(~finite)[0])
        raise ValueError(f"clip {bad} ({recordings[bad]} at {clip_starts[bad]} s) has NaN/inf frame probabilities")
    if not np.isfinite(clip_starts).all():
        bad = int(np.flatnonzero(~np.isfinite(clip_starts))[0])
        raise ValueError(f"clip {bad} ({recordings[bad]}) has clip start {clip_starts[bad]}")

    names = sorted(set(recordings.tolist()))
    if recording_seconds is not None:
        missing = [n for n in names if n not in recording_seconds]
        if missing:
            raise KeyError(f"recording_seconds has no length for recording(s) {missing[:5]} ({len(missing)} in all)")
    rows: list[tuple[str, float, float, str]] = []
    for name in names:
        index = np.flatnonzero(recordings == name)
        starts = clip_starts[index]
        if len(np.unique(starts)) != len(starts):
            dup = pd.Series(starts).duplicated().to_numpy()
            raise ValueError(f"recording {name!r} has two clips starting at {starts[dup][0]} s")
        edges, values = frame_timeline(probs[index], starts, merge=merge, clip_seconds=clip_seconds)
        end_of_recording = None if recording_seconds is None else float(recording_seconds[name])
        for c, label in enumerate(class_names):
            with np.errstate(invalid="ignore"):
                active = values[:, c] > thresholds[c]  # NaN (uncovered) is never active
            first, last = _runs(active)
            on, off = edges[first], edges[last]
            if len(on) > 1 and max_gap > 0:
                new = np.concatenate([[True], on[1:] - off[:-1] > max_gap + _TIME_TOL])  # this run starts a new event
                closing = np.append(np.flatnonzero(new)[1:] - 1, len(off) - 1)  # last run of each event
                on, off = on[new], off[closing]
            if end_of_recording is not None:
                inside = on < end_of_recording
                on, off = on[inside], np.minimum(off[inside], end_of_recording)
            long_enough = off - on >= min_duration - _TIME_TOL
            rows.extend((name, float(a), float(b), str(label)) for a, b in zip(on[long_enough], off[long_enough], strict=True))
    out = pd.DataFrame(rows, columns=list(DETECTION_COLUMNS))
    return out.sort_values(["Audiofilename", "Starttime", "label"], kind="stable").reset_index(drop=True)


# --------------------------------------------------------------------------- reading


def _where(source: Any, row: int, lines: np.ndarray | None) -> str:
    # files: the row's line in the file (header = line 1, blank lines counted); tables: the 0-based row position
    return f"{source}, row {row}" if lines is None else f"{source}, row {int(lines[row])}"


def _times(frame: pd.DataFrame, source: Any, lines: np.ndarray | None) -> pd.DataFrame:
    out = frame.copy()
    for col in ("Starttime", "Endtime"):
        values = pd.to_numeric(out[col], errors="coerce").astype(np.float64)
        bad = np.flatnonzero(~np.isfinite(values.to_numpy()))
        if len(bad):
            i = int(bad[0])
            raise EventsError(f"{_where(source, i, lines)}: {col} {frame[col].iloc[i]!r} is not a finite number")
        out[col] = values
    back = np.flatnonzero((out["Endtime"] < out["Starttime"]).to_numpy())
    if len(back):
        i = int(back[0])
        raise EventsError(
            f"{_where(source, i, lines)}: Endtime {out['Endtime'].iloc[i]} < Starttime {out['Starttime'].iloc[i]}"
        )
    out["Audiofilename"] = out["Audiofilename"].astype(str).str.strip()
    return out


def _check_header(path: Path, header: Sequence[str], columns: Sequence[str]) -> None:
    if list(header) != list(columns):
        raise EventsError(f"{path}: header is {','.join(header)!r}, expected exactly {','.join(columns)!r}")


def _read_prediction_csv(path: Path) -> tuple[pd.DataFrame, np.ndarray]:
    """The predictions CSV as text and the file line of each row (for the messages)."""
    try:
        frame, lines = read_csv_rows(path)
    except DatasetError as err:
        raise EventsError(str(err)) from err
    _check_header(path, frame.columns, PREDICTION_COLUMNS)
    return frame, lines


def _read_reference_csv(path: Path) -> pd.DataFrame:
    """One reference CSV, read by :func:`bioal.dcase.read_annotations` in file order (the
    order :func:`score_events` breaks ties of Starttime in), then the metric's own checks:
    ``Q`` is the only class column and holds POS or UNK. ``Q`` comes back as those words."""
    try:
        frame = read_annotations(path, sort=False)
    except DatasetError as err:
        raise EventsError(str(err)) from err
    _check_header(path, frame.columns, REFERENCE_COLUMNS)
    words = {code: word for word, code in CODES.items()}
    q = frame["Q"].map(words)
    bad = np.flatnonzero(~q.isin(Q_VALUES).to_numpy())
    if len(bad):
        i = int(bad[0])
        line = int(read_csv_rows(path)[1][i])  # read_annotations keeps the file's rows, in order
        raise EventsError(f"{path}, row {line}: Q is {q.iloc[i]!r}, expected one of {list(Q_VALUES)}")
    frame["Q"] = q
    return frame


def read_predictions(predictions: pd.DataFrame | str | os.PathLike) -> pd.DataFrame:
    """A predictions table ``Audiofilename, Starttime, Endtime`` (float s), checked.

    ``predictions``: a CSV path (header exactly ``Audiofilename,Starttime,Endtime``) or a
    DataFrame with exactly those columns. Errors name the file (or "predictions table") and
    the row: a wrong header, a time that is not a number, ``Endtime < Starttime``.
    """
    if isinstance(predictions, pd.DataFrame):
        if list(predictions.columns) != list(PREDICTION_COLUMNS):
            raise EventsError(
                f"predictions table: columns are {list(predictions.columns)}, expected exactly {list(PREDICTION_COLUMNS)}"
            )
        return _times(predictions.reset_index(drop=True), "predictions table", None)
    path = Path(predictions)
    if not path.is_file():
        raise FileNotFoundError(f"no predictions CSV at {path}")
    frame, lines = _read_prediction_csv(path)
    return _times(frame, path, lines)


def read_reference(reference_root: str | os.PathLike) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The reference annotations under ``reference_root/<sub-dataset>/*.csv``.

    Each CSV is read by :func:`bioal.dcase.read_annotations` (its checks included: times,
    ``Endtime < Starttime``, a negative Starttime; a row repeating an earlier one is kept with
    a warning, as the challenge's script counts it) and must
    have the columns ``Audiofilename,Starttime,Endtime,Q`` with ``Q`` in POS/UNK; it annotates
    ``<csv stem>.wav``. Returns ``(events, files)``: events ``subset, Audiofilename, Starttime,
    Endtime, Q`` (in file order; :func:`score_events` sorts each file) and files ``subset,
    Audiofilename`` (every reference file, also those without events). Errors
    (:class:`EventsError`) name the file and row: a wrong header, a Q other than POS/UNK, a bad
    row, a recording annotated in two files; and the root when it holds no sub-dataset folder
    with CSVs.
    """
    root = Path(reference_root)
    if not root.is_dir():
        raise FileNotFoundError(f"no reference folder at {root}")
    tables, files, seen = [], [], {}
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "__"))):
        for path in sorted(folder.glob("*.csv")):
            name = path.stem.strip() + ".wav"
            if name in seen:
                raise EventsError(f"{path}: recording {name!r} is also annotated in {seen[name]}")
            seen[name] = path
            frame = _read_reference_csv(path)
            frame["Audiofilename"] = name
            frame.insert(0, "subset", folder.name)
            tables.append(frame)
            files.append((folder.name, name))
    if not files:
        raise EventsError(f"{root}: no annotation CSVs in sub-dataset folders (expected {root}/<subset>/*.csv)")
    events = pd.concat(tables, ignore_index=True)
    return events, pd.DataFrame(files, columns=["subset", "Audiofilename"])


# --------------------------------------------------------------------------- matching and scoring


def match_count(pred: np.ndarray, ref: np.ndarray, min_iou: float) -> tuple[int, np.ndarray]:
    """Maximum one-to-one matching of predictions ``pred [P, 2]`` to references ``ref [R, 2]``
    (rows ``start, end``) over pairs with IoU > ``min_iou``.

    IoU = (min end - max start) / (max end - min start); a pair spanning zero seconds has IoU 0.
    Returns ``(n_matches, matched [P] bool)``. Only pairs whose intervals can overlap are built
    (sparse), so long files cost O(P log R + pairs).
    """
    pred = np.asarray(pred, dtype=np.float64).reshape(-1, 2)
    ref = np.asarray(ref, dtype=np.float64).reshape(-1, 2)
    matched = np.zeros(len(pred), dtype=bool)
    if len(pred) == 0 or len(ref) == 0:
        return 0, matched
    order = np.argsort(ref[:, 0], kind="stable")
    ref_start = ref[order, 0]
    longest = float((ref[:, 1] - ref[:, 0]).max())
    lo = np.searchsorted(ref_start, pred[:, 0] - longest, side="left")
    hi = np.searchsorted(ref_start, pred[:, 1], side="right")
    counts = np.maximum(hi - lo, 0)
    rows = np.repeat(np.arange(len(pred)), counts)
    offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    cols = order[np.repeat(lo, counts) + offsets]
    p, r = pred[rows], ref[cols]
    inter = np.minimum(p[:, 1], r[:, 1]) - np.maximum(p[:, 0], r[:, 0])
    span = np.maximum(p[:, 1], r[:, 1]) - np.minimum(p[:, 0], r[:, 0])
    iou = np.divide(inter, span, out=np.zeros_like(inter), where=span > 0)
    keep = iou > min_iou
    if not keep.any():
        return 0, matched
    graph = csr_matrix((np.ones(int(keep.sum()), dtype=np.int8), (rows[keep], cols[keep])), shape=(len(pred), len(ref)))
    partner = maximum_bipartite_matching(graph, perm_type="column")  # [P]: matched reference or -1
    matched = partner >= 0
    return int(matched.sum()), matched


def _file_counts(
    pred: np.ndarray | None, times: np.ndarray, q: np.ndarray, n_shots: int, min_iou: float, where: str
) -> dict:
    """TP/FP/FN of one reference file: ``times [R, 2]`` and ``q [R]`` sorted by Starttime;
    ``pred [P, 2]``, None when the file has no prediction."""
    is_pos = q == "POS"
    if pred is None or len(pred) == 0:  # no prediction at all: every POS is missed, the shots included
        return {"TP": 0, "FP": 0, "FN": int(is_pos.sum())}
    if n_shots > 0 and is_pos.sum() < n_shots:
        raise EventsError(f"{where}: {int(is_pos.sum())} POS events, fewer than the n_shots={n_shots} to cut")
    keep = np.ones(len(times), dtype=bool)
    if n_shots > 0:
        cut = times[np.flatnonzero(is_pos)[n_shots - 1], 1]
        keep = times[:, 1] > cut
    pos = times[keep & is_pos]
    tp, matched = match_count(pred, pos, min_iou)
    absorbed, _ = match_count(pred[~matched], times[keep & (q == "UNK")], min_iou)
    return {"TP": tp, "FP": len(pred) - tp - absorbed, "FN": len(pos) - tp}


def _prf(tp: int, fp: int, fn: int) -> dict[str, float]:
    if tp == 0:
        return {"precision": FLOOR, "recall": FLOOR, "f-measure": FLOOR}
    return {"precision": max(tp / (tp + fp), FLOOR), "recall": tp / (tp + fn), "f-measure": tp / (tp + (fp + fn) / 2)}


def score_events(
    predictions: pd.DataFrame,
    reference: pd.DataFrame,
    files: pd.DataFrame,
    *,
    n_shots: int = 5,
    min_iou: float = 0.3,
) -> dict[str, Any]:
    """The DCASE Task 5 event metric on in-memory tables (the core of :func:`dcase_event_scores`).

    ``predictions``: ``subset, Audiofilename, Starttime, Endtime``; ``reference``: ``subset,
    Audiofilename, Starttime, Endtime, Q`` (POS/UNK); ``files``: ``subset, Audiofilename``, every
    reference file (a file may have no events). Per file (reference sorted by Starttime): drop
    events ending at or before the end of the ``n_shots``-th POS (0: keep all), match predictions
    to POS, then leftovers to UNK (absorbed: neither TP nor FP); a file without predictions
    counts all its POS as FN. Sums per subset, P/R/F per subset (``FLOOR`` when TP is 0), overall
    = harmonic mean over subsets. Returns ``{"overall": {precision, recall, f-measure, TP, FP,
    FN}, "per_subset": {subset: {...}}, "per_file": {"subset/file": {TP, FP, FN}}}``.
    """
    if n_shots < 0:
        raise ValueError(f"n_shots must be >= 0, got {n_shots}")
    if not 0 <= min_iou < 1:
        raise ValueError(f"min_iou must be in [0, 1), got {min_iou}")
    key = ["subset", "Audiofilename"]
    known = pd.MultiIndex.from_frame(files[key].astype(str))
    if known.has_duplicates:
        raise EventsError(f"files table: {known[known.duplicated()][0]} listed twice")
    pred_keys = pd.MultiIndex.from_frame(predictions[key].astype(str))
    stray = np.flatnonzero(~pred_keys.isin(known))
    if len(stray):
        i = int(stray[0])
        raise EventsError(
            f"predictions, row {i}: {predictions['Audiofilename'].iloc[i]!r} has no reference file "
            f"(in sub-dataset {predictions['subset'].iloc[i]!r})"
        )
    # plain arrays and positions per file: pandas per file would cost more than the matching
    pred_times = predictions[["Starttime", "Endtime"]].to_numpy(np.float64)
    pred_at = predictions[key].astype(str).groupby(key, sort=False).indices if len(predictions) else {}
    ref_times = reference[["Starttime", "Endtime"]].to_numpy(np.float64)
    ref_q = reference["Q"].astype(str).to_numpy()
    ref_at = reference[key].astype(str).groupby(key, sort=False).indices if len(reference) else {}
    no_events = np.zeros(0, dtype=np.int64)
    per_file: dict[str, dict[str, int]] = {}
    sums: dict[str, list[int]] = {}
    for subset, name in known:
        at = ref_at.get((subset, name), no_events)
        at = at[np.argsort(ref_times[at, 0], kind="stable")]  # each file sorted by Starttime before the cut
        p = pred_at.get((subset, name))
        if p is not None:  # by Starttime, as the challenge's script: which predictions UNK absorbs depends on it
            p = p[np.argsort(pred_times[p, 0], kind="stable")]
        counts = _file_counts(
            None if p is None else pred_times[p], ref_times[at], ref_q[at], n_shots, min_iou, f"{subset}/{name}"
        )
        per_file[f"{subset}/{name}"] = counts
        total = sums.setdefault(subset, [0, 0, 0])
        for j, k in enumerate(("TP", "FP", "FN")):
            total[j] += counts[k]
    per_subset = {s: {**_prf(*t), "TP": t[0], "FP": t[1], "FN": t[2]} for s, t in sums.items()}
    overall: dict[str, Any] = {
        m: float(hmean([v[m] for v in per_subset.values()])) for m in ("precision", "recall", "f-measure")
    }
    overall.update({k: int(sum(v[k] for v in per_subset.values())) for k in ("TP", "FP", "FN")})
    return {"overall": overall, "per_subset": per_subset, "per_file": per_file}


def dcase_event_scores(
    predictions: pd.DataFrame | str | os.PathLike,
    reference_root: str | os.PathLike,
    *,
    n_shots: int = 5,
    min_iou: float = 0.3,
) -> dict[str, Any]:
    """The official DCASE 2024 Task 5 event metric (method §6.6) of a predictions table or CSV.

    ``predictions``: exactly ``Audiofilename, Starttime, Endtime`` (:func:`read_predictions`);
    ``reference_root``: one folder per sub-dataset of ``Audiofilename,Starttime,Endtime,Q``
    CSVs (:func:`read_reference`). A prediction for a recording without a reference file is an
    error naming its row. Result layout: :func:`score_events` (``per_file`` keys ``subset/file``).
    """
    pred = read_predictions(predictions)
    events, files = read_reference(reference_root)
    subset_of = dict(zip(files["Audiofilename"], files["subset"], strict=True))
    unknown = np.flatnonzero(~pred["Audiofilename"].isin(list(subset_of)).to_numpy())
    if len(unknown):
        i = int(unknown[0])
        table = isinstance(predictions, pd.DataFrame)
        source = "predictions table" if table else predictions
        lines = None if table else _read_prediction_csv(Path(predictions))[1]
        raise EventsError(
            f"{_where(source, i, lines)}: no reference file for {pred['Audiofilename'].iloc[i]!r} "
            f"under {reference_root} (expected <subset>/{Path(pred['Audiofilename'].iloc[i]).stem}.csv)"
        )
    pred.insert(0, "subset", pred["Audiofilename"].map(subset_of))
    return score_events(pred, events, files, n_shots=n_shots, min_iou=min_iou)


# --------------------------------------------------------------------------- the AL test split


def label_events(
    labels: np.ndarray,
    recordings: Sequence[str] | np.ndarray,
    clip_starts: Sequence[float] | np.ndarray,
    class_names: Sequence[str],
    *,
    clip_seconds: float = CLIP_SECONDS,
) -> pd.DataFrame:
    """Reference events ``Audiofilename, Starttime, Endtime, label, Q`` (all POS) of frame
    labels ``[N, T, C]`` {0, 1} on clips of ``clip_seconds``: their timeline with the max of
    overlapping frames, active where 1."""
    events = frames_to_events(labels, recordings, clip_starts, class_names, 0.5, merge="max", clip_seconds=clip_seconds)
    events["Q"] = "POS"
    return events


def split_event_scores(
    probs: np.ndarray,
    labels: np.ndarray,
    recordings: Sequence[str] | np.ndarray,
    clip_starts: Sequence[float] | np.ndarray,
    class_names: Sequence[str],
    threshold: float | Sequence[float] | np.ndarray,
    *,
    merge: str = "mean",
    min_duration: float = 0.0,
    max_gap: float = 0.0,
    min_iou: float = 0.3,
    reference: pd.DataFrame | None = None,
    clip_seconds: float = CLIP_SECONDS,
) -> dict[str, Any]:
    """Event scores of a split's frame probabilities against its frame labels (method §6.6).

    ``probs`` and ``labels`` [N, T, C] on the clip table ``recordings``/``clip_starts`` [N],
    clips ``clip_seconds`` long.
    Predicted events: :func:`frames_to_events` of ``probs`` (``merge``, ``threshold``,
    ``min_duration``, ``max_gap``). Reference events: :func:`label_events` of ``labels``
    (pass them as ``reference`` to reuse them across rounds). Scored by :func:`score_events`
    with ``n_shots=0`` and one sub-dataset per class, so ``per_subset`` holds each class and
    ``overall`` their harmonic means (plus summed TP/FP/FN).
    """
    labels = np.asarray(labels)
    if labels.shape != np.shape(probs):
        raise ValueError(f"labels {labels.shape} and probs {np.shape(probs)} differ in shape")
    pred = frames_to_events(
        probs, recordings, clip_starts, class_names, threshold, merge=merge, min_duration=min_duration,
        max_gap=max_gap, clip_seconds=clip_seconds,
    )
    if reference is None:
        reference = label_events(labels, recordings, clip_starts, class_names, clip_seconds=clip_seconds)
    ref = reference
    names = sorted(set(np.asarray(recordings, dtype=object).tolist()))
    files = pd.DataFrame([(c, n) for c in class_names for n in names], columns=["subset", "Audiofilename"])
    return score_events(
        pred.rename(columns={"label": "subset"}),
        ref.rename(columns={"label": "subset"}),
        files,
        n_shots=0,
        min_iou=min_iou,
    )


# --------------------------------------------------------------------------- command line


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m bioal.events PRED.csv REF_ROOT [--n-shots 5] [--min-iou 0.3]``: JSON report on stdout."""
    parser = argparse.ArgumentParser(
        prog="python -m bioal.events", description="DCASE Task 5 event-based scores of a predictions CSV."
    )
    parser.add_argument("predictions", help="CSV with header Audiofilename,Starttime,Endtime")
    parser.add_argument("reference_root", help="folder with one sub-folder per sub-dataset of annotation CSVs")
    parser.add_argument("--n-shots", type=int, default=5, help="POS events per file given as shots (default 5)")
    parser.add_argument("--min-iou", type=float, default=0.3, help="a match needs IoU strictly above this")
    args = parser.parse_args(argv)
    try:
        report = dcase_event_scores(args.predictions, args.reference_root, n_shots=args.n_shots, min_iou=args.min_iou)
    except (EventsError, FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    # F x 100 to 3 decimals, the figure of the metric's report (method §6.6)
    report["overall"]["fmeasure (percentage)"] = round(100 * report["overall"]["f-measure"], 3)
    json.dump(report, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
