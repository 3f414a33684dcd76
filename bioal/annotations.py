"""Annotation tables in and out: Raven Pro selection tables, Audacity label tracks, DCASE CSVs.

Every reader returns one events table (:data:`EVENT_COLUMNS`, then any extra columns of the
file, kept as text): ``recording`` (str), ``start``/``end`` (float64 s within the recording),
``low_freq``/``high_freq`` (float64 Hz, NaN when the file has none), ``label`` (str). The
formats are described in method §10.1 (Raven) and §10.2 (Audacity). A malformed line raises
:class:`AnnotationError` naming the file and the line (header = line 1).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from bioal.dcase import KEYS, DatasetError, read_annotations
from bioal.grid import SAMPLE_RATE
from bioal.utils import atomic_write

__all__ = [
    "EVENT_COLUMNS",
    "AnnotationError",
    "read_raven",
    "write_raven",
    "read_audacity",
    "write_audacity",
    "read_dcase_csv",
    "read_any",
    "as_events",
    "RAVEN_STANDARD",
]

EVENT_COLUMNS = ["recording", "start", "end", "low_freq", "high_freq", "label"]

#: The Raven columns every table starts with (method §10.1).
RAVEN_STANDARD = [
    "Selection",
    "View",
    "Channel",
    "Begin Time (s)",
    "End Time (s)",
    "Low Freq (Hz)",
    "High Freq (Hz)",
]
_RAVEN_FILE_COLUMNS = ["Begin File", "Begin Path", "File Offset (s)"]
#: Raven columns that are measurements or bookkeeping, never the annotation (besides any "Name (unit)").
_RAVEN_NOT_ANNOTATION = set(RAVEN_STANDARD) | set(_RAVEN_FILE_COLUMNS) | {
    "End File",
    "End Path",
    "Begin Date",
    "End Date",
    "Begin Clock Time",
    "End Clock Time",
    "Begin Date Time",
    "End Date Time",
    "Begin Hour",
    "Sound Files",
}
_UNIT = re.compile(r"\(.*\)\s*$")
_TABLE_SUFFIX = re.compile(r"(\.Table\.\d+)?\.selections\.txt$", re.IGNORECASE)


class AnnotationError(ValueError):
    """A malformed annotation file: the message names the file and the line."""


# --------------------------------------------------------------------------- helpers


def _lines(path: Path) -> list[str]:
    """The file's lines (UTF-8, BOM and CRLF/CR tolerated), without line ends."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as err:
        raise AnnotationError(f"{path}: not UTF-8 text ({err})") from err
    return text.splitlines()


def _number(path: Path, line: int, column: str, text: str, allow_empty: bool = False) -> float:
    text = text.strip()
    if allow_empty and text == "":
        return math.nan
    try:
        value = float(text)
    except ValueError:
        raise AnnotationError(f"{path}, line {line}: {column} {text!r} is not a number") from None
    if not math.isfinite(value):
        raise AnnotationError(f"{path}, line {line}: {column} {text!r} is not a finite number")
    return value


def _check_times(path: Path, line: int, start: float, end: float) -> None:
    if start < 0:
        raise AnnotationError(f"{path}, line {line}: start {start} is negative")
    if end < start:
        raise AnnotationError(f"{path}, line {line}: end {end} is before start {start}")


def _frame(rows: list[dict[str, object]], extras: Sequence[str]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=EVENT_COLUMNS + list(extras))
    frame["recording"] = frame["recording"].astype(str)
    for col in ("start", "end", "low_freq", "high_freq"):
        frame[col] = frame[col].astype(np.float64)
    frame["label"] = frame["label"].astype(str)
    return frame


