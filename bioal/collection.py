"""A folder of your own recordings as an unlabelled pool: scan, cut into clips, embed.

* :func:`scan_audio` lists the WAV/FLAC files under a folder (any sample rate, mono or
  multichannel, names with spaces), with their rate, channels and duration. An unreadable file
  is an error naming every such file, or with ``skip_unreadable`` it is left out and listed.
* :func:`clip_grid` cuts each recording on the clip grid (default the paper's 10 s clips every
  5 s, ``bioal.grid``; method §1.5), the last clip zero-padded.
* :func:`read_clip` reads one clip, mixes the channels (or takes one) and resamples to
  ``SAMPLE_RATE``.
* :func:`build_collection` embeds every clip into ``<collection_dir>/collection.h5`` with the
  chapter-02 encoder, the PANNs checkpoint, a seeded random encoder, or a user's ``[N, T, D]``
  file, through the one resumable writer of the split layout
  (:func:`bioal.embeddings.write_incrementally`); an interrupted run continues, and a file made
  from other inputs is refused. :func:`read_collection` reads it back.

The collection file has the split layout with no classes (labels ``[N, T, 0]``) plus the
datasets ``file_recording``, ``file_path``, ``file_samplerate``, ``file_channels``,
``file_duration`` (one entry per recording) and the attribute ``skipped`` (JSON list of
``[name, reason]``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any, Literal

import h5py
import numpy as np
import pandas as pd
import soundfile as sf
import torch
import torchaudio.functional as AF

from bioal.config import PAPER_DATA_ROOT, Config, ConfigError
from bioal.data import prepared_dir
from bioal.dcase import DatasetError, audio_info, clip_starts
from bioal.embeddings import EmbeddingConfig, EmbeddingSplit, embed_clips, load_encoder, read_split, write_incrementally
from bioal.encoder import Cnn14Encoder
from bioal.features import MeanStd, load_mean_std, log_mel, mean_std_from_batches
from bioal.grid import CLIP_HOP_SECONDS, CLIP_SECONDS, HOP_LENGTH, SAMPLE_RATE
from bioal.utils import StaleResumeError, atomic_write, file_digest, pick_device, resolve_path, rng

__all__ = [
    "AUDIO_SUFFIXES",
    "JOURNAL_FILE",
    "CollectionError",
    "CollectionConfig",
    "Collection",
    "scan_audio",
    "clip_grid",
    "read_clip",
    "collection_path",
    "build_collection",
    "read_collection",
]

AUDIO_SUFFIXES = (".wav", ".flac")
#: Audio formats a folder may also hold: not collected, but listed among the skipped files.
OTHER_AUDIO_SUFFIXES = (".aac", ".aif", ".aifc", ".aiff", ".m4a", ".mp3", ".oga", ".ogg", ".opus", ".wave", ".wma")
COLLECTION_FILE = "collection.h5"
#: The labelling session's append-only journal in the collection folder (read and written by
#: :mod:`bioal.session`; named here, the lower layer, so both can use the name).
JOURNAL_FILE = "journal.jsonl"


class CollectionError(ValueError):
    """Bad input in a recordings folder: the message names the file(s)."""


# --------------------------------------------------------------------------- scanning


def _probe(path: Path) -> tuple[int, int, int]:
    """``(frames, samplerate, channels)`` of a readable audio file, else :class:`DatasetError`."""
    info = audio_info(path)  # a WAV's truncated data chunk is caught too
    return int(info.frames), int(info.samplerate), int(info.channels)


def scan_audio(folder: str | os.PathLike, skip_unreadable: bool = False) -> tuple[pd.DataFrame, list[tuple[str, str]]]:
    """The audio files under ``folder`` (recursively, sorted by relative path).

    Returns the files table ``recording`` (path relative to ``folder``, '/'-separated),
    ``path``, ``samplerate``, ``channels``, ``frames``, ``duration_s``, and the skipped files as
    ``[(recording, reason)]``. Unreadable files raise :class:`CollectionError` naming all of
    them unless ``skip_unreadable``, which returns them in the second list instead. Files of
    other audio formats (:data:`OTHER_AUDIO_SUFFIXES`) are not read and are listed there too.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise CollectionError(f"{folder}: no such folder of recordings")
    found = sorted((p for p in folder.rglob("*") if p.is_file()), key=lambda p: p.relative_to(folder).as_posix())
    paths = [p for p in found if p.suffix.lower() in AUDIO_SUFFIXES]
    other = [p.relative_to(folder).as_posix() for p in found if p.suffix.lower() in OTHER_AUDIO_SUFFIXES]
    rows, bad = [], []
    for path in paths:
        name = path.relative_to(folder).as_posix()
        try:
            frames, sr, channels = _probe(path)
        except DatasetError as err:
            bad.append((name, str(err)))
            continue
        rows.append(
            {"recording": name, "path": str(path), "samplerate": sr, "channels": channels, "frames": frames,
             "duration_s": frames / sr}
        )
    if bad and not skip_unreadable:
        listing = "\n".join(f"  {name}: {reason}" for name, reason in bad)
        raise CollectionError(
            f"{folder}: {len(bad)} unreadable audio file(s) (pass skip_unreadable=True to leave them out):\n{listing}"
        )
    if not rows:
        raise CollectionError(f"{folder}: no readable {'/'.join(AUDIO_SUFFIXES)} files")
    return pd.DataFrame(rows), bad + [(name, f"not collected: only {'/'.join(AUDIO_SUFFIXES)} files are") for name in other]


