"""Bad input at the boundaries gets a clear error; resumes refuse changed inputs (issue 14)."""

from __future__ import annotations

import copy
import json
import re
import socket
import struct
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest
import soundfile as sf
import torch
from helpers_data import make_dev_set

from bioal import records
from bioal.classifier import ClassifierConfig, train_classifier
from bioal.config import ConfigError, load_preset
from bioal.dcase import DatasetError, prepare, unpack_development_set
from bioal.download import DownloadError, download_file
from bioal.embeddings import EmbeddingConfig, read_split, write_split
from bioal.encoder import CheckpointError, Cnn14Encoder
from bioal.experiment import ExperimentConfig, run_experiment, run_folder
from bioal.notebooks import notebook_path, preset_keys, preset_parameters
from bioal.strategies import select
from bioal.sweep import check_sweep_inputs
from bioal.synth.embeddings import paper_shaped_splits
from bioal.utils import CheckpointFileError, StaleResumeError, check_fingerprint, fingerprint_changes

# --------------------------------------------------------------------------- presets


NAN, INF = float("nan"), float("inf")


def _preset(tmp_path, text: str):
    path = tmp_path / "p.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("key, close", [("BUDGET", "BUDGETS"), ("MAX_EPOCH", "MAX_EPOCHS"), ("SEEDZ", "SEEDS")])
def test_misspelt_preset_key_is_an_error_listing_close_matches(tmp_path, key, close):
    path = _preset(tmp_path, f"PRESET: demo\n{key}: 3\n")
    with pytest.raises(ConfigError, match=rf"unknown key '{key}'; did you mean .*{close}"):
        preset_parameters(notebook_path("05_experiments"), path)


def test_shipped_presets_hold_only_known_keys():
    for name in ("demo", "paper"):
        load_preset(name, known=preset_keys())


def test_broken_yaml_names_file_and_line(tmp_path):
    path = _preset(tmp_path, "PRESET: demo\nSEED: 0\nBUDGETS: [1, 2\nWIDTH: 1.0\n")
    with pytest.raises(ConfigError, match=re.escape(str(path)) + r", line \d+: not valid YAML"):
        load_preset(path)


def test_repeated_preset_key_names_file_key_and_both_lines(tmp_path):
    path = _preset(tmp_path, "PRESET: demo\nSEED: 0\nCLASSIFIER_LR: 0.002\nSEED: 7\n")
    with pytest.raises(ConfigError, match=re.escape(str(path)) + r", line 4: .*'SEED' is repeated \(lines 2 and 4\)"):
        load_preset(path)


@pytest.mark.parametrize(
    "cls, values, field",
    [
        (ExperimentConfig, {"SEED": -1}, "SEED"),
        (ExperimentConfig, {"BUDGETS": [10, 10]}, "BUDGETS"),
        (ExperimentConfig, {"BUDGETS": [0, 10]}, "BUDGETS"),
        (ExperimentConfig, {"CLASSIFIER_LR": 0.0}, "CLASSIFIER_LR"),
        (ExperimentConfig, {"CLASSIFIER_PRIOR": 1.0}, "CLASSIFIER_PRIOR"),
        (ExperimentConfig, {"CLASSIFIER_PRIOR": -0.1}, "CLASSIFIER_PRIOR"),
        (ExperimentConfig, {"MAX_EPOCHS": 0}, "MAX_EPOCHS"),
        (ExperimentConfig, {"CLASSIFIER_HIDDEN": 0}, "HIDDEN"),
        (ClassifierConfig, {"MIN_LR": 1.0}, "MIN_LR"),
        (EmbeddingConfig, {"WIDTH": 0.0}, "WIDTH"),
        (EmbeddingConfig, {"SEED": -2}, "SEED"),
        (ExperimentConfig, {"CLASSIFIER_LR": NAN}, "CLASSIFIER_LR"),
        (ExperimentConfig, {"CLASSIFIER_LR": INF}, "CLASSIFIER_LR"),
        (ExperimentConfig, {"MIN_LR": NAN}, "MIN_LR"),
        (ExperimentConfig, {"PLATEAU_THRESHOLD": NAN}, "PLATEAU_THRESHOLD"),
        (ExperimentConfig, {"PLATEAU_THRESHOLD": INF}, "PLATEAU_THRESHOLD"),
        (ExperimentConfig, {"EVENT_MIN_DURATION": NAN}, "EVENT_MIN_DURATION"),
        (ExperimentConfig, {"EVENT_MAX_GAP": INF}, "EVENT_MAX_GAP"),
        (EmbeddingConfig, {"WIDTH": INF}, "WIDTH"),
    ],
)
def test_numeric_ranges_are_checked(cls, values, field):
    with pytest.raises(ConfigError, match=field):
        cls.from_dict(values)


