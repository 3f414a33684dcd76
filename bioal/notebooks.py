"""Run the chapter notebooks with papermill on a preset.

A preset (``configs/demo.yaml``) is a flat ``NAME: value`` mapping; each notebook receives
only the names its ``parameters`` cell declares, plus explicit overrides. Executed copies go
to ``_executed/`` (git-ignored), which the book renders without re-executing.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import papermill
from traitlets.config import Config

from bioal.config import load_preset
from bioal.utils import atomic_path, project_root

__all__ = [
    "CHAPTERS",
    "PRESET_ONLY_KEYS",
    "notebook_path",
    "executed_dir",
    "notebook_parameters",
    "notebook_defaults",
    "preset_keys",
    "preset_parameters",
    "run_notebook",
]

CHAPTERS = (
    "01_data",
    "02_encoder",
    "03_embeddings",
    "04_strategies",
    "05_experiments",
    "06_figures",
    "07_released_models",
    "08_your_recordings",
)

KERNEL = "python3"

#: Kernel manager settings for every run: CurveZMQ keys for the kernel's local sockets where its
#: kernelspec declares support (ipykernel 7's does; unencrypted, it warns on every run).
KERNEL_MANAGER_CONFIG = {"KernelManager": {"transport_encryption": "auto"}}

#: Preset keys no notebook declares: ``SEEDS`` is read by the sweep (:mod:`bioal.sweep`).
PRESET_ONLY_KEYS = ("SEEDS",)


def notebook_path(name: str) -> Path:
    """``notebooks/<name>.ipynb`` for a chapter name such as ``"01_data"``."""
    path = project_root() / "notebooks" / f"{Path(name).stem}.ipynb"
    if not path.is_file():
        raise FileNotFoundError(f"no notebook {path}")
    return path


def executed_dir() -> Path:
    """Folder of executed notebooks (``_executed/``), rendered by the book."""
    return project_root() / "_executed"


def notebook_parameters(notebook: str | os.PathLike) -> dict[str, dict[str, Any]]:
    """Parameters declared by a notebook's ``parameters`` cell: name -> {type, default, help}."""
    return dict(papermill.inspect_notebook(str(notebook)))


def notebook_defaults(notebook: str | os.PathLike) -> dict[str, Any]:
    """The values of a notebook's ``parameters`` cell (``NAME: type = value`` literals), by name.

    A default that is not a Python literal raises ``ValueError`` naming the notebook and parameter.
    """
    values = {}
    for name, info in notebook_parameters(notebook).items():
        try:
            values[name] = ast.literal_eval(info["default"])
        except (ValueError, SyntaxError, TypeError) as err:
            raise ValueError(
                f"{notebook}: the default of parameter {name!r} ({info['default']!r}) is not a literal"
            ) from err
    return values


def preset_keys() -> set[str]:
    """Every key a preset may hold: the chapters' declared parameters and :data:`PRESET_ONLY_KEYS`."""
    keys = set(PRESET_ONLY_KEYS)
    for chapter in CHAPTERS:
        keys |= set(notebook_parameters(notebook_path(chapter)))
    return keys


def preset_parameters(
    notebook: str | os.PathLike, preset: str | os.PathLike, overrides: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The preset's values for the parameters this notebook declares, then ``overrides``.

    An override naming a parameter the notebook does not declare is an error, and so is a
    preset key that no chapter reads (:func:`preset_keys`; close matches are listed).
    """
    declared = notebook_parameters(notebook)
    values = {k: v for k, v in load_preset(preset, known=preset_keys() | set(declared)).items() if k in declared}
    for key, value in (overrides or {}).items():
        if key not in declared:
            raise KeyError(f"{notebook}: no parameter {key!r} (declared: {sorted(declared)})")
        values[key] = value
    return values


def run_notebook(
    name: str | os.PathLike,
    output: str | os.PathLike | None = None,
    preset: str | os.PathLike = "demo",
    overrides: Mapping[str, Any] | None = None,
    progress: bool = True,
    log_output: bool = False,
) -> Path:
    """Execute a chapter notebook with the preset's parameters; return the executed copy.

    The copy is written atomically (a failed execution leaves papermill's partial copy
    beside it as ``<name>.failed.ipynb`` for inspection) and runs with the project root as
    working directory. Raises ``papermill.PapermillExecutionError`` on a failing cell.
    """
    source = Path(name) if Path(name).suffix == ".ipynb" else notebook_path(str(name))
    output = Path(output) if output is not None else executed_dir() / source.name
    output.parent.mkdir(parents=True, exist_ok=True)
    parameters = preset_parameters(source, preset, overrides)
    failed = output.with_name(output.stem + ".failed.ipynb")
    with atomic_path(output, suffix=".ipynb") as tmp:
        try:
            papermill.execute_notebook(
                str(source),
                str(tmp),
                parameters=parameters,
                kernel_name=KERNEL,
                cwd=str(project_root()),
                progress_bar=progress,
                log_output=log_output,
                config=Config(KERNEL_MANAGER_CONFIG),
            )
        except BaseException:
            if tmp.exists():
                os.replace(tmp, failed)
            raise
    failed.unlink(missing_ok=True)
    return output