def clip_grid(files: pd.DataFrame, clip_s: float = CLIP_SECONDS, hop_s: float = CLIP_HOP_SECONDS) -> pd.DataFrame:
    """Clips ``recording, start_s`` of every file on the grid (``bioal.dcase.clip_starts``)."""
    if not (clip_s > 0 and hop_s > 0):
        raise ValueError(f"clip and hop must be positive, got {clip_s} and {hop_s}")
    parts = [
        pd.DataFrame({"recording": rec, "start_s": clip_starts(float(dur), clip_s, hop_s)})
        for rec, dur in zip(files["recording"], files["duration_s"], strict=True)
    ]
    return pd.concat(parts, ignore_index=True)


def read_clip(path: str | os.PathLike, start_s: float, clip_s: float = CLIP_SECONDS, channel: int = -1) -> np.ndarray:
    """Samples ``[round(clip_s * SAMPLE_RATE)]`` float32 of one clip, resampled to ``SAMPLE_RATE``.

    ``channel`` -1 averages the channels, otherwise that channel (0-based); zeros past the end.
    """
    n_out = int(round(clip_s * SAMPLE_RATE))
    try:
        with sf.SoundFile(str(path)) as handle:
            sr, frames, channels = handle.samplerate, handle.frames, handle.channels
            if channel >= channels:
                raise CollectionError(f"{path}: channel {channel} asked for, the file has {channels}")
            pad = int(sr * 0.05) if sr != SAMPLE_RATE else 0  # a little context for the resampling filter
            lo = int(round(start_s * sr))
            n_in = int(round(clip_s * sr))
            first = max(0, lo - pad)
            data = np.zeros((0, channels), dtype=np.float32)
            if first < frames:
                handle.seek(first)
                data = handle.read(min(lo + n_in + pad, frames) - first, dtype="float32", always_2d=True)
    except sf.LibsndfileError as err:
        raise CollectionError(f"{path}: cannot read audio at {start_s:.1f} s ({err})") from err
    mono = data.mean(axis=1) if channel < 0 else data[:, channel]
    if sr != SAMPLE_RATE:
        mono = AF.resample(torch.from_numpy(np.ascontiguousarray(mono)), sr, SAMPLE_RATE).numpy()
        skip = int(round((lo - first) * SAMPLE_RATE / sr))
    else:
        skip = 0
    out = np.zeros(n_out, dtype=np.float32)
    piece = mono[skip : skip + n_out]
    out[: len(piece)] = piece
    return out


# --------------------------------------------------------------------------- embedding


