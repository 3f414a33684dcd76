"""Small shared helpers: atomic files, seeded generators, device choice, project paths.

Everything random in ``bioal`` draws from generators made here from one explicit integer
seed plus a few keys naming the component (``rng(seed, "warm-start", round_index)``), so
no code touches the global NumPy or torch RNG state.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import tempfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "atomic_path",
    "atomic_write",
    "is_unfinished_write",
    "OS_METADATA_FILES",
    "write_json",
    "read_json",
    "StaleResumeError",
    "file_digest",
    "array_digest",
    "fingerprint_changes",
    "check_fingerprint",
    "CheckpointFileError",
    "load_torch_file",
    "check_tensors",
    "seed_sequence",
    "rng",
    "torch_generator",
    "pick_device",
    "project_root",
    "resolve_path",
]


# --------------------------------------------------------------------------- files


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it onto ``path``.

    For libraries that open the file themselves (h5py, soundfile, ``torch.save``). On an
    exception the temporary file is removed and ``path`` is left untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix or path.suffix + ".part")
    os.close(fd)
    tmp_path = Path(tmp)
    os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual file mode
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def is_unfinished_write(name: str) -> bool:
    """Whether a file name is one of :func:`atomic_path`'s temporary files with the default
    suffix (``.<name>.<random><suffix>.part``): a write that a killed process cut short."""
    return name.startswith(".") and name.endswith(".part")


#: Files an operating system's file browser leaves in folders it shows (macOS Finder, Windows).
OS_METADATA_FILES = frozenset({".DS_Store", "Thumbs.db", "desktop.ini"})


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "w", **open_kwargs: Any) -> Iterator[Any]:
    """Open a temporary file beside ``path`` for writing; rename it into place on success."""
    with atomic_path(path) as tmp, open(tmp, mode, **open_kwargs) as handle:
        yield handle
        handle.flush()
        os.fsync(handle.fileno())


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot write {type(obj).__name__} as JSON")


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write ``obj`` as indented JSON, atomically (NumPy arrays and scalars allowed)."""
    with atomic_write(path, "w", encoding="utf-8") as handle:
        json.dump(obj, handle, indent=2, default=_json_default)
        handle.write("\n")


def read_json(path: str | os.PathLike) -> Any:
    """Read a JSON file, naming the file in the error if it is malformed."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not valid JSON ({err})") from err


# --------------------------------------------------------------------------- fingerprints


class StaleResumeError(RuntimeError):
    """A resumable stage found output made from other inputs or parameters."""


def file_digest(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """SHA-256 hex digest of a file's bytes, read in blocks of ``chunk`` bytes."""
    path = Path(path)
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(chunk), b""):
                digest.update(block)
    except OSError as err:
        raise OSError(f"{path}: cannot read for its fingerprint ({err})") from err
    return digest.hexdigest()


def array_digest(*arrays: Any) -> str:
    """SHA-256 hex digest of arrays' dtypes, shapes and bytes (object arrays as their strings)."""
    digest = hashlib.sha256()
    for array in arrays:
        array = np.asarray(array)
        if array.dtype == object:
            array = array.astype(str)
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(memoryview(np.ascontiguousarray(array)).cast("B"))  # no copy of a contiguous array
    return digest.hexdigest()


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, inner in value.items():
            out.update(_flatten(inner, f"{prefix}{key}/" if isinstance(inner, dict) else f"{prefix}{key}"))
        return out
    return {prefix: value}


def fingerprint_changes(old: Any, new: Any) -> list[str]:
    """What differs between two (nested) fingerprint mappings, one line per key."""
    old, new = _flatten(json.loads(json.dumps(old, default=_json_default))), _flatten(
        json.loads(json.dumps(new, default=_json_default))
    )
    lines = []
    for key in sorted(set(old) | set(new)):
        if key not in old:
            lines.append(f"{key}: new")
        elif key not in new:
            lines.append(f"{key}: gone")
        elif old[key] != new[key]:
            before, after = (str(v) if len(str(v)) <= 40 else str(v)[:16] + "..." for v in (old[key], new[key]))
            lines.append(f"{key}: {before} -> {after}")
    return lines


def check_fingerprint(path: str | os.PathLike, fingerprint: dict[str, Any], what: str, fresh: str) -> None:
    """Record ``fingerprint`` (JSON) at ``path``, or check it equals the one recorded there.

    Every resumable stage calls this before reusing output: a mismatch raises
    :class:`StaleResumeError` saying which inputs changed and, from ``fresh``, how to start
    afresh (e.g. "delete data/demo/prepared"). ``what`` names the stage's output.
    """
    path = Path(path)
    if path.is_file():
        try:
            recorded = read_json(path)
        except ValueError as err:
            raise StaleResumeError(f"{what}: its input fingerprint {path} is unreadable ({err}); {fresh}") from err
        changes = fingerprint_changes(recorded, fingerprint)
        if changes:
            shown = "; ".join(changes[:8]) + (f"; and {len(changes) - 8} more" if len(changes) > 8 else "")
            raise StaleResumeError(
                f"{what} was made from other inputs than these (recorded in {path}); changed: {shown}. "
                f"Resuming would mix the two. To start afresh, {fresh}"
            )
        return
    write_json(path, fingerprint)


