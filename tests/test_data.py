"""The prepared-dataset API end to end on the synthetic "tiny" set, and notebook 01."""

from __future__ import annotations

import hashlib
import io
import shutil
import warnings

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch

from bioal import data, dcase
from bioal.config import ConfigError
from bioal.widgets import wav_bytes


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """``ensure_prepared`` on the synthetic tiny set (generated once per module)."""
    root = tmp_path_factory.mktemp("tiny")
    config = data.DataConfig(data_source="synthetic", data_root=str(root), synth_size="tiny", synth_seed=0)
    prepared = data.ensure_prepared(config, progress=False)
    return config, prepared


def digest_tree(folder):
    return {p.relative_to(folder).as_posix(): hashlib.md5(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name != "source.json"}


def test_config_checks():
    with pytest.raises(ConfigError, match="DATA_SOURCE"):
        data.DataConfig(data_source="nope")
    with pytest.raises(ConfigError, match="SYNTH_SEED"):
        data.DataConfig(synth_seed=-1)
    c = data.DataConfig.from_namespace(
        {"DATA_SOURCE": "synthetic", "DATA_ROOT": "x", "SYNTH_SIZE": "tiny", "SYNTH_SEED": 3, "SEED": 7})
    assert c.synth_size == "tiny" and c.synth_seed == 3 and c.root.is_absolute()


def test_layout_and_audio_format(tiny):
    config, prepared = tiny
    assert prepared == config.root / "prepared"
    raw = config.root / "raw"
    assert (raw / "Development_Set" / "Validation_Set").is_dir()
    for division, splits in data.DIVISIONS.items():
        names = None
        for split in splits:
            wavs = sorted(p.name for p in (prepared / division / split).glob("*.wav"))
            assert wavs, f"{division}/{split} has no audio"
            names = names or wavs
            assert wavs == names  # every recording contributes one chunk per split
            labels, classes = data.read_split_labels(prepared, division, split)
            assert set(labels["Audiofilename"]) <= set(wavs)
            for w in wavs[:3]:
                info = sf.info(prepared / division / split / w)
                assert (info.samplerate, info.channels, info.subtype) == (32000, 1, "PCM_16")
        assert classes == (list(dcase.AL_CLASSES) if division == "AL" else list(dcase.SL_CLASSES))
    assert not (prepared / "SL" / "test").exists()
    # the duplicate PB recording is dropped; the PB24 copy stays
    al_train = {p.stem for p in (prepared / "AL" / "train").glob("*.wav")}
    assert "BUK5_20180921_015906a" in al_train
    assert len(al_train) == len(list((raw / "Development_Set" / "Validation_Set").rglob("*.wav"))) - 1
    assert not list(prepared.rglob("*.part"))


def test_chunks_add_up_to_recordings(tiny):
    config, prepared = tiny
    raw = config.root / "raw" / "Development_Set" / "Validation_Set"
    for wav in sorted(raw.rglob("*.wav")):
        if wav.parent.name == "PB" and wav.stem == "BUK5_20180921_015906a":
            continue
        name = dcase.normalise_name(wav.stem) + ".wav"
        total = sum(sf.info(prepared / "AL" / s / name).frames for s in ("train", "valid", "test"))
        assert total == pytest.approx(sf.info(wav).duration * 32000, abs=3), name


def test_clip_table_order_and_counts(tiny):
    _, prepared = tiny
    clips = data.clip_table(prepared, "AL", "train")
    labels, _ = data.read_split_labels(prepared, "AL", "train")
    assert list(clips.columns) == ["recording", "start_s", "duration_s"]
    assert list(dict.fromkeys(clips["recording"])) == sorted(labels["Audiofilename"].unique())
    for rec, g in clips.groupby("recording", sort=False):
        d = sf.info(prepared / "AL" / "train" / rec).duration
        assert len(g) == 1 + max(0, int(np.ceil((d - 10) / 5)))
        np.testing.assert_allclose(g["start_s"], 5.0 * np.arange(len(g)))
        np.testing.assert_allclose(g["duration_s"], d)


def test_load_clip_zero_pads(tiny, tmp_path):
    _, prepared = tiny
    clips = data.clip_table(prepared, "AL", "test")
    rec = clips["recording"].iloc[-1]
    path = prepared / "AL" / "test" / rec
    audio, _ = sf.read(path, dtype="float32")
    start = float(clips["start_s"].iloc[-1])
    clip = data.load_clip(path, start)
    assert clip.shape == (320000,) and clip.dtype == np.float32
    n = len(audio) - int(round(start * 32000))
    np.testing.assert_array_equal(clip[:n], audio[int(round(start * 32000)):])
    assert not clip[n:].any()
    other = tmp_path / "x.wav"
    sf.write(other, np.zeros(100), 16000)
    with pytest.raises(ValueError, match=r"x\.wav: sample rate 16000"):
        data.load_clip(other, 0.0)


def test_split_frame_labels_match_per_clip(tiny):
    _, prepared = tiny
    for division, split in [("AL", "train"), ("SL", "valid")]:
        labels = data.split_frame_labels(prepared, division, split)
        clips = data.clip_table(prepared, division, split)
        events, classes = data.read_split_labels(prepared, division, split)
        assert labels.shape == (len(clips), 32, len(classes)) and labels.dtype == np.float32
        for i in range(0, len(clips), 7):
            ev = events[events["Audiofilename"] == clips["recording"].iloc[i]]
            np.testing.assert_array_equal(labels[i], dcase.frame_labels(ev, classes, clips["start_s"].iloc[i]))
    al = data.split_frame_labels(prepared, "AL", "train")
    tags = data.clip_positive(al)
    assert tags.any(axis=0).all(), "every AL class has a positive clip in the tiny pool"
    assert tags.sum(axis=1).max() <= 1  # AL clips carry at most one class (method §1.3)


def test_clip_dataset(tiny):
    _, prepared = tiny
    ds = data.ClipDataset(prepared, "AL", "valid")
    assert len(ds) == len(ds.clips) and ds.class_names == list(dcase.AL_CLASSES)
    wave, lab = ds[len(ds) - 1]
    assert isinstance(wave, torch.Tensor) and wave.dtype == torch.float32 and wave.shape == (320000,)
    assert lab.shape == (32, 7) and lab.dtype == torch.float32
    row = ds.clips.iloc[-1]
    np.testing.assert_array_equal(wave.numpy(), data.load_clip(ds.wav_path(row["recording"]), row["start_s"]))
    with pytest.raises(IndexError, match="out of range"):
        ds[len(ds)]
    batch = next(iter(torch.utils.data.DataLoader(ds, batch_size=2)))
    assert batch[0].shape == (2, 320000) and batch[1].shape == (2, 32, 7)


def test_split_summary(tiny):
    _, prepared = tiny
    summary = data.split_summary(prepared)
    al = summary.loc["AL"]
    assert list(al.index) == [*dcase.AL_CLASSES, "Negative", "All clips"]
    n_train = len(data.clip_table(prepared, "AL", "train"))
    assert al.loc["All clips", "train"] == n_train
    # AL clips carry <= 1 class, so Negative = n - sum of class counts (the paper's Total_Negative)
    assert al.loc["Negative", "train"] == n_train - al.loc[list(dcase.AL_CLASSES), "train"].sum()
    assert summary.loc["SL"]["test"].isna().all()
    assert len(summary.loc["SL"]) == 45 + 2


def test_prepare_resumes_to_the_same_result(tiny, tmp_path):
    """Interrupt preparation after 4 recordings, run again: same files as uninterrupted."""
    config, prepared = tiny
    out = tmp_path / "prepared"

    class Stop(Exception):
        pass

    count = []

    def stop_after_4(division, name):
        count.append(name)
        if len(count) == 4:
            raise Stop

    with pytest.raises(Stop):
        dcase.prepare(config.root / "raw", out, progress=False, on_recording=stop_after_4)
    first = {p: p.stat().st_mtime_ns for p in out.rglob("*.wav")}
    assert first and not dcase.is_prepared(out)
    redone = []
    dcase.prepare(config.root / "raw", out, progress=False, on_recording=lambda d, n: redone.append(n))
    assert {p: p.stat().st_mtime_ns for p in first} == first
    assert digest_tree(out) == digest_tree(prepared)


def test_ensure_prepared_skips_when_done_and_refuses_other_seed(tiny):
    config, prepared = tiny
    stamp = (prepared / "AL" / "test_label.csv").stat().st_mtime_ns
    assert data.ensure_prepared(config, progress=False) == prepared
    assert (prepared / "AL" / "test_label.csv").stat().st_mtime_ns == stamp
    with pytest.raises(ValueError, match="made from"):
        data.ensure_prepared(config.replace(synth_seed=1), progress=False)


def test_ensure_prepared_finishes_an_interrupted_preparation(tiny, tmp_path):
    config, prepared = tiny
    root = tmp_path / "copy"
    shutil.copytree(config.root, root)
    # simulate an interruption: label CSVs (written last) and some chunks missing
    for p in [*root.glob("prepared/*/*_label.csv"), *sorted(root.glob("prepared/AL/test/*.wav"))[:2]]:
        p.unlink()
    (root / "prepared" / "source.json").unlink()
    done = data.ensure_prepared(config.replace(data_root=str(root)), progress=False)
    assert digest_tree(done) == digest_tree(prepared)


def test_label_table_bad_value(tmp_path):
    p = tmp_path / "train_label.csv"
    pd.DataFrame({"Audiofilename": ["a.wav"] * 2, "Starttime": [0, 1], "Endtime": [1, 2], "A": [1, 2]}).to_csv(p, index=False)
    with pytest.raises(dcase.DatasetError, match=r"train_label\.csv, row 3: column 'A' has value '2'"):
        dcase.read_label_table(p)


def test_pos_events_and_plots(tiny):
    from matplotlib.figure import Figure

    from bioal.plots import data as plots

    _, prepared = tiny
    events = data.pos_events(prepared, "AL")
    assert set(events["split"]) == {"train", "valid", "test"} and (events["duration_s"] >= 0).all()
    labels, _ = data.read_split_labels(prepared, "AL", "train")
    assert (events["split"] == "train").sum() == int((labels[list(dcase.AL_CLASSES)] == 1).to_numpy().sum())
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the book builds with --warningiserror; no library deprecation leaks out
        fig = plots.event_durations(events[events["duration_s"] > 0])
    assert isinstance(fig, Figure) and fig.axes[0].get_xscale() == "log"
    summary = data.split_summary(prepared)
    for division in ("AL", "SL"):
        assert isinstance(plots.class_balance(summary, division), Figure)


def test_clip_figure_draws_the_positive_frames():
    from bioal.plots.data import clip_figure

    labels = np.zeros((32, 3), dtype=np.float32)
    labels[3:6, 1] = 1
    fig = clip_figure(np.full((1001, 64), -100.0), labels, ["a", "b", "c"], title="t")
    ax = fig.axes[0]
    bars = [p for p in ax.patches if p.get_gid() == "frame-label"]
    assert len(bars) == 3
    np.testing.assert_allclose(sorted(b.get_x() for b in bars), dcase.frame_boundaries()[3:6])
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["b"]
    with pytest.raises(ValueError, match="33 frames"):
        clip_figure(np.zeros((1001, 64)), np.zeros((33, 3)), ["a", "b", "c"])


def test_browser_pure_functions(tiny):
    from bioal.widgets import data_browser as browser

    _, prepared = tiny
    labels = np.zeros((4, 32, 2), dtype=np.float32)
    labels[1, 5, 0] = labels[2, 0, 1] = labels[3, 31, 0] = 1
    # the clip filter of both clip browsers (this one and the clip viewer of notebook 03)
    assert data.matching_clips(labels, ["a", "b"], "a").tolist() == [1, 3]
    assert data.matching_clips(labels, ("a", "b"), "b").tolist() == [2]
    assert data.matching_clips(labels, ["a", "b"], data.NEGATIVE).tolist() == [0]
    assert data.matching_clips(labels, ["a", "b"], data.ALL_CLIPS).tolist() == [0, 1, 2, 3]
    assert data.NEGATIVE == "Negative" and data.ALL_CLIPS == "(all clips)"
    with pytest.raises(KeyError, match=r"unknown class 'z'; choose from \['a', 'b', 'Negative', '\(all clips\)'\]"):
        data.matching_clips(labels, ["a", "b"], "z")
    assert browser.class_options(["a", "b"]) == ["a", "b", data.NEGATIVE, data.ALL_CLIPS]
    assert browser.split_options() == ["AL/train", "AL/valid", "AL/test", "SL/train", "SL/valid"]
    state = browser.default_state(prepared)
    assert state == {"split": "AL/train", "choice": "Mosquito", "position": 0}
    ds = data.ClipDataset(prepared, "AL", "train")
    first = int(data.matching_clips(ds.labels, ds.class_names, "Mosquito")[0])
    fig, wave = browser.clip_view(ds, first)
    assert wave.shape == (320000,)
    assert "Mosquito" in fig.axes[0].get_title() and str(first) in fig.axes[0].get_title()
    assert fig.axes[0].images[0].get_array().shape == (64, 1001)
    static = browser.browser_figure(prepared)
    assert static.axes[0].get_title() == fig.axes[0].get_title()
    with pytest.raises(IndexError, match="position 100000 out of range"):
        browser.browser_figure(prepared, position=100000)
    wav = wav_bytes(wave)
    back, sr = sf.read(io.BytesIO(wav))
    assert sr == 32000 and len(back) == 320000 and abs(np.abs(back).max() - 0.9) < 1e-3
    widget = browser.data_browser(prepared)
    assert widget.children[0].children[1].value == "Mosquito"
    assert widget.children[-1].value == wav  # the player holds the default clip


@pytest.mark.slow
def test_notebook_01(tmp_path):
    from bioal.notebooks import run_notebook

    out = run_notebook("01_data", output=tmp_path / "01_data.ipynb", preset="demo", progress=False,
                       overrides={"SYNTH_SIZE": "tiny", "DATA_ROOT": str(tmp_path / "data")})
    import nbformat

    nb = nbformat.read(out, as_version=4)
    text = "\n".join(str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", ""))
                     for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "Mosquito" in text and "All clips" in text
    images = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert len(images) >= 3
    assert (tmp_path / "data" / "prepared" / "AL" / "test_label.csv").is_file()
