"""Frame embeddings of the AL splits and their HDF5 files.

One file per split (``train.h5``, ``valid.h5``, ``test.h5``) holds:

=============  ===============  =========================  ======================================
dataset        shape            dtype                      content
=============  ===============  =========================  ======================================
embeddings     [N, T, D]        float32 or float16         frozen encoder output per frame (T=32)
labels         [N, T, C]        float32 {0, 1}             frame labels (method §1.5)
class_list     [C]              bytes (S100)               class names, in label-column order
recording      [N]              UTF-8 string               recording (wav name) of each clip
clip_start     [N]              float64                    clip start within the recording, s
=============  ===============  =========================  ======================================

File attributes carry provenance (encoder source and fingerprint, width, mean/std, dtype,
preset) and ``n_done``, the number of clips written so far. The numeric datasets carry HDF5's
Fletcher-32 checksums, so a damaged file fails to read rather than giving wrong values. No N x N
distance matrix is stored: the strategies work matrix-free on clip vectors.

Extraction (:func:`extract_embeddings`, method §3.4): the frozen encoder in eval mode embeds
every sequential clip of AL train/valid/test, with features standardised by the **AL-train**
mean/std (method §2.2, Q3), in batches, on the GPU when there is one. Each batch is written into
the file and ``n_done`` advanced, so an interrupted extraction continues where it stopped.
NaN/inf in the features or the embeddings stops it with the clip (recording, start) named.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
from pathlib import Path
from typing import Any, Literal

import h5py
import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from bioal.config import PAPER_DATA_ROOT, Config, ConfigError
from bioal.data import ClipDataset, prepared_dir
from bioal.dcase import SPLITS as DCASE_SPLITS
from bioal.dcase import prepared_fingerprint
from bioal.encoder import ENCODER_FILE, Cnn14Encoder, encoder_dir
from bioal.features import LogMelExtractor, compute_mean_std, mean_std_path, standardise
from bioal.grid import CLIP_SECONDS, STFT_FRAMES
from bioal.utils import StaleResumeError, atomic_path, pick_device, resolve_path

__all__ = [
    "EmbeddingSplit",
    "write_split",
    "read_split",
    "SPLITS",
    "EmbeddingConfig",
    "embeddings_dir",
    "split_file",
    "load_encoder",
    "embed_clips",
    "extract_split",
    "write_incrementally",
    "extract_embeddings",
    "split_overview",
]

#: The AL splits with an embeddings file each (``bioal.dcase.SPLITS["AL"]``).
SPLITS: tuple[str, ...] = DCASE_SPLITS["AL"]


@dataclasses.dataclass
class EmbeddingSplit:
    """Embeddings and labels of one split, in memory.

    ``embeddings`` [N, T, D] (None when read with ``meta_only``), ``labels`` [N, T, C]
    float32, ``class_names`` C names, ``recording`` [N] str, ``clip_start`` [N] float64 seconds;
    each ``(recording, clip_start)`` pair names one clip, so the pairs must be unique (the
    event scores put the clips on their recordings' timelines). ``attrs``: the file's
    attributes; ``attrs["clip_seconds"]`` is the clip length (:attr:`clip_seconds`, default
    ``bioal.grid.CLIP_SECONDS`` = 10 s): set it for your own embeddings of clips of another length.
    """

    embeddings: np.ndarray | None
    labels: np.ndarray
    class_names: list[str]
    recording: np.ndarray
    clip_start: np.ndarray
    attrs: dict[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        self.recording = np.asarray(self.recording, dtype=object)
        self.clip_start = np.asarray(self.clip_start, dtype=np.float64)
        self.class_names = [str(c) for c in self.class_names]
        if self.labels.ndim != 3:
            raise ValueError(f"labels must be [N, T, C], got shape {self.labels.shape}")
        n = len(self.labels)
        if self.embeddings is not None:
            if self.embeddings.ndim != 3:
                raise ValueError(f"embeddings must be [N, T, D], got shape {self.embeddings.shape}")
            if self.labels.shape[:2] != self.embeddings.shape[:2]:
                raise ValueError(
                    f"labels {self.labels.shape} do not match embeddings {self.embeddings.shape} in [N, T]"
                )
        if self.labels.shape[2] != len(self.class_names):
            raise ValueError(f"labels have {self.labels.shape[2]} classes but class_names has {len(self.class_names)}")
        if len(self.recording) != n or len(self.clip_start) != n:
            raise ValueError(f"recording/clip_start must have {n} entries")
        bad = np.flatnonzero(~(self.clip_start >= 0))  # NaN fails too
        if len(bad):
            i = int(bad[0])
            raise ValueError(f"clip {i} ({self.recording[i]}) starts at {self.clip_start[i]} s; a clip start is >= 0")
        self.clip_seconds  # noqa: B018 - checks attrs["clip_seconds"] now, not at first use

    @property
    def clip_seconds(self) -> float:
        """Clip length in seconds: ``attrs["clip_seconds"]``, default ``CLIP_SECONDS`` (10 s)."""
        if "clip_seconds" not in self.attrs:
            return float(CLIP_SECONDS)
        value = self.attrs["clip_seconds"]
        try:
            seconds = float(value)
        except (TypeError, ValueError):
            seconds = math.nan
        if isinstance(value, (bool, np.bool_)) or not 0 < seconds < math.inf:
            raise ValueError(f"attrs['clip_seconds'] must be a finite number of seconds > 0, got {value!r}")
        return seconds

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def meta_only(self) -> bool:
        """True when the split was read without its embeddings."""
        return self.embeddings is None

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    def clip_vectors(self) -> np.ndarray:
        """Clip vectors ``[N, D]``: max over the T frames (the paper's distance space)."""
        if self.embeddings is None:
            raise ValueError("this split was read with meta_only=True: it has no embeddings")
        return self.embeddings.max(axis=1)

    def clip_labels(self) -> np.ndarray:
        """Clip tags ``[N, C]`` bool: a clip is positive for a class if any frame is."""
        return self.labels.max(axis=1) > 0.5

    def subset(self, index: np.ndarray) -> EmbeddingSplit:
        """The clips at ``index`` (ints or bool mask), as a new split."""
        return EmbeddingSplit(
            embeddings=None if self.embeddings is None else self.embeddings[index],
            labels=self.labels[index],
            class_names=list(self.class_names),
            recording=self.recording[index],
            clip_start=self.clip_start[index],
            attrs=dict(self.attrs),
        )


def _checksummed(n: int) -> dict[str, Any]:
    """HDF5's Fletcher-32 checksum on a numeric dataset of ``n`` rows (none on an empty one):
    reading a damaged chunk then fails instead of returning the damaged values."""
    return {"fletcher32": True} if n > 0 else {}


def write_split(path: str | os.PathLike, split: EmbeddingSplit) -> Path:
    """Write a whole split to ``path`` atomically (layout in the module docstring)."""
    path = Path(path)
    n = len(split)
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as handle:
        handle.create_dataset("embeddings", data=split.embeddings, **_checksummed(n))
        handle.create_dataset("labels", data=split.labels.astype(np.float32), **_checksummed(n))
        handle.create_dataset("class_list", data=np.array([c.encode() for c in split.class_names], dtype="S100"))
        handle.create_dataset("recording", data=split.recording.astype(str).tolist(), dtype=h5py.string_dtype())
        handle.create_dataset("clip_start", data=split.clip_start, **_checksummed(n))
        for key, value in split.attrs.items():
            handle.attrs[key] = value
    return path


def read_split(path: str | os.PathLike, dtype: Any = None, meta_only: bool = False) -> EmbeddingSplit:
    """Read a split file into memory; ``dtype`` converts the embeddings (e.g. float32).

    ``meta_only``: read the labels, class names, recordings and clip starts but not the
    embeddings (``split.embeddings`` is None); what the viewers and explorers need.

    Raises ``FileNotFoundError`` / ``KeyError`` naming the file and the missing dataset,
    and ``ValueError`` naming the first clip with a non-finite embedding.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no embedding file at {path}")
    try:
        handle = h5py.File(path, "r")
    except OSError as err:
        raise OSError(f"{path}: not a readable HDF5 file, truncated or damaged ({err}); extract it again") from None
    with handle:
        for key in ("embeddings", "labels", "class_list", "recording", "clip_start"):
            if key not in handle:
                raise KeyError(f"{path}: dataset {key!r} is missing")
        if "n_done" in handle.attrs and int(handle.attrs["n_done"]) < len(handle["embeddings"]):
            raise ValueError(
                f"{path}: extraction is unfinished ({int(handle.attrs['n_done'])} of "
                f"{len(handle['embeddings'])} clips); run the extraction again to resume"
            )
        try:
            embeddings = None if meta_only else handle["embeddings"][()]
            split = EmbeddingSplit(
                embeddings=embeddings if dtype is None or embeddings is None else embeddings.astype(dtype),
                labels=handle["labels"][()].astype(np.float32),
                class_names=[c.decode().strip() for c in handle["class_list"][()]],
                recording=np.array([r.decode() if isinstance(r, bytes) else r for r in handle["recording"][()]],
                                   dtype=object),
                clip_start=handle["clip_start"][()],
                attrs={k: (v.item() if isinstance(v, np.generic) else v) for k, v in handle.attrs.items()},
            )
        except OSError as err:  # data past a truncation
            raise OSError(f"{path}: cannot read its datasets, truncated or damaged ({err}); extract it again") from None
        except ValueError as err:  # shapes or clip starts that do not fit together
            raise ValueError(f"{path}: {err}") from None
    if meta_only:
        return split
    finite = np.isfinite(split.embeddings).reshape(len(split), -1).all(axis=1)
    if not finite.all():
        bad = int(np.flatnonzero(~finite)[0])
        raise ValueError(
            f"{path}: clip {bad} ({split.recording[bad]} at {split.clip_start[bad]:.1f} s) has NaN/inf embeddings"
        )
    return split


# --------------------------------------------------------------------------- extraction


@dataclasses.dataclass(frozen=True)
class EmbeddingConfig(Config):
    """Embedding extraction (notebook 03).

    ``encoder_source``: ``trained`` = ``DATA_ROOT/models/encoder/best_encoder.pt`` (notebook 02),
    ``panns`` = the AudioSet conv blocks of ``PANNS_CHECKPOINT``, ``random`` = the seeded init.
    """

    preset: str = "paper"
    data_root: str = PAPER_DATA_ROOT
    width: float = 1.0
    encoder_source: Literal["trained", "panns", "random"] = "trained"
    panns_checkpoint: str = ""
    encoder_batch_size: int = 128
    embed_dtype: Literal["float32", "float16"] = "float32"
    device: str = "auto"
    bf16: bool = False
    seed: int = 0
    # the train split's log-mels are kept between the mean/std pass and the embedding pass
    # when they fit in this many bytes (4 bytes x 1001 x 64 per clip: 1 GB for 3,900 clips)
    feature_cache_bytes: int = 2 * 2**30
    # notebook 03's 2-D view of the clip vectors (no effect on the files)
    projection: Literal["pca", "tsne"] = "pca"

    def check(self) -> None:
        if self.feature_cache_bytes < 0:
            raise ConfigError(f"FEATURE_CACHE_BYTES: must be >= 0, got {self.feature_cache_bytes}")
        if not self.width > 0:
            raise ConfigError(f"WIDTH: must be positive, got {self.width}")
        if self.encoder_batch_size < 1:
            raise ConfigError(f"ENCODER_BATCH_SIZE: must be >= 1, got {self.encoder_batch_size}")
        if self.seed < 0:
            raise ConfigError(f"SEED: must be >= 0, got {self.seed}")
        if self.encoder_source == "panns" and not self.panns_checkpoint:
            raise ConfigError("PANNS_CHECKPOINT: needed when ENCODER_SOURCE is 'panns'")

    @property
    def root(self) -> Path:
        return resolve_path(self.data_root)


def embeddings_dir(data_root: str | os.PathLike) -> Path:
    """``DATA_ROOT/embeddings`` (resolved against the project root)."""
    return resolve_path(data_root) / "embeddings"


def split_file(folder: str | os.PathLike, split: str) -> Path:
    """``folder/<split>.h5``: one split's embeddings in ``EMBEDDINGS_DIR`` (by default
    :func:`embeddings_dir`)."""
    return Path(folder) / f"{split}.h5"


def load_encoder(config: EmbeddingConfig) -> tuple[Any, str]:
    """The encoder ``config`` names, in eval mode on CPU, and a fingerprint of its weights."""
    if config.encoder_source == "trained":
        path = encoder_dir(config.root) / ENCODER_FILE
        if not path.is_file():
            raise FileNotFoundError(f"no trained encoder at {path}; run notebook 02 (bioal.training) first")
        encoder = Cnn14Encoder.from_panns(path, seed=config.seed)
    elif config.encoder_source == "panns":
        encoder = Cnn14Encoder.from_panns(resolve_path(config.panns_checkpoint), seed=config.seed)
    else:
        encoder = Cnn14Encoder(width=config.width, seed=config.seed)
    digest = hashlib.sha1()
    for key, value in encoder.encoder_state_dict().items():
        digest.update(key.encode())
        digest.update(value.detach().cpu().contiguous().numpy().tobytes())
    return encoder.eval(), f"{config.encoder_source}:{digest.hexdigest()[:16]}"


def _clip_name(recording: Any, start: float) -> str:
    return f"{recording} at {float(start):.1f} s"


def embed_clips(
    encoder: Any,
    waveforms: Any,
    mean: float,
    std: float,
    names: list[str] | None = None,
    bf16: bool = False,
) -> Any:
    """Frozen-encoder embeddings ``[B, 32, D]`` float32 of waveforms ``[B, 320000]``.

    Features are standardised with ``(mean, std)``; the encoder runs under ``no_grad`` (and
    bf16 autocast if asked) on its own device. ``names`` label the clips in NaN/inf errors.
    """
    device = next(encoder.parameters()).device
    extractor = LogMelExtractor().to(device)
    with torch.no_grad():
        feats = extractor(torch.as_tensor(waveforms).to(device))  # [B, 1001, 64]
    return embed_features(encoder, feats, mean, std, names=names, bf16=bf16)


def embed_features(
    encoder: Any,
    features: Any,
    mean: float,
    std: float,
    names: list[str] | None = None,
    bf16: bool = False,
) -> Any:
    """Frozen-encoder embeddings ``[B, 32, D]`` float32 of log-mels ``[B, 1001, 64]`` (dB).

    The second half of :func:`embed_clips`, for features computed elsewhere (the train
    split's mean/std pass keeps them, so its audio is read once).
    """
    device = next(encoder.parameters()).device
    names = names or [f"clip {i}" for i in range(len(features))]
    with torch.no_grad():
        feats = standardise(torch.as_tensor(features).to(device), mean, std)  # [B, 1001, 64]
        bad = ~torch.isfinite(feats).flatten(1).all(dim=1)  # [B]
        if bad.any():
            raise ValueError(f"NaN/inf in the log-mel features of {names[int(bad.nonzero()[0])]}")
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=bf16):
            emb = encoder(feats.unsqueeze(1))["embedding"]  # [B, 32, D]
        emb = emb.float()
        bad = ~torch.isfinite(emb).flatten(1).all(dim=1)  # [B]
        if bad.any():
            raise ValueError(f"NaN/inf in the embeddings of {names[int(bad.nonzero()[0])]}")
    return emb


def extract_split(
    prepared_root: str | os.PathLike,
    split: str,
    path: str | os.PathLike,
    encoder: Any,
    fingerprint: str,
    mean: float,
    std: float,
    batch_size: int = 32,
    dtype: str = "float32",
    bf16: bool = False,
    attrs: dict[str, Any] | None = None,
    progress: bool = True,
    max_batches: int | None = None,
    features: list[Any] | None = None,
) -> Path:
    """Embed the AL ``split`` into ``path`` (layout above), resuming a partial file.

    A file made by the same encoder fingerprint, statistics, dtype and prepared inputs (label
    CSVs and raw fingerprint, attribute ``inputs``) continues at its ``n_done``; a finished one
    is left as it is; one from another encoder or other inputs (or unreadable) is replaced,
    never continued. ``max_batches`` stops early (for tests of the resume). ``features``: the
    split's log-mel batches ``[batch_size, 1001, 64]`` (dB) from clip 0, if already computed.
    """
    path = Path(path)
    dataset = ClipDataset(prepared_root, "AL", split)
    n = len(dataset)
    if n == 0:
        raise ValueError(f"{prepared_root}/AL/{split}: no clips to embed")
    frames = encoder.frames_out(STFT_FRAMES)
    if dataset.labels.shape[1] != frames:
        raise ValueError(f"label frames {dataset.labels.shape[1]} != encoder frames {frames} (method Q9)")
    inputs = hashlib.sha256(json.dumps(prepared_fingerprint(prepared_root, "AL"), sort_keys=True).encode()).hexdigest()
    identity = {"encoder": fingerprint, "mean": float(mean), "std": float(std), "embed_dtype": dtype,
                "n_clips": n, "embedding_dim": encoder.embedding_dim, "inputs": inputs[:32], "bf16": bool(bf16)}
    recordings = dataset.clips["recording"].to_numpy()
    starts = dataset.clips["start_s"].to_numpy()
    encoder.eval()

    def embed(lo: int, hi: int) -> np.ndarray:
        names = [_clip_name(recordings[i], starts[i]) for i in range(lo, hi)]
        kept = features[lo // batch_size] if features is not None and lo % batch_size == 0 else None
        if kept is not None and len(kept) == hi - lo:  # the batch the mean/std pass computed
            emb = embed_features(encoder, kept, mean, std, names=names, bf16=bf16)
        else:
            waves = torch.stack([dataset[i][0] for i in range(lo, hi)])  # [b, 320000]
            emb = embed_clips(encoder, waves, mean, std, names=names, bf16=bf16)
        return emb.cpu().numpy()  # [b, 32, D]

    return write_incrementally(
        path, EmbeddingSplit(None, dataset.labels.astype(np.float32), dataset.class_names,
                             recordings.astype(str), starts),
        encoder.embedding_dim, embed, identity, attrs=attrs, batch_size=batch_size, dtype=dtype,
        progress=progress, desc=f"embed {split}", max_batches=max_batches,
    )


def write_incrementally(
    path: str | os.PathLike,
    meta: EmbeddingSplit,
    dim: int,
    embed: Any,
    identity: dict[str, Any],
    attrs: dict[str, Any] | None = None,
    extra: dict[str, np.ndarray] | None = None,
    batch_size: int = 32,
    dtype: str = "float32",
    progress: bool = True,
    desc: str = "embed",
    max_batches: int | None = None,
    on_change: Literal["replace", "error"] = "replace",
) -> Path:
    """Write a split file (layout above) batch by batch, resuming a partial one.

    ``meta``: the clips' labels ``[N, T, C]``, class names, recordings and starts (embeddings
    None); ``embed(lo, hi)`` returns the embeddings ``[hi - lo, T, dim]`` of clips lo..hi-1.
    ``identity``: attributes that must match for a partial file to be continued; a finished
    matching file is left as it is. A file with another identity (or unreadable) is replaced,
    or with ``on_change="error"`` refused (:class:`~bioal.utils.StaleResumeError`) with the
    differing keys named. ``extra`` datasets are written once at creation. ``n_done`` advances
    after each batch; ``max_batches`` stops early.
    """
    path = Path(path)
    n, frames = len(meta), meta.labels.shape[1]
    if n == 0:
        raise ValueError(f"{path}: no clips to embed")
    identity = {**identity, "n_clips": n, "embedding_dim": int(dim)}
    done = 0
    if path.is_file():
        differ: list[str] = []
        try:
            with h5py.File(path, "r") as handle:
                differ = [k for k, v in identity.items() if handle.attrs.get(k) != v]
                done = int(handle.attrs.get("n_done", 0)) if not differ else -1
        except OSError:
            differ, done = ["unreadable file"], -1
        if done == n:
            return path
        if done < 0:
            if on_change == "error":
                raise StaleResumeError(f"{path} was written from other inputs ({', '.join(differ)} differ); "
                                 "delete it or choose another output path")
            path.unlink()
            done = 0
    if not path.is_file():
        with atomic_path(path) as tmp, h5py.File(tmp, "w") as handle:
            handle.create_dataset("embeddings", shape=(n, frames, dim), dtype=dtype,
                                  chunks=(min(n, batch_size), frames, dim), **_checksummed(n))
            handle.create_dataset("labels", data=meta.labels.astype(np.float32), **_checksummed(n))
            handle.create_dataset("class_list", data=np.array([c.encode() for c in meta.class_names], dtype="S100"))
            handle.create_dataset("recording", data=meta.recording.astype(str).tolist(), dtype=h5py.string_dtype())
            handle.create_dataset("clip_start", data=meta.clip_start, **_checksummed(n))
            for key, value in (extra or {}).items():
                value = np.asarray(value)
                if value.dtype.kind in "OU":
                    handle.create_dataset(key, data=value.astype(str).tolist(), dtype=h5py.string_dtype())
                else:
                    handle.create_dataset(key, data=value)
            for key, value in {**(attrs or {}), **identity}.items():
                handle.attrs[key] = value
            handle.attrs["n_done"] = 0
    with h5py.File(path, "r+") as handle:
        bar = tqdm(total=n, initial=done, desc=desc, unit="clip", disable=not progress)
        with bar:
            for count, lo in enumerate(range(done, n, batch_size)):
                if max_batches is not None and count >= max_batches:
                    break
                hi = min(lo + batch_size, n)
                emb = np.asarray(embed(lo, hi))
                if emb.shape != (hi - lo, frames, dim):
                    raise ValueError(f"{path}: clips {lo}..{hi - 1} embedded to {emb.shape}, "
                                     f"expected {(hi - lo, frames, dim)}")
                handle["embeddings"][lo:hi] = emb.astype(dtype)
                handle.attrs["n_done"] = hi
                handle.flush()
                bar.update(hi - lo)
    return path


def extract_embeddings(
    config: EmbeddingConfig, progress: bool = True, splits: tuple[str, ...] = SPLITS
) -> dict[str, Path]:
    """Embed AL train/valid/test into ``DATA_ROOT/embeddings/{split}.h5``; return the paths.

    Uses the AL-train mean/std (computed and cached in ``prepared/AL/mean_std.json`` if
    missing), the encoder of :func:`load_encoder` on ``config.device``, batches of
    ``ENCODER_BATCH_SIZE``, ``EMBED_DTYPE`` storage. Finished files are kept; partial ones resume.
    """
    prepared = prepared_dir(config.root)
    if not (prepared / "AL").is_dir():
        raise FileNotFoundError(f"no prepared AL data under {prepared}; run notebook 01 (bioal.data) first")
    device = pick_device(config.device)
    # the train split's first pass (mean/std) keeps its log-mels when they fit, so the
    # embedding pass does not read and transform its audio again (same numbers either way)
    train_features: list[Any] = []
    fresh = not mean_std_path(prepared, "AL").is_file()
    stats = compute_mean_std(prepared, "AL", batch_size=config.encoder_batch_size, device=device, progress=progress,
                             keep=train_features if "train" in splits else None, keep_bytes=config.feature_cache_bytes)
    encoder, fingerprint = load_encoder(config)
    encoder = encoder.to(device)
    attrs = {"preset": config.preset, "width": encoder.width, "encoder_source": config.encoder_source,
             "bf16": config.bf16}
    out = {}
    for split in splits:
        out[split] = extract_split(
            prepared, split, split_file(embeddings_dir(config.root), split), encoder, fingerprint,
            stats.mean, stats.std, batch_size=config.encoder_batch_size, dtype=config.embed_dtype,
            bf16=config.bf16,
            attrs=attrs, progress=progress,
            features=train_features if split == "train" and fresh and train_features else None,
        )
        if split == "train":
            train_features.clear()
    return out


def split_overview(splits: dict[str, EmbeddingSplit]) -> Any:
    """A table per split: clips, embedding shape and dtype, size in MB, positive clips per class."""
    rows = {}
    for name, split in splits.items():
        n, t, d = split.embeddings.shape
        row = {"clips": n, "frames": t, "dim": d, "dtype": str(split.embeddings.dtype),
               "MB": round(split.embeddings.nbytes / 2**20, 1)}
        tags = split.clip_labels()
        row.update({c: int(tags[:, i].sum()) for i, c in enumerate(split.class_names)})
        row["Negative"] = int((~tags.any(axis=1)).sum())
        rows[name] = row
    return pd.DataFrame(rows).T
