"""The papermill sweep: notebook 05 once per grid cell, then notebook 06.

The grid (method §4.6) is strategies x starts (``INIT_POS`` 0 cold, 5 warm) x ``SEEDS``, plus
one full-supervision run per seed. Each cell is one papermill execution of
``notebooks/05_experiments.ipynb`` with ``STRATEGY``, ``INIT_POS``, ``SEED`` and
``FULL_SUPERVISION`` set; the executed copy is kept as
``_executed/runs/05_experiments-<run_name>.ipynb`` beside its run records in
``RESULTS_DIR/runs/<run_name>/``. Notebook 06 then runs to ``_executed/06_figures.ipynb``.

- **Resume.** A run whose records are complete *and* whose executed notebook exists is
  skipped; any other run is executed again and its notebook continues from the last
  finished round (``bioal.experiment`` resumes at round level).
- **Failures.** A failing run is reported with its failing cell (index, execution count,
  exception name and value; papermill leaves ``<name>.failed.ipynb`` to inspect); the
  other runs go on and the sweep exits non-zero.
- **Parallel.** A local pool (each worker drives one papermill kernel; on a multi-GPU
  machine each run gets its own ``cuda:<i>``), or a Dask distributed cluster: an existing
  scheduler address, a ``LocalCluster``, or SLURM/PBS via dask-jobqueue from a small spec.
  On a cluster every worker must see the project folder at the same path.
- **Grid parameters.** ``STRATEGY``, ``INIT_POS``, ``SEED`` and ``FULL_SUPERVISION``
  (:data:`~bioal.config.GRID_PARAMETERS`) are set per run by the grid: overriding them for every run is
  refused (choose the grid with ``--strategies``, ``--starts``, ``--seeds``, ``--no-full``).
- **Threads and determinism.** The local pool gives each kernel ``cores // workers``
  OpenMP/MKL threads unless ``OMP_NUM_THREADS`` is set. A run's selections do not depend on
  it, but its scores do in the last float digits (about 1e-5): bit-identical records need the
  same threads per run, i.e. the same ``--workers`` on the same machine (or a fixed
  ``OMP_NUM_THREADS``). ``RESULTS_DIR/sweep_threads.json`` records each run's count, and a
  run resumed under another count is named in a warning. Dask workers keep their own
  environment; the sweep neither sets nor records their threads.
- **Ctrl-C.** The first stops the sweep after the runs in progress finish (queued runs are
  not started); a second stops at once (the stopped runs resume from their last finished
  round) and removes their partial executed notebooks.

Command line: ``python -m bioal.sweep --preset demo [--workers N] [--scheduler ADDRESS |
--cluster local|slurm|pbs [--cluster-spec spec.yaml]] [--seeds 0 1] [--strategies mfft ft]
[--set MAX_EPOCHS=50 --set CLASSIFIER_LR=0.001]``.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import queue
import sys
import threading
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed, wait
from pathlib import Path
from typing import Any

import papermill
import torch
import yaml
from tqdm.auto import tqdm

from bioal import records
from bioal.config import GRID_PARAMETERS, load_preset
from bioal.embeddings import SPLITS, split_file
from bioal.experiment import NON_RESULT_FIELDS, ExperimentConfig, embeddings_folder, run_name
from bioal.notebooks import (
    executed_dir,
    notebook_defaults,
    notebook_parameters,
    notebook_path,
    preset_parameters,
    run_notebook,
)
from bioal.strategies import strategy_names
from bioal.utils import check_fingerprint, file_digest, read_json, resolve_path, write_json

__all__ = [
    "STRATEGIES",
    "STARTS",
    "GRID_PARAMETERS",
    "check_grid_overrides",
    "add_set_option",
    "parse_set",
    "SweepTask",
    "TaskOutcome",
    "SweepReport",
    "sweep_tasks",
    "run_complete",
    "check_sweep_inputs",
    "execute_task",
    "default_workers",
    "run_sweep",
    "main",
]

#: The grid's strategies: every registered one, in the registry's display order.
STRATEGIES: tuple[str, ...] = strategy_names()
STARTS: tuple[int, ...] = (0, 5)
RUN_NOTEBOOK = "05_experiments"
FIGURES_NOTEBOOK = "06_figures"


@dataclasses.dataclass(frozen=True)
class SweepTask:
    """One grid cell: the parameters of one execution of notebook 05 (picklable)."""

    run_name: str
    preset: str
    parameters: dict[str, Any]
    output: str
    run_dir: str

    @property
    def full_supervision(self) -> bool:
        return bool(self.parameters.get("FULL_SUPERVISION", False))


@dataclasses.dataclass
class TaskOutcome:
    """What happened to one task: ``status`` is ``done``, ``skipped`` or ``failed``."""

    run_name: str
    status: str
    seconds: float = 0.0
    notebook: str = ""
    cell_index: int | None = None
    exec_count: int | None = None
    ename: str = ""
    evalue: str = ""

    def describe(self) -> str:
        if self.status != "failed":
            return f"{self.run_name}: {self.status} ({self.seconds:.1f} s)"
        where = (
            f"cell {self.cell_index} (execution count {self.exec_count})" if self.cell_index is not None else "setup"
        )
        return f"{self.run_name}: FAILED in {where}: {self.ename}: {self.evalue} -- see {self.notebook}"


@dataclasses.dataclass
class SweepReport:
    """Outcomes of a sweep, the executed figures notebook (if run) and the wall time."""

    outcomes: list[TaskOutcome]
    figures: Path | None
    figures_error: str = ""
    seconds: float = 0.0

    def by_status(self, status: str) -> list[TaskOutcome]:
        return [o for o in self.outcomes if o.status == status]

    @property
    def ok(self) -> bool:
        return not self.by_status("failed") and not self.figures_error

    def summary(self) -> str:
        lines = [
            f"sweep: {len(self.by_status('done'))} run, {len(self.by_status('skipped'))} skipped (finished before), "
            f"{len(self.by_status('failed'))} failed, {self.seconds:.1f} s"
        ]
        lines += [o.describe() for o in self.by_status("failed")]
        if self.figures is not None:
            lines.append(f"figures: {self.figures}")
        if self.figures_error:
            lines.append(f"figures: {self.figures_error}")
        return "\n".join(lines)


# --------------------------------------------------------------------------- the grid


def _grid_cell(strategy: str, init_pos: int, seed: int, full_supervision: bool) -> dict[str, Any]:
    return dict(zip(GRID_PARAMETERS, (strategy, int(init_pos), int(seed), bool(full_supervision)), strict=True))


def check_grid_overrides(
    overrides: Mapping[str, Any] | None,
    how: str = "choose the grid with strategies, starts, seeds and full_supervision",
) -> None:
    """Refuse overrides of :data:`~bioal.config.GRID_PARAMETERS` (the grid sets them per run, so an override
    would be silently replaced): ``ValueError`` naming them and ``how`` to choose the grid."""
    clash = [k for k in GRID_PARAMETERS if k in (overrides or {})]
    if clash:
        raise ValueError(
            f"{', '.join(clash)} cannot be overridden for the sweep: the grid sets "
            f"{', '.join(GRID_PARAMETERS)} per run; {how}"
        )


def sweep_tasks(
    preset: str = "demo",
    strategies: Sequence[str] | None = None,
    starts: Sequence[int] = STARTS,
    seeds: Sequence[int] | None = None,
    full_supervision: bool = True,
    overrides: Mapping[str, Any] | None = None,
    run_overrides: Mapping[str, Mapping[str, Any]] | None = None,
    executed: str | os.PathLike | None = None,
) -> list[SweepTask]:
    """The grid's tasks in the paper's loop order: seed, start, strategy; full runs last.

    ``seeds`` defaults to the preset's ``SEEDS``; ``overrides`` go to every run (names must
    be parameters of notebook 05), ``run_overrides[run_name]`` to one run only. Neither may
    set :data:`~bioal.config.GRID_PARAMETERS` (``ValueError``, :func:`check_grid_overrides`).
    """
    strategies = tuple(strategies or STRATEGIES)
    overrides = dict(overrides or {})
    check_grid_overrides(overrides)
    values = load_preset(preset)
    if seeds is None:
        if "SEEDS" not in values:
            raise KeyError(f"preset {preset!r} has no SEEDS; pass seeds explicitly")
        seeds = values["SEEDS"]
    base = preset_parameters(notebook_path(RUN_NOTEBOOK), preset, overrides)
    results_dir = resolve_path(base["RESULTS_DIR"])
    executed = Path(executed) if executed is not None else executed_dir()
    cells = [_grid_cell(s, p, seed, False) for seed in seeds for p in starts for s in strategies]
    if full_supervision:
        cells += [_grid_cell("random", 0, seed, True) for seed in seeds]
    tasks = []
    for cell in cells:
        name = run_name(ExperimentConfig.from_namespace(cell))
        parameters = {**base, **cell, **dict((run_overrides or {}).get(name, {}))}
        tasks.append(
            SweepTask(
                run_name=name,
                preset=str(preset),
                parameters=parameters,
                output=str(executed / "runs" / f"{RUN_NOTEBOOK}-{name}.ipynb"),
                run_dir=str(records.run_folder(results_dir, name)),
            )
        )
    names = [t.run_name for t in tasks]
    if len(set(names)) != len(names):
        raise ValueError(f"the grid has duplicate runs: {sorted({n for n in names if names.count(n) > 1})}")
    unknown = set(run_overrides or {}) - set(names)
    if unknown:
        raise KeyError(f"run_overrides name runs that are not in the grid: {sorted(unknown)}")
    for name, values in (run_overrides or {}).items():
        check_grid_overrides(values, f"run_overrides[{name!r}] may not change which run it is")
    return tasks


def run_complete(task: SweepTask) -> bool:
    """True when the run's records are complete and its executed notebook exists.

    Complete means a finished round per budget (one round for full supervision), as
    :attr:`bioal.records.RunRecord.complete` reads the run folder.
    """
    if not Path(task.output).is_file():
        return False
    try:
        run = records.load_run(task.run_dir)
    except (FileNotFoundError, KeyError, ValueError):  # no record, or a damaged one: run it again
        return False
    if not task.full_supervision and list(run.config.get("budgets", [])) != list(task.parameters["BUDGETS"]):
        return False  # other budgets: running it reports the configuration clash
    return run.complete


#: Parameters that differ between the runs of one sweep or do not change results.
_NOT_SHARED = (*GRID_PARAMETERS, *(f.upper() for f in NON_RESULT_FIELDS))


def _has_records(results_dir: Path) -> bool:
    """True when a run under ``results_dir/runs`` has a finished round (something a resume could mix)."""
    return any(records.round_paths(folder) for folder in records.run_folders(results_dir))


def check_sweep_inputs(preset: str, overrides: Mapping[str, Any] | None, results_dir: Path) -> None:
    """Record in ``RESULTS_DIR/sweep_inputs.json`` what every run of the sweep shares (the
    effective values of the parameters that shape results: notebook 05's defaults, then the
    preset, then ``overrides``; and the SHA-256 of each embeddings file, read in 1 MiB blocks),
    or refuse with :class:`~bioal.utils.StaleResumeError` when a resumed sweep would mix them.

    A parameter that a recorded fingerprint lacks (declared since, or recorded before defaults
    were) is taken to have had its default: only another value is a change. While no run has a
    finished round there is nothing to mix, and a recorded fingerprint (say, of a sweep whose
    runs all failed) is replaced. Missing embeddings are left to the runs to report.
    """
    notebook = notebook_path(RUN_NOTEBOOK)
    defaults = notebook_defaults(notebook)
    base = {**defaults, **preset_parameters(notebook, preset, overrides)}
    folder = embeddings_folder(ExperimentConfig.from_namespace(base))
    files = {split: split_file(folder, split) for split in SPLITS}
    if not all(path.is_file() for path in files.values()):
        return
    path = results_dir / "sweep_inputs.json"
    shared = {k: v for k, v in sorted(base.items()) if k not in _NOT_SHARED}
    if path.is_file() and not _has_records(results_dir):
        path.unlink()
    if path.is_file():
        try:
            recorded = read_json(path).get("parameters", {})
        except (ValueError, AttributeError):
            recorded = {}  # unreadable or odd: check_fingerprint reports it
        if isinstance(recorded, dict):
            shared = {k: v for k, v in shared.items() if k in recorded or not _same(v, defaults.get(k, _MISSING))}
    check_fingerprint(
        path,
        {"parameters": shared, "embeddings": {split: file_digest(file) for split, file in files.items()}},
        f"the sweep in {results_dir}",
        f"delete {results_dir} (or set another RESULTS_DIR) to sweep these inputs.",
    )


_MISSING = object()


def _same(a: Any, b: Any) -> bool:
    """Equal as JSON values (a tuple equals the list it is written as)."""
    if b is _MISSING:
        return False
    return json.loads(json.dumps(a, default=str)) == json.loads(json.dumps(b, default=str))


# --------------------------------------------------------------------------- one task


#: Set by a second Ctrl-C during a local sweep: executions in progress are abandoned at once.
_STOP_NOW = threading.Event()


def _partial_notebooks(task: SweepTask) -> list[Path]:
    """papermill's temporary copies of ``task``'s executed notebook (``.<name>.ipynb.*``), left
    behind when an execution is stopped at once or its process killed."""
    output = Path(task.output)
    return sorted(output.parent.glob(f".{output.name}.*")) if output.parent.is_dir() else []


def _in_fresh_thread(function: Any, *args: Any, **kwargs: Any) -> Any:
    """Call ``function`` in a new thread and return its result or raise its exception.

    papermill drives the kernel with an asyncio loop of the calling thread; a Dask worker
    thread may carry the worker's own (running) loop, so each execution gets a clean thread.
    """
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["result"] = function(*args, **kwargs)
        except BaseException as err:  # handed to the caller below
            box["error"] = err

    thread = threading.Thread(target=target, name="bioal-papermill", daemon=True)
    thread.start()
    while thread.is_alive():
        thread.join(0.2)
        if _STOP_NOW.is_set():  # a second Ctrl-C: leave the execution to end with the process
            raise KeyboardInterrupt(f"{threading.current_thread().name}: stopped at once")
    if "error" in box:
        raise box["error"]
    return box.get("result")


def execute_task(task: SweepTask, device: str | None = None, progress: bool = False) -> TaskOutcome:
    """Execute notebook 05 for ``task`` (on ``device`` if given); never raises for a failing
    notebook but returns a ``failed`` outcome naming the cell."""
    parameters = dict(task.parameters)
    if device is not None:
        parameters["DEVICE"] = device
    start = time.perf_counter()
    failed_copy = Path(task.output).with_name(Path(task.output).stem + ".failed.ipynb")
    for partial in _partial_notebooks(task):  # an earlier execution's, stopped at once or killed
        partial.unlink(missing_ok=True)
    try:
        _in_fresh_thread(
            run_notebook, RUN_NOTEBOOK, output=task.output, preset=task.preset, overrides=parameters, progress=progress
        )
    except papermill.PapermillExecutionError as err:
        return TaskOutcome(
            task.run_name,
            "failed",
            time.perf_counter() - start,
            notebook=str(failed_copy),
            cell_index=err.cell_index,
            exec_count=err.exec_count,
            ename=err.ename,
            evalue=str(err.evalue),
        )
    except Exception as err:  # kernel died, bad parameters, unwritable output: still a failed run
        return TaskOutcome(
            task.run_name,
            "failed",
            time.perf_counter() - start,
            notebook=str(failed_copy),
            ename=type(err).__name__,
            evalue=str(err),
        )
    return TaskOutcome(task.run_name, "done", time.perf_counter() - start, notebook=task.output)


# --------------------------------------------------------------------------- executors


def _gpu_count() -> int:
    try:
        return torch.cuda.device_count() if torch.cuda.is_available() else 0
    except Exception:  # torch without CUDA support
        return 0


def default_workers() -> int:
    """One worker per GPU when there are GPUs; otherwise one single-threaded worker per CPU
    core, at most 4 (each kernel holds its own copy of the embeddings). On 2 cores, 2 workers
    x 1 thread ran the demo sweep in 7.3 min against 11.2 min for 1 worker x 2 threads:
    kernel start-up and small ops do not use a second thread."""
    gpus = _gpu_count()
    if gpus:
        return gpus
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(cores, 4))


def _kernel_threads(workers: int) -> str:
    """The OpenMP threads each kernel of a local pool of ``workers`` gets: ``OMP_NUM_THREADS``
    when the user set it, else its share of the cores, ``cores // workers`` (at least 1);
    :func:`_thread_budget` sets it."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return os.environ.get("OMP_NUM_THREADS") or str(max(1, cores // max(1, workers)))


