"""The selected-samples explorer's pure functions, static figure and widget, on tiny records."""

from __future__ import annotations

import math

import numpy as np
import pytest
import soundfile as sf

from bioal import data, records
from bioal import explorer as ex
from bioal.embeddings import EmbeddingSplit, write_split
from bioal.utils import rng, write_json
from bioal.widgets.explorer import selected_samples_explorer

CLASSES = ["A", "B", "C"]


def write_run(results, strategy, init_pos, seed, rounds, full=False):
    """A run folder written through bioal.records: ``rounds`` = (selected, mismatch, distance) per round."""
    config = {"strategy": strategy, "init_pos": init_pos, "seed": seed, "full_supervision": full,
              "budgets": [] if full else list(np.cumsum([len(r[0]) for r in rounds]))}
    folder = records.run_folder(results, records.run_name(strategy, records.config_start(config), seed))
    records.write_config(folder, config)
    n = 0
    for r, (selected, mismatch, distance) in enumerate(rounds):
        n += len(selected)
        zeros = [0.0] * len(CLASSES)
        records.write_round(folder, records.RoundRecord.from_dict({
            "round": r, "n_labelled": n, "selected": selected, "selected_mismatch": mismatch,
            "selected_distance": distance, "threshold": 0.5, "epochs": 1, "select_seconds": 0.0,
            "train_seconds": 0.0, "class_names": CLASSES, "class_counts": [0] * len(CLASSES), "valid_ap": zeros,
            "valid_f1": zeros, "test_ap": zeros, "test_f1": zeros, "history": []}))


