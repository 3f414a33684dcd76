"""Frame embeddings of the AL splits and their HDF5 files.

One file per split (``train.h5``, ``valid.h5``, ``test.h5``) holds:

=============  ===============  =========================  ======================================
dataset        shape            dtype                      content
=============  ===============  =========================  ======================================
embeddings     [N, T, D]        float32 or float16         frozen encoder output per frame (T=32)
labels         [N, T, C]        float32 {0, 1}             frame labels (SPEC 1.5)
class_list     [C]              bytes (S100)               class names, in label-column order
recording      [N]              UTF-8 string               recording (wav name) of each clip
clip_start     [N]              float64                    clip start within the recording, s
=============  ===============  =========================  ======================================

File attributes carry provenance (encoder checkpoint, width, preset, source). No N x N
distance matrix is stored: the strategies work matrix-free on clip vectors.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import numpy as np

from bioal.utils import atomic_path

__all__ = ["EmbeddingSplit", "write_split", "read_split", "SPLITS"]

SPLITS = ("train", "valid", "test")


@dataclasses.dataclass
class EmbeddingSplit:
    """Embeddings and labels of one split, in memory.

    ``embeddings`` [N, T, D], ``labels`` [N, T, C] float32, ``class_names`` C names,
    ``recording`` [N] str, ``clip_start`` [N] float64 seconds.
    """

    embeddings: np.ndarray
    labels: np.ndarray
    class_names: list[str]
    recording: np.ndarray
    clip_start: np.ndarray
    attrs: dict[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        self.recording = np.asarray(self.recording, dtype=object)
        self.clip_start = np.asarray(self.clip_start, dtype=np.float64)
        self.class_names = [str(c) for c in self.class_names]
        n = len(self.embeddings)
        if self.embeddings.ndim != 3:
            raise ValueError(f"embeddings must be [N, T, D], got shape {self.embeddings.shape}")
        if self.labels.shape[:2] != self.embeddings.shape[:2] or self.labels.ndim != 3:
            raise ValueError(
                f"labels {self.labels.shape} do not match embeddings {self.embeddings.shape} in [N, T]"
            )
        if self.labels.shape[2] != len(self.class_names):
            raise ValueError(f"labels have {self.labels.shape[2]} classes but class_names has {len(self.class_names)}")
        if len(self.recording) != n or len(self.clip_start) != n:
            raise ValueError(f"recording/clip_start must have {n} entries")

    def __len__(self) -> int:
        return len(self.embeddings)

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    def clip_vectors(self) -> np.ndarray:
        """Clip vectors ``[N, D]``: max over the T frames (the paper's distance space)."""
        return self.embeddings.max(axis=1)

    def clip_labels(self) -> np.ndarray:
        """Clip tags ``[N, C]`` bool: a clip is positive for a class if any frame is."""
        return self.labels.max(axis=1) > 0.5

    def subset(self, index: np.ndarray) -> EmbeddingSplit:
        """The clips at ``index`` (ints or bool mask), as a new split."""
        return EmbeddingSplit(
            embeddings=self.embeddings[index],
            labels=self.labels[index],
            class_names=list(self.class_names),
            recording=self.recording[index],
            clip_start=self.clip_start[index],
            attrs=dict(self.attrs),
        )


def write_split(path: str | os.PathLike, split: EmbeddingSplit) -> Path:
    """Write a whole split to ``path`` atomically (layout in the module docstring)."""
    import h5py

    path = Path(path)
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as handle:
        handle.create_dataset("embeddings", data=split.embeddings)
        handle.create_dataset("labels", data=split.labels.astype(np.float32))
        handle.create_dataset("class_list", data=np.array([c.encode() for c in split.class_names], dtype="S100"))
        handle.create_dataset("recording", data=split.recording.astype(str).tolist(), dtype=h5py.string_dtype())
        handle.create_dataset("clip_start", data=split.clip_start)
        for key, value in split.attrs.items():
            handle.attrs[key] = value
    return path


def read_split(path: str | os.PathLike, dtype: Any = None) -> EmbeddingSplit:
    """Read a split file into memory; ``dtype`` converts the embeddings (e.g. float32).

    Raises ``FileNotFoundError`` / ``KeyError`` naming the file and the missing dataset,
    and ``ValueError`` naming the first clip with a non-finite embedding.
    """
    import h5py

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no embedding file at {path}")
    with h5py.File(path, "r") as handle:
        for key in ("embeddings", "labels", "class_list", "recording", "clip_start"):
            if key not in handle:
                raise KeyError(f"{path}: dataset {key!r} is missing")
        if "n_done" in handle.attrs and int(handle.attrs["n_done"]) < len(handle["embeddings"]):
            raise ValueError(
                f"{path}: extraction is unfinished ({int(handle.attrs['n_done'])} of "
                f"{len(handle['embeddings'])} clips); run the extraction again to resume"
            )
        embeddings = handle["embeddings"][()]
        split = EmbeddingSplit(
            embeddings=embeddings if dtype is None else embeddings.astype(dtype),
            labels=handle["labels"][()].astype(np.float32),
            class_names=[c.decode().strip() for c in handle["class_list"][()]],
            recording=np.array([r.decode() if isinstance(r, bytes) else r for r in handle["recording"][()]], dtype=object),
            clip_start=handle["clip_start"][()],
            attrs={k: (v.item() if isinstance(v, np.generic) else v) for k, v in handle.attrs.items()},
        )
    finite = np.isfinite(split.embeddings).reshape(len(split), -1).all(axis=1)
    if not finite.all():
        bad = int(np.flatnonzero(~finite)[0])
        raise ValueError(
            f"{path}: clip {bad} ({split.recording[bad]} at {split.clip_start[bad]:.1f} s) has NaN/inf embeddings"
        )
    return split