@contextlib.contextmanager
def _thread_budget(workers: int) -> Iterator[None]:
    """Give each kernel its share of the cores (``OMP_NUM_THREADS``) unless the user set it."""
    names = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")
    saved = {n: os.environ.get(n) for n in names}
    share = _kernel_threads(workers)  # OMP_NUM_THREADS when set, which then covers MKL too
    for name in names:
        if saved[name] is None:
            os.environ[name] = share
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)


def _run_local(tasks: list[SweepTask], workers: int, on_done: Any) -> None:
    gpus = _gpu_count()
    devices: queue.Queue[str | None] = queue.Queue()
    for i in range(workers):
        devices.put(f"cuda:{i % gpus}" if gpus > 1 else None)

    def job(task: SweepTask) -> TaskOutcome:
        device = devices.get()
        try:
            explicit = device if task.parameters.get("DEVICE", "auto") == "auto" else None
            return execute_task(task, device=explicit)
        finally:
            devices.put(device)

    _STOP_NOW.clear()
    with _thread_budget(workers), ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {pool.submit(job, t): t for t in tasks}
        try:
            for future in as_completed(futures):
                on_done(future.result())
        except KeyboardInterrupt:
            _stop(futures, on_done)
            raise
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise


def _stop(futures: Mapping[Any, SweepTask], on_done: Any) -> None:
    """After a Ctrl-C: cancel the queued runs and wait for those in progress (reporting them),
    unless a second Ctrl-C comes; then abandon them at once and remove their partial notebooks."""
    for future in futures:
        future.cancel()
    running = [f for f in futures if not f.done()]
    try:
        if running:
            names = ", ".join(futures[f].run_name for f in running)
            print(
                f"\nsweep: interrupted; stopping after the {len(running)} run(s) in progress finish ({names}). "
                "Press Ctrl-C again to stop at once (they resume from their last finished round).",
                file=sys.stderr,
                flush=True,
            )
        for future in as_completed(running):
            on_done(future.result())
    except KeyboardInterrupt:
        _STOP_NOW.set()
        print("sweep: stopping at once.", file=sys.stderr, flush=True)
        wait(running)
        for future in running:
            for partial in _partial_notebooks(futures[future]):
                partial.unlink(missing_ok=True)


