"""Small shared helpers: atomic files, seeded generators, device choice, project paths.

Everything random in ``bioal`` draws from generators made here from one explicit integer
seed plus a few keys naming the component (``rng(seed, "warm-start", round_index)``), so
no code touches the global NumPy or torch RNG state.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "atomic_path",
    "atomic_write",
    "write_json",
    "read_json",
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
