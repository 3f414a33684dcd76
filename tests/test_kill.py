"""Kill tests: each resumable stage, SIGKILLed at a seeded random point and restarted, ends with
the files of an uninterrupted run (timings aside), and the kill leaves no partial file that a
reader would take as complete.

The stages (``tests/helpers_kill.py``): download (from a throttled server on 127.0.0.1),
unpack, preparation, encoder training, extraction, one AL run and the sweep. The reference run,
the killed run and the restart are child processes (the killed one's whole process group gets
the SIGKILL, papermill kernels included); the kill point is a seeded fraction of the reference
child's work time. The sweep restarts in this process on a Dask ``LocalCluster`` instead, where
a worker (and its kernel) is killed mid-run as well.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import h5py
import helpers_kill
import numpy as np
import psutil
import pytest
import torch
from helpers_data import make_dev_set
from helpers_encoder import make_prepared
from helpers_kill import OUTPUTS
from test_sweep import write_tiny_embeddings

from bioal import records
from bioal.embeddings import read_split
from bioal.synth.embeddings import paper_shaped_splits
from bioal.utils import rng

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
HELPER = Path(__file__).with_name("helpers_kill.py")
#: The seeds of the kill points (``BIOAL_KILL_SEEDS=1,2,3`` tries more of them).
KILL_SEEDS = [int(s) for s in os.environ.get("BIOAL_KILL_SEEDS", "14").split(",")]
TIMING = {*records.TIMING_KEYS, "seconds"}  # round timings, and the encoder history's epoch seconds
#: One thread everywhere, as Dask's nanny sets for its workers: papermill kernels inherit it,
#: and float sums then agree between the reference, the children and the Dask workers.
THREADS = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
PAYLOAD = rng(0, "kill-payload").integers(0, 256, size=2 << 20, dtype=np.uint8).tobytes()


# --------------------------------------------------------------------------- a throttled file server


class _Slow(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (the http.server API)
        start = 0
        if self.headers.get("Range", "").startswith("bytes="):
            start = int(self.headers["Range"][6:].split("-")[0])
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(PAYLOAD) - 1}/{len(PAYLOAD)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(PAYLOAD) - start))
        self.end_headers()
        try:
            for lo in range(start, len(PAYLOAD), 1 << 14):
                self.wfile.write(PAYLOAD[lo : lo + (1 << 14)])
                time.sleep(0.004)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Slow)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/blob.bin"
    httpd.shutdown()


# --------------------------------------------------------------------------- inputs per stage


def _zip_dev_set(root: Path) -> None:
    make_dev_set(root / "src")
    with zipfile.ZipFile(root / "Development_set.zip", "w") as archive:
        for file in sorted((root / "src" / "Development_Set").rglob("*")):
            archive.write(file, file.relative_to(root / "src"))


def _setup(stage: str, root: Path, url: str) -> dict:
    if stage == "download":
        return {"url": url, "md5": hashlib.md5(PAYLOAD).hexdigest(), "size": len(PAYLOAD)}
    if stage == "unpack":
        _zip_dev_set(root)
    elif stage == "prepare":
        make_dev_set(root / "raw")
    elif stage in ("train", "extract"):
        make_prepared(root)
    elif stage == "al_run":
        from bioal.embeddings import write_split

        for name, split in zip(("train", "valid", "test"), paper_shaped_splits(200, 60, 60, 8, 16, seed=1),
                               strict=True):
            write_split(root / "embeddings" / f"{name}.h5", split)
    elif stage == "sweep":
        write_tiny_embeddings(root / "data")
    return {}


# --------------------------------------------------------------------------- child processes


def _start(stage: str, root: Path, args: dict) -> subprocess.Popen:
    """Start the stage in a child (its own session); return once its imports are done.
    Its stdout (READY, DONE) is read line by line; its stderr goes to a file (no pipe to fill)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(HELPER.parent)]), **THREADS}
    log = tempfile.TemporaryFile("w+")
    proc = subprocess.Popen(
        [sys.executable, str(HELPER), stage, str(root), json.dumps(args)],
        stdout=subprocess.PIPE, stderr=log, text=True, env=env, cwd=ROOT, start_new_session=True,
    )
    proc.log = log  # type: ignore[attr-defined]
    line = proc.stdout.readline()
    assert line.strip() == "READY", _stderr(proc)
    return proc