def test_non_finite_numbers_in_a_preset_are_refused_naming_the_key(tmp_path):
    data = load_preset(_preset(tmp_path, "CLASSIFIER_LR: .nan\nEVENT_MAX_GAP: .inf\n"))
    for key, value in data.items():
        with pytest.raises(ConfigError, match=rf"^{key} must be a finite number"):
            ExperimentConfig.from_dict({key: value})


# --------------------------------------------------------------------------- fingerprints


def test_fingerprint_is_recorded_then_checked(tmp_path):
    path = tmp_path / "out" / "fingerprint.json"
    check_fingerprint(path, {"a": 1, "files": {"x.csv": "abc"}}, "the output", "delete it")
    check_fingerprint(path, {"a": 1, "files": {"x.csv": "abc"}}, "the output", "delete it")  # same: fine
    with pytest.raises(StaleResumeError, match=r"changed: files/x.csv: abc -> abd.*delete it"):
        check_fingerprint(path, {"a": 1, "files": {"x.csv": "abd"}}, "the output", "delete it")
    assert fingerprint_changes({"a": 1}, {"b": 1}) == ["a: gone", "b: new"]


# --------------------------------------------------------------------------- audio and preparation


def _streaming(path, cut: int) -> None:
    """Rewrite ``path`` with a streaming header (RIFF and data sizes 0xFFFFFFFF), ``cut`` bytes shorter."""
    data = bytearray(path.read_bytes())
    data[4:8] = struct.pack("<I", 0xFFFFFFFF)
    i = data.find(b"data")
    data[i + 4 : i + 8] = struct.pack("<I", 0xFFFFFFFF)
    path.write_bytes(bytes(data[: len(data) - cut]))


def test_streaming_header_cut_mid_frame_is_named(tmp_path):
    raw = make_dev_set(tmp_path / "raw")
    wav = raw / "Development_Set" / "Validation_Set" / "ME" / "ME1.wav"
    _streaming(wav, cut=1001)
    with pytest.raises(DatasetError, match=re.escape(str(wav)) + ".*streaming header"):
        prepare(raw, tmp_path / "prepared", progress=False)
    assert not (tmp_path / "prepared" / "AL" / "valid" / "ME1.wav").exists()


def test_streaming_header_cut_short_leaves_annotations_past_the_end(tmp_path):
    raw = make_dev_set(tmp_path / "raw")
    wav = raw / "Development_Set" / "Validation_Set" / "ME" / "ME1.wav"
    _streaming(wav, cut=2 * 32000 * 20)  # 20 s of 16-bit mono at 32 kHz gone, on a frame boundary
    with pytest.raises(DatasetError, match=r"ME1\.csv, row \d+: event .* lies past the end of its recording"):
        prepare(raw, tmp_path / "prepared", progress=False)
    assert not any((tmp_path / "prepared").rglob("*.wav"))  # checked before any chunk is written


def test_annotation_past_the_end_names_file_and_row(tmp_path):
    raw = make_dev_set(tmp_path / "raw")
    csv = raw / "Development_Set" / "Validation_Set" / "ME" / "ME1.csv"
    csv.write_text(csv.read_text() + "\r\nME1.wav,40.000,41.000,POS")
    rows = len(csv.read_text().splitlines())
    with pytest.raises(DatasetError, match=re.escape(f"{csv}, row {rows}: event 40.0-41.0 s")):
        prepare(raw, tmp_path / "prepared", progress=False)