def as_events(frame: pd.DataFrame) -> pd.DataFrame:
    """An events table from either layout: :data:`EVENT_COLUMNS` or DCASE-style
    ``Audiofilename, Starttime, Endtime[, label]``. Missing frequency columns read as NaN.
    """
    frame = frame.rename(columns={"Audiofilename": "recording", "Starttime": "start", "Endtime": "end"})
    missing = [c for c in ("recording", "start", "end", "label") if c not in frame.columns]
    if missing:
        raise AnnotationError(f"events table lacks column(s) {missing}; it has {list(frame.columns)}")
    frame = frame.copy()
    for col in ("low_freq", "high_freq"):
        if col not in frame.columns:
            frame[col] = np.nan
    extras = [c for c in frame.columns if c not in EVENT_COLUMNS]
    out = frame[EVENT_COLUMNS + extras].reset_index(drop=True)
    out["recording"] = out["recording"].astype(str)
    for col in ("start", "end", "low_freq", "high_freq"):
        out[col] = out[col].astype(np.float64)
    out["label"] = out["label"].astype(str)
    bad = np.flatnonzero(~np.isfinite(out[["start", "end"]].to_numpy()).all(axis=1))
    if len(bad):
        raise AnnotationError(f"events row {int(bad[0])}: start/end must be finite numbers")
    bad = np.flatnonzero((out["end"] < out["start"]).to_numpy())
    if len(bad):
        raise AnnotationError(f"events row {int(bad[0])}: end {out['end'].iloc[bad[0]]} before start")
    return out


def _fmt(value: float) -> str:
    """Shortest text that reads back as the same float."""
    return repr(float(value))


# --------------------------------------------------------------------------- Raven


def raven_recording_name(path: str | os.PathLike) -> str:
    """``rec 1.Table.1.selections.txt`` -> ``rec 1`` (Raven's default table name)."""
    name = Path(path).name
    stripped = _TABLE_SUFFIX.sub("", name)
    return stripped if stripped != name else Path(name).stem


def _annotation_columns(header: Sequence[str]) -> list[str]:
    return [c for c in header if c not in _RAVEN_NOT_ANNOTATION and not _UNIT.search(c)]


