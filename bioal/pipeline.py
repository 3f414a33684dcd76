"""The whole pipeline on one preset: notebooks 01-04, the sweep (05 per run), then 06, 07 and 08.

``python -m bioal.pipeline --preset demo [--from 01] [--to 08]`` is what ``make book`` runs.
Notebooks 01-04 are executed into ``_executed/<name>.ipynb`` every time; each resumes by
its own code (preparation, encoder training and extraction pick up finished work), so
nothing is skipped silently. Step ``05`` is :func:`bioal.sweep.run_sweep`, which skips
finished runs and reports them; step ``06`` is the figures notebook (run by the sweep when
both are selected); step ``07`` is the released-models chapter (on the demo preset a stand-in
release made from the sweep's runs); step ``08`` is the your-recordings chapter on a stand-in
collection. The pipeline stops at the first failing notebook, naming its cell.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import papermill

from bioal.notebooks import CHAPTERS, executed_dir, notebook_parameters, notebook_path, run_notebook
from bioal.sweep import add_set_option, check_grid_overrides, parse_set, run_sweep

__all__ = ["STEPS", "pipeline_steps", "run_pipeline", "main"]

#: Step number -> chapter notebook.
STEPS: dict[str, str] = {name[:2]: name for name in CHAPTERS}


#: How to choose the sweep's grid from the pipeline (its error for a grid parameter in --set).
_GRID_HOW = (
    "choose the seeds with SEEDS in a preset (--preset my.yaml; the strategies and starts with python -m "
    "bioal.sweep --strategies/--starts), or run the other steps on their own (--to 04, --from 06) to set them there"
)


def pipeline_steps(start: str = "01", stop: str = "08") -> list[str]:
    """The step numbers from ``start`` to ``stop`` inclusive, e.g. ``["03", "04", "05"]``."""
    keys = list(STEPS)
    for value in (start, stop):
        if value not in STEPS:
            raise ValueError(f"unknown step {value!r} (steps: {keys})")
    if keys.index(start) > keys.index(stop):
        raise ValueError(f"--from {start} comes after --to {stop}")
    return keys[keys.index(start) : keys.index(stop) + 1]


def _declared(name: str, overrides: Mapping[str, Any]) -> dict[str, Any]:
    declared = notebook_parameters(notebook_path(name))
    return {k: v for k, v in overrides.items() if k in declared}


def run_pipeline(
    preset: str = "demo",
    start: str = "01",
    stop: str = "08",
    overrides: Mapping[str, Any] | None = None,
    executed: str | os.PathLike | None = None,
    progress: bool = True,
    **sweep_options: Any,
) -> int:
    """Run the selected steps; return 0 on success, 1 if a notebook or a sweep run failed.

    ``overrides`` (e.g. ``{"DATA_ROOT": ...}``) go to every notebook that declares them;
    ``sweep_options`` (``workers``, ``scheduler``, ``cluster``, ``cluster_spec``, ``seeds``,
    ``strategies``) to :func:`bioal.sweep.run_sweep`. With step 05 selected, overriding a
    parameter the sweep's grid sets per run (:data:`bioal.config.GRID_PARAMETERS`) is a
    ``ValueError``.
    """
    overrides = dict(overrides or {})
    executed = Path(executed) if executed is not None else executed_dir()
    steps = pipeline_steps(start, stop)
    known = set().union(*(notebook_parameters(notebook_path(STEPS[s])) for s in steps))
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise KeyError(f"overrides {unknown} are parameters of none of the notebooks {[STEPS[s] for s in steps]}")
    if "05" in steps:
        check_grid_overrides(overrides, _GRID_HOW)
    for step in steps:
        name = STEPS[step]
        began = time.perf_counter()
        if step == "05":
            print(f"[pipeline] 05: the sweep (notebook 05 per run{', then 06' if '06' in steps else ''})", flush=True)
            report = run_sweep(
                preset,
                overrides=_declared(STEPS["05"], overrides),
                executed=executed,
                figures="06" in steps,
                progress=progress,
                **sweep_options,
            )
            print(report.summary(), flush=True)
            if not report.ok:
                return 1
            continue
        if step == "06" and "05" in steps:
            continue  # the sweep ran it
        print(f"[pipeline] {step}: {name}", flush=True)
        try:
            run_notebook(
                name,
                output=executed / f"{name}.ipynb",
                preset=preset,
                overrides=_declared(name, overrides),
                progress=progress,
            )
        except papermill.PapermillExecutionError as err:
            print(
                f"[pipeline] {name} failed in cell {err.cell_index} (execution count {err.exec_count}): "
                f"{err.ename}: {err.evalue}; see {executed / (name + '.failed.ipynb')}",
                file=sys.stderr,
                flush=True,
            )
            return 1
        print(f"[pipeline] {step}: done in {time.perf_counter() - began:.0f} s", flush=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m bioal.pipeline", description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="demo", help="demo, paper or a YAML file")
    parser.add_argument("--from", dest="start", default="01", choices=list(STEPS), help="first step")
    parser.add_argument("--to", dest="stop", default="08", choices=list(STEPS), help="last step")
    parser.add_argument("--workers", type=int, default=None, help="parallel sweep runs")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--scheduler", default=None, help="Dask scheduler address for the sweep")
    where.add_argument("--cluster", choices=("local", "slurm", "pbs"), default=None)
    add_set_option(
        parser,
        "override a parameter everywhere (repeatable; with step 05 not STRATEGY, INIT_POS, SEED or "
        "FULL_SUPERVISION: SEEDS in a preset chooses the sweep's seeds)",
    )
    parser.add_argument("--executed", default=None, help="folder for executed notebooks (default: _executed/)")
    args = parser.parse_args(argv)
    overrides = parse_set(args.set)
    if args.start <= "05" <= args.stop:  # step 05 selected (run_pipeline checks the order)
        try:
            check_grid_overrides(overrides, _GRID_HOW)
        except ValueError as err:
            parser.error(str(err))
    return run_pipeline(
        args.preset,
        args.start,
        args.stop,
        overrides=overrides,
        executed=args.executed,
        workers=args.workers,
        scheduler=args.scheduler,
        cluster=args.cluster,
    )


if __name__ == "__main__":
    sys.exit(main())