@dataclasses.dataclass(frozen=True)
class CollectionConfig(Config):
    """Embedding a folder of recordings (chapter 08).

    ``encoder``: ``trained`` (the chapter-02 encoder under ``data_root``), ``panns`` (the
    ``panns_checkpoint``), ``random`` (seeded init, for tests) or ``file`` (``embeddings_file``,
    a ``.npy`` or an HDF5 with dataset ``embeddings``, ``[N, T, D]`` in the clip-grid order).
    ``standardise``: the log-mel mean/std, ``prepared`` = the AL-train statistics of
    ``data_root`` (what the chapter-02 encoder was trained with), ``collection`` = estimated on
    ``stats_clips`` seeded clips of the collection, ``auto`` = ``prepared`` for ``trained``.
    ``channel``: -1 averages a multichannel file, else that channel.
    """

    audio_dir: str = ""
    collection_dir: str = ""
    clip_seconds: float = CLIP_SECONDS
    hop_seconds: float = CLIP_HOP_SECONDS
    encoder: Literal["trained", "panns", "random", "file"] = "trained"
    data_root: str = PAPER_DATA_ROOT
    panns_checkpoint: str = ""
    embeddings_file: str = ""
    width: float = 1.0
    encoder_batch_size: int = EmbeddingConfig.encoder_batch_size
    embed_dtype: Literal["float32", "float16"] = "float32"
    standardise: Literal["auto", "prepared", "collection"] = "auto"
    stats_clips: int = 32
    channel: int = -1
    skip_unreadable: bool = False
    device: str = "auto"
    seed: int = 0

    def check(self) -> None:
        if not self.audio_dir:
            raise ConfigError("AUDIO_DIR: the folder of recordings is needed")
        if not self.collection_dir:
            raise ConfigError("COLLECTION_DIR: the output folder is needed")
        if not (self.clip_seconds > 0 and self.hop_seconds > 0):
            raise ConfigError(f"CLIP_SECONDS/HOP_SECONDS must be positive, got {self.clip_seconds}/{self.hop_seconds}")
        if self.encoder == "file" and not self.embeddings_file:
            raise ConfigError("EMBEDDINGS_FILE: needed when ENCODER is 'file'")
        if self.encoder == "panns" and not self.panns_checkpoint:
            raise ConfigError("PANNS_CHECKPOINT: needed when ENCODER is 'panns'")
        if self.encoder_batch_size < 1 or self.stats_clips < 1:
            raise ConfigError("ENCODER_BATCH_SIZE and STATS_CLIPS must be >= 1")
        if self.channel < -1:
            raise ConfigError(f"CHANNEL: -1 (mix) or a channel index, got {self.channel}")
        if not self.width > 0:
            raise ConfigError(f"WIDTH: must be positive, got {self.width}")
        if self.seed < 0:
            raise ConfigError(f"SEED must be >= 0, got {self.seed}")


@dataclasses.dataclass
class Collection:
    """A read collection: ``split`` (embeddings ``[N, T, D]``, no classes, recording and
    clip_start per clip), ``files`` (one row per recording) and ``skipped`` files."""

    path: Path
    split: EmbeddingSplit
    files: pd.DataFrame
    skipped: list[tuple[str, str]]

    @property
    def clip_seconds(self) -> float:
        """Clip length in seconds (:attr:`bioal.embeddings.EmbeddingSplit.clip_seconds`)."""
        return self.split.clip_seconds

    @property
    def channel(self) -> int:
        """The channel the clips were embedded from (-1: the channels averaged)."""
        return int(self.split.attrs.get("channel", -1))

    def clip_audio(self, clip: int) -> np.ndarray:
        """Clip ``clip``'s samples ``[clip_seconds * SAMPLE_RATE]``, from the channel it was embedded from."""
        recording = str(self.split.recording[clip])
        return read_clip(self.audio_path(recording), float(self.split.clip_start[clip]), self.clip_seconds, self.channel)

    def durations(self) -> dict[str, float]:
        """Seconds per recording, in file order."""
        return dict(zip(self.files["recording"], self.files["duration_s"].astype(float), strict=True))

    def find_recording(self, name: str, path: str | None = None) -> str:
        """The collection's recording that an annotation file calls ``name``: the same name
        (a path relative to the audio folder), the file at ``path`` (Raven's ``Begin Path``), or
        the one recording whose file name is ``name``, or whose name without its extension is
        ``name`` (Raven's and Audacity's default). Raises ``KeyError`` when none or several match."""
        known = self.files["recording"].tolist()
        if name in known:
            return name
        if path:
            wanted = os.path.normcase(os.path.abspath(path))
            for rec, file in zip(known, self.files["path"], strict=True):
                if os.path.normcase(os.path.abspath(file)) == wanted:
                    return rec
        base = re.split(r"[\\/]", name)[-1]
        hits = [r for r in known if base in (Path(r).name, Path(r).stem)]
        if len(hits) == 1:
            return hits[0]
        if hits:
            raise KeyError(f"{name!r} could be any of the recordings {hits}; name it by its path in the audio folder")
        raise KeyError(f"{name!r} is not a recording of the collection {self.path}")

    def audio_path(self, recording: str) -> Path:
        match = self.files.loc[self.files["recording"] == recording, "path"]
        if match.empty:
            raise KeyError(f"{self.path}: no recording {recording!r}")
        return Path(match.iloc[0])