def read_raven(
    path: str | os.PathLike, label_column: str | None = None, recording: str | None = None
) -> pd.DataFrame:
    """Read a Raven Pro selection table into an events table (method §10.1).

    ``label_column`` names the annotation column holding the label; with None the table must
    have exactly one annotation column (not a standard, file or "Name (unit)" measurement
    column). A selection drawn in both views (Waveform and Spectrogram rows with the same
    ``Selection``) counts once, with the Spectrogram row's frequencies. With ``Begin File``
    and ``File Offset (s)`` (a table over several files) the recording is ``Begin File`` and
    the start is ``File Offset (s)``; otherwise the recording is ``recording`` or the table's
    name without ``.Table.N.selections.txt``. Extra columns are kept as text.
    """
    path = Path(path)
    lines = _lines(path)
    if not lines or not lines[0].strip():
        raise AnnotationError(f"{path}, line 1: empty file; expected a Raven header starting with 'Selection'")
    header = [c.strip() for c in lines[0].split("\t")]
    required = ["Selection", "Begin Time (s)", "End Time (s)"]
    missing = [c for c in required if c not in header]
    if missing:
        raise AnnotationError(f"{path}, line 1: not a Raven selection table, missing column(s) {missing}; header {header}")
    if len(set(header)) != len(header):
        raise AnnotationError(f"{path}, line 1: duplicated column names in header {header}")
    multi = "Begin File" in header
    if multi and "File Offset (s)" not in header:
        raise AnnotationError(f"{path}, line 1: 'Begin File' without 'File Offset (s)'")
    if label_column is None:
        candidates = _annotation_columns(header)
        if len(candidates) != 1:
            raise AnnotationError(
                f"{path}: {len(candidates)} annotation columns {candidates}; pass label_column= naming the label's column"
            )
        label_column = candidates[0]
    elif label_column not in header:
        raise AnnotationError(f"{path}, line 1: no column {label_column!r}; header {header}")
    # kept as extra columns: Channel (which channel of a multichannel file) and Begin Path
    shown = (set(RAVEN_STANDARD) | set(_RAVEN_FILE_COLUMNS) | {label_column}) - {"Channel", "Begin Path"}
    extras = [c for c in header if c not in shown]
    default_recording = recording if recording is not None else raven_recording_name(path)

    chosen: dict[str, tuple[int, dict[str, str], bool]] = {}  # selection -> (line, cells, is spectrogram)
    order: list[str] = []
    for number, text in enumerate(lines[1:], start=2):
        if not text.strip():
            continue
        fields = text.split("\t")
        if len(fields) < len(header):  # Raven drops nothing, but editors strip trailing empty cells
            if len(fields) < len(header) - len(_annotation_columns(header)):
                raise AnnotationError(f"{path}, line {number}: {len(fields)} fields, header has {len(header)}")
            fields += [""] * (len(header) - len(fields))
        if len(fields) > len(header):
            raise AnnotationError(f"{path}, line {number}: {len(fields)} fields, header has {len(header)}")
        cells = dict(zip(header, fields, strict=True))
        selection = cells["Selection"].strip()
        if not selection:
            raise AnnotationError(f"{path}, line {number}: empty Selection")
        spectro = cells.get("View", "").strip().lower().startswith("spectrogram")
        if selection in chosen:
            first_line, first, first_spectro = chosen[selection]
            if spectro == first_spectro:
                raise AnnotationError(
                    f"{path}, line {number}: selection {selection} repeats in the same view as line {first_line}; "
                    "each selection is one row per view (Waveform, Spectrogram)"
                )
            labels = {first.get(label_column, "").strip(), cells.get(label_column, "").strip()} - {""}
            if len(labels) > 1:
                raise AnnotationError(
                    f"{path}, line {number}: selection {selection} is labelled {cells[label_column].strip()!r} here "
                    f"and {first[label_column].strip()!r} on line {first_line}"
                )
            for col in ("Begin Time (s)", "End Time (s)"):
                a = _number(path, first_line, col, first[col])
                b = _number(path, number, col, cells[col])
                if not math.isclose(a, b, rel_tol=0, abs_tol=1e-6):
                    raise AnnotationError(
                        f"{path}, line {number}: selection {selection} repeats with {col} {b}, line {first_line} has {a}"
                    )
            if spectro and not first_spectro:
                if not cells.get(label_column, "").strip():
                    cells[label_column] = first.get(label_column, "")
                chosen[selection] = (number, cells, True)
            elif not first.get(label_column, "").strip() and cells.get(label_column, "").strip():
                first[label_column] = cells[label_column]
            continue
        chosen[selection] = (number, cells, spectro)
        order.append(selection)

    rows: list[dict[str, object]] = []
    for selection in order:
        number, cells, _ = chosen[selection]
        begin = _number(path, number, "Begin Time (s)", cells["Begin Time (s)"])
        end = _number(path, number, "End Time (s)", cells["End Time (s)"])
        _check_times(path, number, begin, end)
        if multi:
            name = cells["Begin File"].strip()
            if not name:
                raise AnnotationError(f"{path}, line {number}: empty Begin File")
            offset = _number(path, number, "File Offset (s)", cells["File Offset (s)"])
            start, stop = offset, offset + (end - begin)
        else:
            name, start, stop = default_recording, begin, end
        low = _number(path, number, "Low Freq (Hz)", cells.get("Low Freq (Hz)", ""), allow_empty=True)
        high = _number(path, number, "High Freq (Hz)", cells.get("High Freq (Hz)", ""), allow_empty=True)
        if low > high:
            raise AnnotationError(f"{path}, line {number}: Low Freq (Hz) {low} above High Freq (Hz) {high}")
        row: dict[str, object] = {
            "recording": name,
            "start": start,
            "end": stop,
            "low_freq": low,
            "high_freq": high,
            "label": cells[label_column].strip(),
        }
        row.update({c: cells[c] for c in extras})
        rows.append(row)
    return _frame(rows, extras)


