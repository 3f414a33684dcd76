"""The released models: a stand-in release from real run records, served on 127.0.0.1, unpacked
safely, loaded without unpickling, and the paper's CSV rebuilt from it."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import stat
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from helpers_download import RecordServer

from bioal import records, release, results
from bioal.download import ChecksumError
from bioal.embeddings import read_split, write_split
from bioal.encoder import Cnn14Encoder
from bioal.experiment import ExperimentConfig, run_experiment
from bioal.paper import PAPER_CLASSES
from bioal.release import ReleaseError, ReleaseShapes, UnsafeCheckpointError
from bioal.synth.embeddings import paper_shaped_splits
from bioal.utils import read_json

N_TRAIN, DIM, HIDDEN, BUDGETS, SEEDS = 600, 16, 8, (40, 50, 60), (0, 1)
SHAPES = ReleaseShapes(in_dim=DIM, hidden=HIDDEN, n_classes=7, pool_size=N_TRAIN)


def _config(root: Path, **kw) -> ExperimentConfig:
    base = dict(results_dir=str(root / "results"), data_root=str(root / "data"), budgets=BUDGETS,
                classifier_hidden=HIDDEN, max_epochs=8, device="cpu", threads=1, standardize_features=True)
    return ExperimentConfig.from_dict({**base, **kw})


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    """Four strategies x cold/warm x two seeds and two full runs, really run on a small pool
    (z-scored features, so the stand-in folds the scaler), plus a tiny encoder file."""
    root = tmp_path_factory.mktemp("sweep")
    splits = paper_shaped_splits(n_train=N_TRAIN, n_valid=120, n_test=120, frames=8, dim=DIM, seed=5)
    for name, split in zip(("train", "valid", "test"), splits, strict=True):
        write_split(root / "data" / "embeddings" / f"{name}.h5", split)
    encoder = root / "data" / "models" / "encoder" / "best_encoder.pt"
    encoder.parent.mkdir(parents=True)
    torch.save(Cnn14Encoder(width=0.0625).encoder_state_dict(), encoder)
    with pytest.warns(UserWarning, match="positive clips for a warm start"):
        for seed in SEEDS:
            for strategy in ("random", "ft", "mp", "mfft"):
                for init_pos in (0, 5):
                    run_experiment(_config(root, strategy=strategy, init_pos=init_pos, seed=seed), splits, progress=False)
            run_experiment(_config(root, full_supervision=True, seed=seed), splits, progress=False)
    return root


@pytest.fixture(scope="module")
def standin(sweep):
    archive = release.write_standin_release(sweep / "results", sweep / "release", progress=False)
    tree = release.unpack_release(sweep / "release", progress=False)
    return archive, tree


def test_per_round_classifiers_are_in_the_run_records(sweep):
    folder = sweep / "results" / "runs" / "mfft-warm-seed1"
    run = records.load_run(folder)
    for r, record in enumerate(run.rounds):
        saved = records.load_classifier(folder, record.n_labelled)
        assert saved["round"] == r and saved["threshold"] == pytest.approx(record.threshold)
        assert saved["model"]["fc1.weight"].shape == (HIDDEN, DIM)
    last = torch.load(folder / "state.pt", weights_only=True)
    torch.testing.assert_close(last["model"], records.load_classifier(folder, BUDGETS[-1])["model"])


def test_standin_layout_and_checkpoints(standin, sweep):
    archive, tree = standin
    names = set(zipfile.ZipFile(archive).namelist())
    expected = {f"models/al_train/exp_{e}/{m}_with_{k}_pos_init/{b}.pth"
                for e in (1, 2) for m in ("rand", "ft", "mp", "mfft") for k in (0, 5) for b in BUDGETS}
    expected |= {"models/al_train_full/exp_1.pth", "models/al_train_full/exp_2.pth", "models/sl/best_encoder.pth"}
    assert names == expected
    assert tree.root == sweep / "release" / "unpacked" / "models" and tree.encoder == sweep / "release" / "best_encoder.pth"
    data = release.load_checkpoint(tree.al_train / "exp_2" / "mfft_with_5_pos_init" / "50.pth", SHAPES)
    assert list(data) == list(release.CHECKPOINT_KEYS)
    run = records.load_run(sweep / "results" / "runs" / "mfft-warm-seed1")
    assert data["anno_idx"].dtype == np.bool_ and int(data["anno_idx"].sum()) == 50
    np.testing.assert_array_equal(data["anno_idx"], (run.labelled_round >= 0) & (run.labelled_round <= 1))
    assert data["thres"] == run.rounds[1].threshold
    for key, attr in (("valid_cmap", "valid_ap"), ("valid_f1", "valid_f1"), ("test_cmap", "test_ap"),
                      ("test_f1", "test_f1")):
        assert data[key].dtype == torch.float64
        np.testing.assert_array_equal(data[key].numpy(), getattr(run.rounds[1], attr))
    full = release.load_checkpoint(tree.al_train_full / "exp_1.pth", SHAPES)
    assert full["anno_idx"].all()
    described = release.describe_checkpoint(data).set_index("key")
    assert list(described.index) == list(release.CHECKPOINT_KEYS)
    assert described.loc["anno_idx", "shape / value"] == [600] and described.loc["thres", "type"] == "float"
    assert described.loc["model", "shape / value"]["fc2.bias"] == [len(data["test_cmap"])]
    # the paper's shapes are the default: this small release does not fit them
    with pytest.raises(ReleaseError, match=r"50\.pth: 'anno_idx' has 600 entries, expected the pool's 21414"):
        release.load_checkpoint(tree.al_train / "exp_2" / "mfft_with_5_pos_init" / "50.pth")
    # the stand-in is written once per set of records
    mtime = archive.stat().st_mtime_ns
    assert release.write_standin_release(sweep / "results", sweep / "release", progress=False) == archive
    assert archive.stat().st_mtime_ns == mtime


def test_paper_shapes_come_from_the_configs():
    assert release.PAPER_SHAPES.state_shapes() == {
        "fc1.weight": (1024, 2048), "fc1.bias": (1024,), "fc2.weight": (7, 1024), "fc2.bias": (7,)}
    assert release.PAPER_SHAPES.pool_size == 21414


def test_release_csv_reproduces_the_runs(standin, sweep):
    _, tree = standin
    train = read_split(sweep / "data" / "embeddings" / "train.h5")
    ours = release.release_results(tree, train.labels, shapes=SHAPES, progress=False)
    tidy = results.tidy_table(sweep / "results", progress=False)
    totals, pool_size = results.pool_totals(tidy)
    theirs = results.paper_layout(tidy, totals, pool_size)
    comparison = release.compare_layouts(ours, theirs)
    assert comparison.equal and comparison.summary() == "24 x 40 cells equal"
    assert list(ours.columns) == list(theirs.columns) and len(ours.columns) == 43
    # without the pool's labels: the count columns are empty and the table says why
    bare = release.release_results(tree, shapes=SHAPES, progress=False)
    counts = [c for c in bare.columns if c.startswith("Total_") or c[: -len("_mean")] in (*PAPER_CLASSES, "Negative")
              or c[: -len("_std")] in (*PAPER_CLASSES, "Negative")]
    assert len(counts) == 24 and bare[counts].isna().all().all()
    assert "train_labels" in bare.attrs["counts"]
    assert release.compare_layouts(bare, theirs).summary() == "24 x 16 cells equal"
    # a changed cell is reported with its row and column
    theirs.loc[3, "test_cmap_mean"] += 0.01
    differences = release.compare_layouts(ours, theirs).differences
    assert differences[["column", "num_annotated_samples"]].values.tolist() == [["test_cmap_mean", 40]]


def _write_release(root: Path, runs: int = 3, budgets=(10, 20), pool: int = 50) -> ReleaseShapes:
    """A hand-made release with random float32 scores (tiny classifiers); returns its shapes."""
    shapes = ReleaseShapes(in_dim=4, hidden=3, n_classes=7, pool_size=pool)
    gen = np.random.default_rng(7)

    def save(path: Path, n: int) -> None:
        anno = np.zeros(pool, dtype=bool)
        anno[gen.choice(pool, n, replace=False)] = True
        model = {k: torch.from_numpy(gen.normal(size=s).astype(np.float32)) for k, s in shapes.state_shapes().items()}
        scores = {k: torch.from_numpy(gen.uniform(0, 1, 7).astype(np.float32)) for k in release.METRIC_KEYS}
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save({"anno_idx": anno, "model": model, **scores, "thres": 0.5}, path)

    for e in range(1, runs + 1):
        for method in ("rand", "ft", "mp", "mfft"):
            for k in (0, 5):
                for b in budgets:
                    save(root / "al_train" / f"exp_{e}" / f"{method}_with_{k}_pos_init" / f"{b}.pth", b)
        save(root / "al_train_full" / f"exp_{e}.pth", pool)
    return shapes


def test_aggregation_by_hand(tmp_path):
    shapes = _write_release(tmp_path)
    table = release.release_results(tmp_path, shapes=shapes, progress=False)
    assert table.shape == (16, 43)

    def by_hand(path: Path, key: str) -> float:
        values = torch.load(path, weights_only=False)[key].tolist()  # the stored fractions, by hand
        return round(100 * sum(values) / len(values), 2)

    per_run = [by_hand(tmp_path / "al_train" / f"exp_{e}" / "mp_with_5_pos_init" / "20.pth", "test_f1") for e in (1, 2, 3)]
    mean = sum(per_run) / 3
    std = (sum((v - mean) ** 2 for v in per_run) / 2) ** 0.5  # pandas' default: ddof 1
    row = table[(table.sampling_method == "mp") & (table.pos_init_num == 5) & (table.num_annotated_samples == 20)]
    assert row.test_f1_mean.item() == pytest.approx(round(mean, 2), abs=1e-9)
    assert row.test_f1_std.item() == pytest.approx(round(std, 2), abs=1e-9)
    full = [by_hand(tmp_path / "al_train_full" / f"exp_{e}.pth", "valid_cmap") for e in (1, 2, 3)]
    full_mean = sum(full) / 3
    full_std = (sum((v - full_mean) ** 2 for v in full) / 3) ** 0.5  # population std
    assert abs(full_std - (sum((v - full_mean) ** 2 for v in full) / 2) ** 0.5) > 0.01  # the two stds differ here
    np.testing.assert_allclose(table.full_valid_cmap_mean, round(full_mean, 2), atol=1e-9)
    np.testing.assert_allclose(table.full_valid_cmap_std, round(full_std, 2), atol=1e-9)
    # row order: start ascending, methods rand, mp, mfft, ft, budgets ascending
    assert list(table.sampling_method[:8]) == ["rand", "rand", "mp", "mp", "mfft", "mfft", "ft", "ft"]
    assert list(table.pos_init_num) == [0] * 8 + [5] * 8 and list(table.num_annotated_samples[:2]) == [10, 20]


def test_release_tidy_is_pinned(tmp_path):
    """The exact table of a hand-made release: a checkpoint's rows in order, and every value
    (a digest of the CSV; the class means are float32, as the tensors)."""
    shapes = _write_release(tmp_path)
    labels = (np.random.default_rng(3).uniform(size=(50, 2, 7)) > 0.8).astype(np.float32)
    scan = release.scan_release(tmp_path)
    tidy = release.release_tidy(scan, labels, shapes, progress=False)
    names = list(PAPER_CLASSES)
    expected = [(c, m) for m in ("valid_ap", "valid_f1", "test_ap", "test_f1") for c in [*names, "all"]]
    expected += [(c, "count") for c in names] + [("all", m) for m in ("count", "negative", "rare_count", "threshold")]
    rows = tidy[(tidy.run == "mfft_with_5_pos_init/exp_2") & (tidy.n_labelled == 20)]
    assert list(zip(rows["class"], rows.metric, strict=True)) == expected
    assert list(tidy.columns) == ["run", "strategy", "start", "init_pos", "seed", "round", "n_labelled", "class",
                                  "metric", "value"]
    digest = hashlib.sha256(tidy.to_csv(index=False).encode()).hexdigest()
    assert digest == "5511a630aa8de19a92387d85c66ea0b33d609d883ba57740f814b1d06342c2f5"
    bare = release.release_tidy(scan, None, shapes, progress=False)
    digest = hashlib.sha256(bare.to_csv(index=False).encode()).hexdigest()
    assert digest == "d8859e68e303a05335cbc37966537558d99317567ee5c762ad65eac80ae5fe03"


def test_path_parsing():
    assert release.parse_release_path("al_train/exp_2/mfft_with_5_pos_init/150.pth") == {
        "kind": "al", "exp": 2, "method": "mfft", "strategy": "mfft", "init_pos": 5, "start": "warm", "budget": 150}
    assert release.parse_release_path("al_train/exp_1/rand_with_0_pos_init/50.pth")["strategy"] == "random"
    assert release.parse_release_path("al_train/exp_1/rand_with_0_pos_init/50.pth")["start"] == "cold"
    assert release.parse_release_path("al_train_full/exp_3.pth") == {
        "kind": "full", "exp": 3, "method": "full", "strategy": "full", "init_pos": 0, "start": "full", "budget": None}
    with pytest.raises(ReleaseError, match="'coreset' is not one of"):
        release.parse_release_path("al_train/exp_1/coreset_with_0_pos_init/50.pth")
    for bad in ("al_train/exp_1/rand_with_0_pos_init/50.pt", "al_train/exp_1/50.pth", "al_train_full/21414.pth",
                "al_train/exp_x/rand_with_0_pos_init/50.pth"):
        with pytest.raises(ReleaseError, match="not a release checkpoint path"):
            release.parse_release_path(bad)


def test_scan_refuses_an_incomplete_release(standin, tmp_path):
    _, tree = standin
    scan = release.scan_release(tree)
    assert len(scan) == 2 * 4 * 2 * 3 + 2 and list(scan.kind[-2:]) == ["full", "full"]
    copy = tmp_path / "models"
    shutil.copytree(tree.root, copy)
    with pytest.raises(ReleaseError, match=r"exp_3: missing run folder \(expected exp_1\.\.exp_3\)"):
        release.scan_release(copy, runs=3)
    (copy / "al_train" / "exp_2" / "ft_with_0_pos_init" / "50.pth").unlink()
    with pytest.raises(ReleaseError, match=r"exp_2/ft_with_0_pos_init: missing checkpoints for budgets \[50\]"):
        release.scan_release(copy)
    shutil.rmtree(copy / "al_train" / "exp_2" / "ft_with_0_pos_init")
    with pytest.raises(ReleaseError, match=r"exp_2/ft_with_0_pos_init: missing run folder"):
        release.release_results(copy, shapes=SHAPES, progress=False)
    shutil.rmtree(copy / "al_train" / "exp_2")
    (copy / "al_train_full" / "exp_2.pth").unlink()
    with pytest.raises(ReleaseError, match=r"al_train/exp_2: missing run folder"):
        release.scan_release(copy, runs=2)
    (copy / "al_train" / "exp_1" / ".DS_Store").write_bytes(b"\0")
    with pytest.warns(UserWarning, match=r"ignoring 1 hidden file\(s\) that are not checkpoints: \['al_train/exp_1/\.DS_Store'\]"):
        assert len(release.scan_release(copy)) == 4 * 2 * 3 + 1
    (copy / "al_train" / "exp_1" / "notes.txt").write_text("x")
    with pytest.raises(ReleaseError, match="notes.txt: not a release checkpoint path"):
        release.scan_release(copy)


class _Payload:
    """Unpickling this would create a folder: the code a malicious checkpoint could run."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.makedirs, (str(self.marker),))


