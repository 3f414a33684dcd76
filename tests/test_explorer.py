"""The selected-samples explorer's pure functions, static figure and widget, on tiny records."""

from __future__ import annotations

import math

import numpy as np
import pytest
import soundfile as sf

from bioal.embeddings import EmbeddingSplit, write_split
from bioal.utils import rng, write_json
from bioal.widgets import explorer as ex

CLASSES = ["A", "B", "C"]


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
    base = {"class_names": CLASSES, "threshold": 0.5}
    cold = results / "runs" / "mfft-cold-seed0" / "rounds"
    write_json(cold / "00004.json", {**base, "round": 0, "n_labelled": 4, "selected": [3, 1, 7, 0],
                                     "selected_mismatch": None, "selected_distance": [None, 0.5, 0.25, 0.125]})
    write_json(cold / "00007.json", {**base, "round": 1, "n_labelled": 7, "selected": [5, 2, 9],
                                     "selected_mismatch": [2, 1, 1], "selected_distance": [0.1, 0.3, 0.2]})
    warm = results / "runs" / "random-warm-seed1" / "rounds"
    write_json(warm / "00004.json", {**base, "round": 0, "n_labelled": 4, "selected": [1, 2, 5, 6],
                                     "selected_mismatch": None, "selected_distance": None})
    (results / "runs" / "full-seed0" / "rounds").mkdir(parents=True)
    write_json(results / "runs" / "full-seed0" / "rounds" / "00012.json", {**base, "round": 0, "n_labelled": 12,
                                                                             "selected": list(range(12))})
    return results, data_root


def test_parse_run_name():
    assert ex.parse_run_name("mfft-cold-seed3") == {"strategy": "mfft", "start": "cold", "seed": 3}
    assert ex.parse_run_name("random-warm-seed10") == {"strategy": "random", "start": "warm", "seed": 10}
    assert ex.parse_run_name("full-seed0") is None
    assert ex.parse_run_name("mfft-lukewarm-seed0") is None


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
    folder = ex.run_folder(results, "mfft", "cold", 0)
    assert ex.read_round(folder, 1)["n_labelled"] == 7
    with pytest.raises(IndexError, match="round 2 does not exist"):
        ex.read_round(folder, 2)
    with pytest.raises(FileNotFoundError, match="mfft-cold-seed0"):
        ex.run_folder(results, "ft", "cold", 0)


def test_selection_table_keeps_pick_order_and_nulls():
    record = {"selected": [9, 4], "selected_mismatch": None, "selected_distance": [None, 0.5], "n_labelled": 2}
    table = ex.selection_table(record)
    assert list(table["index"]) == [9, 4] and list(table.pick) == [0, 1]
    assert table.mismatch.isna().all()
    assert math.isnan(table.distance[0]) and table.distance[1] == 0.5
    with pytest.raises(ValueError, match="selected_distance has 1 entries for 2"):
        ex.selection_table({**record, "selected_distance": [0.1]})


def test_explorer_table_joins_metadata(tmp_path):
    results, data_root = make_records(tmp_path)
    meta = ex.read_split_meta(data_root / "embeddings" / "train.h5")
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
    meta = ex.read_split_meta(data_root / "embeddings" / "train.h5")
    small = ex.SplitMeta(meta.recording[:6], meta.clip_start[:6], meta.labels[:6], meta.class_names)
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


def test_default_figure_and_widget(tmp_path):
    from bioal.plots.explorer import default_figure

    results, data_root = make_records(tmp_path)
    fig = default_figure(results, data_root, n_clips=2)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles[0].startswith("#0 clip 5: A, C") and "mismatch 2" in titles[0]
    assert "round 1" in fig._suptitle.get_text()
    view = ex.selected_samples_explorer(results, data_root, per_page=2)
    gallery = view.children[-1]
    assert len(gallery.children) == 2
    picture = gallery.children[0].children[0].outputs[0]
    assert picture["output_type"] == "display_data" and len(picture["data"]["image/png"]) > 1000
    strategy = view.children[0].children[0]
    strategy.value = "random"
    assert "<b>" in view.children[2].value and "random-cold-seed0" in view.children[2].value  # no such run: says so
    assert gallery.children == ()