def _stderr(proc: subprocess.Popen) -> str:
    proc.log.seek(0)  # type: ignore[attr-defined]
    return proc.log.read()[-4000:]  # type: ignore[attr-defined]


def _kill_at(stage: str, root: Path, args: dict, delay: float) -> bool:
    """Run the stage in a child and SIGKILL its process group ``delay`` s into its work;
    True when it was still running then."""
    proc = _start(stage, root, args)
    try:
        proc.wait(timeout=delay)
        return False
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        return True
    finally:
        proc.stdout.close()
        proc.log.close()  # type: ignore[attr-defined]


def _finish(stage: str, root: Path, args: dict) -> float:
    """Run the stage to its end in a child; return the seconds of its work (after imports)."""
    proc = _start(stage, root, args)
    start = time.perf_counter()
    out = proc.stdout.read()  # to the child's end (stderr goes to its file)
    proc.wait(timeout=300)
    seconds = time.perf_counter() - start
    try:
        assert proc.returncode == 0 and "DONE" in out, _stderr(proc)
    finally:
        proc.stdout.close()
        proc.log.close()  # type: ignore[attr-defined]
    return seconds


# --------------------------------------------------------------------------- comparing files


def _norm(value):
    if isinstance(value, dict):
        return {k: _norm(v) for k, v in value.items() if k not in TIMING}
    if isinstance(value, (list, tuple)):
        return [_norm(v) for v in value]
    if isinstance(value, torch.Tensor):
        return ("tensor", str(value.dtype), tuple(value.shape), hashlib.sha256(value.cpu().numpy().tobytes()).hexdigest())
    return value


def _content(path: Path):
    """A file's content for comparison, timings aside; raises if its reader cannot read it."""
    if path.suffix == ".json":
        return _norm(json.loads(path.read_text()))
    if path.suffix == ".pt":
        return _norm(torch.load(path, map_location="cpu", weights_only=True))
    if path.suffix == ".h5":
        with h5py.File(path, "r") as handle:
            arrays = {k: handle[k][()] for k in handle}
            data = {k: hashlib.sha256(np.ascontiguousarray(a.astype(str) if a.dtype == object else a).tobytes())
                    .hexdigest() for k, a in arrays.items()}
            return data, {k: str(v) for k, v in handle.attrs.items()}
    if path.suffix == ".npy":
        return np.load(path).tolist()
    if path.suffix == ".ipynb":
        return "executed notebook"  # holds timings; its presence is what the sweep reads
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _files(root: Path, stage: str) -> dict[str, Path]:
    out = {}
    for top in OUTPUTS[stage]:
        for path in (root / top).rglob("*"):
            rel = path.relative_to(root)
            if path.is_file() and not any(p.startswith(".") for p in rel.parts) and not path.name.endswith(".part"):
                if path.name == "sweep.json" or path.name.endswith(".failed.ipynb"):
                    continue  # the sweep's report of this invocation (statuses, times)
                out[str(rel)] = path
    return out


#: Files a stage rewrites as it goes: after a kill they must be readable, not final.
MUTABLE = {"checkpoint.pt", "best_encoder.pt", "history.json", "state.pt", "labelled_round.npy"}