def _note_threads(results_dir: Path, tasks: Sequence[SweepTask], threads: str) -> None:
    """Record ``threads`` (per kernel) for ``tasks`` in ``RESULTS_DIR/sweep_threads.json``
    (run name -> the counts its rounds ran with), warning for each run resumed under another
    count than its finished rounds had: its records will differ from an uninterrupted run's in
    the last float digits."""
    path = results_dir / "sweep_threads.json"
    recorded = read_json(path) if path.is_file() else {}
    if not isinstance(recorded, dict):
        raise ValueError(f"{path}: expected a mapping of run name -> thread counts; delete it to start afresh")
    for task in tasks:
        try:
            run = records.load_run(task.run_dir)
        except (FileNotFoundError, KeyError, ValueError):  # not started, or damaged: the run reports it
            run = None
        if run is not None and run.complete:
            continue  # only its notebook is run again: nothing is recomputed
        before = [str(t) for t in recorded.get(task.run_name, [])] if run is not None and run.rounds else []
        if any(t != threads for t in before):
            warnings.warn(
                f"{task.run_name}: resumed with {threads} thread(s) per run, but its finished rounds ran with "
                f"{' and '.join(before)}: its records will not be bit-identical to an uninterrupted run's "
                f"(run it with the same --workers, or set OMP_NUM_THREADS={before[-1]})",
                stacklevel=3,
            )
        recorded[task.run_name] = before if threads in before else [*before, threads]
    write_json(path, recorded)