# --------------------------------------------------------------------------- torch files


class CheckpointFileError(ValueError):
    """A torch file is unreadable, or holds something other than finite tensors where they belong."""


def load_torch_file(path: str | os.PathLike, map_location: Any = "cpu", what: str = "torch checkpoint") -> Any:
    """``torch.load(path, weights_only=True)`` with errors that name the file.

    A truncated or foreign file (an HTML page or text saved under a checkpoint's name, say)
    raises :class:`CheckpointFileError` naming ``path`` and showing how the file begins; a
    file holding pickled Python objects is refused as such, naming the first one (bioal never
    unpickles outside files).
    """
    import torch  # lazy: utils sits under every module, torch takes seconds to import

    path = Path(path)
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as err:  # zip/pickle errors of truncated or foreign files
        lines = [line.strip() for line in str(err).splitlines() if line.strip()]
        # torch words every refusal of its weights-only unpickler "Weights only load failed"; only an
        # "Unsupported global" is a pickled object: a text file fails on its first byte ("Unsupported operand 60")
        found = re.search(r"Unsupported global: GLOBAL (\S+)", str(err))
        if found:
            reason = (f"it holds pickled Python objects besides tensors ({found.group(1)}), which bioal never loads "
                      "from files")
        else:
            complaint = next((line for line in lines if line.startswith("Unsupported operand")), lines[0] if lines else "")
            with open(path, "rb") as handle:
                head = handle.read(24)
            reason = (f"truncated or not written by torch.save (an HTML page or text?): its {path.stat().st_size} "
                      f"bytes begin {head!r} ({type(err).__name__}: {complaint})")
        raise CheckpointFileError(f"{path}: not a readable {what}: {reason}") from None


def check_tensors(state: Any, where: str, finite: bool = True) -> None:
    """Check a state_dict: a mapping of names to tensors, floating ones finite (with ``finite``).

    Raises :class:`CheckpointFileError` naming ``where`` and the first bad key.
    """
    import torch  # lazy: utils sits under every module, torch takes seconds to import

    if not isinstance(state, dict):
        raise CheckpointFileError(f"{where}: expected a state_dict (name -> tensor), got {type(state).__name__}")
    for key, value in state.items():
        if not isinstance(value, torch.Tensor):
            raise CheckpointFileError(f"{where}: {key!r} holds a {type(value).__name__}, expected a tensor")
        if finite and value.is_floating_point() and not bool(torch.isfinite(value).all()):
            raise CheckpointFileError(f"{where}: {key!r} holds NaN/inf weights")


# --------------------------------------------------------------------------- randomness


def _key_to_int(key: int | str) -> int:
    if isinstance(key, (int, np.integer)):
        if key < 0:
            raise ValueError(f"seed keys must be non-negative, got {key}")
        return int(key)
    if isinstance(key, str):
        return zlib.crc32(key.encode("utf-8"))
    raise TypeError(f"seed keys are ints or strings, got {type(key).__name__}")


def seed_sequence(seed: int, *keys: int | str) -> np.random.SeedSequence:
    """The ``SeedSequence`` for ``seed`` and a path of keys, e.g. ``(seed, "ft", 3)``."""
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise TypeError(f"seed must be an int, got {seed!r}")
    return np.random.SeedSequence([_key_to_int(seed), *(_key_to_int(k) for k in keys)])


def rng(seed: int, *keys: int | str) -> np.random.Generator:
    """A NumPy generator derived from one integer seed and component keys.

    The same ``(seed, *keys)`` always gives the same stream; different keys give
    independent streams.
    """
    return np.random.default_rng(seed_sequence(seed, *keys))


def torch_generator(seed: int, *keys: int | str, device: Any = "cpu") -> Any:
    """A ``torch.Generator`` on ``device`` seeded from ``(seed, *keys)``."""
    import torch  # lazy: utils sits under every module, torch takes seconds to import

    value = int(seed_sequence(seed, *keys).generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))
    generator = torch.Generator(device=torch.device(device))
    generator.manual_seed(value)
    return generator


# --------------------------------------------------------------------------- devices


def pick_device(preference: str = "auto") -> Any:
    """``torch.device`` for ``"auto"`` (cuda, then mps, then cpu) or an explicit name."""
    import torch  # lazy: utils sits under every module, torch takes seconds to import

    if preference != "auto":
        device = torch.device(preference)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise RuntimeError(f"device {preference!r} requested but CUDA is not available")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


# --------------------------------------------------------------------------- paths


def project_root() -> Path:
    """The project folder (holding ``configs/``): ``$BIOAL_ROOT``, else the checkout of
    this package, else the nearest parent of the working directory with ``configs/``."""
    env = os.environ.get("BIOAL_ROOT")
    if env:
        return Path(env).resolve()
    here = Path(__file__).resolve().parents[1]
    if (here / "configs").is_dir() and (here / "pyproject.toml").is_file():
        return here
    cwd = Path.cwd().resolve()
    for folder in (cwd, *cwd.parents):
        if (folder / "configs").is_dir():
            return folder
    return cwd


def resolve_path(path: str | os.PathLike) -> Path:
    """An absolute path: relative paths are taken from :func:`project_root`."""
    path = Path(path).expanduser()
    return path if path.is_absolute() else project_root() / path