def test_prepare_refuses_to_resume_on_a_changed_csv(tmp_path):
    raw = make_dev_set(tmp_path / "raw")
    prepared = tmp_path / "prepared"
    with pytest.raises(RuntimeError, match="stop"):

        def stop(division: str, name: str) -> None:
            raise RuntimeError("stop")

        prepare(raw, prepared, progress=False, on_recording=stop)
    assert (prepared / "fingerprint.json").is_file()
    csv = raw / "Development_Set" / "Validation_Set" / "PB" / "BUK1_20181011_001004.csv"
    original = csv.read_bytes()
    csv.write_bytes(original.replace(b"POS", b"NEG", 1))
    with pytest.raises(StaleResumeError, match=r"Validation_Set/PB/BUK1_20181011_001004.wav/csv.*delete .*prepared"):
        prepare(raw, prepared, progress=False)
    # a finished preparation refuses as well once its inputs change
    csv.write_bytes(original)
    prepare(raw, prepared, progress=False)
    wav = raw / "Development_Set" / "Training_Set" / "BV" / "bv1.wav"
    original = wav.read_bytes()
    wav.write_bytes(original[:-64])
    with pytest.raises(StaleResumeError, match=r"Training_Set/BV/bv1.wav/wav"):
        prepare(raw, prepared, progress=False)
    # an edit inside the recording (same size, same header and ends) is caught as well
    middle = len(original) // 2
    wav.write_bytes(original[:middle] + bytes(4096) + original[middle + 4096 :])
    with pytest.raises(StaleResumeError, match=r"Training_Set/BV/bv1.wav/wav"):
        prepare(raw, prepared, progress=False)


def test_prepare_runs_once_a_rejected_csv_is_fixed(tmp_path):
    raw = make_dev_set(tmp_path / "raw")
    prepared = tmp_path / "prepared"
    csv = raw / "Development_Set" / "Validation_Set" / "ME" / "ME1.csv"
    original = csv.read_bytes()
    csv.write_bytes(original.replace(b"POS", b"PSO", 1))
    with pytest.raises(DatasetError, match=re.escape(str(csv)) + r", row \d+: column 'Q' has unknown value 'PSO'"):
        prepare(raw, prepared, progress=False)
    assert not (prepared / "fingerprint.json").exists()
    csv.write_bytes(original)
    prepare(raw, prepared, progress=False)
    assert (prepared / "AL" / "test_label.csv").is_file() and (prepared / "fingerprint.json").is_file()


def test_non_finite_samples_in_a_float_wav_are_named(tmp_path):
    raw = make_dev_set(tmp_path / "raw")
    wav = raw / "Development_Set" / "Validation_Set" / "ME" / "ME1.wav"
    audio, sr = sf.read(str(wav), dtype="float32")
    audio[3 * sr : 4 * sr] = np.nan
    sf.write(str(wav), audio, sr, subtype="FLOAT")
    with pytest.raises(DatasetError, match=re.escape(str(wav)) + r": 32000 samples are NaN or infinite, the first at 3\.000 s"):
        prepare(raw, tmp_path / "prepared", progress=False)
    assert not (tmp_path / "prepared" / "AL" / "train" / "ME1.wav").exists()


# --------------------------------------------------------------------------- experiments and strategies


@pytest.fixture(scope="module")
def small_splits():
    return paper_shaped_splits(n_train=120, n_valid=40, n_test=40, frames=8, dim=16, seed=5)


def _run_config(tmp_path, **kw):
    base = dict(results_dir=str(tmp_path / "results"), budgets=(10, 20), classifier_hidden=8, max_epochs=5,
                device="cpu", threads=1, strategy="mfft")
    base.update(kw)
    return ExperimentConfig.from_dict(base)


def test_nan_in_valid_embeddings_names_split_and_clip_before_anything_is_written(tmp_path, small_splits):
    train, valid, test = (copy.deepcopy(s) for s in small_splits)
    valid.embeddings[7, 2, 3] = np.nan
    config = _run_config(tmp_path)
    with pytest.raises(ValueError, match=rf"valid split: clip 7 \({re.escape(str(valid.recording[7]))} at"):
        run_experiment(config, splits=(train, valid, test), progress=False)
    assert not run_folder(config).exists()