def test_malicious_pickle_is_refused_and_never_runs(standin, tmp_path):
    _, tree = standin
    good = torch.load(tree.al_train_full / "exp_1.pth", weights_only=False)
    marker = tmp_path / "the_payload_ran"
    path = tmp_path / "evil.pth"
    torch.save({**good, "thres": _Payload(marker)}, path)
    with pytest.raises(UnsafeCheckpointError, match=r"evil\.pth: refused: it needs the pickle global (os|posix)\.makedirs"):
        release.load_checkpoint(path, SHAPES)
    assert not marker.exists()
    # the legacy (non-zip) torch format goes through the same restricted unpickler
    legacy = tmp_path / "evil_legacy.pth"
    torch.save({**good, "thres": _Payload(marker)}, legacy, _use_new_zipfile_serialization=False)
    with pytest.raises(UnsafeCheckpointError, match="evil_legacy.pth: refused.*makedirs"):
        release.load_checkpoint(legacy, SHAPES)
    assert not marker.exists()
    # the allowlist is the bool array's: a float array's dtype class is not on it
    torch.save({**good, "anno_idx": good["anno_idx"].astype(np.float32)}, tmp_path / "floats.pth")
    with pytest.raises(UnsafeCheckpointError, match=r"floats\.pth: .*global numpy\.dtypes\.Float32DType"):
        release.load_checkpoint(tmp_path / "floats.pth", SHAPES)
    # an allowed type of the wrong form is loaded, then refused by the checks
    torch.save({**good, "anno_idx": good["anno_idx"].reshape(2, -1)}, tmp_path / "square.pth")
    with pytest.raises(ReleaseError, match=r"square\.pth: 'anno_idx' must be a 1-d numpy bool array"):
        release.load_checkpoint(tmp_path / "square.pth", SHAPES)