def _make_cluster(kind: str, workers: int, spec: Mapping[str, Any]) -> Any:
    if kind == "local":
        from distributed import LocalCluster  # lazy: the [cluster] extra, only for Dask sweeps

        options = {"n_workers": workers, "threads_per_worker": 1, "dashboard_address": None, **spec}
        return LocalCluster(**options)
    if kind in ("slurm", "pbs"):
        import dask_jobqueue  # lazy: the [cluster] extra, only for job-queue sweeps

        cls = dask_jobqueue.SLURMCluster if kind == "slurm" else dask_jobqueue.PBSCluster
        cluster = cls(**spec)
        cluster.scale(jobs=workers)
        return cluster
    raise ValueError(f"unknown cluster kind {kind!r} (choose local, slurm or pbs)")


def _run_dask(
    tasks: list[SweepTask],
    on_done: Any,
    scheduler: str | None,
    cluster: str | None,
    workers: int,
    cluster_spec: Mapping[str, Any],
) -> None:
    from distributed import Client  # lazy: the [cluster] extra
    from distributed import as_completed as dask_completed

    owned = None if scheduler else _make_cluster(cluster or "local", workers, cluster_spec)
    try:
        with Client(scheduler if scheduler else owned) as client:
            futures = [
                client.submit(execute_task, t, key=f"bioal-{t.run_name}-{time.time_ns()}", pure=False) for t in tasks
            ]
            for future in dask_completed(futures):
                on_done(future.result())
    finally:
        if owned is not None:
            owned.close()