def write_raven(
    events: pd.DataFrame,
    path: str | os.PathLike,
    label_column: str = "Annotation",
    durations: Mapping[str, float] | None = None,
    paths: Mapping[str, str] | None = None,
    max_freq: float = SAMPLE_RATE / 2,
) -> Path:
    """Write an events table as a Raven Pro selection table (``*.selections.txt``), atomically.

    One ``Spectrogram 1`` row per event, channel 1, the label in ``label_column``, extra
    columns after it. Missing frequencies are written as 0 and ``max_freq`` Hz (Raven needs
    numbers). Events of one recording give a plain table. Events of several recordings need
    ``durations`` (seconds per recording, in the order the files are opened in Raven): the table
    then has ``Begin File``, ``Begin Path`` (``paths`` or the name) and ``File Offset (s)``, and
    ``Begin Time (s)`` runs on the joined timeline.
    """
    events = as_events(events)
    path = Path(path)
    own = set(RAVEN_STANDARD) | set(_RAVEN_FILE_COLUMNS)
    # a read table's Channel and Begin Path fill those columns; no column is written twice
    extras = [c for c in events.columns if c not in EVENT_COLUMNS and c not in own]
    if label_column in extras or label_column in RAVEN_STANDARD:
        raise AnnotationError(f"label column {label_column!r} clashes with another column")
    recordings = list(dict.fromkeys(events["recording"]))
    multi = durations is not None
    if len(recordings) > 1 and not multi:
        raise AnnotationError(
            f"{path}: events of {len(recordings)} recordings; pass durations= for a multi-file table "
            "or write one table per recording"
        )
    offsets: dict[str, float] = {}
    if multi:
        total = 0.0
        for name, duration in durations.items():
            offsets[str(name)] = total
            total += float(duration)
        unknown = [r for r in recordings if r not in offsets]
        if unknown:
            raise AnnotationError(f"{path}: no duration for recording(s) {unknown}")
    header = list(RAVEN_STANDARD)
    if multi:
        header += _RAVEN_FILE_COLUMNS
    header += [label_column] + extras
    out = ["\t".join(header)]
    for i, row in enumerate(events.itertuples(index=False)):
        rec = dict(zip(events.columns, row, strict=True))
        low = 0.0 if math.isnan(rec["low_freq"]) else rec["low_freq"]
        high = max_freq if math.isnan(rec["high_freq"]) else rec["high_freq"]
        offset = offsets.get(rec["recording"], 0.0)
        channel = str(rec.get("Channel") or "1")
        cells = [str(i + 1), "Spectrogram 1", channel, _fmt(offset + rec["start"]), _fmt(offset + rec["end"]),
                 _fmt(low), _fmt(high)]
        if multi:
            name = rec["recording"]
            cells += [name, (paths or {}).get(name) or rec.get("Begin Path") or name, _fmt(rec["start"])]
        cells += [rec["label"]] + ["" if pd.isna(rec[c]) else str(rec[c]) for c in extras]
        bad = [c for c in cells if "\t" in c or "\n" in c or "\r" in c]
        if bad:
            raise AnnotationError(f"{path}: event {i} has a tab or line break in a cell {bad[0]!r}")
        out.append("\t".join(cells))
    with atomic_write(path, newline="") as handle:
        handle.write("\r\n".join(out) + "\r\n")
    return path


# --------------------------------------------------------------------------- Audacity


def read_audacity(path: str | os.PathLike, recording: str | None = None) -> pd.DataFrame:
    """Read an Audacity label track (method §10.2): ``start<TAB>end<TAB>label`` lines, each
    optionally followed by ``\\<TAB>low<TAB>high`` (-1 = undefined -> NaN). The recording is
    ``recording`` or the file's stem.
    """
    path = Path(path)
    name = recording if recording is not None else path.stem
    rows: list[dict[str, object]] = []
    last_line = 0
    for number, text in enumerate(_lines(path), start=1):
        if not text.strip():
            continue
        fields = text.split("\t")
        if fields[0].strip() == "\\":
            if not rows or last_line != number - 1:
                raise AnnotationError(f"{path}, line {number}: frequency line '\\' does not follow a label line")
            if len(fields) != 3:
                raise AnnotationError(f"{path}, line {number}: frequency line needs '\\<TAB>low<TAB>high'")
            low, high = (_number(path, number, col, f) for col, f in zip(("low", "high"), fields[1:], strict=True))
            low, high = (math.nan if v == -1 else v for v in (low, high))
            if low > high:
                raise AnnotationError(f"{path}, line {number}: low {low} above high {high}")
            rows[-1]["low_freq"], rows[-1]["high_freq"] = low, high
            continue
        if len(fields) < 2:
            raise AnnotationError(f"{path}, line {number}: expected start<TAB>end<TAB>label, got {text!r}")
        start = _number(path, number, "start", fields[0])
        end = _number(path, number, "end", fields[1])
        _check_times(path, number, start, end)
        label = "\t".join(fields[2:]).strip()
        rows.append({"recording": name, "start": start, "end": end, "low_freq": math.nan, "high_freq": math.nan, "label": label})
        last_line = number
    return _frame(rows, [])


