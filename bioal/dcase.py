"""DCASE 2024 Task 5 development set: file formats, label tables, temporal split, preparation.

Implements method §1.1-§1.5:

* :func:`read_annotations` reads either annotation CSV format (Training_Set class-code
  columns, Validation_Set ``Q``) into ``Audiofilename, Starttime, Endtime`` + one int8 column
  per class code (1 POS, 0 NEG, -1 UNK).
* :func:`unpack_development_set` unzips ``Development_set.zip`` (``__MACOSX`` ignored, names
  normalised, existing entries skipped, the duplicate PB recording dropped).
* :func:`sl_label_table` / :func:`al_label_table` build the 45-class SL and 7-class AL tables.
* :func:`split_times` places the temporal train/valid(/test) cuts by cumulative POS duration.
* :func:`prepare` writes ``prepared/{AL,SL}/{split}/<rec>.wav`` (32 kHz mono PCM16) and
  ``prepared/{AL,SL}/{split}_label.csv``; it is resumable.
* :func:`clip_starts`, :func:`frame_boundaries`, :func:`frame_labels`: clips and the
  ``[32, C]`` label grid.

Named departures from the paper's release (the paper behaviour is kept otherwise):

* **Raw data kept.** The release deletes the unpacked ``Development_Set`` and zips after
  preparing; here the raw folder is left untouched (preparation only reads it).
* **Unknown classes are an error.** The release re-indexes the label tables to a whitelist and
  silently drops any other class column; here an unknown class raises :class:`DatasetError`
  unless ``allow_unknown_classes=True`` (then it is dropped with a warning).
* **Recording identity = file pair.** Labels are keyed by the (normalised) CSV/WAV stem; a
  training CSV whose ``Audiofilename`` field names another file gives a warning.
* **Duplicated class codes** (WMW's two ``Tachybaptus ruficollis song`` codes) are merged by
  name wherever they sit, not only when adjacent; the result is the same.
* **Row order.** The release's pandas outer merges sort the rows by their join keys; here each
  recording's rows are sorted stably by (Starttime, Endtime), which gives the same order for the
  split heuristics except between rows with identical times.
* Resampled audio is clipped to the 16-bit range before writing (a no-op unless the
  resampler overshoots full scale).
"""

from __future__ import annotations

import concurrent.futures
import csv as csv_module
import dataclasses
import hashlib
import logging
import math
import multiprocessing
import os
import re
import shutil
import struct
import types
import warnings
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import soundfile as sf
from tqdm.auto import tqdm

from bioal.grid import CLIP_HOP_SECONDS, CLIP_SECONDS, HOP_LENGTH, LABEL_FRAMES, SAMPLE_RATE
from bioal.utils import atomic_path, atomic_write, check_fingerprint, file_digest

__all__ = [
    "SL_CLASSES",
    "AL_CLASSES",
    "RARE_CLASSES",
    "PAPER_POOL_TOTALS",
    "PAPER_POOL_SIZE",
    "AL_RATIOS",
    "SL_RATIOS",
    "DatasetError",
    "Recording",
    "normalise_name",
    "read_csv_text",
    "read_csv_rows",
    "read_annotations",
    "read_training_classes",
    "read_validation_classes",
    "read_label_table",
    "check_wav",
    "audio_info",
    "clip_starts",
    "frame_boundaries",
    "frame_labels",
    "clip_frame_labels",
    "event_arrays",
    "unpack_development_set",
    "find_recordings",
    "sl_label_table",
    "al_label_table",
    "split_times",
    "split_labels",
    "prepare",
    "is_prepared",
]

log = logging.getLogger(__name__)


SL_CLASSES: tuple[str, ...] = (
    "Meerkat_short_note", "Meerkat_close_call", "Meerkat_aggression_call", "Meerkat_social_call",
    "Hyena_groan_and_moo", "Hyena_giggle", "Hyena_squitter", "Hyena_whoop", "Hyena_rumble",
    "Jackdaw_call", "Black_throated_Blue_Warbler", "Chipping_Sparrow", "Common_Yellowthroat",
    "Gray_cheeked_Thrush", "Ovenbird", "Rose_breasted_Grosbeak", "Savannah_Sparrow",
    "Swainson's_Thrush", "White_throated_Sparrow", "American_Redstart", "Bay_breasted_Warbler",
    "Acrocephalus_scirpaceus_song", "Circus_aeruginosus_call", "Himantopus_himantopus_call",
    "Tachybaptus_ruficollis_song", "Alcedo_atthis_call", "Alcedo_atthis_song", "Motacilla_flava_song",
    "Ixobrychus_minutus_song", "Ixobrychus_minutus_cal", "Ardea_purpurea_call", "Fulica_atra_call",
    "Acrocephalus_melanopogon_song", "Acrocephalus_arundinaceus_song", "Botaurus_stellaris_song",
    "Botaurus_stellaris_call", "Ciconia_ciconia_clapping", "Gallinula_chloropus_call",
    "Coracias_garrulus_call", "Anas_strepera_song", "Dendrocopos_minor_drumming",
    "Charadrius_alexandrinus_call", "Charadrius_alexandrinus_song", "Porphyrio_porphyrio_call",
    "Porphyrio_porphyrio_song",
)
SL_DROPPED = ("Anas_platyrhynchos_song",)
AL_CLASSES: tuple[str, ...] = (
    "Mosquito", "Red_Deer", "Meerkat_alarm_call", "Meerkat_move_call", "Song_thrush_call",
    "Blackbird_call", "Pilot_whale_foraging_buzzes",
)
#: The AL classes whose clips are rare in the pool: their labelled count is Figure 1's
#: "rare species count" and the clip viewer opens on one of them.
RARE_CLASSES: tuple[str, ...] = ("Meerkat_alarm_call", "Meerkat_move_call")
#: The paper's AL train pool (method §4.1, §6.3): positive clips per AL class, as in the published
#: results' ``Total_*`` columns, and the number of clips (17,680 of them negative).
PAPER_POOL_TOTALS: Mapping[str, int] = types.MappingProxyType(
    dict(zip(AL_CLASSES, (1207, 1024, 19, 6, 193, 196, 1089), strict=True)))