def test_a_numpy_1_pickle_loads(tmp_path):
    """Files saved under numpy 1 name the array rebuilder numpy.core.multiarray._reconstruct."""
    shapes = _write_release(tmp_path / "release", runs=1, budgets=(10,))
    source = tmp_path / "release" / "al_train_full" / "exp_1.pth"
    saved = torch.load(source, weights_only=False)
    torch.save(saved, tmp_path / "legacy.pth", _use_new_zipfile_serialization=False)  # plain pickle stream
    raw = (tmp_path / "legacy.pth").read_bytes()
    assert raw.count(b"numpy._core.multiarray\n") == 1
    (tmp_path / "numpy1.pth").write_bytes(raw.replace(b"numpy._core.multiarray\n", b"numpy.core.multiarray\n"))
    loaded = release.load_checkpoint(tmp_path / "numpy1.pth", shapes)
    np.testing.assert_array_equal(loaded["anno_idx"], saved["anno_idx"])


def test_truncated_and_malformed_checkpoints(standin, tmp_path):
    _, tree = standin
    source = tree.al_train / "exp_1" / "rand_with_0_pos_init" / "40.pth"
    raw = source.read_bytes()
    (tmp_path / "cut.pth").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ReleaseError, match=r"cut\.pth: truncated or not a torch checkpoint"):
        release.load_checkpoint(tmp_path / "cut.pth", SHAPES)
    with pytest.raises(FileNotFoundError, match="absent.pth"):
        release.load_checkpoint(tmp_path / "absent.pth", SHAPES)
    good = torch.load(source, weights_only=False)

    def refused(name: str, change: dict, pattern: str) -> None:
        torch.save({**good, **change}, tmp_path / name)
        with pytest.raises(ReleaseError, match=pattern):
            release.load_checkpoint(tmp_path / name, SHAPES)

    nan = {k: v.clone() for k, v in good["model"].items()}
    nan["fc2.weight"][0, 0] = float("nan")
    refused("nan.pth", {"model": nan}, r"nan\.pth: 'model\.fc2\.weight' holds NaN")
    wide = {**good["model"], "fc1.weight": torch.zeros(HIDDEN, DIM + 1)}
    refused("shape.pth", {"model": wide}, r"shape\.pth: 'model\.fc1\.weight' has shape \[8, 17\], expected \[8, 16\]")
    refused("classes.pth", {"test_f1": torch.zeros(6)}, r"classes\.pth: 'test_f1' has shape \[6\], expected \[7\]")
    missing = {k: v for k, v in good.items() if k != "valid_cmap"}
    torch.save(missing, tmp_path / "missing.pth")
    with pytest.raises(ReleaseError, match=r"missing\.pth: missing keys \['valid_cmap'\]"):
        release.load_checkpoint(tmp_path / "missing.pth", SHAPES)