def write_audacity(events: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write the events of one recording as an Audacity label track, atomically; a frequency
    line follows each label that has a frequency range (-1 for an undefined end).
    """
    events = as_events(events)
    path = Path(path)
    recordings = sorted(set(events["recording"]))
    if len(recordings) > 1:
        raise AnnotationError(f"{path}: an Audacity label track holds one recording, got {recordings}")
    out = []
    for i, rec in enumerate(events.to_dict("records")):
        label = rec["label"]
        if "\t" in label or "\n" in label or "\r" in label:
            raise AnnotationError(f"{path}: event {i} label {label!r} has a tab or line break")
        out.append(f"{_fmt(rec['start'])}\t{_fmt(rec['end'])}\t{label}")
        low, high = rec["low_freq"], rec["high_freq"]
        if not (math.isnan(low) and math.isnan(high)):
            out.append(f"\\\t{'-1' if math.isnan(low) else _fmt(low)}\t{'-1' if math.isnan(high) else _fmt(high)}")
    with atomic_write(path, newline="") as handle:
        handle.write("".join(line + "\n" for line in out))
    return path


# --------------------------------------------------------------------------- DCASE


def read_dcase_csv(path: str | os.PathLike) -> pd.DataFrame:
    """Read a DCASE-style annotation CSV (``Audiofilename, Starttime, Endtime`` + class columns
    of POS/NEG/UNK) into an events table: one row per POS or UNK cell, ``label`` the class
    column, extra column ``status`` (``POS``/``UNK``); NEG cells are the absence of the class.
    """
    path = Path(path)
    try:
        table = read_annotations(path)
    except DatasetError as err:
        raise AnnotationError(str(err)) from err
    rows: list[dict[str, object]] = []
    for code in [c for c in table.columns if c not in KEYS]:
        for status, value in (("POS", 1), ("UNK", -1)):
            hit = table[table[code] == value]
            for rec in hit.itertuples(index=False):
                rows.append(
                    {
                        "recording": str(rec.Audiofilename),
                        "start": float(rec.Starttime),
                        "end": float(rec.Endtime),
                        "low_freq": math.nan,
                        "high_freq": math.nan,
                        "label": code,
                        "status": status,
                    }
                )
    frame = _frame(rows, ["status"])
    return frame.sort_values(["recording", "start", "end", "label"], kind="stable").reset_index(drop=True)


def read_any(path: str | os.PathLike, label_column: str | None = None, recording: str | None = None) -> pd.DataFrame:
    """Read one annotation file by its format: ``.csv`` DCASE, a ``.txt`` whose first line has
    Raven's ``Selection`` and ``Begin Time (s)`` columns Raven, any other ``.txt`` Audacity.
    ``recording`` names the recording of a one-file Raven table or an Audacity track (default:
    the file's name without its suffixes); a DCASE CSV names its own.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return read_dcase_csv(path)
    if suffix != ".txt":
        raise AnnotationError(f"{path}: unknown annotation format (expected .csv, Raven or Audacity .txt)")
    lines = _lines(path)
    header = lines[0].split("\t") if lines else []
    if "Selection" in header and "Begin Time (s)" in header:
        return read_raven(path, label_column=label_column, recording=recording)
    return read_audacity(path, recording=recording)
