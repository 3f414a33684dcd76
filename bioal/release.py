"""The paper's released models (method §6.7): download, safe unpack, safe load, the CSV again.

The authors published their trained models as Zenodo record :data:`RELEASE_RECORD`
(``best_encoder.pth`` and ``models.zip``). Inside the zip, under a top folder that is not
recorded, ``al_train/exp_<e>/<method>_with_<k>_pos_init/<budget>.pth`` holds one AL run's
checkpoint per budget and ``al_train_full/exp_<e>.pth`` the full-supervision runs. Each
checkpoint is a dict (:data:`CHECKPOINT_KEYS`): ``anno_idx`` numpy bool ``[N_train]``,
``model`` the classifier state_dict, ``valid_cmap``/``valid_f1``/``test_cmap``/``test_f1``
float tensors ``[C]`` (fractions, AL class order), ``thres`` a float.

- :func:`download_release` fetches the record through :mod:`bioal.download` and unpacks it
  with :func:`unpack_zip` (no absolute paths, ``..`` or links; a zip-bomb guard on the declared
  sizes; an interrupted unpack is finished, a finished one is recorded with the zip's
  fingerprint); :func:`locate_release` finds ``al_train/`` and ``al_train_full/``.
- :func:`load_checkpoint` reads a checkpoint with ``torch.load(weights_only=True)`` and the
  minimal numpy allowlist :data:`NUMPY_ALLOWLIST`, never unpickling anything else, and checks
  keys, shapes (:class:`ReleaseShapes`), NaNs and the class count.
- :func:`scan_release` parses the paths (:func:`parse_release_path`) and refuses an
  incomplete grid; :func:`release_tidy` / :func:`release_results` rebuild the tidy table and
  the paper's 43-column ``al_results.csv`` with :func:`bioal.results.paper_layout`;
  :func:`compare_layouts` compares two such tables cell by cell.
- :func:`check_clip_order` tests whether ``anno_idx`` indexes this project's pool order.
- :func:`rescore_release` runs every stored classifier on given valid/test embeddings and
  recomputes its scores at the stored threshold, resumable per run.
- :func:`write_standin_release` writes a release in the same layout and formats from this
  project's run records (the demo book's stand-in); :func:`make_release_record` describes it
  as a Zenodo record for the download path.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import pickle
import re
import shutil
import stat
import warnings
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any, Literal

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from bioal import records
from bioal.classifier import ClassifierConfig, FeatureScaler, MLPClassifier, predict_probs
from bioal.config import PAPER_DATA_ROOT, PAPER_RESULTS_DIR, Config
from bioal.dcase import AL_CLASSES, PAPER_POOL_SIZE
from bioal.download import ZENODO_API, download_zenodo_record, md5sum, write_zenodo_record
from bioal.embeddings import EmbeddingSplit, embeddings_dir, read_split, split_file
from bioal.encoder import BASE_CHANNELS, ENCODER_FILE, encoder_dir
from bioal.experiment import ExperimentConfig
from bioal.metrics import class_average_precision, f1_per_class
from bioal.paper import PAPER_METHODS, PAPER_RUNS, from_paper_method, paper_results, to_paper_method
from bioal.results import (
    PAPER_METRIC,
    TIDY_COLUMNS,
    check_same_embeddings,
    paper_layout,
    pool_totals,
    round_rows,
    tidy_table,
)
from bioal.utils import atomic_path, pick_device, read_json, resolve_path, write_json

__all__ = [
    "describe_checkpoint",
    "pool_clip_order",
    "rescore_summary",
    "OpenedRelease",
    "open_release",
    "reference_layout",
    "rescore_from_embeddings",
    "RELEASE_RECORD",
    "RELEASE_FILES",
    "CHECKPOINT_KEYS",
    "METRIC_KEYS",
    "NUMPY_ALLOWLIST",
    "MAX_UNPACKED_BYTES",
    "MAX_RATIO",
    "ReleaseError",
    "UnsafeCheckpointError",
    "ReleaseConfig",
    "ReleaseShapes",
    "PAPER_SHAPES",
    "ReleaseTree",
    "zip_fingerprint",
    "unpack_zip",
    "locate_release",
    "unpack_release",
    "download_release",
    "load_checkpoint",
    "parse_release_path",
    "scan_release",
    "release_tidy",
    "release_results",
    "release_layout",
    "NO_COUNTS",
    "runs_shapes",
    "LayoutComparison",
    "compare_layouts",
    "ClipOrderCheck",
    "check_clip_order",
    "last_checkpoints",
    "rescore_release",
    "write_standin_release",
    "make_release_record",
]

#: Zenodo record of the authors' released models.
RELEASE_RECORD = 15539967
#: The record's files.
RELEASE_FILES: tuple[str, ...] = ("best_encoder.pth", "models.zip")
#: The per-class score tensors of a checkpoint (the paper's names of bioal.results.SCORES).
METRIC_KEYS: tuple[str, ...] = tuple(PAPER_METRIC.values())
#: Keys of every AL or full-supervision checkpoint.
CHECKPOINT_KEYS: tuple[str, ...] = ("anno_idx", "model", *METRIC_KEYS, "thres")

#: What unpickling a numpy bool array needs, and nothing more: the array rebuilder (under its
#: numpy >= 2 name and the numpy 1 name the authors' files may carry), ndarray, dtype and the
#: bool dtype's class.
NUMPY_ALLOWLIST: tuple[Any, ...] = (
    np._core.multiarray._reconstruct,
    (np._core.multiarray._reconstruct, "numpy.core.multiarray._reconstruct"),
    np.ndarray,
    np.dtype,
    np.dtypes.BoolDType,
)
#: Zip-bomb guard: the most bytes an archive may declare in all, and the largest
#: declared/compressed ratio of a member over 1 MiB (model weights barely compress).
MAX_UNPACKED_BYTES = 64 << 30
MAX_RATIO = 200
_RATIO_FLOOR = 1 << 20
_UNPACKED = ".bioal-unpacked.json"
_UNPACKING = ".bioal-unpacking.json"
_AL_PATH = re.compile(r"^al_train/exp_(\d+)/([A-Za-z0-9]+)_with_(\d+)_pos_init/(\d+)\.pth$")
_FULL_PATH = re.compile(r"^al_train_full/exp_(\d+)\.pth$")
_UNSUPPORTED = re.compile(r"(?:[Uu]nsupported (?:global: )?GLOBAL |but got <class ')([\w.]+)")
_SCAN_COLUMNS = ["kind", "exp", "method", "strategy", "init_pos", "start", "budget", "relpath", "path"]


class ReleaseError(ValueError):
    """A release file or folder is malformed, incomplete or unsafe (the message names it)."""


class UnsafeCheckpointError(ReleaseError):
    """A checkpoint needs a pickle global outside the allowlist; it was not loaded."""


@dataclasses.dataclass(frozen=True)
class ReleaseConfig(Config):
    """Parameters of notebook 07: the run records, the data, and where the release goes."""

    preset: str = "paper"
    results_dir: str = PAPER_RESULTS_DIR
    data_root: str = PAPER_DATA_ROOT
    device: str = "auto"
    rescore: Literal["last", "all"] = "last"  # each run's largest budget and the full runs, or every checkpoint

    @property
    def release_dir(self) -> Path:
        """``RESULTS_DIR/release``: the downloaded (or stand-in) record and its unpacked tree."""
        return resolve_path(self.results_dir) / "release"


@dataclasses.dataclass(frozen=True)
class ReleaseShapes:
    """Sizes a release's checkpoints must have; the paper's by default.

    ``in_dim``: embedding size D (Cnn14's last block), ``hidden``: the classifier's hidden
    size, ``n_classes``: AL classes, ``pool_size``: clips in the AL train pool (``anno_idx``).
    """

    in_dim: int = BASE_CHANNELS[-1]
    hidden: int = ClassifierConfig().hidden
    n_classes: int = len(AL_CLASSES)
    pool_size: int = PAPER_POOL_SIZE

    def state_shapes(self) -> dict[str, tuple[int, ...]]:
        """The classifier state_dict's keys and shapes (:class:`bioal.classifier.MLPClassifier`)."""
        return {
            "fc1.weight": (self.hidden, self.in_dim),
            "fc1.bias": (self.hidden,),
            "fc2.weight": (self.n_classes, self.hidden),
            "fc2.bias": (self.n_classes,),
        }


#: The paper's shapes: fc1.weight [1024, 2048], fc2.weight [7, 1024], anno_idx [21414].
PAPER_SHAPES = ReleaseShapes()


@dataclasses.dataclass(frozen=True)
class ReleaseTree:
    """An unpacked release: the folder holding ``al_train/`` and ``al_train_full/``, and the
    encoder file (``best_encoder.pth`` beside the zip, None when absent)."""

    al_train: Path
    al_train_full: Path
    encoder: Path | None = None

    @property
    def root(self) -> Path:
        return self.al_train.parent


# --------------------------------------------------------------------------- unpacking


def zip_fingerprint(path: str | os.PathLike) -> str:
    """sha256 of a zip's size and its members' (name, CRC-32, size): a cheap content fingerprint."""
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as archive:
            members = sorted((i.filename, i.CRC, i.file_size) for i in archive.infolist())
    except zipfile.BadZipFile as err:
        raise ReleaseError(f"{path}: not a readable zip archive ({err})") from err
    text = json.dumps([path.stat().st_size, members])
    return hashlib.sha256(text.encode()).hexdigest()


def _member_path(info: zipfile.ZipInfo, zip_path: Path) -> PurePosixPath:
    """The member's relative path, or a :class:`ReleaseError` for anything unsafe."""
    name = info.filename
    where = f"{zip_path}: member {name!r}"
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        raise ReleaseError(f"{where} has an absolute path; refusing to unpack")
    if "\\" in name:
        raise ReleaseError(f"{where} uses backslashes; refusing to unpack")
    parts = PurePosixPath(name).parts
    if ".." in parts:
        raise ReleaseError(f"{where} climbs out of the target folder ('..'); refusing to unpack")
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        raise ReleaseError(f"{where} is a symbolic link; refusing to unpack")
    if stat.S_IFMT(mode) not in (0, stat.S_IFREG, stat.S_IFDIR):  # 0: no Unix file type recorded
        raise ReleaseError(f"{where} is not a regular file or folder (mode {oct(mode)}); refusing to unpack")
    if not parts:
        raise ReleaseError(f"{where} has an empty path")
    return PurePosixPath(*parts)


def _check_members(
    infos: Sequence[zipfile.ZipInfo], zip_path: Path, max_total: int, max_ratio: float
) -> list[PurePosixPath]:
    paths = [_member_path(i, zip_path) for i in infos]
    seen: set[PurePosixPath] = set()
    for info, rel in zip(infos, paths, strict=True):
        if rel in seen and not info.is_dir():
            raise ReleaseError(f"{zip_path}: member {info.filename!r} appears twice")
        seen.add(rel)
        if info.file_size >= _RATIO_FLOOR and info.file_size > max_ratio * max(info.compress_size, 1):
            raise ReleaseError(
                f"{zip_path}: member {info.filename!r} declares {info.file_size} bytes from {info.compress_size} "
                f"compressed (ratio over {max_ratio}); refusing a possible zip bomb"
            )
    total = sum(i.file_size for i in infos)
    if total > max_total:
        raise ReleaseError(
            f"{zip_path}: declares {total} unpacked bytes, over the limit of {max_total}; refusing a possible zip bomb"
        )
    return paths


def unpack_zip(
    zip_path: str | os.PathLike,
    dest: str | os.PathLike,
    progress: bool = True,
    max_total: int = MAX_UNPACKED_BYTES,
    max_ratio: float = MAX_RATIO,
) -> Path:
    """Unpack ``zip_path`` into ``dest`` safely and resumably; return ``dest``.

    Every member is checked before anything is written: absolute paths, ``..``, links and
    special files are refused, and so are archives declaring more than ``max_total`` bytes
    or a member over 1 MiB with a compression ratio above ``max_ratio``. Each file is written
    atomically, never past its declared size. An interrupted unpack (``dest/.bioal-unpacking.json``)
    is finished: files already in place with their declared size are kept. A finished unpack
    is recorded in ``dest/.bioal-unpacked.json`` with :func:`zip_fingerprint`; running again
    on the same zip does nothing, on another zip is refused.
    """
    zip_path, dest = Path(zip_path), Path(dest)
    fingerprint = zip_fingerprint(zip_path)
    done, journal = dest / _UNPACKED, dest / _UNPACKING
    for marker, what in ((done, "a finished unpack"), (journal, "an interrupted unpack")):
        if marker.is_file():
            previous = read_json(marker)
            if previous.get("fingerprint") != fingerprint:
                raise ReleaseError(
                    f"{dest} holds {what} of another archive ({previous.get('zip')}, fingerprint "
                    f"{str(previous.get('fingerprint'))[:12]}) than {zip_path} ({fingerprint[:12]}); "
                    "delete the folder or unpack elsewhere"
                )
            if marker == done:
                return dest
    with zipfile.ZipFile(zip_path) as archive:
        infos = archive.infolist()
        paths = _check_members(infos, zip_path, max_total, max_ratio)
        dest.mkdir(parents=True, exist_ok=True)
        write_json(journal, {"zip": zip_path.name, "fingerprint": fingerprint})
        root = dest.resolve()
        bar = tqdm(total=sum(i.file_size for i in infos), unit="B", unit_scale=True, desc=f"unpacking {zip_path.name}",
                   disable=not progress)
        with bar:
            for info, rel in zip(infos, paths, strict=True):
                target = dest / rel
                if not target.resolve().is_relative_to(root):
                    raise ReleaseError(f"{zip_path}: member {info.filename!r} would land outside {dest}")
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                if target.is_file() and target.stat().st_size == info.file_size:
                    bar.update(info.file_size)  # written whole before the interruption (atomic rename)
                    continue
                _extract(archive, info, target, zip_path)
                bar.update(info.file_size)
    write_json(done, {"zip": zip_path.name, "fingerprint": fingerprint, "members": len(infos)})
    journal.unlink()
    return dest


def _extract(archive: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, zip_path: Path) -> None:
    written = 0
    with archive.open(info) as source, atomic_path(target) as tmp, open(tmp, "wb") as handle:
        while block := source.read(1 << 20):
            written += len(block)
            if written > info.file_size:
                raise ReleaseError(f"{zip_path}: member {info.filename!r} holds more than its declared {info.file_size} bytes")
            handle.write(block)
    if written != info.file_size:
        raise ReleaseError(f"{zip_path}: member {info.filename!r} holds {written} bytes, declared {info.file_size}")


def _find_folder(root: Path, name: str) -> Path:
    found = sorted(p for p in root.rglob(name) if p.is_dir() and "__MACOSX" not in p.parts)
    if len(found) != 1:
        raise ReleaseError(f"{root}: expected one folder named {name!r} inside, found {[str(p) for p in found]}")
    return found[0]


def locate_release(root: str | os.PathLike, encoder: str | os.PathLike | None = None) -> ReleaseTree:
    """Find ``al_train/`` and ``al_train_full/`` anywhere under ``root`` (``__MACOSX`` ignored)."""
    root = Path(root)
    encoder_path = Path(encoder) if encoder is not None else None
    return ReleaseTree(
        _find_folder(root, "al_train"),
        _find_folder(root, "al_train_full"),
        encoder_path if encoder_path is not None and encoder_path.is_file() else None,
    )


def unpack_release(folder: str | os.PathLike, progress: bool = True) -> ReleaseTree:
    """Unpack ``folder/models.zip`` into ``folder/unpacked`` (:func:`unpack_zip`) and locate it."""
    folder = Path(folder)
    archive = folder / "models.zip"
    if not archive.is_file():
        raise FileNotFoundError(f"{archive}: no models.zip to unpack (download_release fetches it)")
    unpacked = unpack_zip(archive, folder / "unpacked", progress=progress)
    return locate_release(unpacked, folder / "best_encoder.pth")


def download_release(
    dest: str | os.PathLike, progress: bool = True, api_base: str = ZENODO_API, record: int = RELEASE_RECORD
) -> ReleaseTree:
    """Download the release's files into ``dest`` (md5-checked, resumable), unpack, locate."""
    download_zenodo_record(record, dest, names=RELEASE_FILES, api_base=api_base, progress=progress)
    return unpack_release(dest, progress=progress)


# --------------------------------------------------------------------------- safe loading


def _torch_load(path: Path) -> Any:
    try:
        with torch.serialization.safe_globals(list(NUMPY_ALLOWLIST)):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        match = _UNSUPPORTED.search(str(err))
        if match is None:
            lines = [line for line in str(err).splitlines() if "error" in line.lower()] or str(err).splitlines()
            raise ReleaseError(f"{path}: refused by the restricted unpickler ({lines[-1][:300]})") from None
        raise UnsafeCheckpointError(
            f"{path}: refused: it needs the pickle global {match[1]}, which is not on the allowlist "
            "(numpy's array rebuilder, ndarray, dtype, BoolDType); the file was not unpickled"
        ) from None
    except (RuntimeError, EOFError, OSError, ValueError, zipfile.BadZipFile) as err:
        raise ReleaseError(f"{path}: truncated or not a torch checkpoint ({type(err).__name__}: {err})") from None


def _finite_tensor(value: Any, path: Path, key: str, shape: tuple[int, ...]) -> torch.Tensor:
    if not isinstance(value, torch.Tensor) or not value.is_floating_point():
        raise ReleaseError(f"{path}: {key!r} must be a float tensor, got {type(value).__name__}")
    if tuple(value.shape) != shape:
        raise ReleaseError(f"{path}: {key!r} has shape {list(value.shape)}, expected {list(shape)}")
    if not bool(torch.isfinite(value).all()):
        raise ReleaseError(f"{path}: {key!r} holds NaN or infinite values")
    return value


def load_checkpoint(path: str | os.PathLike, shapes: ReleaseShapes | None = PAPER_SHAPES) -> dict[str, Any]:
    """Read one AL or full-supervision checkpoint without executing any pickle code.

    ``torch.load(weights_only=True)`` with :data:`NUMPY_ALLOWLIST` in a
    ``torch.serialization.safe_globals`` context; a file needing any other global raises
    :class:`UnsafeCheckpointError` naming it, a truncated file :class:`ReleaseError`. Checked:
    the keys of :data:`CHECKPOINT_KEYS`; ``anno_idx`` bool ``[pool_size]``; ``model`` with the
    keys and shapes of ``shapes.state_shapes()``, finite; the scores float ``[n_classes]`` in
    0..1; ``thres`` a number in 0..1. ``shapes`` None skips the size checks. Returns the dict.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such checkpoint")
    data = _torch_load(path)
    if not isinstance(data, Mapping):
        raise ReleaseError(f"{path}: holds a {type(data).__name__}, expected a dict with keys {list(CHECKPOINT_KEYS)}")
    missing = [k for k in CHECKPOINT_KEYS if k not in data]
    if missing:
        raise ReleaseError(f"{path}: missing keys {missing}")
    anno = data["anno_idx"]
    if not isinstance(anno, np.ndarray) or anno.dtype != np.bool_ or anno.ndim != 1:
        raise ReleaseError(f"{path}: 'anno_idx' must be a 1-d numpy bool array, got {type(anno).__name__} "
                           f"{getattr(anno, 'dtype', '')} {list(getattr(anno, 'shape', []))}")
    if shapes is not None and anno.shape != (shapes.pool_size,):
        raise ReleaseError(f"{path}: 'anno_idx' has {anno.shape[0]} entries, expected the pool's {shapes.pool_size}")
    model = data["model"]
    if not isinstance(model, Mapping):
        raise ReleaseError(f"{path}: 'model' must be a state_dict, got {type(model).__name__}")
    expected = shapes.state_shapes() if shapes is not None else {k: tuple(v.shape) for k, v in model.items()}
    if sorted(model) != sorted(expected):
        raise ReleaseError(f"{path}: 'model' has keys {sorted(model)}, expected {sorted(expected)}")
    for key, shape in expected.items():
        _finite_tensor(model[key], path, f"model.{key}", shape)
    n_classes = shapes.n_classes if shapes is not None else int(model["fc2.bias"].shape[0])
    for key in METRIC_KEYS:
        value = _finite_tensor(data[key], path, key, (n_classes,))
        if bool(((value < 0) | (value > 1)).any()):
            raise ReleaseError(f"{path}: {key!r} must hold fractions 0..1, got {value.tolist()}")
    thres = data["thres"]
    if isinstance(thres, torch.Tensor) and thres.numel() == 1:
        thres = float(thres)
    if not isinstance(thres, (int, float)) or not 0 <= float(thres) <= 1:
        raise ReleaseError(f"{path}: 'thres' must be a number in 0..1, got {thres!r}")
    return {**data, "thres": float(thres)}


# --------------------------------------------------------------------------- paths and the grid


def parse_release_path(relpath: str) -> dict[str, Any]:
    """Run identity from a path relative to the release root (the folder holding ``al_train/``).

    ``al_train/exp_2/mfft_with_5_pos_init/150.pth`` -> kind ``al``, exp 2, method ``mfft``,
    strategy ``mfft``, init_pos 5, start ``warm``, budget 150; ``al_train_full/exp_3.pth`` ->
    kind ``full``, exp 3, method/strategy/start ``full``, init_pos 0, budget None. Any other
    path, or a method that is not one of the paper's, raises :class:`ReleaseError`.
    """
    text = PurePosixPath(relpath).as_posix()
    if match := _AL_PATH.match(text):
        exp, method, init_pos, budget = int(match[1]), match[2], int(match[3]), int(match[4])
        if method not in PAPER_METHODS.values():
            raise ReleaseError(f"{relpath}: sampling method {method!r} is not one of {sorted(PAPER_METHODS.values())}")
        return {"kind": "al", "exp": exp, "method": method, "strategy": from_paper_method(method),
                "init_pos": init_pos, "start": records.start_name(False, init_pos), "budget": budget}
    if match := _FULL_PATH.match(text):
        return {"kind": "full", "exp": int(match[1]), "method": "full", "strategy": "full", "init_pos": 0,
                "start": "full", "budget": None}
    raise ReleaseError(
        f"{relpath}: not a release checkpoint path (al_train/exp_<e>/<method>_with_<k>_pos_init/<budget>.pth "
        "or al_train_full/exp_<e>.pth)"
    )


def _run_folder(exp: int, method: str, init_pos: int) -> str:
    return f"al_train/exp_{exp}/{method}_with_{init_pos}_pos_init"


def scan_release(tree: ReleaseTree | str | os.PathLike, runs: int | None = None) -> pd.DataFrame:
    """Every checkpoint of a release, one row each (columns ``kind, exp, method, strategy,
    init_pos, start, budget, relpath, path``), AL rows in the paper's CSV row order then the
    full runs.

    ``tree``: a :class:`ReleaseTree` or the folder holding ``al_train/``. The grid must be
    complete: runs ``exp_1..exp_<runs>`` (default: up to the largest found), every one with
    the four methods at every start found, every budget found, and ``al_train_full/exp_<e>.pth``
    for each run; anything missing, and any file that is not a checkpoint, raises
    :class:`ReleaseError` naming it, so a table is never built from fewer runs. Hidden files
    (``.DS_Store``, ``._*``) are left out with a warning that lists them.
    """
    if not isinstance(tree, ReleaseTree):
        root = Path(tree)
        tree = ReleaseTree(root / "al_train", root / "al_train_full")
    root = tree.root
    for folder in (tree.al_train, tree.al_train_full):
        if not folder.is_dir():
            raise ReleaseError(f"{folder}: missing release folder")
    rows, hidden = [], []
    for folder in (tree.al_train, tree.al_train_full):
        for path in sorted(p for p in folder.rglob("*") if not p.is_dir()):
            rel = path.relative_to(root).as_posix()
            if path.name.startswith("."):  # .DS_Store, ._* AppleDouble: operating-system files, not runs
                hidden.append(rel)
                continue
            rows.append({**parse_release_path(rel), "relpath": rel, "path": path})
    if hidden:
        warnings.warn(f"{root}: ignoring {len(hidden)} hidden file(s) that are not checkpoints: {hidden[:5]}",
                      stacklevel=2)
    table = pd.DataFrame(rows, columns=_SCAN_COLUMNS).astype({"budget": "Int64"})
    al, full = table[table.kind == "al"], table[table.kind == "full"]
    if al.empty:
        raise ReleaseError(f"{tree.al_train}: holds no checkpoints")
    last = int(table.exp.max()) if runs is None else int(runs)
    exps = range(1, last + 1)
    extra = sorted(set(table.exp) - set(exps))
    if extra:
        raise ReleaseError(f"{root}: runs {[f'exp_{e}' for e in extra]} beyond the expected exp_1..exp_{last}")
    starts = sorted(int(k) for k in set(al.init_pos))
    budgets = sorted(int(b) for b in set(al.budget))
    have = set(zip(al.exp, al.method, al.init_pos, al.budget, strict=True))
    for exp in exps:
        if not (tree.al_train / f"exp_{exp}").is_dir():
            raise ReleaseError(f"{tree.al_train / f'exp_{exp}'}: missing run folder (expected exp_1..exp_{last})")
        for method in sorted(PAPER_METHODS.values()):
            for init_pos in starts:
                folder = root / _run_folder(exp, method, init_pos)
                if not folder.is_dir():
                    raise ReleaseError(f"{folder}: missing run folder")
                lacking = [b for b in budgets if (exp, method, init_pos, b) not in have]
                if lacking:
                    raise ReleaseError(f"{folder}: missing checkpoints for budgets {lacking}")
        if exp not in set(full.exp):
            raise ReleaseError(f"{tree.al_train_full / f'exp_{exp}.pth'}: missing full-supervision run")
    order = {m: i for i, m in enumerate(sorted(PAPER_METHODS.values(), reverse=True))}
    al = al.assign(_m=al.method.map(order)).sort_values(["init_pos", "_m", "budget", "exp"]).drop(columns="_m")
    full = full.sort_values("exp")
    return pd.concat([al, full], ignore_index=True)


def _clip_tags(train_labels: Any, pool_size: int | None, source: str = "train_labels") -> np.ndarray:
    labels = np.asarray(train_labels)
    if labels.ndim != 3:
        raise ValueError(f"{source}: expected frame labels [N, T, C], got shape {list(labels.shape)}")
    if pool_size is not None and len(labels) != pool_size:
        raise ValueError(f"{source}: {len(labels)} clips, but the checkpoints' anno_idx has {pool_size}")
    return labels.max(axis=1) > 0.5


def release_tidy(
    scan: pd.DataFrame,
    train_labels: Any = None,
    shapes: ReleaseShapes | None = PAPER_SHAPES,
    class_names: Sequence[str] = AL_CLASSES,
    progress: bool = True,
) -> pd.DataFrame:
    """The tidy table of :func:`bioal.results.tidy_table` from a release's checkpoints.

    One row per checkpoint x class x metric; ``seed`` is the run's exp id, ``round`` the
    budget's index. Scores are the stored fractions (the class mean, ``class == "all"``, is
    taken in the tensor's dtype, as the release does); ``count``/``negative``/``rare_count``
    apply ``anno_idx`` to the clip tags of ``train_labels [N, T, C]``, and are NaN without them.
    """
    if len(class_names) != (shapes.n_classes if shapes is not None else len(class_names)):
        raise ValueError(f"{len(class_names)} class names for {shapes.n_classes} classes")
    tags = None if train_labels is None else _clip_tags(train_labels, shapes.pool_size if shapes else None)
    budgets = sorted(int(b) for b in scan.budget.dropna().unique())
    rows = []
    names = list(class_names)
    for item in tqdm(list(scan.itertuples()), desc="reading checkpoints", disable=not progress):
        data = load_checkpoint(item.path, shapes)
        anno = data["anno_idx"]
        if tags is not None and len(tags) != len(anno):
            raise ValueError(f"{item.path}: anno_idx has {len(anno)} entries, train_labels {len(tags)} clips")
        full = item.kind == "full"
        n = int(len(anno) if full else item.budget)
        base = {"run": f"{item.method}_with_{item.init_pos}_pos_init/exp_{item.exp}" if not full else f"full/exp_{item.exp}",
                "strategy": item.strategy, "start": item.start, "init_pos": int(item.init_pos), "seed": int(item.exp),
                "round": 0 if full else budgets.index(n), "n_labelled": n}
        scores = {key: data[paper] for key, paper in PAPER_METRIC.items()}
        counts = tags[anno].sum(axis=0).astype(float) if tags is not None else np.full(len(names), np.nan)
        rows += round_rows(base, names, scores, counts, data["thres"])
    return pd.DataFrame(rows, columns=list(TIDY_COLUMNS))


#: Why the count columns are empty when no pool labels are given.
NO_COUNTS = ("the class-count columns are empty: they need the AL train pool's frame labels (train_labels), "
             "in the clip order the checkpoints' anno_idx indexes")


def release_results(
    models_dir: ReleaseTree | str | os.PathLike,
    train_labels: Any = None,
    runs: int | None = None,
    shapes: ReleaseShapes | None = PAPER_SHAPES,
    progress: bool = True,
) -> pd.DataFrame:
    """The paper's ``al_results.csv`` (43 columns, its row order) from a release's checkpoints.

    Built by :func:`bioal.results.paper_layout` from :func:`release_tidy`: per run the four
    scores as 100 x class mean rounded to 2 decimals, mean and pandas' std (ddof 1) over the
    runs; ``full_*`` mean and population std over ``al_train_full``. Counts come from
    ``train_labels [N, T, C]``; without them the count and ``Total_*`` columns are NaN and
    ``table.attrs["counts"]`` says why (:data:`NO_COUNTS`).
    """
    scan = scan_release(models_dir, runs)
    return release_layout(release_tidy(scan, train_labels, shapes, progress=progress), train_labels)


def release_layout(tidy: pd.DataFrame, train_labels: Any = None) -> pd.DataFrame:
    """The paper-layout table of a :func:`release_tidy` table (see :func:`release_results`)."""
    names = list(AL_CLASSES)
    if train_labels is None:
        totals, pool_size = pd.Series(np.nan, index=names), None
    else:
        tags = _clip_tags(train_labels, None)
        totals, pool_size = pd.Series(tags.sum(axis=0).astype(np.int64), index=names), len(tags)
    table = paper_layout(tidy, totals, pool_size)
    table.attrs["counts"] = NO_COUNTS if train_labels is None else "from the given train_labels"
    return table


def runs_shapes(results_dir: str | os.PathLike, data_root: str | os.PathLike | None = None) -> ReleaseShapes:
    """The checkpoint shapes of a stand-in made from ``RESULTS_DIR``'s runs: the runs'
    classifier hidden size, and D, classes and pool size of ``DATA_ROOT/embeddings/train.h5``
    (``data_root`` defaults to the one the first run recorded)."""
    folders = records.run_folders(results_dir)
    if not folders:
        raise FileNotFoundError(f"no run records under {records.runs_dir(results_dir)}")
    config = ExperimentConfig.from_dict(records.load_run(folders[0]).config)
    path = split_file(embeddings_dir(data_root if data_root is not None else config.data_root), "train")
    train = read_split(path, dtype=np.float32)
    n, _, dim = train.embeddings.shape
    return ReleaseShapes(in_dim=int(dim), hidden=config.classifier.hidden, n_classes=train.n_classes, pool_size=int(n))


# --------------------------------------------------------------------------- comparing tables


@dataclasses.dataclass
class LayoutComparison:
    """Two paper-layout tables compared cell by cell (to the cent)."""

    rows: int
    columns: list[str]
    differences: pd.DataFrame

    @property
    def equal(self) -> bool:
        return self.differences.empty

    def summary(self) -> str:
        cells = f"{self.rows} x {len(self.columns)} cells"
        if self.equal:
            return f"{cells} equal"
        return f"{cells}: {len(self.differences)} differ"


def compare_layouts(ours: pd.DataFrame, theirs: pd.DataFrame, columns: Iterable[str] | None = None) -> LayoutComparison:
    """Compare two paper-layout tables cell by cell after rounding to 2 decimals (NaN equals NaN).

    ``columns``: default every column but the three keys, leaving out columns that are NaN
    throughout ``ours`` (counts not computed). The key columns must agree row by row.
    """
    keys = ["sampling_method", "pos_init_num", "num_annotated_samples"]
    a, b = ours.reset_index(drop=True), theirs.reset_index(drop=True)
    if len(a) != len(b) or not a[keys].astype(str).equals(b[keys].astype(str)):
        ka = set(map(tuple, a[keys].astype(str).to_numpy()))
        kb = set(map(tuple, b[keys].astype(str).to_numpy()))
        raise ValueError(f"the tables' rows differ: only in ours {sorted(ka - kb)[:5]}, only in theirs {sorted(kb - ka)[:5]}"
                         if ka != kb else "the tables hold the same rows in a different order")
    if columns is None:
        columns = [c for c in a.columns if c not in keys and not a[c].isna().all()]
    columns = list(columns)
    lacking = [c for c in columns if c not in a.columns or c not in b.columns]
    if lacking:
        raise KeyError(f"columns {lacking} are missing from one of the tables")
    rows = []
    for column in columns:
        x = a[column].astype(float).round(2).to_numpy()
        y = b[column].astype(float).round(2).to_numpy()
        same = np.isclose(x, y, rtol=0, atol=1e-9) | (np.isnan(x) & np.isnan(y))
        for i in np.flatnonzero(~same):
            rows.append({**{k: a.at[i, k] for k in keys}, "column": column, "ours": x[i], "theirs": y[i]})
    return LayoutComparison(len(a), columns, pd.DataFrame(rows, columns=[*keys, "column", "ours", "theirs"]))


def describe_checkpoint(checkpoint: Mapping[str, Any]) -> pd.DataFrame:
    """One row per key of a loaded checkpoint: ``key``, ``type``, and the shape of an array or
    tensor, the shapes of a state_dict's tensors, or the value itself."""
    def shown(value: Any) -> Any:
        if hasattr(value, "shape"):
            return list(value.shape)
        if isinstance(value, Mapping):
            return {name: list(t.shape) for name, t in value.items()}
        return value

    return pd.DataFrame([{"key": k, "type": type(v).__name__, "shape / value": shown(v)} for k, v in checkpoint.items()])



# --------------------------------------------------------------------------- clip order


@dataclasses.dataclass
class ClipOrderCheck:
    """Whether ``anno_idx`` indexes this pool's clip order: the verdict and its evidence."""

    agrees: bool | None
    verdict: str
    evidence: pd.DataFrame


def check_clip_order(
    scan: pd.DataFrame, train_labels: Any, shapes: ReleaseShapes | None = PAPER_SHAPES,
    class_names: Sequence[str] = AL_CLASSES, progress: bool = True,
) -> ClipOrderCheck:
    """Test ``anno_idx`` against the pool's clip tags with the warm start (method §4.5).

    A warm-start run labels ``init_pos`` positive clips of every class before anything else,
    so at its first budget ``anno_idx`` must select at least ``min(init_pos, positives of
    the class)`` positives of each class when it indexes this pool's order. Evidence: one row
    per warm run (exp, method, init_pos, budget, labelled clips, positives found per class,
    the least required, whether it holds) and, per class, what an unrelated order would give
    on average. ``agrees`` is None when there is no warm run to judge by.
    """
    tags = _clip_tags(train_labels, shapes.pool_size if shapes else None)
    names = list(class_names)
    first = scan[(scan.kind == "al") & (scan.init_pos > 0)]
    first = first[first.budget == first.budget.min()] if len(first) else first
    totals = tags.sum(axis=0)
    rows = []
    for item in tqdm(list(first.itertuples()), desc="clip order", disable=not progress):
        anno = load_checkpoint(item.path, shapes)["anno_idx"]
        found = tags[anno].sum(axis=0)
        need = np.minimum(int(item.init_pos), totals)
        rows.append({"exp": item.exp, "method": item.method, "init_pos": item.init_pos, "budget": item.budget,
                     "labelled": int(anno.sum()), **{c: int(v) for c, v in zip(names, found, strict=True)},
                     "least required": int(need.min()), "holds": bool((found >= need).all())})
    evidence = pd.DataFrame(rows)
    if evidence.empty:
        return ClipOrderCheck(None, "cannot be judged: the release has no warm-start run", evidence)
    budget = int(first.budget.iloc[0])
    chance = budget * totals / len(tags)
    rarest = int(np.argmin(totals))
    held = int(evidence.holds.sum())
    detail = (f"in {held} of {len(evidence)} warm-start runs the first {budget} labelled clips hold at least "
              f"{int(first.init_pos.iloc[0])} positives of every class (fewer where a class has fewer); "
              f"an unrelated clip order would give about {chance[rarest]:.2f} clips of the rarest class, "
              f"{names[rarest]}")
    if held == len(evidence):
        return ClipOrderCheck(True, f"anno_idx agrees with this pool's clip order: {detail}.", evidence)
    return ClipOrderCheck(False, f"anno_idx does NOT follow this pool's clip order: {detail}. "
                                 "The count columns computed from this pool are then meaningless.", evidence)


def pool_clip_order(
    scan: pd.DataFrame, train_path: str | os.PathLike, shapes: ReleaseShapes | None = PAPER_SHAPES,
    progress: bool = True,
) -> tuple[ClipOrderCheck, np.ndarray | None]:
    """:func:`check_clip_order` against the AL train pool in ``train_path`` (an embeddings file).

    Returns the check and the pool's frame labels ``[N, 32, C]`` when ``anno_idx`` follows its
    clip order (else None: the count columns cannot be computed). A missing file or a pool of
    another size cannot be judged (``agrees`` None) and the verdict says why.
    """
    train_path = Path(train_path)
    if not train_path.is_file():
        return ClipOrderCheck(None, f"cannot be judged: no pool labels at {train_path}", pd.DataFrame()), None
    pool = read_split(train_path, meta_only=True)
    if shapes is not None and len(pool) != shapes.pool_size:
        return ClipOrderCheck(None, f"cannot be judged: the pool at {train_path} has {len(pool):,} clips, "
                                    f"anno_idx {shapes.pool_size:,}; it is not the release's pool, so its "
                                    "labels cannot give the class counts", pd.DataFrame()), None
    order = check_clip_order(scan, pool.labels, shapes, progress=progress)
    return order, (pool.labels if order.agrees else None)


# --------------------------------------------------------------------------- rescoring


def _split_fingerprint(*splits: EmbeddingSplit) -> str:
    digest = hashlib.sha256()
    for split in splits:
        for array in (split.embeddings, split.labels):
            a = np.ascontiguousarray(array)
            digest.update(f"{a.dtype}{a.shape}".encode())
            for s in range(0, len(a), 1024):
                digest.update(np.ascontiguousarray(a[s : s + 1024]).tobytes())
    return digest.hexdigest()


def _percent(values: np.ndarray | torch.Tensor) -> float:
    return 100.0 * float(values.mean())


def last_checkpoints(scan: pd.DataFrame) -> pd.DataFrame:
    """The rows of :func:`scan_release` for each AL run's largest budget, and the full runs:
    one checkpoint per run (45 for the paper's release)."""
    al = scan[scan.kind == "al"]
    last = al[al.budget == al.budget.max()]
    return pd.concat([last, scan[scan.kind == "full"]], ignore_index=True)


def rescore_summary(rescored: pd.DataFrame) -> pd.DataFrame:
    """Mean and max absolute difference (points) per score of :func:`rescore_release`'s table."""
    diffs = rescored.filter(like=" diff").abs()
    return diffs.agg(["mean", "max"]).T.rename(columns={"mean": "mean |difference| (points)",
                                                        "max": "max |difference| (points)"})


def rescore_release(
    scan: pd.DataFrame,
    valid: EmbeddingSplit,
    test: EmbeddingSplit,
    out_dir: str | os.PathLike,
    shapes: ReleaseShapes | None = PAPER_SHAPES,
    device: str = "auto",
    progress: bool = True,
) -> pd.DataFrame:
    """Run every stored classifier on ``valid``/``test`` embeddings ``[N, T, D]`` and recompute
    its scores at the stored ``thres``; one row per checkpoint with the stored and recomputed
    valid/test cmAP and F1 (percent, class means) and their differences.

    Resumable per run: each result is written atomically to ``out_dir/<relpath>.json`` with
    the checkpoint's md5; ``out_dir/fingerprint.json`` holds a fingerprint of the embeddings
    and labels. A different fingerprint, or a checkpoint whose md5 changed, is refused.
    """
    out_dir = Path(out_dir)
    if valid.embeddings is None or test.embeddings is None:
        raise ValueError("rescoring needs the valid and test embeddings, not metadata-only splits")
    fingerprint = _split_fingerprint(valid, test)
    marker = out_dir / "fingerprint.json"
    if marker.is_file():
        previous = read_json(marker).get("inputs")
        if previous != fingerprint:
            raise ReleaseError(f"{marker}: earlier rescoring used other embeddings or labels ({str(previous)[:12]} "
                               f"!= {fingerprint[:12]}); delete {out_dir} to rescore from scratch")
    else:
        write_json(marker, {"inputs": fingerprint})
    dev = pick_device(device)
    rows = []
    for item in tqdm(list(scan.itertuples()), desc="rescoring", disable=not progress):
        result_path = out_dir / (item.relpath + ".json")
        digest = md5sum(item.path)
        if result_path.is_file():
            result = read_json(result_path)
            if result.get("md5") != digest:
                raise ReleaseError(f"{result_path}: was computed from another version of {item.path}; "
                                   f"delete {out_dir} to rescore from scratch")
        else:
            result = {"md5": digest, **_rescore_one(item.path, valid, test, shapes, dev)}
            write_json(result_path, result)
        rows.append({"exp": item.exp, "method": item.method, "init_pos": item.init_pos,
                     "budget": item.budget, **{k: v for k, v in result.items() if k != "md5"}})
    return pd.DataFrame(rows)


def _rescore_one(path: Path, valid: EmbeddingSplit, test: EmbeddingSplit, shapes: ReleaseShapes | None,
                 device: Any) -> dict[str, float]:
    data = load_checkpoint(path, shapes)
    weight = data["model"]["fc1.weight"]
    n_classes = int(data["model"]["fc2.bias"].shape[0])
    if weight.shape[1] != valid.embeddings.shape[2]:
        raise ValueError(f"{path}: the classifier takes D={weight.shape[1]}, the embeddings have D={valid.embeddings.shape[2]}")
    model = MLPClassifier(n_classes, in_dim=int(weight.shape[1]), hidden=int(weight.shape[0]))
    model.load_state_dict({k: v.float() for k, v in data["model"].items()})
    model.to(device).eval()
    thres = data["thres"]
    out: dict[str, float] = {"thres": thres}
    for name, split in (("valid", valid), ("test", test)):
        probs = predict_probs(model, split.embeddings, device=device)
        scores = {"cmap": class_average_precision(probs, split.labels), "f1": f1_per_class(probs, split.labels, thres)}
        for metric, values in scores.items():
            stored, ours = _percent(data[f"{name}_{metric}"]), _percent(values)
            key = f"{name}_{metric}"
            out[f"{key} stored"], out[f"{key} rescored"], out[f"{key} diff"] = stored, ours, ours - stored
            out[f"{key} max class diff"] = 100.0 * float(np.abs(values - data[key].double().numpy()).max())
    return out


# --------------------------------------------------------------------------- the stand-in release


def _fold_scaler(state: Mapping[str, torch.Tensor], scaler: FeatureScaler) -> dict[str, torch.Tensor]:
    """A classifier on raw embeddings equal to ``state`` on z-scored ones: fc1 absorbs the scaler.

    ``W (x - m) / s + b = (W / s) x + (b - W (m / s))``, computed in float64.
    """
    weight = state["fc1.weight"].double()
    mean = torch.from_numpy(scaler.mean.astype(np.float64))
    std = torch.from_numpy(scaler.std.astype(np.float64))
    folded = dict(state)
    folded["fc1.weight"] = (weight / std).float()
    folded["fc1.bias"] = (state["fc1.bias"].double() - weight @ (mean / std)).float()
    return folded


def _checkpoint(run: records.RunRecord, r: int, scaler: FeatureScaler | None) -> dict[str, Any]:
    record = run.rounds[r]
    saved = records.load_classifier(run.folder, record.n_labelled)
    if int(saved["round"]) != r:
        raise ReleaseError(f"{records.classifier_path(run.folder, record.n_labelled)}: holds round {saved['round']}, "
                           f"expected {r}")
    state = {k: v.detach().float().cpu() for k, v in saved["model"].items()}
    anno = (run.labelled_round >= 0) & (run.labelled_round <= r)
    if int(anno.sum()) != record.n_labelled:
        raise ReleaseError(f"{run.folder}: labelled_round.npy marks {int(anno.sum())} clips by round {r}, "
                           f"the round file {record.n_labelled}")
    return {
        "anno_idx": anno,
        "model": _fold_scaler(state, scaler) if scaler is not None else state,
        **{paper: torch.tensor(getattr(record, key), dtype=torch.float64) for key, paper in PAPER_METRIC.items()},
        "thres": float(record.threshold),
    }


def write_standin_release(
    results_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    data_root: str | os.PathLike | None = None,
    progress: bool = True,
) -> Path:
    """Write a release in the authors' layout and formats from this project's run records.

    ``RESULTS_DIR/runs`` must hold complete AL runs of the paper's four strategies (cold and
    warm) and full-supervision runs, each with its per-round classifiers
    (``classifiers/<n>.pt``). Seeds, sorted, become ``exp_1..``; every round becomes
    ``al_train/exp_<e>/<method>_with_<init_pos>_pos_init/<budget>.pth`` (``anno_idx`` = the
    clips labelled by that round, ``model``, the round's per-class scores as float64 tensors,
    ``thres``), every full run ``al_train_full/exp_<e>.pth``. Runs trained on z-scored
    features get the scaler folded into ``fc1``, so every classifier takes the raw embeddings
    of ``DATA_ROOT/embeddings`` as the authors' take their encoder's. The encoder
    ``DATA_ROOT/models/encoder/best_encoder.pt``, when there is one, becomes
    ``sl/best_encoder.pth`` and ``best_encoder.pth``. Everything is zipped (top folder
    ``models/``) into ``out_dir/models.zip``, written atomically; returns its path.

    Runs made on different embeddings are refused (:func:`bioal.results.check_same_embeddings`,
    as :func:`bioal.results.tidy_table` does). ``out_dir/standin.json`` records a fingerprint of
    the run folders: called again on the same records it returns the existing zip; on changed
    records it writes a new one and deletes ``out_dir/unpacked`` and ``out_dir/rescore``, which
    derive from the old one.
    """
    out_dir = Path(out_dir)
    folders = records.run_folders(results_dir)
    if not folders:
        raise FileNotFoundError(f"no run records under {records.runs_dir(results_dir)}")
    check_same_embeddings(folders)
    archive, manifest = out_dir / "models.zip", out_dir / "standin.json"
    inputs = _folders_fingerprint(folders)
    if archive.is_file() and manifest.is_file() and read_json(manifest).get("inputs") == inputs:
        return archive
    for derived in (out_dir / "unpacked", out_dir / "rescore"):
        if derived.exists():
            shutil.rmtree(derived)
    runs = [records.load_run(f) for f in folders]
    runs = [r for r in runs if r.start == "full" or r.strategy in PAPER_METHODS]
    for run in runs:
        if not run.complete:
            raise ReleaseError(f"{run.folder}: the run is not finished ({len(run.rounds)} of {run.n_budgets} rounds)")
    seeds = sorted({r.seed for r in runs})
    exp = {s: i + 1 for i, s in enumerate(seeds)}
    roots = {str(r.config.get("data_root", "")) for r in runs}
    if data_root is None:
        if len(roots) != 1:
            raise ValueError(f"the runs name several data roots {sorted(roots)}; pass data_root")
        data_root = roots.pop()
    data_root = resolve_path(data_root)
    scaler = None
    if any(r.config.get("standardize_features", False) for r in runs):
        if not all(r.config.get("standardize_features", False) for r in runs):
            raise ReleaseError(f"{results_dir}: some runs z-score their features and some do not")
        train = read_split(split_file(embeddings_dir(data_root), "train"), dtype=np.float32)
        scaler = FeatureScaler.fit(train.embeddings)
    stage = out_dir / "standin"
    if stage.exists():
        shutil.rmtree(stage)
    models = stage / "models"
    for run in tqdm(runs, desc="stand-in release", disable=not progress):
        if run.start == "full":
            target = models / "al_train_full" / f"exp_{exp[run.seed]}.pth"
            with atomic_path(target) as tmp:
                torch.save(_checkpoint(run, 0, scaler), tmp)
            continue
        folder = models / _run_folder(exp[run.seed], to_paper_method(run.strategy), run.init_pos)
        for r, record in enumerate(run.rounds):
            with atomic_path(folder / f"{record.n_labelled}.pth") as tmp:
                torch.save(_checkpoint(run, r, scaler), tmp)
    encoder = encoder_dir(data_root) / ENCODER_FILE
    if encoder.is_file():
        (models / "sl").mkdir(parents=True, exist_ok=True)
        shutil.copyfile(encoder, models / "sl" / "best_encoder.pth")
        with atomic_path(out_dir / "best_encoder.pth") as tmp:
            shutil.copyfile(encoder, tmp)
    with atomic_path(archive) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(stage.rglob("*")):
            if path.is_file():
                info = zipfile.ZipInfo(path.relative_to(stage).as_posix(), date_time=(2025, 5, 28, 0, 0, 0))
                info.external_attr = (stat.S_IFREG | 0o644) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, path.read_bytes())
    shutil.rmtree(stage)
    write_json(manifest, {"results_dir": str(resolve_path(results_dir)), "inputs": inputs})
    return archive