def collection_path(collection_dir: str | os.PathLike) -> Path:
    """``<collection_dir>/collection.h5``."""
    return Path(collection_dir) / COLLECTION_FILE


DIGESTS_FILE = "file_digests.json"
_EMBEDDINGS_KEY = "<embeddings file>"  # the user's embeddings file among the digested inputs


def content_digests(paths: dict[str, Path], cache: Path) -> dict[str, str]:
    """SHA-256 of each file's bytes, ``{name: digest}``. A file whose size and modification time
    match the ``cache`` entry (a JSON file, rewritten atomically) is not read again, so a touched
    file is read once more and then matches, and an edited one never does."""
    try:
        known = json.loads(cache.read_text()) if cache.is_file() else {}
    except ValueError:
        known = {}  # a damaged cache only costs a re-read
    out, fresh = {}, {}
    for name, path in paths.items():
        stat = os.stat(path)
        entry = known.get(name)
        if isinstance(entry, list) and len(entry) == 3 and entry[:2] == [stat.st_size, stat.st_mtime_ns]:
            out[name] = str(entry[2])
        else:
            out[name] = file_digest(path)
        fresh[name] = [stat.st_size, stat.st_mtime_ns, out[name]]
    if fresh != known:
        cache.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(cache) as handle:
            json.dump(fresh, handle, indent=0, sort_keys=True)
    return out


def _fingerprint_files(files: pd.DataFrame, digests: dict[str, str]) -> str:
    """Names, formats, lengths and contents of the files (an edited, added or removed file changes it)."""
    digest = hashlib.sha1()
    for row in files[["recording", "samplerate", "channels", "frames"]].itertuples(index=False):
        digest.update(repr((row.recording, row.samplerate, row.channels, row.frames, digests[row.recording])).encode())
    return digest.hexdigest()[:16]