def test_training_labels_coded_minus_one_are_refused(tmp_path, small_splits):
    train, valid, test = (copy.deepcopy(s) for s in small_splits)
    train.labels[train.labels == 0] = -1
    with pytest.raises(ValueError, match=r"train split: clip 0 .*expected 0 or 1 only"):
        run_experiment(_run_config(tmp_path), splits=(train, valid, test), progress=False)
    x = np.zeros((4, 8, 16), np.float32)
    with pytest.raises(ValueError, match="train_y: clip 0 has labels"):
        train_classifier(x, -np.ones((4, 8, 7), np.float32), x, np.zeros((4, 8, 7)), ClassifierConfig(), seed=0)


def test_run_refuses_to_resume_on_other_embeddings(tmp_path, small_splits):
    config = _run_config(tmp_path)
    run_experiment(config, splits=small_splits, progress=False, stop_after=1)
    assert (run_folder(config) / "inputs.json").is_file()
    other = paper_shaped_splits(n_train=120, n_valid=40, n_test=40, frames=8, dim=16, seed=6)
    with pytest.raises(StaleResumeError, match=r"changed: embeddings/test: .*embeddings/train: .*delete .*mfft-cold-seed0"):
        run_experiment(config.replace(data_root="elsewhere"), splits=other, progress=False)
    record = run_experiment(config.replace(data_root="elsewhere"), splits=small_splits, progress=False)
    assert record.complete  # same content under another DATA_ROOT resumes
    # a finished run is returned as it is only for the embeddings it was run on
    with pytest.raises(StaleResumeError, match=r"changed: embeddings/test: .*delete .*mfft-cold-seed0"):
        run_experiment(config, splits=other, progress=False)
    assert run_experiment(config, splits=small_splits, progress=False).rounds == record.rounds


def test_run_refuses_to_resume_on_a_changed_panns_checkpoint(tmp_path, small_splits):
    """PANNS_CHECKPOINT's content is part of a run's inputs; runs without one record only the embeddings."""
    gen = torch.Generator().manual_seed(0)  # test-only generator, local
    fc = {"fc1.weight": torch.randn(2048, 2048, generator=gen) * 0.01, "fc1.bias": torch.zeros(2048),
          "fc_audioset.weight": torch.randn(527, 2048, generator=gen) * 0.01, "fc_audioset.bias": torch.zeros(527)}
    checkpoint = tmp_path / "panns.pth"
    torch.save({"model": fc}, checkpoint)
    original = checkpoint.read_bytes()
    config = _run_config(tmp_path, panns_checkpoint=str(checkpoint))
    run_experiment(config, splits=small_splits, progress=False, stop_after=1)
    torch.save({"model": {**fc, "fc1.bias": torch.ones(2048)}}, checkpoint)  # same path, other weights
    with pytest.raises(StaleResumeError, match=r"changed: panns_checkpoint: .*delete .*mfft-cold-seed0"):
        run_experiment(config, splits=small_splits, progress=False)
    checkpoint.write_bytes(original)
    assert run_experiment(config, splits=small_splits, progress=False).complete
    plain = _run_config(tmp_path / "plain")
    run_experiment(plain, splits=small_splits, progress=False, stop_after=1)
    assert set(json.loads((run_folder(plain) / "inputs.json").read_text())) == {"embeddings"}
    # a run recorded before the checkpoint was part of its inputs still resumes and reads back
    older = _run_config(tmp_path / "older", panns_checkpoint=str(checkpoint))
    run_experiment(older, splits=small_splits, progress=False, stop_after=1)
    inputs = run_folder(older) / "inputs.json"
    inputs.write_text(json.dumps({"embeddings": json.loads(inputs.read_text())["embeddings"]}))
    assert run_experiment(older, splits=small_splits, progress=False).complete
    assert run_experiment(older, splits=small_splits, progress=False).complete  # finished, checked again


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"clip_labels": "probs"}, r"clip_labels: row 0, class \d+ is 0\.\d+.*threshold probabilities"),
        ({"clip_labels": "minus"}, r"clip_labels: row \d+, class \d+ is -1"),
        ({"clip_pred": "probs"}, r"clip_pred: row 0, class \d+ is 0\.\d+"),
        ({"clip_pred": "short"}, r"clip_pred: expected 60 or 50 rows"),
        ({"clip_pred": "callable"}, r"clip_pred\(indices\): row 0"),
    ],
)
def test_select_checks_tags_are_binary(kwargs, message):
    gen = np.random.default_rng(0)
    vectors = gen.standard_normal((60, 8)).astype(np.float32)
    labels = gen.random((60, 3)) < 0.3
    probs = gen.uniform(0.01, 0.99, (60, 3))
    values = {"probs": probs, "minus": np.where(labels, 1, -1), "short": labels[:10], "callable": lambda i: probs[i]}
    args = {"clip_labels": labels, "clip_pred": labels}
    args.update({key: values[v] for key, v in kwargs.items()})
    with pytest.raises(ValueError, match=message):
        select("mfft", embeddings=vectors, labeled=np.arange(10), k=5, rng=np.random.default_rng(1), **args)
    ints = select("mfft", embeddings=vectors, labeled=np.arange(10), k=5, rng=np.random.default_rng(1),
                  clip_labels=labels.astype(int), clip_pred=labels.astype(float))
    bools = select("mfft", embeddings=vectors, labeled=np.arange(10), k=5, rng=np.random.default_rng(1),
                   clip_labels=labels, clip_pred=labels)
    assert np.array_equal(ints.indices, bools.indices)


