"""The papermill sweep: grid, completeness, a tiny sweep locally and on a Dask LocalCluster,
resume after an interruption, a failing run reported without stopping the others."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
from helpers_results import write_prepared_audio

from bioal import records, sweep
from bioal.config import load_preset
from bioal.embeddings import EmbeddingSplit, write_split
from bioal.paper import PAPER_CLASSES
from bioal.utils import StaleResumeError, rng


def write_tiny_embeddings(root: Path, seed: int = 0, sizes=(("train", 90), ("valid", 40), ("test", 40))) -> Path:
    """Small clustered clip embeddings with frame labels, no audio or encoder needed."""
    gen = rng(seed, "tiny-embeddings")
    n_classes, dim, frames = len(PAPER_CLASSES), 16, 32
    centres = gen.normal(0, 1, (n_classes + 1, dim))
    for split, n in sizes:
        cls = np.arange(n) % (n_classes + 1)  # last "class" = negatives; every class has >= 5 clips
        emb = np.abs(centres[cls][:, None, :] + 0.5 * gen.normal(0, 1, (n, frames, dim))).astype(np.float32)
        labels = np.zeros((n, frames, n_classes), dtype=np.float32)
        for i, c in enumerate(cls):
            if c < n_classes:
                start = int(gen.integers(0, frames - 8))
                labels[i, start : start + 8, c] = 1
        write_split(
            root / "embeddings" / f"{split}.h5",
            EmbeddingSplit(emb, labels, list(PAPER_CLASSES), [f"rec{i % 3}.wav" for i in range(n)], np.arange(n) * 5.0),
        )
    write_prepared_audio(root, [f"rec{i}.wav" for i in range(3)])  # for the selected-samples explorer
    return root


def tiny_overrides(tmp_path: Path) -> dict:
    return {
        "DATA_ROOT": str(tmp_path / "data"),
        "RESULTS_DIR": str(tmp_path / "results"),
        "BUDGETS": [10, 20],
        "MAX_EPOCHS": 4,
        "CLASSIFIER_HIDDEN": 16,
        "DEVICE": "cpu",
    }


@pytest.fixture()
def tiny(tmp_path):
    write_tiny_embeddings(tmp_path / "data")
    return tmp_path


# --------------------------------------------------------------------------- fast


def test_grid_of_the_demo_preset(tmp_path):
    tasks = sweep.sweep_tasks("demo", executed=tmp_path / "_executed")
    names = [t.run_name for t in tasks]
    assert len(tasks) == 4 * 2 * 3 + 3
    assert names[:4] == ["random-cold-seed0", "mp-cold-seed0", "ft-cold-seed0", "mfft-cold-seed0"]
    assert names[4] == "random-warm-seed0"
    assert names[-3:] == ["full-seed0", "full-seed1", "full-seed2"]
    task = tasks[names.index("mfft-warm-seed2")]
    assert task.parameters["STRATEGY"] == "mfft" and task.parameters["INIT_POS"] == 5 and task.parameters["SEED"] == 2
    assert task.parameters["FULL_SUPERVISION"] is False
    assert task.parameters["MAX_EPOCHS"] == load_preset("demo")["MAX_EPOCHS"]  # preset values reach each run
    assert task.output == str(tmp_path / "_executed" / "runs" / "05_experiments-mfft-warm-seed2.ipynb")
    assert task.run_dir.endswith(os.path.join("results", "demo", "runs", "mfft-warm-seed2"))
    assert tasks[-1].full_supervision and tasks[-1].parameters["SEED"] == 2
    paper = sweep.sweep_tasks("paper", executed=tmp_path)
    assert len(paper) == 45 and {t.parameters["SEED"] for t in paper} == {1, 2, 3, 4, 5}


def test_grid_errors(tmp_path):
    with pytest.raises(KeyError, match="not in the grid"):
        sweep.sweep_tasks("demo", run_overrides={"mfft-cold-seed9": {"SEED": 1}}, executed=tmp_path)
    with pytest.raises(KeyError, match="no parameter 'NOT_A_PARAMETER'"):
        sweep.sweep_tasks("demo", overrides={"NOT_A_PARAMETER": 1}, executed=tmp_path)


def finish_round(folder, r, n):
    """Write round ``r`` (ending at ``n`` labels) of a run folder."""
    zeros = [0.0] * 7
    records.write_round(folder, records.RoundRecord(
        round=r, n_labelled=n, selected=list(range(n - 10, n)), selected_mismatch=[None] * 10,
        selected_distance=[None] * 10, threshold=0.5, epochs=1, select_seconds=0.0, train_seconds=0.0,
        class_names=list(PAPER_CLASSES), class_counts=[0] * 7, valid_ap=zeros, valid_f1=zeros, test_ap=zeros,
        test_f1=zeros, history=[]))


def test_run_complete_needs_records_and_notebook(tmp_path):
    overrides = {"RESULTS_DIR": str(tmp_path / "results"), "BUDGETS": [10, 20]}
    tasks = sweep.sweep_tasks(
        "demo", strategies=["ft"], starts=[0], seeds=[0], overrides=overrides, executed=tmp_path / "ex"
    )
    al, full = tasks

    run_dir = Path(al.run_dir)
    records.write_config(run_dir, {"strategy": "ft", "seed": 0, "init_pos": 0, "budgets": [10, 20]})
    finish_round(run_dir, 0, 10)
    Path(al.output).parent.mkdir(parents=True)
    Path(al.output).write_text("{}")
    assert not sweep.run_complete(al)  # round 20 missing
    finish_round(run_dir, 1, 20)
    assert sweep.run_complete(al)
    Path(al.output).unlink()
    assert not sweep.run_complete(al)  # records complete, notebook missing

    full_dir = Path(full.run_dir)
    records.write_config(full_dir, {"strategy": "random", "seed": 0, "init_pos": 0, "full_supervision": True})
    records.write_labelled_round(full_dir, np.zeros(90, dtype=np.int64))
    Path(full.output).write_text("{}")
    finish_round(full_dir, 0, 50)
    assert not sweep.run_complete(full)  # the round did not label the whole pool
    (full_dir / "rounds" / "00050.json").unlink()
    finish_round(full_dir, 0, 90)
    assert sweep.run_complete(full)


# --------------------------------------------------------------------------- end to end


def _rounds(results: Path, name: str) -> dict[str, dict]:
    return {p.name: json.loads(p.read_text()) for p in sorted((results / "runs" / name / "rounds").glob("*.json"))}


@pytest.mark.slow
def test_tiny_sweep_locally_then_resume(tiny):
    overrides = tiny_overrides(tiny)
    executed = tiny / "_executed"
    kwargs = dict(
        strategies=["random", "mfft"], starts=[0], seeds=[0], overrides=overrides, executed=executed, progress=False
    )
    report = sweep.run_sweep("demo", workers=2, **kwargs)
    assert report.ok, report.summary()
    assert [o.status for o in report.outcomes] == ["done", "done", "done"]
    results = tiny / "results"
    for name in ("random-cold-seed0", "mfft-cold-seed0", "full-seed0"):
        assert (executed / "runs" / f"05_experiments-{name}.ipynb").is_file()
    assert report.figures == executed / "06_figures.ipynb" and report.figures.is_file()
    layout = (results / "al_results.csv").read_text().splitlines()
    assert layout[0].startswith("sampling_method,pos_init_num,num_annotated_samples,Mosquito_mean")
    assert [line.split(",")[0] for line in layout[1:]] == ["rand", "rand", "mfft", "mfft"]
    assert json.loads((results / "sweep.json").read_text())["outcomes"][0]["status"] == "done"

    # interrupt mfft after its first round: its last round and executed notebook are gone
    before = _rounds(results, "mfft-cold-seed0")
    first = results / "runs" / "mfft-cold-seed0" / "rounds" / "00010.json"
    first_mtime = first.stat().st_mtime_ns
    (results / "runs" / "mfft-cold-seed0" / "rounds" / "00020.json").unlink()
    (executed / "runs" / "05_experiments-mfft-cold-seed0.ipynb").unlink()
    # one worker gets every core's thread: unless that is the same count, the resume says so
    other_threads = sweep._kernel_threads(1) != sweep._kernel_threads(2)
    with (pytest.warns(UserWarning, match=r"mfft-cold-seed0: resumed with \d+ thread") if other_threads
          else contextlib.nullcontext()):
        report = sweep.run_sweep("demo", workers=1, figures=False, **kwargs)
    statuses = {o.run_name: o.status for o in report.outcomes}
    assert statuses == {"random-cold-seed0": "skipped", "mfft-cold-seed0": "done", "full-seed0": "skipped"}
    assert first.stat().st_mtime_ns == first_mtime  # the finished round was not redone
    after = _rounds(results, "mfft-cold-seed0")
    assert [r["selected"] for r in after.values()] == [r["selected"] for r in before.values()]

    # the command line: everything finished, nothing to do, exit status 0
    args = ["--preset", "demo", "--strategies", "random", "mfft", "--starts", "0", "--seeds", "0", "--no-figures"]
    args += ["--executed", str(executed), "--set", *[f"{k}={json.dumps(v)}" for k, v in overrides.items()]]
    assert sweep.main(args) == 0


@pytest.mark.slow
def test_sweep_on_a_dask_local_cluster_with_a_failing_run(tiny):
    overrides = tiny_overrides(tiny)
    missing = str(tiny / "no-such-data")
    report = sweep.run_sweep(
        "demo",
        strategies=["random", "ft"],
        starts=[0],
        seeds=[0],
        full_supervision=False,
        overrides=overrides,
        run_overrides={"ft-cold-seed0": {"DATA_ROOT": missing}},
        cluster="local",
        cluster_spec={"processes": False},
        workers=2,
        executed=tiny / "_executed",
        progress=False,
    )
    statuses = {o.run_name: o.status for o in report.outcomes}
    assert statuses == {"random-cold-seed0": "done", "ft-cold-seed0": "failed"}
    failed = report.by_status("failed")[0]
    assert failed.cell_index is not None and failed.ename and "no-such-data" in failed.evalue
    assert Path(failed.notebook).is_file() and failed.notebook.endswith(".failed.ipynb")
    assert not report.ok and report.figures is None and "1 run(s) failed" in report.figures_error
    assert "FAILED in cell" in report.summary()
    assert (tiny / "_executed" / "runs" / "05_experiments-random-cold-seed0.ipynb").is_file()


# --------------------------------------------------------------------------- command line and inputs


class _Report:
    ok = True

    def summary(self) -> str:
        return "sweep: stub"


def _capture_run_sweep(monkeypatch) -> dict:
    seen: dict = {}

    def fake(preset, **kwargs):
        seen.update(kwargs, preset=preset)
        return _Report()

    monkeypatch.setattr(sweep, "run_sweep", fake)
    return seen


def test_repeated_set_accumulates_and_refuses_a_key_given_twice_differently(monkeypatch, capsys):
    seen = _capture_run_sweep(monkeypatch)
    assert sweep.main(["--set", "MAX_EPOCHS=5", "--set", "RESULTS_DIR=/tmp/x", "CLASSIFIER_LR=0.001"]) == 0
    assert seen["overrides"] == {"MAX_EPOCHS": 5, "RESULTS_DIR": "/tmp/x", "CLASSIFIER_LR": 0.001}
    assert sweep.main(["--set", "MAX_EPOCHS=5", "--set", "MAX_EPOCHS=5"]) == 0  # the same value twice is fine
    with pytest.raises(SystemExit, match="MAX_EPOCHS twice with different values: 5 and 6"):
        sweep.main(["--set", "MAX_EPOCHS=5", "--set", "MAX_EPOCHS=6"])


@pytest.mark.parametrize("key", sweep.GRID_PARAMETERS)
def test_grid_parameters_cannot_be_set_for_every_run(key, monkeypatch, capsys, tmp_path):
    seen = _capture_run_sweep(monkeypatch)
    with pytest.raises(SystemExit):
        sweep.main(["--set", f"{key}=1"])
    err = capsys.readouterr().err
    assert f"{key} cannot be overridden" in err and "--strategies, --starts, --seeds and --no-full" in err
    assert not seen  # nothing ran
    with pytest.raises(ValueError, match=f"{key} cannot be overridden for the sweep: the grid sets"):
        sweep.sweep_tasks("demo", overrides={key: 1}, executed=tmp_path)
    with pytest.raises(ValueError, match=r"run_overrides\['ft-cold-seed0'\] may not change which run it is"):
        sweep.sweep_tasks("demo", run_overrides={"ft-cold-seed0": {key: 1}}, executed=tmp_path)


def _finish_a_round(results: Path, name: str = "ft-cold-seed0") -> None:
    """The first of two rounds of a run: a run to resume."""
    records.write_config(results / "runs" / name, {"strategy": "ft", "seed": 0, "init_pos": 0, "budgets": [10, 20]})
    finish_round(results / "runs" / name, 0, 10)


def test_sweep_inputs_compare_effective_values(tiny):
    results = tiny / "results"
    overrides = tiny_overrides(tiny)
    sweep.check_sweep_inputs("demo", overrides, results)
    path = results / "sweep_inputs.json"
    recorded = json.loads(path.read_text())
    assert recorded["parameters"]["RECORD_MISMATCH"] is True  # notebook 05's default is part of it
    _finish_a_round(results)
    # a folder fingerprinted before PANNS_CHECKPOINT was declared, from the preset and overrides only
    for key in ("PANNS_CHECKPOINT", "RECORD_MISMATCH", "SELECT_DTYPE"):
        del recorded["parameters"][key]
    path.write_text(json.dumps(recorded))
    sweep.check_sweep_inputs("demo", overrides, results)  # new keys at their defaults are no change
    sweep.check_sweep_inputs("demo", {**overrides, "RECORD_MISMATCH": True}, results)  # the default, given
    with pytest.raises(StaleResumeError, match="parameters/RECORD_MISMATCH: new"):
        sweep.check_sweep_inputs("demo", {**overrides, "RECORD_MISMATCH": False}, results)
    with pytest.raises(StaleResumeError, match="parameters/MAX_EPOCHS: 4 -> 5"):
        sweep.check_sweep_inputs("demo", {**overrides, "MAX_EPOCHS": 5}, results)


def test_sweep_inputs_do_not_lock_a_folder_without_records(tiny):
    results = tiny / "results"
    overrides = tiny_overrides(tiny)
    sweep.check_sweep_inputs("demo", {**overrides, "BUDGETS": [10, 100000]}, results)  # its runs all failed
    (results / "runs").mkdir()
    records.write_config(results / "runs" / "ft-cold-seed0", {"strategy": "ft", "seed": 0})  # no round
    sweep.check_sweep_inputs("demo", overrides, results)  # the typo fixed: nothing to mix, accepted
    assert json.loads((results / "sweep_inputs.json").read_text())["parameters"]["BUDGETS"] == [10, 20]
    _finish_a_round(results)
    with pytest.raises(StaleResumeError, match="BUDGETS"):
        sweep.check_sweep_inputs("demo", {**overrides, "BUDGETS": [10, 30]}, results)


# --------------------------------------------------------------------------- threads and Ctrl-C


def _folders(tmp_path: Path) -> dict:
    return {"RESULTS_DIR": str(tmp_path / "results"), "DATA_ROOT": str(tmp_path / "data")}


def _fake_notebooks(monkeypatch, behaviour=None) -> list[str]:
    """Replace papermill: each execution writes a partial copy as papermill does, then runs
    ``behaviour(run_name)`` (default: returns at once) and removes it."""
    started: list[str] = []

    def fake(name, output, preset, overrides, progress):
        output = Path(output)
        run = output.stem.split("-", 1)[1]
        started.append(run)
        output.parent.mkdir(parents=True, exist_ok=True)
        partial = output.with_name(f".{output.name}.abc123.ipynb")
        partial.write_text("{}")
        if behaviour is not None:
            behaviour(run)
        partial.unlink()
        return output

    monkeypatch.setattr(sweep, "run_notebook", fake)
    return started


def test_a_run_resumed_under_another_thread_count_is_named(tmp_path, monkeypatch):
    _fake_notebooks(monkeypatch)
    kwargs = dict(strategies=["ft"], starts=[0], seeds=[0], full_supervision=False, figures=False, progress=False,
                  overrides=_folders(tmp_path), executed=tmp_path / "ex")
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    report = sweep.run_sweep("demo", workers=1, **kwargs)
    assert report.ok
    results = tmp_path / "results"
    assert json.loads((results / "sweep_threads.json").read_text()) == {"ft-cold-seed0": ["2"]}
    assert json.loads((results / "sweep.json").read_text())["threads_per_run"] == "2"
    _finish_a_round(results)  # a round finished with 2 threads, the run not complete
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    with pytest.warns(UserWarning, match=r"ft-cold-seed0: resumed with 1 thread\(s\) per run, but its finished "
                      r"rounds ran with 2: its records will not be bit-identical"):
        sweep.run_sweep("demo", workers=2, **kwargs)
    assert json.loads((results / "sweep_threads.json").read_text()) == {"ft-cold-seed0": ["2", "1"]}
    finish_round(results / "runs" / "ft-cold-seed0", 1, 20)  # complete: only its notebook runs again
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sweep.run_sweep("demo", workers=2, **kwargs)
    assert json.loads((results / "sweep_threads.json").read_text()) == {"ft-cold-seed0": ["2", "1"]}


def _interrupt_when_started(started: threading.Event, times: int) -> threading.Thread:
    def send() -> None:
        started.wait(10)
        for _ in range(times):
            time.sleep(0.5)
            os.kill(os.getpid(), signal.SIGINT)

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    return thread


def test_ctrl_c_stops_after_the_runs_in_progress(tmp_path, monkeypatch, capsys):
    started, release = threading.Event(), threading.Event()

    def behaviour(run):
        started.set()
        release.wait(10)

    runs = _fake_notebooks(monkeypatch, behaviour)
    tasks = sweep.sweep_tasks("demo", strategies=["ft", "mfft"], starts=[0], seeds=[0], full_supervision=False,
                              overrides=_folders(tmp_path), executed=tmp_path / "ex")
    done = []
    _interrupt_when_started(started, 1)
    stop = sweep._stop

    def stop_then_release(futures, on_done):  # the run in progress ends only once the Ctrl-C is handled
        threading.Timer(0.2, release.set).start()
        stop(futures, on_done)

    monkeypatch.setattr(sweep, "_stop", stop_then_release)
    with pytest.raises(KeyboardInterrupt):
        sweep._run_local(tasks, 1, done.append)
    err = capsys.readouterr().err
    assert "stopping after the 1 run(s) in progress finish (ft-cold-seed0)" in err
    assert "Press Ctrl-C again to stop at once" in err
    assert runs == ["ft-cold-seed0"] and [o.status for o in done] == ["done"]  # mfft was never started


def test_a_second_ctrl_c_stops_at_once_and_removes_partial_notebooks(tmp_path, monkeypatch, capsys):
    started, release = threading.Event(), threading.Event()

    def behaviour(run):
        started.set()
        release.wait(30)

    _fake_notebooks(monkeypatch, behaviour)
    tasks = sweep.sweep_tasks("demo", strategies=["ft"], starts=[0], seeds=[0], full_supervision=False,
                              overrides=_folders(tmp_path), executed=tmp_path / "ex")
    _interrupt_when_started(started, 2)
    began = time.perf_counter()
    try:
        with pytest.raises(KeyboardInterrupt):
            sweep._run_local(tasks, 1, lambda outcome: None)
        assert time.perf_counter() - began < 10  # not waiting for the run
        assert "sweep: stopping at once" in capsys.readouterr().err
        assert not list((tmp_path / "ex" / "runs").glob(".05_experiments-*"))
    finally:
        release.set()


def test_the_command_line_says_how_to_resume_after_ctrl_c(monkeypatch, capsys):
    def interrupted(preset, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(sweep, "run_sweep", interrupted)
    assert sweep.main(["--seeds", "0"]) == 130
    assert "sweep: interrupted; run the same command again to resume" in capsys.readouterr().err