def _check_after_kill(stage: str, root: Path, ref: Path) -> None:
    """No file left by the kill may pass for complete unless it is: every file is the
    reference's, or one its stage rewrites (then readable), or an unfinished extraction."""
    reference = _files(ref, stage)
    for rel, path in _files(root, stage).items():
        assert rel in reference, f"{rel}: left by the killed {stage} but not made by the uninterrupted run"
        if path.name in MUTABLE:
            _content(path)
            continue
        if path.suffix == ".h5":
            try:
                read_split(path)
            except (ValueError, OSError) as err:  # unfinished or damaged: a reader refuses it
                assert "unfinished" in str(err) or "truncated or damaged" in str(err), err
                continue
        assert _content(path) == _content(reference[rel]), f"{rel}: differs after the kill of {stage}"


def _compare(stage: str, root: Path, ref: Path) -> None:
    ours, theirs = _files(root, stage), _files(ref, stage)
    assert sorted(ours) == sorted(theirs)
    for rel in theirs:
        assert _content(ours[rel]) == _content(theirs[rel]), f"{rel}: differs from the uninterrupted {stage}"


# --------------------------------------------------------------------------- the sweep on Dask


def _kill_a_worker(root: Path, started: float, thread: threading.Thread) -> bool:
    """Once a run writes a round after ``started``, SIGKILL a Dask worker running a kernel."""
    me = psutil.Process()
    while thread.is_alive():
        rounds = list((root / "results" / "runs").glob("*/rounds/*.json"))
        if any(p.stat().st_mtime > started for p in rounds):
            for worker in me.children():
                kids = worker.children(recursive=True)
                if kids and "spawn" in " ".join(worker.cmdline()):
                    for proc in [*kids, worker]:
                        proc.send_signal(signal.SIGKILL)
                    return True
        time.sleep(0.05)
    return False


def _sweep_on_dask_killing_a_worker(root: Path) -> None:
    box: dict = {}

    def target() -> None:
        try:
            helpers_kill.stage_sweep(root, cluster="local")
        except BaseException as err:  # handed to the test below
            box["error"] = err

    started = time.time()
    thread = threading.Thread(target=target)
    thread.start()
    killed = _kill_a_worker(root, started, thread)
    thread.join(timeout=300)
    assert "error" not in box, box.get("error")
    assert killed, "the Dask sweep finished before a worker could be killed"


# --------------------------------------------------------------------------- the test


@pytest.mark.parametrize("seed", KILL_SEEDS)
@pytest.mark.parametrize("stage", list(OUTPUTS))
def test_killed_stage_restarts_to_the_uninterrupted_files(stage, seed, tmp_path, server, monkeypatch):
    for name, value in THREADS.items():
        monkeypatch.setenv(name, value)
    root, ref = tmp_path / "work", tmp_path / "ref"
    root.mkdir()
    args = _setup(stage, root, server)
    seconds = _finish(stage, root, args)  # the uninterrupted reference, timed like the killed child
    for top in OUTPUTS[stage]:
        (ref / top).parent.mkdir(parents=True, exist_ok=True)
        shutil.move(root / top, ref / top)
    for cache in root.glob("prepared/*/mean_std.json"):  # the reference run's cached statistics
        cache.unlink()

    gen = rng(seed, "kill", stage)
    killed = False
    for _ in range(3):  # a kill point past the child's end: start again and draw another
        for top in OUTPUTS[stage]:
            shutil.rmtree(root / top, ignore_errors=True)
        # the sweep's kill falls in its first half, so that runs are left for the Dask restart
        delay = float(gen.uniform(0.1, 0.5) if stage == "sweep" else gen.uniform(0.2, 0.9)) * seconds
        killed = _kill_at(stage, root, args, delay=delay)
        if killed:
            break
    assert killed, f"{stage} finished before every kill point"
    left = sum(1 for top in OUTPUTS[stage] for p in (root / top).rglob("*") if p.is_file())
    print(f"{stage}: killed at {delay:.2f} s of {seconds:.2f} s (seed {seed}), leaving {left} file(s)")
    _check_after_kill(stage, root, ref)
    if stage == "sweep":
        _sweep_on_dask_killing_a_worker(root)
    else:
        _finish(stage, root, args)
    _compare(stage, root, ref)