def _write_splits(data_root, seed: int) -> None:
    for name, split in zip(("train", "valid", "test"), paper_shaped_splits(60, 20, 20, frames=8, dim=8, seed=seed),
                           strict=True):
        write_split(data_root / "embeddings" / f"{name}.h5", split)


def test_sweep_refuses_to_resume_on_other_embeddings_or_parameters(tmp_path):
    overrides = {"DATA_ROOT": str(tmp_path / "data"), "RESULTS_DIR": str(tmp_path / "results"), "MAX_EPOCHS": 4}
    check_sweep_inputs("demo", overrides, tmp_path / "results")  # no embeddings yet: left to the runs
    assert not (tmp_path / "results" / "sweep_inputs.json").exists()
    _write_splits(tmp_path / "data", seed=0)
    check_sweep_inputs("demo", overrides, tmp_path / "results")
    # a run with a finished round: from now on a changed input would mix with its records
    run = tmp_path / "results" / "runs" / "mfft-cold-seed0"
    (run / "rounds").mkdir(parents=True)
    (run / "config.json").write_text("{}")
    (run / "rounds" / "00035.json").write_text("{}")
    check_sweep_inputs("demo", {**overrides, "DEVICE": "cpu"}, tmp_path / "results")  # not a result parameter
    with pytest.raises(StaleResumeError, match=r"changed: parameters/MAX_EPOCHS: 4 -> 5"):
        check_sweep_inputs("demo", {**overrides, "MAX_EPOCHS": 5}, tmp_path / "results")
    _write_splits(tmp_path / "data", seed=1)  # embeddings re-extracted in place
    with pytest.raises(StaleResumeError, match=r"embeddings/test: .*delete .*results"):
        check_sweep_inputs("demo", overrides, tmp_path / "results")


# --------------------------------------------------------------------------- files that fail to read


def test_negative_or_nan_clip_start_names_file_and_clip(tmp_path):
    _write_splits(tmp_path, seed=0)
    path = tmp_path / "embeddings" / "train.h5"
    for value in (-5.0, np.nan):
        with h5py.File(path, "r+") as handle:
            handle["clip_start"][3] = value
        with pytest.raises(ValueError, match=re.escape(str(path)) + rf": clip 3 \(.*\) starts at {value} s"):
            read_split(path)


def test_truncated_hdf5_names_the_file(tmp_path):
    _write_splits(tmp_path, seed=0)
    path = tmp_path / "embeddings" / "train.h5"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(OSError, match=re.escape(str(path)) + ".*truncated or damaged"):
        read_split(path)


def test_truncated_state_pt_names_the_file(tmp_path, small_splits):
    config = _run_config(tmp_path)
    run_experiment(config, splits=small_splits, progress=False, stop_after=1)
    state = run_folder(config) / "state.pt"
    state.write_bytes(state.read_bytes()[:100])
    with pytest.raises(CheckpointFileError, match=re.escape(str(state)) + ".*delete it.*truncated"):
        run_experiment(config, splits=small_splits, progress=False)