def make_records(tmp_path, n_clips=12):
    """A results folder with two runs and a data root with train.h5 and prepared audio."""
    gen = rng(0, "test-explorer")
    labels = np.zeros((n_clips, 32, 3), dtype=np.float32)
    labels[1, 4:9, 0] = 1
    labels[2, 10:20, 1] = 1
    labels[5, :, 2] = 1
    labels[5, 0:3, 0] = 1
    recording = np.array([f"rec{i % 2}.wav" for i in range(n_clips)], dtype=object)
    clip_start = np.array([5.0 * (i // 2) for i in range(n_clips)])
    data_root = tmp_path / "data"
    write_split(
        data_root / "embeddings" / "train.h5",
        EmbeddingSplit(gen.random((n_clips, 32, 4), dtype=np.float32), labels, CLASSES, recording, clip_start),
    )
    prepared = data_root / "prepared" / "AL" / "train"
    prepared.mkdir(parents=True)
    for name in ("rec0.wav", "rec1.wav"):
        sf.write(prepared / name, (0.1 * gen.standard_normal(32000 * 12)).astype(np.float32), 32000, subtype="PCM_16")
    results = tmp_path / "results"
    write_run(results, "mfft", 0, 0, [
        ([3, 1, 7, 0], None, [None, 0.5, 0.25, 0.125]),
        ([5, 2, 9], [2, 1, 1], [0.1, 0.3, 0.2]),
    ])
    write_run(results, "random", 5, 1, [([1, 2, 5, 6], None, None)])
    write_run(results, "random", 0, 0, [(list(range(12)), None, None)], full=True)
    return results, data_root


def test_parse_run_name():
    assert records.parse_run_name("mfft-cold-seed3") == {"strategy": "mfft", "start": "cold", "seed": 3}
    assert records.parse_run_name("random-warm-seed10") == {"strategy": "random", "start": "warm", "seed": 10}
    assert records.parse_run_name("full-seed0") == {"strategy": "full", "start": "full", "seed": 0}
    assert records.parse_run_name("mfft-lukewarm-seed0") is None
    for name in ("mfft-cold-seed3", "random-warm-seed10", "full-seed0"):
        info = records.parse_run_name(name)
        assert records.run_name(info["strategy"], info["start"], info["seed"]) == name


def test_list_runs_and_options(tmp_path):
    results, _ = make_records(tmp_path)
    runs = ex.list_runs(results)
    assert list(runs.run_name) == ["mfft-cold-seed0", "random-warm-seed1"]  # MFFT first, full run left out
    assert list(runs.n_rounds) == [2, 1]
    assert ex.explorer_options(results) == {"strategy": ["mfft", "random"], "start": ["cold", "warm"], "seed": [0, 1]}
    assert ex.default_state(results) == {"strategy": "mfft", "start": "cold", "seed": 0, "round": 1}
    with pytest.raises(FileNotFoundError, match="no active-learning runs"):
        ex.default_state(tmp_path / "empty")


def test_read_round_orders_by_budget_and_names_errors(tmp_path):
    results, _ = make_records(tmp_path)
    folder = records.find_run(results, "mfft", "cold", 0)
    assert ex.read_round(folder, 1).n_labelled == 7
    with pytest.raises(IndexError, match="round 2 does not exist"):
        ex.read_round(folder, 2)
    with pytest.raises(FileNotFoundError, match="mfft-cold-seed0"):
        records.find_run(results, "ft", "cold", 0)


def test_selection_table_keeps_pick_order_and_nulls(tmp_path):
    results, _ = make_records(tmp_path)
    record = ex.read_round(records.find_run(results, "random", "warm", 1), 0)
    table = ex.selection_table(record)
    assert list(table["index"]) == [1, 2, 5, 6] and list(table.pick) == [0, 1, 2, 3]
    assert table.mismatch.isna().all() and table.distance.isna().all()  # null lists of old records
    first = ex.selection_table(ex.read_round(records.find_run(results, "mfft", "cold", 0), 0))
    assert math.isnan(first.distance[0]) and first.distance[1] == 0.5
    folder = records.find_run(results, "mfft", "cold", 0)
    path = records.round_paths(folder)[0]
    bad = {**records.load_run(folder).rounds[0].to_dict(), "selected_distance": [0.1]}
    write_json(path, bad)
    with pytest.raises(ValueError, match="selected_distance has 1 entries for 4"):
        records.load_run(folder)


def test_explorer_table_joins_metadata(tmp_path):
    results, data_root = make_records(tmp_path)
    meta = ex.read_train_meta(data_root)
    assert meta.meta_only and len(meta) == 12
    table = ex.explorer_table(results, meta, "mfft", "cold", 0, 1)
    assert list(table["index"]) == [5, 2, 9]
    assert list(table.classes) == ["A, C", "B", "none"]
    assert list(table.positive_frames) == [32, 10, 0]
    assert list(table.recording) == ["rec1.wav", "rec0.wav", "rec1.wav"]
    assert list(table.clip_start) == [10.0, 5.0, 20.0]
    assert table.why[0] == "mismatch 2, distance 0.100"
    assert table.attrs == {"n_labelled": 7, "round": 1}
    first = ex.explorer_table(results, meta, "mfft", "cold", 0, 0)
    assert first.why[0] == "first clip of the cold start (random)"
    assert first.why[1] == "distance 0.500"
    warm = ex.explorer_table(results, meta, "random", "warm", 1, 0)
    assert set(warm.why) == {"warm start: a known positive"}


def test_explorer_table_rejects_out_of_range_clip(tmp_path):
    results, data_root = make_records(tmp_path)
    small = ex.read_train_meta(data_root).subset(np.arange(6))
    with pytest.raises(IndexError, match="selected clip 9 is outside the train split"):
        ex.explorer_table(results, small, "mfft", "cold", 0, 1)


def test_why_picked():
    nan = math.nan
    assert ex.why_picked("random", "cold", 2, 0, nan, nan) == "random pick"
    assert ex.why_picked("ft", "cold", 1, 3, nan, 0.25) == "distance 0.250"
    assert ex.why_picked("mfft", "cold", 3, 3, 4.0, 0.5) == "mismatch 4, distance 0.500"


def test_clip_spectrogram_and_missing_audio(tmp_path):
    _, data_root = make_records(tmp_path)
    prepared = data_root / "prepared" / "AL" / "train"
    wave, mel = ex.clip_spectrogram(prepared, "rec0.wav", 5.0)
    assert wave.shape == (320000,) and mel.shape == (1001, 64)
    with pytest.raises(FileNotFoundError, match="rec9.wav"):
        ex.clip_audio(prepared, "rec9.wav", 0.0)


def test_clip_viewer_reads_its_clips_through_the_stage_functions(tmp_path):
    from bioal.widgets import clip_viewer as cv

    _, data_root = make_records(tmp_path)
    meta = cv.read_meta(data_root, "train")
    # clip 3 is rec1.wav at 5 s, without a positive frame
    wave, mel = ex.clip_spectrogram(data_root / "prepared" / "AL" / "train", "rec1.wav", 5.0)
    shown = cv.clip_data(data_root, meta, 3)
    np.testing.assert_array_equal(shown["waveform"], wave)
    np.testing.assert_array_equal(shown["mel"], mel)
    assert shown["title"] == "train clip 3: rec1.wav @ 5 s (Negative)"
    for choice in (*CLASSES, data.NEGATIVE, data.ALL_CLIPS):
        assert [i for _, i in cv.clip_options(meta, choice)] == data.matching_clips(meta.labels, CLASSES, choice).tolist()
    assert [i for _, i in cv.clip_options(meta, data.NEGATIVE)] == [0, 3, 4, 6, 7, 8, 9, 10, 11]


def test_default_figure_and_widget(tmp_path):
    from bioal.plots.explorer import default_figure

    results, data_root = make_records(tmp_path)
    fig = default_figure(results, data_root, n_clips=2)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles[0].startswith("#0 clip 5: A, C") and "mismatch 2" in titles[0]
    assert "round 1" in fig._suptitle.get_text()
    view = selected_samples_explorer(results, data_root, per_page=2)
    gallery = view.children[-1]
    assert len(gallery.children) == 2
    picture = gallery.children[0].children[0].outputs[0]
    assert picture["output_type"] == "display_data" and len(picture["data"]["image/png"]) > 1000
    strategy = view.children[0].children[0]
    strategy.value = "random"
    assert "<b>" in view.children[2].value and "random-cold-seed0" in view.children[2].value  # no such run: says so
    assert gallery.children == ()