PAPER_POOL_SIZE = 21414
SL_RATIOS = (0.8,)
AL_RATIOS = (0.7, 0.15)
SPLITS = {"SL": ("train", "valid"), "AL": ("train", "valid", "test")}
DUPLICATE_RECORDINGS = (("Validation_Set", "PB", "BUK5_20180921_015906a"),)
CODES = {"POS": 1, "NEG": 0, "UNK": -1}
KEYS = ["Audiofilename", "Starttime", "Endtime"]
#: The development set's two class tables, beside ``Development_Set/``.
TRAINING_CLASSES_CSV = "DCASE2024_task5_training_set_classes.csv"
VALIDATION_CLASSES_CSV = "DCASE2024_task5_validation_set_classes.csv"
CLASS_CSVS = (TRAINING_CLASSES_CSV, VALIDATION_CLASSES_CSV)
#: How far (s) an annotation may end past the end of its recording before it is an error:
#: a little rounding is tolerated, an event in audio that is not there is not.
END_SLACK_SECONDS = 0.5


class DatasetError(ValueError):
    """Bad input in the development set: the message names the file (and row)."""


def normalise_name(name: str) -> str:
    """Spaces and hyphens -> '_' (the release's rule for wav/csv names and class names)."""
    return re.sub(r"[ -]", "_", name)


# --------------------------------------------------------------------------- reading


def read_csv_text(path: str | os.PathLike) -> pd.DataFrame:
    """A CSV as text: every field a string (empty fields ``""``, never NaN), header names and
    fields stripped of surrounding spaces. Raises :class:`DatasetError` naming the file when it
    cannot be parsed or its header repeats a column name."""
    return read_csv_rows(path)[0]


def read_csv_rows(path: str | os.PathLike) -> tuple[pd.DataFrame, np.ndarray]:
    """:func:`read_csv_text` and the file line (header = line 1, as the header's own line when
    blank lines precede it) of each of its rows, for error messages: blank lines are skipped,
    so row ``i`` is line ``i + 2`` only in a file without them."""
    path = Path(path)
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise DatasetError(f"{path}: cannot parse as CSV ({err})") from err
    frame.columns = [str(c).strip() for c in frame.columns]
    header, header_line, lines = _csv_layout(path)
    # pandas renames a repeated name (GIG, GIG.1), so repeats are found in the header as written
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise DatasetError(f"{path}, row {header_line}: duplicated column names {repeated} in header {header}")
    if len(lines) != len(frame):  # a layout the two readers split differently: number rows as in a plain file
        lines = list(range(2, len(frame) + 2))
    return frame.apply(lambda col: col.str.strip()), np.asarray(lines, dtype=np.int64)


def _csv_layout(path: Path) -> tuple[list[str], int, list[int]]:
    """The header (names stripped) as written, its line, and the first line of each data row;
    blank lines are skipped, as pandas skips them."""
    header: list[str] | None = None
    header_line, lines, last = 1, [], 0
    with open(path, encoding="utf-8-sig", newline="") as handle:
        reader = csv_module.reader(handle, skipinitialspace=True)
        for record in reader:
            first, last = last + 1, reader.line_num
            if not record or (len(record) == 1 and not record[0].strip()):
                continue
            if header is None:
                header, header_line = [field.strip() for field in record], first
            else:
                lines.append(first)
    return header or [], header_line, lines