def _folders_fingerprint(folders: Sequence[Path]) -> str:
    """sha256 over the names and bytes of every file of the run folders but the resume state
    (:data:`bioal.records.STATE_FILE`)."""
    digest = hashlib.sha256()
    for folder in folders:
        for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.name != records.STATE_FILE):
            digest.update(path.relative_to(folder.parent).as_posix().encode())
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def make_release_record(folder: str | os.PathLike, base_url: str, record: int = RELEASE_RECORD) -> dict[str, Any]:
    """Describe ``folder``'s release files as a Zenodo record JSON (``files[].key/size/checksum/links``)
    served under ``base_url``; written to ``folder/record.json`` and returned."""
    names = [n for n in RELEASE_FILES if (Path(folder) / n).is_file()]
    title = "Released models (stand-in written by bioal.release from this project's runs)"
    return write_zenodo_record(folder, record, names, base_url, title)


# --------------------------------------------------------------------------- notebook 07's steps


@dataclasses.dataclass(frozen=True)
class OpenedRelease:
    """A release ready to scan: its unpacked ``tree``, the ``shapes`` its checkpoints must
    have, the repetitions ``runs`` it must hold per cell (None: as many as it has) and
    whether it is a ``standin`` written from this project's runs."""

    tree: ReleaseTree
    shapes: ReleaseShapes
    runs: int | None
    standin: bool

    def describe(self) -> str:
        """One Markdown line saying which release this is and where it lies."""
        if self.standin:
            return (f"**A stand-in release** written from this project's run records, unpacked in "
                    f"`{self.tree.root}`. It is not the authors' release.")
        return f"**The authors' release** (Zenodo record {RELEASE_RECORD}), unpacked in `{self.tree.root}`."