@pytest.mark.parametrize("kind", ["truncated", "nan", "list", "no model"])
def test_bad_round_classifier_is_named(tmp_path, small_splits, kind):
    config = _run_config(tmp_path)
    run_experiment(config, splits=small_splits, progress=False, stop_after=1)
    path = records.classifier_path(run_folder(config), 10)
    state = torch.load(path, weights_only=True)
    assert records.load_classifier(run_folder(config), 10)["round"] == 0
    if kind == "truncated":
        path.write_bytes(path.read_bytes()[:100])
        message = "not a readable round classifier: truncated"
    elif kind == "nan":
        state["model"]["fc1.weight"][0, 0] = float("nan")
        message = r"\['model'\]: 'fc1.weight' holds NaN/inf weights"
    elif kind == "list":
        state["model"]["fc1.weight"] = [1.0, 2.0]
        message = r"\['model'\]: 'fc1.weight' holds a list, expected a tensor"
    else:
        del state["model"]
        message = r"lacks keys \['model'\]"
    if kind != "truncated":
        torch.save(state, path)
    with pytest.raises(CheckpointFileError, match=re.escape(str(path)) + ".*" + message):
        records.load_classifier(run_folder(config), 10)


def _encoder_state(width=1 / 16):
    return {k: v.clone() for k, v in Cnn14Encoder(width=width, seed=0).encoder_state_dict().items()}


@pytest.mark.parametrize("kind", ["garbage", "pickle", "list", "nan"])
def test_bad_checkpoints_get_clear_errors(tmp_path, kind):
    path = tmp_path / "enc.pt"
    if kind == "garbage":
        path.write_bytes(b"this is not a checkpoint" * 10)
        message = "not a readable torch checkpoint: truncated or not written by torch.save"
    elif kind == "pickle":
        torch.save({"model": _encoder_state(), "note": _Foreign()}, path)
        message = "pickled Python objects besides tensors"
    elif kind == "list":
        state = _encoder_state()
        state["conv_block1.conv1.weight"] = state["conv_block1.conv1.weight"].tolist()
        torch.save(state, path)
        message = "'conv_block1.conv1.weight' holds a list, expected a tensor"
    else:
        state = _encoder_state()
        state["conv_block2.bn1.weight"][0] = float("nan")
        torch.save(state, path)
        message = "'conv_block2.bn1.weight' holds NaN/inf weights"
    with pytest.raises(CheckpointError, match=re.escape(str(path)) + ".*" + re.escape(message)) as err:
        Cnn14Encoder.from_panns(path)
    assert "weights_only=False" not in str(err.value)


class _Foreign:
    """A Python object that only a full unpickle could load."""


def test_hand_placed_file_failing_md5_offline_says_it_was_renamed(tmp_path, caplog):
    with socket.socket() as s:  # a port with nothing listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dest = tmp_path / "Development_set.zip"
    dest.write_bytes(b"half a file")
    with caplog.at_level("WARNING"), pytest.raises(DownloadError) as err:
        download_file(f"http://127.0.0.1:{port}/f.zip", dest, md5="0" * 32, progress=False, timeout=5)
    corrupt = tmp_path / "Development_set.zip.corrupt"
    assert corrupt.is_file() and not dest.exists()
    assert f"renamed to {corrupt}" in str(err.value) and "place it by hand" in str(err.value)
    assert f"renamed to {corrupt}" in caplog.text


def test_unpack_refuses_to_resume_from_another_archive(tmp_path):
    make_dev_set(tmp_path / "src")

    def pack(name: str, skip: str = "") -> Path:
        path = tmp_path / name
        with zipfile.ZipFile(path, "w") as archive:
            for file in sorted((tmp_path / "src" / "Development_Set").rglob("*")):
                if file.is_file() and file.name != skip:
                    archive.write(file, file.relative_to(tmp_path / "src"))
        return path

    raw = tmp_path / "raw"
    unpack_development_set(pack("a.zip"), raw, progress=False)
    unpack_development_set(pack("a.zip"), raw, progress=False)  # the same archive again: fine
    with pytest.raises(StaleResumeError, match=r"content: .*delete .*Development_Set"):
        unpack_development_set(pack("a.zip", skip="ME1.csv"), raw, progress=False)