def _require_columns(path: Path, frame: pd.DataFrame, columns: Sequence[str]) -> None:
    """Raise :class:`DatasetError` naming the file and the missing columns, if any."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DatasetError(f"{path}: missing column(s) {missing}; header is {list(frame.columns)}")


def read_annotations(path: str | os.PathLike, duration: float | None = None, *, sort: bool = True) -> pd.DataFrame:
    """Read one DCASE annotation CSV (training class-code columns or validation ``Q``).

    Returns ``Audiofilename, Starttime, Endtime`` (float64 s) + one int8 column per class
    code (1 POS, 0 NEG, -1 UNK), rows sorted stably by (Starttime, Endtime); ``sort=False``
    keeps the file's order (blank lines skipped). Errors name the
    file and the row (line number in the file, header = line 1); a row repeating an earlier
    one in every column is kept with a warning naming both. With ``duration`` (the
    recording's length, s), an event ending more than :data:`END_SLACK_SECONDS` past it is an
    error.
    """
    path = Path(path)
    frame, line = read_csv_rows(path)  # line[i]: the file line of row i, for the messages
    _require_columns(path, frame, KEYS)
    codes = [c for c in frame.columns if c not in KEYS]
    if not codes:
        raise DatasetError(f"{path}: no class column after {KEYS}")
    out = pd.DataFrame({"Audiofilename": frame["Audiofilename"]})
    for col in ("Starttime", "Endtime"):
        values = pd.to_numeric(frame[col], errors="coerce")
        bad = np.flatnonzero(values.isna().to_numpy() | ~np.isfinite(values.to_numpy(dtype=float)))
        if len(bad):
            i = int(bad[0])
            raise DatasetError(f"{path}, row {line[i]}: {col} {frame[col].iloc[i]!r} is not a number")
        out[col] = values.astype(np.float64)
    for code in codes:
        mapped = frame[code].map(CODES)
        bad = np.flatnonzero(mapped.isna().to_numpy())
        if len(bad):
            i = int(bad[0])
            raise DatasetError(
                f"{path}, row {line[i]}: column {code!r} has unknown value {frame[code].iloc[i]!r} "
                f"(expected one of {list(CODES)})"
            )
        out[code] = mapped.astype(np.int8)
    repeated = np.flatnonzero(out.duplicated().to_numpy())
    if len(repeated):
        j = int(repeated[0])
        i = int(np.flatnonzero((out.iloc[:j] == out.iloc[j]).all(axis=1).to_numpy())[0])
        warnings.warn(
            f"{path}, rows {line[i]} and {line[j]}: the same event twice ({out['Starttime'].iloc[j]}-"
            f"{out['Endtime'].iloc[j]} s, every column equal); {len(repeated)} row(s) repeat an earlier one. "
            "They are kept, as the paper's preparation and the challenge's evaluation keep them (each counts "
            "its event again); delete the repeats if they are mistakes",
            stacklevel=2,
        )
    neg = np.flatnonzero((out["Endtime"] < out["Starttime"]).to_numpy())
    if len(neg):
        i = int(neg[0])
        raise DatasetError(
            f"{path}, row {line[i]}: Endtime {out['Endtime'].iloc[i]} < Starttime {out['Starttime'].iloc[i]}"
        )
    if (out[["Starttime", "Endtime"]] < 0).to_numpy().any():
        i = int(np.flatnonzero((out["Starttime"] < 0).to_numpy())[0])
        raise DatasetError(f"{path}, row {line[i]}: negative Starttime {out['Starttime'].iloc[i]}")
    if duration is not None:
        late = np.flatnonzero((out["Endtime"] > duration + END_SLACK_SECONDS).to_numpy())
        if len(late):
            i = int(late[0])
            raise DatasetError(
                f"{path}, row {line[i]}: event {out['Starttime'].iloc[i]}-{out['Endtime'].iloc[i]} s lies past the end "
                f"of its recording ({duration:.3f} s long); {len(late)} row(s) do. Is the WAV truncated, or the "
                "CSV another recording's?"
            )
    if not sort:
        return out
    return out.sort_values(["Starttime", "Endtime"], kind="stable").reset_index(drop=True)


def read_training_classes(path: str | os.PathLike) -> dict[tuple[str, str], str]:
    """Training class CSV (``dataset,class_code,class_name``) -> {(dataset, code): name}.

    Names are normalised (spaces/hyphens -> '_'); CRLF, trailing spaces tolerated.
    """
    path = Path(path)
    frame, line = read_csv_rows(path)
    need = ["dataset", "class_code", "class_name"]
    _require_columns(path, frame, need)
    table: dict[tuple[str, str], str] = {}
    for i, row in enumerate(frame[need].itertuples(index=False)):
        if not all(row):
            raise DatasetError(f"{path}, row {line[i]}: empty field in {tuple(row)}")
        key = (row.dataset, row.class_code)
        name = normalise_name(row.class_name)
        if key in table and table[key] != name:
            raise DatasetError(f"{path}, row {line[i]}: {key} already named {table[key]!r}, now {name!r}")
        table[key] = name
    return table


def read_validation_classes(path: str | os.PathLike) -> dict[str, str]:
    """Validation class CSV (``dataset,recording,class_code,class_name``) -> {recording: name}.

    Recording and class names are normalised (spaces/hyphens -> '_', trailing spaces dropped).
    """
    path = Path(path)
    frame, line = read_csv_rows(path)
    need = ["dataset", "recording", "class_name"]
    _require_columns(path, frame, need)
    table: dict[str, str] = {}
    for i, (rec, name) in enumerate(zip(frame["recording"], frame["class_name"], strict=True)):
        if not rec or not name:
            raise DatasetError(f"{path}, row {line[i]}: empty recording or class_name")
        rec = normalise_name(Path(rec).stem if rec.endswith((".wav", ".csv")) else rec)
        name = normalise_name(name)
        if rec in table and table[rec] != name:
            raise DatasetError(f"{path}, row {line[i]}: recording {rec!r} listed as {table[rec]!r} and {name!r}")
        table[rec] = name
    return table


def read_label_table(path: str | os.PathLike) -> tuple[pd.DataFrame, list[str]]:
    """Read a prepared ``{split}_label.csv`` -> (table, class names); values checked in {-1, 0, 1}."""
    path = Path(path)
    try:
        frame = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, FileNotFoundError) as err:
        raise DatasetError(f"{path}: cannot read label table ({err})") from err
    _require_columns(path, frame, KEYS)
    classes = [c for c in frame.columns if c not in KEYS]
    for c in classes:
        values = pd.to_numeric(frame[c], errors="coerce")
        bad = np.flatnonzero(~values.isin([-1, 0, 1]).to_numpy())
        if len(bad):
            raise DatasetError(
                f"{path}, row {int(bad[0]) + 2}: column {c!r} has value {str(frame[c].iloc[bad[0]])!r}, "
                "expected 1, 0 or -1"
            )
        frame[c] = values.astype(np.int8)
    frame["Audiofilename"] = frame["Audiofilename"].astype(str)
    return frame, classes


def check_wav(path: str | os.PathLike) -> tuple[int, int]:
    """Check a WAV is readable and not truncated; return ``(frames, samplerate)``."""
    info = audio_info(path)
    return int(info.frames), int(info.samplerate)


def audio_info(path: str | os.PathLike) -> Any:
    """soundfile's info (frames, samplerate, channels) of a readable, non-empty audio file.

    Raises :class:`DatasetError` naming the file for unreadable headers, files without samples
    and, for RIFF files, a data chunk that declares more bytes than the file holds (or, with a
    streaming header, ends inside a sample frame).
    """
    path = Path(path)
    try:
        info = sf.info(str(path))
    except Exception as err:  # soundfile raises LibsndfileError / RuntimeError
        raise DatasetError(f"{path}: not a readable audio file ({err})") from err
    if info.frames <= 0:
        raise DatasetError(f"{path}: audio file holds no samples")
    size = path.stat().st_size
    with open(path, "rb") as handle:
        head = handle.read(12)
        if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
            pos, block_align = 12, 0
            while pos + 8 <= size:
                handle.seek(pos)
                chunk_id, chunk_size = struct.unpack("<4sI", handle.read(8))
                if chunk_id == b"fmt " and chunk_size >= 16:
                    block_align = struct.unpack("<HHIIHH", handle.read(16))[4]
                if chunk_id == b"data":
                    if chunk_size != 0xFFFFFFFF and pos + 8 + chunk_size > size:
                        raise DatasetError(
                            f"{path}: truncated WAV, the header declares {chunk_size} bytes of audio "
                            f"but the file holds {size - pos - 8}"
                        )
                    held = size - pos - 8
                    if chunk_size == 0xFFFFFFFF and block_align and held % block_align:
                        raise DatasetError(
                            f"{path}: truncated WAV with a streaming header (data size 0xFFFFFFFF): its "
                            f"{held} bytes of audio end inside a sample frame of {block_align} bytes"
                        )
                    break
                pos += 8 + chunk_size + (chunk_size & 1)
            else:
                raise DatasetError(f"{path}: WAV file has no data chunk")
    return info


def _read_audio(path: Path) -> tuple[np.ndarray, int]:
    frames, sr = check_wav(path)
    try:
        audio, sr = sf.read(str(path), dtype="float64", always_2d=True)
    except Exception as err:
        raise DatasetError(f"{path}: cannot read audio ({err})") from err
    if len(audio) != frames:
        raise DatasetError(f"{path}: truncated audio, read {len(audio)} of {frames} frames")
    bad = ~np.isfinite(audio[:, 0])
    if bad.any():
        first = int(np.argmax(bad))
        raise DatasetError(
            f"{path}: {int(bad.sum())} samples are NaN or infinite, the first at {first / sr:.3f} s "
            f"(sample {first}); a float WAV must hold finite samples"
        )
    return audio[:, 0], int(sr)


# --------------------------------------------------------------------------- clips and labels


def clip_starts(duration_s: float, clip_s: float = CLIP_SECONDS, hop_s: float = CLIP_HOP_SECONDS) -> np.ndarray:
    """Clip start times (s) for a recording: ``n = 1 + max(0, ceil((D - clip)/hop))``, starts ``hop*k``."""
    if duration_s < 0:
        raise ValueError(f"duration must be >= 0, got {duration_s}")
    n = 1 + max(0, math.ceil((duration_s - clip_s) / hop_s))
    return hop_s * np.arange(n, dtype=np.float64)


def frame_boundaries(n_frames: int = LABEL_FRAMES, sr: int = SAMPLE_RATE, hop_length: int = HOP_LENGTH,
                     clip_s: float = CLIP_SECONDS) -> np.ndarray:
    """The ``n_frames + 1`` label-segment boundaries (s, relative to the clip start).

    Frame indices ``0, 32, ..., 992`` -> ``clip(idx*320 - 160, 0, 320000) / 32000``, then 10.0:
    ``[0, .315, .635, ..., 9.915, 10.0]`` (method §1.5).
    """
    n_stft = int(clip_s * sr) // hop_length + 1
    step = math.ceil(n_stft / n_frames)
    idx = np.arange(0, n_stft, step)[:n_frames]
    bounds = np.clip(idx * hop_length - hop_length // 2, 0, int(clip_s * sr)) / sr
    return np.append(bounds, clip_s).astype(np.float64)


def clip_frame_labels(
    starts: np.ndarray, ends: np.ndarray, positive: np.ndarray, clip_start_s: np.ndarray,
    bounds: np.ndarray | None = None,
) -> np.ndarray:
    """Frame labels for many clips of one recording: ``[K, 32, C]`` float32.

    ``starts``/``ends`` [E] event times, ``positive`` [E, C] bool (value == 1),
    ``clip_start_s`` [K]. Closed-interval overlap: start <= seg_end and end >= seg_start.
    ``bounds``: the T + 1 frame boundaries within a clip (default :func:`frame_boundaries`, T = 32).
    """
    bounds = frame_boundaries() if bounds is None else np.asarray(bounds, dtype=np.float64)
    n_frames = len(bounds) - 1
    clip_start_s = np.asarray(clip_start_s, dtype=np.float64)
    positive = np.asarray(positive, dtype=bool)
    n_classes = positive.shape[1]
    out = np.zeros((len(clip_start_s), n_frames, n_classes), dtype=np.float32)
    keep = positive.any(axis=1)
    starts, ends, positive = np.asarray(starts)[keep], np.asarray(ends)[keep], positive[keep].astype(np.float32)
    if len(starts) == 0 or len(clip_start_s) == 0:
        return out
    chunk = max(1, 4_000_000 // (n_frames * len(starts)))
    for lo in range(0, len(clip_start_s), chunk):
        cs = clip_start_s[lo : lo + chunk, None]
        seg_lo = (cs + bounds[None, :-1])[:, :, None]  # [k, T, 1]
        seg_hi = (cs + bounds[None, 1:])[:, :, None]
        hit = (starts[None, None, :] <= seg_hi) & (ends[None, None, :] >= seg_lo)  # [k, 32, E]
        out[lo : lo + chunk] = (hit.astype(np.float32) @ positive) > 0
    return out


def frame_labels(events: pd.DataFrame, class_names: Sequence[str], clip_start_s: float) -> np.ndarray:
    """Frame labels ``[32, C]`` float32 of one 10 s clip starting at ``clip_start_s``.

    ``events``: rows of the clip's recording with ``Starttime``, ``Endtime`` and one column per
    class (1 POS counts; 0 NEG, -1 UNK and absent are negative, method Q5).
    """
    return clip_frame_labels(*event_arrays(events, class_names), np.array([clip_start_s]))[0]


def event_arrays(events: pd.DataFrame, class_names: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(starts [E], ends [E], positive [E, C] bool)`` of an events table, as
    :func:`clip_frame_labels` takes them (1 POS counts; 0 NEG, -1 UNK are negative, method Q5).
    """
    missing = [c for c in ["Starttime", "Endtime", *class_names] if c not in events.columns]
    if missing:
        raise KeyError(f"events table lacks column(s) {missing}")
    positive = events[list(class_names)].to_numpy() == 1
    return events["Starttime"].to_numpy(float), events["Endtime"].to_numpy(float), positive


# --------------------------------------------------------------------------- unpacking


def _is_macosx(name: str) -> bool:
    parts = Path(name).parts
    return "__MACOSX" in parts or any(p.startswith("._") for p in parts)


def _is_duplicate(path: Path) -> bool:
    parts = path.parts
    for subset, sub, stem in DUPLICATE_RECORDINGS:
        if len(parts) >= 3 and parts[-3:-1] == (subset, sub) and normalise_name(path.stem) == stem:
            return True
    return False


def unpack_development_set(zip_path: str | os.PathLike, raw_dir: str | os.PathLike, progress: bool = True) -> Path:
    """Unzip ``Development_set.zip`` into ``raw_dir``; return ``raw_dir/Development_Set``.

    ``__MACOSX`` entries are ignored; wav/csv names get spaces and hyphens replaced by '_';
    an entry already present under its own or its normalised name is skipped (so an interrupted
    unpack resumes); each file is written atomically; the duplicate PB recording
    ``BUK5_20180921_015906a`` is not extracted (method §1.1). ``raw_dir/unpack_fingerprint.json``
    records the archive's member names, sizes and CRCs: resuming from another archive is refused.
    """
    zip_path, raw_dir = Path(zip_path), Path(raw_dir)
    try:
        archive = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, FileNotFoundError) as err:
        raise DatasetError(f"{zip_path}: not a readable zip archive ({err})") from err
    with archive:
        members = [m for m in archive.infolist() if not m.is_dir() and not _is_macosx(m.filename)]
        listing = hashlib.sha256("\n".join(f"{m.filename}\t{m.file_size}\t{m.CRC}" for m in members).encode())
        check_fingerprint(
            raw_dir / "unpack_fingerprint.json",
            {"archive": zip_path.name, "members": len(members), "content": listing.hexdigest()},
            f"the unpacked data in {raw_dir}",
            f"delete {raw_dir / 'Development_Set'} and {raw_dir / 'unpack_fingerprint.json'} and unpack again.",
        )
        for member in tqdm(members, desc="unpack", disable=not progress):
            rel = Path(member.filename)
            if rel.is_absolute() or ".." in rel.parts:
                raise DatasetError(f"{zip_path}: unsafe entry name {member.filename!r}")
            own = raw_dir / rel
            target = own
            if rel.suffix.lower() in (".wav", ".csv"):
                target = own.with_name(normalise_name(rel.name))
            if own.exists() or target.exists():
                continue
            if _is_duplicate(target):
                log.info("not extracting %s: duplicate PB recording (method §1.1)", member.filename)
                continue
            with atomic_path(target) as tmp, archive.open(member) as src, open(tmp, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
    dev = raw_dir / "Development_Set"
    if not dev.is_dir():
        raise DatasetError(f"{zip_path}: no Development_Set/ folder inside")
    return dev


# --------------------------------------------------------------------------- recordings and tables


@dataclasses.dataclass(frozen=True)
class Recording:
    """One annotated recording of the development set."""

    name: str  # normalised stem, e.g. "R4_cleaned_recording_13_10_17"
    subset: str  # "Training_Set" or "Validation_Set"
    dataset: str  # sub-dataset folder, e.g. "HB"
    wav: Path
    csv: Path

    @property
    def wav_name(self) -> str:
        return self.name + ".wav"


def _is_hidden(name: str) -> bool:
    """Names the development set's readers pass over: dot files and ``__MACOSX``-style folders."""
    return name.startswith((".", "__"))


def _is_hidden_path(path: Path, top: Path) -> bool:
    return any(_is_hidden(part) for part in path.relative_to(top).parts)


def _is_wav_or_csv(path: Path) -> bool:
    return path.suffix.lower() in (".wav", ".csv") and not path.name.startswith(".") and path.is_file()


def find_recordings(dev_root: str | os.PathLike, subset: str) -> list[Recording]:
    """Pair every WAV with its CSV under ``Development_Set/<subset>/<dataset>/``.

    A CSV without a WAV (or a WAV without a CSV) is an error naming it; two files whose
    normalised names collide are an error; the duplicate PB recording is skipped (logged).
    A WAV or CSV elsewhere (directly in ``<subset>/``, or in a folder inside a sub-dataset
    folder) is an error naming it, as it would not be read.
    """
    base = Path(dev_root) / subset
    if not base.is_dir():
        raise DatasetError(f"{base}: folder missing from the development set")
    dataset_dirs = sorted(p for p in base.iterdir() if p.is_dir() and not _is_hidden(p.name))
    stray = [p for p in base.iterdir() if _is_wav_or_csv(p)]
    for dataset_dir in dataset_dirs:
        for sub in dataset_dir.iterdir():
            if sub.is_dir() and not _is_hidden(sub.name):
                stray += [q for q in sub.rglob("*") if _is_wav_or_csv(q) and not _is_hidden_path(q, sub)]
    if stray:
        shown = ", ".join(str(p) for p in sorted(stray)[:5]) + (f" and {len(stray) - 5} more" if len(stray) > 5 else "")
        raise DatasetError(
            f"{base}: {len(stray)} WAV/CSV file(s) outside the layout {subset}/<dataset>/<recording>.wav|.csv "
            f"would not be read: {shown}. Move each recording's WAV and CSV directly into its sub-dataset "
            "folder (or out of the development set)"
        )
    found: dict[str, Recording] = {}
    for dataset_dir in dataset_dirs:
        files = [p for p in dataset_dir.iterdir() if p.is_file() and not p.name.startswith(".")]
        wavs = {p.stem: p for p in files if p.suffix.lower() == ".wav"}
        csvs = {p.stem: p for p in files if p.suffix.lower() == ".csv"}
        for stem, csv in sorted(csvs.items()):
            if stem not in wavs:
                raise DatasetError(f"{csv}: annotation CSV has no WAV beside it ({stem}.wav missing)")
        for stem, wav in sorted(wavs.items()):
            if stem not in csvs:
                raise DatasetError(f"{wav}: WAV has no annotation CSV beside it ({stem}.csv missing)")
            if _is_duplicate(wav):
                log.info("skipping %s: duplicate PB recording (method §1.1)", wav)
                continue
            rec = Recording(normalise_name(stem), subset, dataset_dir.name, wav, csvs[stem])
            if rec.name in found:
                raise DatasetError(f"{wav}: recording name {rec.name!r} collides with {found[rec.name].wav}")
            found[rec.name] = rec
    if not found:
        raise DatasetError(f"{base}: no recordings found")
    return sorted(found.values(), key=lambda r: r.name)


def _unknown(kind: str, where: Path, names: Iterable[str], allow: bool) -> None:
    names = sorted(set(names))
    if not names:
        return
    msg = f"{where}: {kind} class(es) {names} are not in the class list"
    if not allow:
        raise DatasetError(msg + " (pass allow_unknown_classes=True to drop them, as the paper does silently)")
    log.warning("%s; dropped", msg)


def sl_label_table(
    recordings: Sequence[Recording],
    classes_csv: str | os.PathLike,
    class_names: Sequence[str] | Literal["paper", "from_csv"] = "paper",
    allow_unknown_classes: bool = False,
) -> tuple[dict[str, pd.DataFrame], list[str]]:
    """The SL label tables: {recording: events} with class-name columns, and the class order.

    Codes are renamed through the training class CSV (names normalised), codes sharing one name
    are merged (1 if any 1, else -1 if any -1, else 0), ``Anas_platyrhynchos_song`` is dropped,
    absent classes are 0. ``class_names="paper"`` is the 45-class whitelist of method §1.3;
    ``"from_csv"`` uses the class CSV's order (for the synthetic set).
    """
    code_names = read_training_classes(classes_csv)
    if class_names == "from_csv":
        order: list[str] = []
        for name in code_names.values():
            if name not in order and name not in SL_DROPPED:
                order.append(name)
    elif class_names == "paper":
        order = list(SL_CLASSES)
    else:
        order = list(class_names)
    tables = {}
    for rec in recordings:
        events = read_annotations(rec.csv)
        codes = [c for c in events.columns if c not in KEYS]
        unnamed = [c for c in codes if (rec.dataset, c) not in code_names]
        if unnamed:
            raise DatasetError(
                f"{rec.csv}: class code(s) {unnamed} of dataset {rec.dataset!r} are not in {classes_csv}"
            )
        stated = events["Audiofilename"].map(lambda s: normalise_name(s.replace(".csv", ".wav")))
        odd = sorted(set(stated) - {rec.wav_name})
        if odd:
            log.warning("%s: Audiofilename field names %s; using %s", rec.csv, odd, rec.wav_name)
        out = pd.DataFrame({"Audiofilename": rec.wav_name, "Starttime": events["Starttime"],
                            "Endtime": events["Endtime"]})
        by_name: dict[str, list[str]] = {}
        for c in codes:
            by_name.setdefault(code_names[(rec.dataset, c)], []).append(c)
        _unknown("SL", rec.csv, [n for n in by_name if n not in order and n not in SL_DROPPED],
                 allow_unknown_classes)
        for name in order:
            cols = by_name.get(name)
            if not cols:
                out[name] = np.int8(0)
                continue
            values = events[cols].to_numpy()
            merged = np.where((values == 1).any(axis=1), 1, np.where((values == -1).any(axis=1), -1, 0))
            out[name] = merged.astype(np.int8)
        tables[rec.name] = out
    return tables, order


def al_label_table(
    recordings: Sequence[Recording],
    classes_csv: str | os.PathLike,
    class_names: Sequence[str] = AL_CLASSES,
    allow_unknown_classes: bool = False,
) -> tuple[dict[str, pd.DataFrame], list[str]]:
    """The AL label tables: {recording: events} with the 7 class columns of method §1.3.

    Each validation CSV's single class column is renamed to the class that the validation
    class CSV gives for that recording; a recording missing from the class CSV is an error.
    """
    rec_class = read_validation_classes(classes_csv)
    order = list(class_names)
    tables = {}
    for rec in recordings:
        events = read_annotations(rec.csv)
        codes = [c for c in events.columns if c not in KEYS]
        if len(codes) != 1:
            raise DatasetError(f"{rec.csv}: a validation CSV has exactly one class column, found {codes}")
        if rec.name not in rec_class:
            raise DatasetError(f"{rec.csv}: recording {rec.name!r} is missing from the class CSV {classes_csv}")
        name = rec_class[rec.name]
        out = pd.DataFrame({"Audiofilename": rec.wav_name, "Starttime": events["Starttime"],
                            "Endtime": events["Endtime"]})
        _unknown("AL", rec.csv, [name] if name not in order else [], allow_unknown_classes)
        for c in order:
            out[c] = events[codes[0]].to_numpy(np.int8) if c == name else np.int8(0)
        tables[rec.name] = out
    return tables, order


# --------------------------------------------------------------------------- temporal split


def _slot(starts: np.ndarray, ends: np.ndarray, goal: float, where: str) -> tuple[float, float]:
    """method §1.4 ``slot(g)`` for one class's POS events (row order)."""
    cum = np.cumsum(ends - starts)
    k = int(np.sum(cum < goal))  # J = {j : S_j < g} is the prefix 1..k
    m = len(starts)
    if k >= 2:
        return float(ends[k - 2]), float(starts[k - 1])
    if m >= 2:
        log.warning("%s: fewer than 2 events under %.3f s of POS time; using the gap between the last two "
                    "events (method Q10)", where, goal)
        return float(ends[m - 2]), float(starts[m - 1])
    log.warning("%s: single POS event; split placed at its start + %.3f s (method Q10)", where, goal)
    point = float(starts[0] + goal)
    return point, point


def split_times(
    events: pd.DataFrame, class_names: Sequence[str], ratios: Sequence[float], recording: str = "?"
) -> list[float]:
    """Cut times (s) of one recording by cumulative POS duration (method §1.4 pseudocode).

    ``ratios`` = (0.8,) for SL (one cut) or (0.7, 0.15) for AL (two cuts). Raises
    :class:`DatasetError` for a recording without POS events, and (AL) when the valid slot
    would overlap the train slot.
    """
    goals = np.cumsum(ratios)
    slots: list[list[tuple[float, float]]] = [[] for _ in goals]
    for c in class_names:
        pos = events[c].to_numpy() == 1
        starts = events["Starttime"].to_numpy(float)[pos]
        ends = events["Endtime"].to_numpy(float)[pos]
        total = float(np.sum(ends - starts))
        if total <= 0:
            continue
        for i, g in enumerate(goals):
            slots[i].append(_slot(starts, ends, g * total, f"{recording} [{c}, cut {i + 1}]"))
    if not slots[0]:
        raise DatasetError(f"{recording}: no POS event of positive duration; cannot place the temporal split")
    cuts, bounds = [], []
    for i, cls_slots in enumerate(slots):
        lo = max(s for s, _ in cls_slots)
        hi = min(e for _, e in cls_slots)
        bounds.append((lo, hi))
        if lo <= hi:
            cuts.append((lo + hi) / 2)
        else:
            log.warning("%s: class slots of cut %d do not intersect; using the largest slot middle", recording, i + 1)
            cuts.append(max((s + e) / 2 for s, e in cls_slots))
    if len(goals) == 2 and bounds[1][0] < bounds[0][1]:
        raise DatasetError(
            f"{recording}: the valid slot (starts {bounds[1][0]:.3f} s) would overlap the train slot "
            f"(ends {bounds[0][1]:.3f} s); the AL split cannot be placed"
        )
    return cuts


def split_labels(events: pd.DataFrame, cuts: Sequence[float], division: str) -> dict[str, pd.DataFrame]:
    """Per-split label rows of one recording, times relative to the chunk (method §1.4)."""
    s1 = cuts[0]
    t = events
    out = {}
    train = t[t["Starttime"] <= s1].copy()
    train[["Starttime", "Endtime"]] = train[["Starttime", "Endtime"]].clip(0, s1)
    out["train"] = train
    if division == "SL":
        valid = t[t["Endtime"] >= s1].copy()
        valid[["Starttime", "Endtime"]] = (valid[["Starttime", "Endtime"]] - s1).clip(lower=0)
        out["valid"] = valid
        return out
    s2 = cuts[1]
    valid = t[(t["Endtime"] >= s1) & (t["Starttime"] <= s2)].copy()
    valid[["Starttime", "Endtime"]] = (valid[["Starttime", "Endtime"]] - s1).clip(0, s2 - s1)
    test = t[t["Endtime"] >= s2].copy()
    test[["Starttime", "Endtime"]] = (test[["Starttime", "Endtime"]] - s2).clip(lower=0)
    out["valid"], out["test"] = valid, test
    return out


# --------------------------------------------------------------------------- prepare


def _write_chunks(rec: Recording, cuts: Sequence[float], out_dir: Path, splits: Sequence[str]) -> None:
    import librosa  # lazy: librosa loads numba (seconds); only the resampling of preparation needs it
    targets = [out_dir / s / rec.wav_name for s in splits]
    if all(p.is_file() for p in targets):
        return
    audio, sr = _read_audio(rec.wav)
    idx = [0, *(int(round(c * sr)) for c in cuts), len(audio)]
    for i, target in enumerate(targets):
        if target.is_file():
            continue
        chunk = audio[idx[i] : max(idx[i], idx[i + 1])]
        if len(chunk) == 0:
            raise DatasetError(
                f"{rec.wav}: the {splits[i]} chunk would hold no audio (cuts at {list(cuts)} s in "
                f"{len(audio) / sr:.3f} s of audio); check that the WAV and {rec.csv} belong together"
            )
        if sr != SAMPLE_RATE and len(chunk):
            chunk = librosa.resample(chunk, orig_sr=sr, target_sr=SAMPLE_RATE, res_type="soxr_hq")
        chunk = np.clip(chunk, -1.0, 32767 / 32768)
        with atomic_path(target, suffix=".wav.part") as tmp:
            sf.write(str(tmp), chunk, SAMPLE_RATE, subtype="PCM_16", format="WAV")


def prepared_fingerprint(prepared_root: str | os.PathLike, division: str) -> dict[str, str]:
    """What a later stage reads from ``prepared_root/division``: the SHA-256 of each label CSV
    and of ``fingerprint.json`` (the raw inputs the chunks were cut from), when present."""
    root = Path(prepared_root)
    out = {f"{split}_label.csv": file_digest(root / division / f"{split}_label.csv") for split in SPLITS[division]}
    if (root / "fingerprint.json").is_file():
        out["raw inputs"] = file_digest(root / "fingerprint.json")
    return out


def is_prepared(prepared_root: str | os.PathLike) -> bool:
    """True when every label CSV of both divisions exists (they are written last)."""
    root = Path(prepared_root)
    return all((root / d / f"{s}_label.csv").is_file() for d, ss in SPLITS.items() for s in ss)


def input_fingerprint(
    recordings: Sequence[Recording], raw_root: Path, class_csvs: Sequence[Path], parameters: dict
) -> dict:
    """What preparation reads: the SHA-256 of each recording's CSV and WAV (the whole file, so
    an edit inside a recording is caught too), the class CSVs, and the parameters that shape
    the output."""
    return {
        "parameters": parameters,
        "class_csvs": {p.name: file_digest(p) for p in class_csvs},
        "recordings": {
            str(rec.wav.relative_to(raw_root)): {"wav": file_digest(rec.wav),
                                                 "csv": file_digest(rec.csv)}
            for rec in recordings
        },
    }


def prepare(
    raw_root: str | os.PathLike,
    prepared_root: str | os.PathLike,
    progress: bool = True,
    sl_classes: Sequence[str] | Literal["paper", "from_csv"] = "paper",
    allow_unknown_classes: bool = False,
    on_recording: Callable[[str, str], None] | None = None,
    workers: int = 1,
) -> Path:
    """Prepare ``raw_root`` (``Development_Set/`` + the two class CSVs) into ``prepared_root``.

    Writes ``{AL,SL}/{split}/<rec>.wav`` (32 kHz mono PCM16 chunks, one per split, each written
    atomically) then ``{AL,SL}/{split}_label.csv``. Resumable: a recording whose chunks all exist
    is not redone; the label CSVs are written last, so a finished run is recognised by them
    (:func:`is_prepared`) and skipped. ``on_recording(division, name)`` is called after each
    recording (progress hooks, tests). ``workers > 1`` cuts and resamples recordings in that
    many processes (same output). The raw data is not modified or deleted (a departure from
    the release, which deletes it).

    Every WAV is checked (:func:`check_wav`) and every annotation must lie within its
    recording; then ``prepared_root/fingerprint.json`` records the inputs
    (:func:`input_fingerprint`), before any chunk is written. Preparing again on changed
    inputs, finished or not, raises :class:`~bioal.utils.StaleResumeError` naming what
    changed; inputs rejected by the checks leave no fingerprint, so they may be fixed.
    """
    raw_root, prepared_root = Path(raw_root), Path(prepared_root)
    dev = raw_root / "Development_Set"
    train_csv = raw_root / TRAINING_CLASSES_CSV
    valid_csv = raw_root / VALIDATION_CLASSES_CSV
    if is_prepared(prepared_root) and not dev.is_dir():
        return prepared_root  # the raw data was removed after preparing: nothing to compare with
    for p in (dev, train_csv, valid_csv):
        if not p.exists():
            raise DatasetError(f"{p}: missing from the raw data folder {raw_root}")
    plans = []
    sl_recs = find_recordings(dev, "Training_Set")
    al_recs = find_recordings(dev, "Validation_Set")
    parameters = {"sl_classes": sl_classes if isinstance(sl_classes, str) else list(sl_classes),
                  "allow_unknown_classes": allow_unknown_classes}
    fingerprint = input_fingerprint([*sl_recs, *al_recs], raw_root, [train_csv, valid_csv], parameters)

    def check_inputs() -> None:
        check_fingerprint(prepared_root / "fingerprint.json", fingerprint, f"the prepared data in {prepared_root}",
                          f"delete {prepared_root} and prepare again.")

    if (prepared_root / "fingerprint.json").is_file() or is_prepared(prepared_root):
        check_inputs()  # a resume: changed inputs are refused before anything else
        if is_prepared(prepared_root):
            return prepared_root
    for rec in [*sl_recs, *al_recs]:
        frames, sr = check_wav(rec.wav)
        read_annotations(rec.csv, duration=frames / sr)
    sl_tables, sl_order = sl_label_table(sl_recs, train_csv, sl_classes, allow_unknown_classes)
    plans.append(("SL", sl_recs, sl_tables, sl_order, SL_RATIOS))
    al_tables, al_order = al_label_table(al_recs, valid_csv, AL_CLASSES, allow_unknown_classes)
    plans.append(("AL", al_recs, al_tables, al_order, AL_RATIOS))

    # cut times first (cheap; errors surface before any audio is written)
    cuts = {
        (division, rec.name): split_times(tables[rec.name], order, ratios, str(rec.csv))
        for division, recs, tables, order, ratios in plans
        for rec in recs
    }
    check_inputs()  # recorded once the inputs are checked, so a rejected input leaves no fingerprint
    jobs = [(division, rec) for division, recs, *_ in plans for rec in recs]
    with tqdm(total=len(jobs), desc="prepare", unit="rec", disable=not progress) as bar:

        def done(division: str, name: str) -> None:
            bar.update(1)
            if on_recording is not None:
                on_recording(division, name)

        if workers <= 1:
            for division, rec in jobs:
                _write_chunks(rec, cuts[(division, rec.name)], prepared_root / division, SPLITS[division])
                done(division, rec.name)
        else:
            jobs.sort(key=lambda job: -job[1].wav.stat().st_size)  # longest first balances the workers
            context = multiprocessing.get_context("spawn")
            pool = concurrent.futures.ProcessPoolExecutor(workers, mp_context=context)
            try:
                futures = {
                    pool.submit(_write_chunks, rec, cuts[(division, rec.name)], prepared_root / division,
                                SPLITS[division]): (division, rec.name)
                    for division, rec in jobs
                }
                for future in concurrent.futures.as_completed(futures):
                    future.result()
                    done(*futures[future])
            except BaseException:
                pool.shutdown(wait=True, cancel_futures=True)
                raise
            pool.shutdown(wait=True)
    for division, recs, tables, *_ in plans:
        parts: dict[str, list[pd.DataFrame]] = {s: [] for s in SPLITS[division]}
        for rec in recs:
            for split, frame in split_labels(tables[rec.name], cuts[(division, rec.name)], division).items():
                parts[split].append(frame)
        # test label CSV last: it marks the division finished
        for split in SPLITS[division]:
            table = pd.concat(parts[split], ignore_index=True)
            table[["Starttime", "Endtime"]] = table[["Starttime", "Endtime"]].round(6)
            with atomic_write(prepared_root / division / f"{split}_label.csv", "w", encoding="utf-8",
                              newline="") as handle:
                table.to_csv(handle, index=False)
    return prepared_root