def open_release(config: ReleaseConfig, progress: bool = True) -> OpenedRelease:
    """Notebook 07's release in ``config.release_dir``: with ``PRESET=paper`` the authors' record
    (:func:`download_release`, checked against :data:`PAPER_SHAPES`); with any other preset a
    stand-in written from ``config.results_dir``'s runs (:func:`write_standin_release`) and
    unpacked, checked against the runs' own shapes (:func:`runs_shapes`)."""
    folder = config.release_dir
    if config.preset == "paper":
        return OpenedRelease(download_release(folder, progress=progress), PAPER_SHAPES, PAPER_RUNS, standin=False)
    write_standin_release(config.results_dir, folder, config.data_root, progress=progress)
    tree = unpack_release(folder, progress=progress)
    return OpenedRelease(tree, runs_shapes(config.results_dir, config.data_root), None, standin=True)


def reference_layout(config: ReleaseConfig, progress: bool = True) -> tuple[pd.DataFrame, str]:
    """What a rebuilt ``al_results.csv`` is compared with, and its name: with ``PRESET=paper``
    the CSV the authors committed (:func:`bioal.paper.paper_results`), otherwise the paper layout
    this project builds from ``config.results_dir``'s own records."""
    if config.preset == "paper":
        return paper_results(), "the paper's al_results.csv"
    own = tidy_table(config.results_dir, progress=progress)
    totals, pool_size = pool_totals(own, config.results_dir, config.data_root)
    return paper_layout(own, totals, pool_size), "the runs' own al_results.csv"


def rescore_from_embeddings(
    config: ReleaseConfig, scan: pd.DataFrame, shapes: ReleaseShapes | None, progress: bool = True
) -> tuple[pd.DataFrame | None, str]:
    """:func:`rescore_release` on ``DATA_ROOT/embeddings``' valid and test splits, into
    ``RELEASE_DIR/rescore``: each run's last checkpoint (``RESCORE=last``) or all of ``scan``.

    Returns the table (None when either split file is missing) and one Markdown line saying
    which embeddings were used, or which file is missing.
    """
    folder = embeddings_dir(config.data_root)
    paths = {name: split_file(folder, name) for name in ("valid", "test")}
    missing = [str(path) for path in paths.values() if not path.is_file()]
    if missing:
        return None, f"No embeddings at `{'`, `'.join(missing)}`: rescoring skipped."
    valid, test = (read_split(path) for path in paths.values())
    chosen = scan if config.rescore == "all" else last_checkpoints(scan)
    rescored = rescore_release(chosen, valid, test, config.release_dir / "rescore", shapes, device=config.device,
                               progress=progress)
    return rescored, f"Embeddings from `{folder}` (encoder: `{valid.attrs.get('encoder', 'not recorded')}`)."