# --------------------------------------------------------------------------- the sweep


def run_sweep(
    preset: str = "demo",
    *,
    strategies: Sequence[str] | None = None,
    starts: Sequence[int] = STARTS,
    seeds: Sequence[int] | None = None,
    full_supervision: bool = True,
    overrides: Mapping[str, Any] | None = None,
    run_overrides: Mapping[str, Mapping[str, Any]] | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    cluster: str | None = None,
    cluster_spec: Mapping[str, Any] | None = None,
    executed: str | os.PathLike | None = None,
    figures: bool = True,
    progress: bool = True,
) -> SweepReport:
    """Run the grid (skipping finished runs), then notebook 06 if every run succeeded.

    ``scheduler`` (a Dask address) or ``cluster`` (``local``/``slurm``/``pbs``, with
    ``cluster_spec`` keyword arguments for its constructor) switch from the local pool to
    Dask. Writes ``RESULTS_DIR/sweep.json`` with every run's outcome and time. A sweep resumed
    on other shared parameters or other embeddings is refused (:func:`check_sweep_inputs`).
    The local pool records each run's threads per kernel and warns when a run is resumed under
    another count (records are bit-identical only with the same count; module docstring).
    """
    started = time.perf_counter()
    tasks = sweep_tasks(preset, strategies, starts, seeds, full_supervision, overrides, run_overrides, executed)
    if tasks:
        check_sweep_inputs(preset, overrides, Path(tasks[0].run_dir).parent.parent)
    workers = workers or default_workers()
    outcomes = [TaskOutcome(t.run_name, "skipped", notebook=t.output) for t in tasks if run_complete(t)]
    skipped = {o.run_name for o in outcomes}
    todo = [t for t in tasks if t.run_name not in skipped]
    threads = None  # per kernel; on Dask the workers' environment decides
    if todo and not (scheduler or cluster):
        threads = _kernel_threads(workers)
        _note_threads(Path(todo[0].run_dir).parent.parent, todo, threads)
    bar = tqdm(total=len(tasks), initial=len(skipped), desc="sweep", unit="run", disable=not progress)
    counts = {"done": len(skipped), "failed": 0}

    def on_done(outcome: TaskOutcome) -> None:
        outcomes.append(outcome)
        counts["failed" if outcome.status == "failed" else "done"] += 1
        bar.update(1)
        bar.set_postfix(done=counts["done"], failed=counts["failed"], left=len(tasks) - bar.n)
        if outcome.status == "failed":
            tqdm.write(outcome.describe(), file=sys.stderr)

    bar.set_postfix(done=counts["done"], failed=0, left=len(todo))
    try:
        if todo and (scheduler or cluster):
            _run_dask(todo, on_done, scheduler, cluster, workers, dict(cluster_spec or {}))
        elif todo:
            _run_local(todo, workers, on_done)
    finally:
        bar.close()
    order = {t.run_name: i for i, t in enumerate(tasks)}
    outcomes.sort(key=lambda o: order[o.run_name])

    report = SweepReport(outcomes, None)
    failed = report.by_status("failed")
    if figures and failed:
        report.figures_error = f"notebook 06 not run: {len(failed)} run(s) failed"
    elif figures:
        declared = notebook_parameters(notebook_path(FIGURES_NOTEBOOK))
        shared = {k: v for k, v in (overrides or {}).items() if k in declared}
        output = (Path(executed) if executed is not None else executed_dir()) / f"{FIGURES_NOTEBOOK}.ipynb"
        try:
            report.figures = run_notebook(
                FIGURES_NOTEBOOK, output=output, preset=preset, overrides=shared, progress=progress
            )
        except Exception as err:
            cell = getattr(err, "cell_index", None)
            where = f" in cell {cell}" if cell is not None else ""
            report.figures_error = (
                f"notebook 06 failed{where}: {getattr(err, 'ename', type(err).__name__)}: {getattr(err, 'evalue', err)}"
            )
    report.seconds = time.perf_counter() - started
    if tasks:
        results_dir = Path(tasks[0].run_dir).parent.parent
        write_json(
            results_dir / "sweep.json",
            {
                "preset": str(preset),
                "workers": workers,
                "threads_per_run": threads,
                "executor": scheduler or cluster or "local-pool",
                "seconds": report.seconds,
                "outcomes": [dataclasses.asdict(o) for o in outcomes],
                "figures": str(report.figures) if report.figures else None,
                "figures_error": report.figures_error,
            },
        )
    return report