def _zip(path: Path, members: list[tuple[str, bytes, int | None]]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data, mode in members:
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            if mode is not None:
                info.external_attr = mode << 16
            archive.writestr(info, data)
    return path


@pytest.mark.parametrize(
    ("member", "mode", "pattern"),
    [
        ("../escape.txt", None, r"climbs out of the target folder"),
        ("/etc/abs.txt", None, r"has an absolute path"),
        ("models/link", stat.S_IFLNK | 0o777, r"is a symbolic link"),
        ("models/fifo", stat.S_IFIFO | 0o644, r"not a regular file or folder"),
    ],
)
def test_unsafe_zip_members_are_refused(tmp_path, member, mode, pattern):
    archive = _zip(tmp_path / "bad.zip", [("models/ok.txt", b"fine", None), (member, b"/etc/passwd", mode)])
    with pytest.raises(ReleaseError, match=f"bad.zip: member .*{pattern}"):
        release.unpack_zip(archive, tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists() and not (tmp_path / "escape.txt").exists()


def test_zip_bomb_guard(tmp_path):
    archive = _zip(tmp_path / "bomb.zip", [("zeros.bin", bytes(4 << 20), None)])
    with pytest.raises(ReleaseError, match=r"zeros\.bin. declares 4194304 bytes from \d+ compressed \(ratio over 200\); refusing a possible zip bomb"):
        release.unpack_zip(archive, tmp_path / "out", progress=False)
    with pytest.raises(ReleaseError, match=r"declares 4194304 unpacked bytes, over the limit of 1000"):
        release.unpack_zip(archive, tmp_path / "out", progress=False, max_total=1000, max_ratio=1e9)
    assert not (tmp_path / "out").exists()


def test_interrupted_unpack_is_finished_and_recorded(standin, tmp_path, monkeypatch):
    archive, _ = standin
    calls = {"n": 0}
    extract = release._extract

    def failing(*args):
        calls["n"] += 1
        if calls["n"] == 10:
            raise KeyboardInterrupt
        extract(*args)

    monkeypatch.setattr(release, "_extract", failing)
    with pytest.raises(KeyboardInterrupt):
        release.unpack_zip(archive, tmp_path / "out", progress=False)
    assert (tmp_path / "out" / ".bioal-unpacking.json").is_file() and not (tmp_path / "out" / ".bioal-unpacked.json").exists()
    assert not list((tmp_path / "out").rglob("*.part"))  # a file is in place whole or not at all
    calls["n"] = 100
    written = []
    monkeypatch.setattr(release, "_extract", lambda *args: (written.append(args[1].filename), extract(*args)))
    release.unpack_zip(archive, tmp_path / "out", progress=False)
    assert len(written) == len(zipfile.ZipFile(archive).namelist()) - 9  # the nine finished files are kept
    marker = read_json(tmp_path / "out" / ".bioal-unpacked.json")
    assert marker["fingerprint"] == release.zip_fingerprint(archive)
    written.clear()
    release.unpack_zip(archive, tmp_path / "out", progress=False)
    assert written == []  # finished: nothing is done again
    other = _zip(tmp_path / "other.zip", [("models/a.txt", b"a", None)])
    with pytest.raises(ReleaseError, match="holds a finished unpack of another archive"):
        release.unpack_zip(other, tmp_path / "out", progress=False)


@pytest.fixture()
def server(standin, sweep):
    archive, _ = standin
    folder = archive.parent
    with RecordServer() as srv:
        record = release.make_release_record(folder, f"{srv.base}/api")
        assert [f["key"] for f in record["files"]] == list(release.RELEASE_FILES)
        srv.serve_record(record, folder)
        yield srv


def test_download_release_from_a_local_record(server, tmp_path):
    tree = release.download_release(tmp_path, progress=False, api_base=f"{server.base}/api")
    assert (tmp_path / "models.zip").read_bytes() == server.files["models.zip"]
    assert tree.encoder == tmp_path / "best_encoder.pth" and tree.al_train == tmp_path / "unpacked" / "models" / "al_train"
    assert len(release.scan_release(tree)) == 50
    n = len(server.requests)
    release.download_release(tmp_path, progress=False, api_base=f"{server.base}/api")
    assert [r[0] for r in server.requests[n:]] == [f"/api/records/{release.RELEASE_RECORD}"]


def test_download_release_md5_mismatch_and_resume(server, tmp_path):
    server.corrupt.add("models.zip")
    with pytest.raises(ChecksumError, match="md5 mismatch"):
        release.download_release(tmp_path / "a", progress=False, api_base=f"{server.base}/api")
    assert not (tmp_path / "a" / "unpacked").exists()
    server.reset()
    # an interrupted download left half of the zip: it is continued with a Range request
    half = len(server.files["models.zip"]) // 2
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "models.zip.part").write_bytes(server.files["models.zip"][:half])
    tree = release.download_release(tmp_path / "b", progress=False, api_base=f"{server.base}/api")
    gets = [r for r in server.requests if r[0].endswith("models.zip/content")]
    assert [g[1:] for g in gets] == [(f"bytes={half}-", 206)]
    assert (tmp_path / "b" / "models.zip").read_bytes() == server.files["models.zip"]
    assert len(release.scan_release(tree)) == 50


def test_clip_order_check(standin, sweep):
    _, tree = standin
    scan = release.scan_release(tree)
    labels = read_split(sweep / "data" / "embeddings" / "train.h5", meta_only=True).labels
    check = release.check_clip_order(scan, labels, SHAPES, progress=False)
    assert check.agrees is True and "agrees" in check.verdict and len(check.evidence) == 8
    assert check.evidence.holds.all() and (check.evidence.labelled == 40).all()
    shuffled = labels[np.random.default_rng(0).permutation(len(labels))]
    check = release.check_clip_order(scan, shuffled, SHAPES, progress=False)
    assert check.agrees is False and "does NOT follow" in check.verdict
    with pytest.raises(ValueError, match="599 clips, but the checkpoints' anno_idx has 600"):
        release.check_clip_order(scan, labels[:-1], SHAPES, progress=False)
    # against an embeddings file: the labels come back only when the order agrees
    order, pool_labels = release.pool_clip_order(scan, sweep / "data" / "embeddings" / "train.h5", SHAPES, progress=False)
    assert order.agrees is True
    np.testing.assert_array_equal(pool_labels, labels)
    order, pool_labels = release.pool_clip_order(scan, sweep / "missing.h5", SHAPES, progress=False)
    assert order.agrees is None and pool_labels is None and "no pool labels at" in order.verdict
    other = dataclasses.replace(SHAPES, pool_size=SHAPES.pool_size + 1)
    order, pool_labels = release.pool_clip_order(scan, sweep / "data" / "embeddings" / "train.h5", other, progress=False)
    assert order.agrees is None and pool_labels is None and "not the release's pool" in order.verdict


def test_rescoring_reproduces_the_stored_scores_and_resumes(standin, sweep, tmp_path, monkeypatch):
    _, tree = standin
    scan = release.scan_release(tree)
    folder = sweep / "data" / "embeddings"
    valid, test = read_split(folder / "valid.h5"), read_split(folder / "test.h5")
    assert len(release.last_checkpoints(scan)) == 2 * 8 + 2 and set(release.last_checkpoints(scan).budget.dropna()) == {60}
    table = release.rescore_release(scan, valid, test, tmp_path / "rescore", SHAPES, device="cpu", progress=False)
    assert len(table) == 50
    # the folded scaler gives the same classifier up to float32 rounding
    assert table.filter(like=" diff").abs().max().max() < 1e-3
    summary = release.rescore_summary(table)
    assert list(summary.columns) == ["mean |difference| (points)", "max |difference| (points)"]
    assert len(summary) == table.filter(like=" diff").shape[1] and (summary.max(axis=1) < 1e-3).all()
    assert (tmp_path / "rescore" / "al_train" / "exp_1" / "ft_with_5_pos_init" / "60.pth.json").is_file()
    monkeypatch.setattr(release, "_rescore_one", lambda *a: pytest.fail("a finished run was rescored again"))
    again = release.rescore_release(scan, valid, test, tmp_path / "rescore", SHAPES, device="cpu", progress=False)
    pd.testing.assert_frame_equal(again, table)
    valid.labels[0, 0, 0] = 1 - valid.labels[0, 0, 0]
    with pytest.raises(ReleaseError, match="earlier rescoring used other embeddings or labels"):
        release.rescore_release(scan, valid, test, tmp_path / "rescore", SHAPES, device="cpu", progress=False)


def test_old_run_folders_load_but_cannot_make_a_standin(sweep, tmp_path):
    results_dir = tmp_path / "results"
    shutil.copytree(sweep / "results" / "runs", results_dir / "runs")
    shutil.rmtree(results_dir / "runs" / "ft-cold-seed0" / "classifiers")
    assert records.load_run(results_dir / "runs" / "ft-cold-seed0").complete
    with pytest.raises(FileNotFoundError, match=r"ft-cold-seed0/classifiers/00040\.pt: no classifier .* run it again"):
        release.write_standin_release(results_dir, tmp_path / "release", sweep / "data", progress=False)


def test_runs_on_different_embeddings_make_no_standin(sweep, tmp_path):
    results_dir = tmp_path / "results"
    shutil.copytree(sweep / "results" / "runs", results_dir / "runs")
    inputs = results_dir / "runs" / "mp-warm-seed1" / "inputs.json"
    recorded = read_json(inputs)
    inputs.write_text(json.dumps({"embeddings": {**recorded["embeddings"], "test": "e" * 64}}))
    with pytest.raises(ValueError, match=r"different embeddings \(their inputs.json differ in test\): .*"
                       r"mp-warm-seed1 \(test eeeeeeeeeeee\)"):
        release.write_standin_release(results_dir, tmp_path / "release", sweep / "data", progress=False)
    assert not (tmp_path / "release").exists()


@pytest.mark.slow
def test_released_models_notebook_on_a_standin(sweep, tmp_path):
    import nbformat

    from bioal.notebooks import run_notebook

    results_dir = tmp_path / "results"
    shutil.copytree(sweep / "results" / "runs", results_dir / "runs")
    overrides = {"RESULTS_DIR": str(results_dir), "DATA_ROOT": str(sweep / "data"), "DEVICE": "cpu"}
    output = run_notebook("07_released_models", output=tmp_path / "07.ipynb", preset="demo", overrides=overrides,
                          progress=False)
    book = nbformat.read(output, as_version=4)
    text = "".join(str(out) for cell in book.cells if cell.cell_type == "code" for out in cell.outputs)
    assert "A stand-in release" in text
    assert "the runs' own al_results.csv: **24 x 40 cells equal**" in text
    assert "anno_idx agrees with this pool's clip order" in text
    assert "best_encoder.pth: 72 tensors, width 0.0625" in text
    images = sum("image/png" in out.get("data", {}) for cell in book.cells if cell.cell_type == "code"
                 for out in cell.outputs)
    assert images == 1  # Figure 1
    written = pd.read_csv(results_dir / "release" / "al_results.csv")
    assert written.shape == (24, 43)
    assert len(list((results_dir / "release" / "rescore").rglob("*.pth.json"))) == 2 * 8 + 2  # one per run


def test_notebook_steps_open_compare_and_rescore(sweep, tmp_path):
    """Notebook 07's three steps as functions: a stand-in for any preset but the paper's, the
    reference it is compared with, and rescoring that says which embedding file is missing."""
    results_dir = tmp_path / "results"
    shutil.copytree(sweep / "results" / "runs", results_dir / "runs")
    config = release.ReleaseConfig(preset="demo", results_dir=str(results_dir), data_root=str(sweep / "data"),
                                   device="cpu")
    opened = release.open_release(config, progress=False)
    assert opened.standin and opened.runs is None and opened.shapes == SHAPES
    assert opened.tree.root.is_relative_to(results_dir / "release") and "stand-in" in opened.describe()
    scan = release.scan_release(opened.tree, opened.runs)
    reference, what = release.reference_layout(config, progress=False)
    assert what == "the runs' own al_results.csv"
    layout = release.release_layout(release.release_tidy(scan, None, opened.shapes, progress=False))
    assert release.compare_layouts(layout, reference).differences.empty
    written = results.write_al_results(layout, tmp_path / "al_results.csv")
    pd.testing.assert_frame_equal(pd.read_csv(written), layout.reset_index(drop=True), check_dtype=False)
    rescored, used = release.rescore_from_embeddings(config, scan, opened.shapes, progress=False)
    assert len(rescored) == 2 * 8 + 2 and str(sweep / "data" / "embeddings") in used
    assert len(release.rescore_from_embeddings(dataclasses.replace(config, rescore="all"), scan, opened.shapes,
                                               progress=False)[0]) == len(scan)
    empty = dataclasses.replace(config, data_root=str(tmp_path / "nothing"))
    rescored, used = release.rescore_from_embeddings(empty, scan, opened.shapes, progress=False)
    assert rescored is None and "valid.h5" in used and "test.h5" in used and "rescoring skipped" in used
    paper = dataclasses.replace(config, preset="paper")
    reference, what = release.reference_layout(paper)
    assert what == "the paper's al_results.csv" and reference.shape == (80, 43)