def _frames_for(clip_s: float) -> int:
    """Embedding frames of a ``clip_s`` s clip: its STFT frames (centre-padded, hop
    ``HOP_LENGTH``) through :meth:`Cnn14Encoder.frames_out` (10 s: 1001 -> 32)."""
    return Cnn14Encoder.frames_out(int(round(clip_s * SAMPLE_RATE)) // HOP_LENGTH + 1)


def _user_embeddings(path: Path, n: int, digest: str) -> tuple[Any, str]:
    """The user's ``[N, T, D]`` array (memory-mapped .npy or an open HDF5 dataset) + fingerprint
    (its name and the ``digest`` of its bytes)."""
    if path.suffix.lower() == ".npy":
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    elif path.suffix.lower() in (".h5", ".hdf5"):
        handle = h5py.File(path, "r")
        if "embeddings" not in handle:
            raise CollectionError(f"{path}: no dataset 'embeddings'")
        array = handle["embeddings"]
    else:
        raise CollectionError(f"{path}: embeddings file must be .npy or .h5 holding [N, T, D]")
    if array.ndim != 3 or array.shape[0] != n:
        raise CollectionError(f"{path}: embeddings of shape {array.shape}, expected [{n}, T, D] (one row per clip)")
    return array, f"file:{path.name}:{digest[:16]}"


def _estimate_mean_std(config: CollectionConfig, files: pd.DataFrame, clips: pd.DataFrame) -> MeanStd:
    pick = rng(config.seed, "collection-stats").choice(len(clips), size=min(config.stats_clips, len(clips)), replace=False)
    paths = dict(zip(files["recording"], files["path"], strict=True))
    batches = (
        log_mel(read_clip(paths[clips["recording"].iat[i]], clips["start_s"].iat[i], config.clip_seconds, config.channel))
        for i in np.sort(pick)
    )
    stats = mean_std_from_batches(batches)
    if not stats.std > 0:
        names = [f"{clips['recording'].iat[i]} at {clips['start_s'].iat[i]:.1f} s" for i in np.sort(pick)]
        raise CollectionError(
            f"the {len(names)} clips sampled for the log-mel statistics all hold the same value (silence?), "
            f"channel {config.channel}: {names[:5]}; pick another CHANNEL, more STATS_CLIPS, or STANDARDISE 'prepared'"
        )
    return stats


def build_collection(config: CollectionConfig, progress: bool = True, max_batches: int | None = None) -> Path:
    """Scan ``audio_dir``, cut the clips and embed them into ``collection_dir/collection.h5``.

    Resumes a partial file made from the same inputs (files, grid, encoder, statistics); refuses
    one made from other inputs. Skipped unreadable files are listed in the file's ``skipped``
    attribute and printed by :func:`read_collection`'s caller. Returns the path.
    """
    audio_dir = resolve_path(config.audio_dir)
    files, skipped = scan_audio(audio_dir, skip_unreadable=config.skip_unreadable)
    clips = clip_grid(files, config.clip_seconds, config.hop_seconds)
    n = len(clips)
    frames = _frames_for(config.clip_seconds)
    out_dir = resolve_path(config.collection_dir)
    digests = content_digests(dict(zip(files["recording"], map(Path, files["path"]), strict=True)),
                              out_dir / DIGESTS_FILE)
    if config.encoder == "file":  # one file: read whole every time, whatever its times say
        digests[_EMBEDDINGS_KEY] = file_digest(resolve_path(config.embeddings_file))
    identity: dict[str, Any] = {
        "files": _fingerprint_files(files, digests),
        "clip_seconds": float(config.clip_seconds),
        "hop_seconds": float(config.hop_seconds),
        "channel": int(config.channel),
        "embed_dtype": config.embed_dtype,
    }
    paths = files["path"].tolist()
    path_of = dict(zip(files["recording"], paths, strict=True))
    recordings = clips["recording"].to_numpy()
    starts = clips["start_s"].to_numpy()
    if config.encoder == "file":
        array, fingerprint = _user_embeddings(resolve_path(config.embeddings_file), n, digests[_EMBEDDINGS_KEY])
        frames, dim = int(array.shape[1]), int(array.shape[2])

        def embed(lo: int, hi: int) -> np.ndarray:
            return np.asarray(array[lo:hi], dtype=np.float32)

        identity.update(encoder=fingerprint, mean=0.0, std=1.0)
    else:
        source = {"trained": "trained", "panns": "panns", "random": "random"}[config.encoder]
        enc_config = EmbeddingConfig(
            data_root=config.data_root, width=config.width, encoder_source=source,
            panns_checkpoint=config.panns_checkpoint, seed=config.seed,
        )
        encoder, fingerprint = load_encoder(enc_config)
        encoder = encoder.to(pick_device(config.device))
        use_prepared = config.standardise == "prepared" or (config.standardise == "auto" and config.encoder == "trained")
        stats = (
            load_mean_std(prepared_dir(config.data_root), "AL")
            if use_prepared
            else _estimate_mean_std(config, files, clips)
        )
        dim = encoder.embedding_dim
        identity.update(encoder=fingerprint, mean=float(stats.mean), std=float(stats.std))

        def embed(lo: int, hi: int) -> np.ndarray:
            waves = torch.from_numpy(
                np.stack([read_clip(path_of[recordings[i]], starts[i], config.clip_seconds, config.channel)
                          for i in range(lo, hi)])
            )  # [b, clip samples]
            names = [f"{recordings[i]} at {starts[i]:.1f} s" for i in range(lo, hi)]
            return embed_clips(encoder, waves, stats.mean, stats.std, names=names).cpu().numpy()  # [b, T, D]

    meta = EmbeddingSplit(None, np.zeros((n, frames, 0), dtype=np.float32), [], recordings.astype(str), starts)
    extra = {
        "file_recording": files["recording"].to_numpy(dtype=object),
        "file_path": files["path"].to_numpy(dtype=object),
        "file_samplerate": files["samplerate"].to_numpy(np.int64),
        "file_channels": files["channels"].to_numpy(np.int64),
        "file_duration": files["duration_s"].to_numpy(np.float64),
    }
    attrs = {"audio_dir": str(audio_dir), "encoder_choice": config.encoder, "skipped": json.dumps(skipped),
             "file_digests": json.dumps(digests, sort_keys=True)}
    target = collection_path(out_dir)
    try:
        return write_incrementally(
            target, meta, dim, embed, identity, attrs=attrs, extra=extra,
            batch_size=config.encoder_batch_size, dtype=config.embed_dtype, progress=progress,
            desc="embed collection", max_batches=max_batches, on_change="error",
        )
    except StaleResumeError as err:
        raise StaleResumeError(f"{err}. {_changed_inputs(target, digests)}Deleting {target.name} embeds the "
                              f"folder again, and the answers in {out_dir / JOURNAL_FILE} then no longer "
                              "apply: move the journal aside first, or restore the inputs to go on.") from err
    finally:
        if config.encoder == "file" and isinstance(array, h5py.Dataset):
            array.file.close()


def _changed_inputs(path: Path, digests: dict[str, str]) -> str:
    """A sentence naming the files added, removed or changed since ``path`` was written."""
    try:
        with h5py.File(path, "r") as handle:
            before = json.loads(handle.attrs.get("file_digests", "{}"))
    except (OSError, ValueError):
        return ""
    if not before:
        return ""
    parts = [(what, sorted(names)) for what, names in (
        ("added", set(digests) - set(before)), ("removed", set(before) - set(digests)),
        ("changed", {k for k in set(digests) & set(before) if digests[k] != before[k]}),
    ) if names]
    return "".join(f"{what.capitalize()}: {', '.join(names[:10])}{' ...' if len(names) > 10 else ''}. "
                   for what, names in parts)


def read_collection(
    path: str | os.PathLike, meta_only: bool = False, audio_dir: str | os.PathLike | None = None
) -> Collection:
    """Read a finished collection file (or ``<dir>/collection.h5`` given its folder).

    The audio is found where it was when the collection was built, or under ``audio_dir`` (a
    folder moved since; the recordings' names are their paths relative to it)."""
    path = Path(path)
    if path.is_dir():
        path = collection_path(path)
    split = read_split(path, dtype=np.float32, meta_only=meta_only)
    with h5py.File(path, "r") as handle:
        for key in ("file_recording", "file_path", "file_samplerate", "file_channels", "file_duration"):
            if key not in handle:
                raise KeyError(f"{path}: dataset {key!r} is missing (not a collection file)")

        def text(key: str) -> list[str]:
            return [v.decode() if isinstance(v, bytes) else str(v) for v in handle[key][()]]

        files = pd.DataFrame(
            {
                "recording": text("file_recording"),
                "path": text("file_path"),
                "samplerate": handle["file_samplerate"][()],
                "channels": handle["file_channels"][()],
                "duration_s": handle["file_duration"][()],
            }
        )
    if audio_dir is not None:
        root = resolve_path(audio_dir)
        files["path"] = [str(root / name) for name in files["recording"]]
        missing = [name for name, file in zip(files["recording"], files["path"], strict=True) if not Path(file).is_file()]
        if missing:
            raise CollectionError(f"{root}: does not hold the collection's recording(s) {missing[:5]} "
                                  f"({len(missing)} of {len(files)} missing)")
    skipped = [tuple(x) for x in json.loads(split.attrs.get("skipped", "[]"))]
    return Collection(path=path, split=split, files=files, skipped=skipped)