def add_set_option(parser: argparse.ArgumentParser, help: str) -> None:
    """The ``--set NAME=VALUE`` option of the sweep's and the pipeline's command lines:
    repeatable, its items accumulating (read them with :func:`parse_set`)."""
    parser.add_argument("--set", nargs="*", action="extend", default=[], metavar="NAME=VALUE", help=help)


def parse_set(items: Sequence[str]) -> dict[str, Any]:
    """``--set NAME=VALUE`` items (values read as YAML) as a dict; a name given twice with
    different values, a missing ``=`` or an empty name exit with a message naming it."""
    values: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise SystemExit(f"--set expects NAME=VALUE, got {item!r}")
        key, text = item.split("=", 1)
        key = key.strip()
        if not key:
            raise SystemExit(f"--set expects NAME=VALUE, got {item!r} (no name)")
        value = yaml.safe_load(text)
        if key in values and values[key] != value:
            raise SystemExit(f"--set gives {key} twice with different values: {values[key]!r} and {value!r}")
        values[key] = value
    return values


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status (1 if any run failed, 130 if interrupted)."""
    parser = argparse.ArgumentParser(prog="python -m bioal.sweep", description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="demo", help="demo, paper or a YAML file")
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="parallel runs (default: one per GPU, else one per CPU core, at most 4); each kernel gets "
        "cores // workers threads unless OMP_NUM_THREADS is set, and bit-identical records need the same "
        "threads per run (a resume under another count warns)",
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--scheduler", default=None, help="address of a running Dask scheduler")
    where.add_argument("--cluster", choices=("local", "slurm", "pbs"), default=None, help="start a Dask cluster")
    parser.add_argument("--cluster-spec", default=None, help="YAML file of keyword arguments for the cluster")
    parser.add_argument("--seeds", type=int, nargs="+", default=None, help="default: the preset's SEEDS")
    parser.add_argument("--strategies", nargs="+", default=None, choices=STRATEGIES)
    parser.add_argument("--starts", type=int, nargs="+", default=list(STARTS), help="INIT_POS values (0 cold, 5 warm)")
    parser.add_argument("--no-full", action="store_true", help="leave out the full-supervision runs")
    parser.add_argument("--no-figures", action="store_true", help="do not run notebook 06 at the end")
    add_set_option(
        parser,
        "override a notebook 05 parameter for every run (repeatable; not STRATEGY, INIT_POS, SEED or "
        "FULL_SUPERVISION, which the grid sets)",
    )
    parser.add_argument("--executed", default=None, help="folder for executed notebooks (default: _executed/)")
    args = parser.parse_args(argv)
    overrides = parse_set(args.set)
    try:
        check_grid_overrides(overrides, "choose the grid with --strategies, --starts, --seeds and --no-full")
    except ValueError as err:
        parser.error(str(err))
    spec = {}
    if args.cluster_spec:
        spec = yaml.safe_load(Path(args.cluster_spec).read_text(encoding="utf-8")) or {}
        if not isinstance(spec, dict):
            raise SystemExit(f"{args.cluster_spec}: a cluster spec is a mapping of keyword arguments")
    try:
        report = run_sweep(
            args.preset,
            strategies=args.strategies,
            starts=args.starts,
            seeds=args.seeds,
            full_supervision=not args.no_full,
            overrides=overrides,
            workers=args.workers,
            scheduler=args.scheduler,
            cluster=args.cluster,
            cluster_spec=spec,
            figures=not args.no_figures,
            executed=args.executed,
        )
    except KeyboardInterrupt:
        print("sweep: interrupted; run the same command again to resume.", file=sys.stderr)
        return 130
    print(report.summary())
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
