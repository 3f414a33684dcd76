"""Embedding extraction: file layout, AL-train standardisation, resume, NaN reporting."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import torch
from helpers_encoder import AL_TEST_CLASSES, make_prepared

from bioal import embeddings as emb
from bioal.config import ConfigError
from bioal.data import ClipDataset, split_frame_labels
from bioal.encoder import Cnn14Encoder
from bioal.features import LogMelExtractor, compute_mean_std, load_mean_std

WIDTH = 0.0625


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("emb")
    make_prepared(root)
    return root


def _config(root, **kw):
    return emb.EmbeddingConfig(data_root=str(root), width=WIDTH, encoder_source="random", encoder_batch_size=2,
                               device="cpu", **kw)


def test_extract_layout_and_values(data_root):
    paths = emb.extract_embeddings(_config(data_root), progress=False)
    assert set(paths) == {"train", "valid", "test"}
    prepared = data_root / "prepared"
    stats = load_mean_std(prepared, "AL")
    with h5py.File(paths["train"], "r") as f:
        assert f["embeddings"].shape == (5, 32, 128) and f["embeddings"].dtype == np.float32
        assert f["labels"].shape == (5, 32, 3) and f["class_list"].dtype == np.dtype("S100")
        assert int(f.attrs["n_done"]) == 5
        assert f.attrs["mean"] == stats.mean
        assert "dist_mtx" not in f
    split = emb.read_split(paths["train"])
    assert split.class_names == AL_TEST_CLASSES
    assert list(split.recording) == ["al_a.wav"] * 3 + ["al_b.wav"] * 2
    np.testing.assert_array_equal(split.clip_start, [0, 5, 10, 0, 5])
    np.testing.assert_array_equal(split.labels, split_frame_labels(prepared, "AL", "train"))
    assert (split.embeddings >= 0).all()
    # the stored embeddings are the encoder's output on AL-train-standardised features
    encoder = Cnn14Encoder(width=WIDTH, seed=0).eval()
    wave = ClipDataset(prepared, "AL", "train")[3][0]
    with torch.no_grad():
        ref = encoder(LogMelExtractor(stats.mean, stats.std)(wave[None]).unsqueeze(1))["embedding"][0]
    np.testing.assert_allclose(split.embeddings[3], ref.numpy(), rtol=1e-4, atol=1e-5)
    # mean/std over the AL-train clips: recompute directly
    feats = torch.cat([LogMelExtractor()(ClipDataset(prepared, "AL", "train")[i][0]).flatten() for i in range(5)])
    assert stats.mean == pytest.approx(feats.double().mean().item(), rel=1e-6)
    assert stats.std == pytest.approx(feats.double().std().item(), rel=1e-6)
    assert len(emb.read_split(paths["test"])) == 2


def test_resume_and_float16(data_root, tmp_path):
    config = _config(data_root, embed_dtype="float16")
    encoder, fp = emb.load_encoder(config)
    stats = compute_mean_std(data_root / "prepared", "AL", batch_size=2, progress=False)  # cached after the first
    path = tmp_path / "train.h5"
    args = (data_root / "prepared", "train", path, encoder, fp, stats.mean, stats.std)
    emb.extract_split(*args, batch_size=2, dtype="float16", progress=False, max_batches=1)
    with h5py.File(path, "r") as f:
        assert int(f.attrs["n_done"]) == 2
    with pytest.raises(ValueError, match="unfinished"):
        emb.read_split(path)
    calls = []
    original = encoder.forward
    encoder.forward = lambda x: calls.append(len(x)) or original(x)
    emb.extract_split(*args, batch_size=2, dtype="float16", progress=False)
    assert calls == [2, 1]  # only the clips not yet done
    # a partial file made without bf16 autocast is replaced, not continued, under bf16
    mixed = tmp_path / "mixed.h5"
    emb.extract_split(*args[:2], mixed, *args[3:], batch_size=2, dtype="float16", progress=False, max_batches=1)
    calls.clear()
    emb.extract_split(*args[:2], mixed, *args[3:], batch_size=2, dtype="float16", progress=False, bf16=True)
    assert calls == [2, 2, 1]
    with h5py.File(mixed, "r") as f:
        assert bool(f.attrs["bf16"])
    resumed = emb.read_split(path)
    assert resumed.embeddings.dtype == np.float16
    whole = tmp_path / "whole.h5"
    emb.extract_split(data_root / "prepared", "train", whole, encoder, fp, stats.mean, stats.std,
                      batch_size=2, dtype="float16", progress=False)
    np.testing.assert_array_equal(resumed.embeddings, emb.read_split(whole).embeddings)
    # another encoder: the stale file is replaced, not resumed
    other = Cnn14Encoder(width=WIDTH, seed=5).eval()
    emb.extract_split(data_root / "prepared", "train", whole, other, "random:other", stats.mean, stats.std,
                      batch_size=4, dtype="float16", progress=False)
    assert not np.array_equal(emb.read_split(whole).embeddings, resumed.embeddings)


def test_nan_names_the_clip(data_root, tmp_path):
    encoder = Cnn14Encoder(width=WIDTH, seed=0).eval()
    with torch.no_grad():
        encoder.conv_block6.bn2.bias.fill_(float("nan"))
    with pytest.raises(ValueError, match=r"embeddings of al_a.wav at 0.0 s"):
        emb.extract_split(data_root / "prepared", "valid", tmp_path / "v.h5", encoder, "x", -50.0, 10.0,
                          batch_size=2, progress=False)
    waves = torch.zeros(2, 320000)
    waves[1, 5] = float("nan")
    with pytest.raises(ValueError, match="features of rec.wav at 5.0 s"):
        emb.embed_clips(Cnn14Encoder(width=WIDTH).eval(), waves, -50.0, 10.0,
                        names=["rec.wav at 0.0 s", "rec.wav at 5.0 s"])


def test_trained_source_needs_checkpoint(tmp_path):
    with pytest.raises(FileNotFoundError, match="best_encoder.pt"):
        emb.load_encoder(emb.EmbeddingConfig(data_root=str(tmp_path)))


def test_projection_and_viewer_pure_functions(data_root):
    from bioal.plots import encoder as plots
    from bioal.widgets import clip_viewer as cv

    emb.extract_embeddings(_config(data_root), progress=False)
    train = emb.read_split(data_root / "embeddings" / "train.h5")
    xy = plots.project_2d(train.clip_vectors(), seed=0)
    assert xy.shape == (5, 2)
    np.testing.assert_array_equal(xy, plots.project_2d(train.clip_vectors(), seed=0))
    cats = plots.clip_categories(train.clip_labels(), train.class_names)
    # al_a clip 0 (0-10 s) has Mosquito (1-2 s) and the rare Meerkat alarm (9-9.4 s): rare wins
    assert cats[0] == "Meerkat_alarm_call" and cats[2] == "Negative" and cats[3] == "Red_Deer"
    fig = plots.projection_figure(xy, cats, train.class_names)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert any("rare" in t and "Meerkat_alarm_call" in t for t in labels)
    overview = emb.split_overview({"train": train})
    assert overview.loc["train", "clips"] == 5 and overview.loc["train", "Negative"] == 1

    meta = cv.read_meta(data_root, "train")
    assert cv.default_clip(meta) == ("Meerkat_alarm_call", 0)
    assert [i for _, i in cv.clip_options(meta, "Red_Deer")] == [3, 4]
    assert [i for _, i in cv.clip_options(meta, "Negative")] == [2]
    assert len(cv.clip_options(meta)) == 5
    with pytest.raises(KeyError, match="unknown class"):
        cv.clip_options(meta, "Owl")
    data = cv.clip_data(data_root, meta, 3)
    assert data["mel"].shape == (1001, 64) and data["labels"].shape == (32, 3)
    assert "al_b.wav" in data["title"] and "Red_Deer" in data["title"]
    with pytest.raises(IndexError):
        cv.clip_data(data_root, meta, 99)
    figure = cv.clip_viewer_figure(data_root)
    assert "clip 0" in figure.axes[0].get_title() and "Meerkat_alarm_call" in figure.axes[0].get_title()
    widget = cv.clip_viewer(data_root)
    (split_box, class_box), clip_box, out, player = widget.children[0].children, *widget.children[1:]
    # the default view: the rare-class clip, drawn and playable
    assert (split_box.value, class_box.value, clip_box.value) == ("train", "Meerkat_alarm_call", 0)
    assert "image/png" in out.outputs[0]["data"] and player.value[:4] == b"RIFF"
    first_png = out.outputs[0]["data"]["image/png"]
    class_box.value = "Red_Deer"  # picking a class offers its clips and shows the first
    assert [i for _, i in clip_box.options] == [3, 4] and clip_box.value == 3
    assert out.outputs[0]["data"]["image/png"] != first_png
    with pytest.raises(FileNotFoundError, match="embeddings"):
        cv.read_meta(data_root / "nowhere")


def test_train_features_kept_from_the_mean_std_pass_give_the_same_file(tmp_path, monkeypatch):
    """One pass over the train audio (log-mels kept) and two passes write identical files."""
    files, waveform_batches = {}, {}
    real = emb.embed_clips
    for cache in (0, 2**30):
        root = tmp_path / f"cache{cache}"
        make_prepared(root)
        calls = []
        monkeypatch.setattr(emb, "embed_clips", lambda *a, calls=calls, **k: calls.append(1) or real(*a, **k))
        paths = emb.extract_embeddings(_config(root, feature_cache_bytes=cache), progress=False)
        waveform_batches[cache] = len(calls)
        with h5py.File(paths["train"], "r") as f:
            files[cache] = (f["embeddings"][:], dict(f.attrs))
    # 5 train, 2 valid, 2 test clips in batches of 2: 3 + 1 + 1 batches read from audio, or 1 + 1
    assert waveform_batches == {0: 5, 2**30: 2}
    np.testing.assert_array_equal(files[0][0], files[2**30][0])
    assert files[0][1]["mean"] == files[2**30][1]["mean"] and files[0][1]["std"] == files[2**30][1]["std"]


def test_feature_cache_bytes_must_not_be_negative(tmp_path):
    with pytest.raises(ConfigError, match="FEATURE_CACHE_BYTES"):
        _config(tmp_path, feature_cache_bytes=-1)


def test_clip_seconds_comes_from_attrs_and_is_checked(tmp_path):
    labels = np.zeros((2, 4, 1), dtype=np.float32)
    split = emb.EmbeddingSplit(np.zeros((2, 4, 3), np.float32), labels, ["a"], ["r", "r"], [0.0, 2.0])
    assert split.clip_seconds == 10.0  # bioal.grid.CLIP_SECONDS
    split.attrs["clip_seconds"] = 2.0
    path = emb.write_split(tmp_path / "test.h5", split)
    assert emb.read_split(path).clip_seconds == 2.0 and split.subset([1]).clip_seconds == 2.0
    for bad in (0.0, -1.0, float("nan"), float("inf"), "two"):
        with pytest.raises(ValueError, match=r"attrs\['clip_seconds'\] must be a finite number of seconds > 0"):
            emb.EmbeddingSplit(None, labels, ["a"], ["r", "r"], [0.0, 2.0], attrs={"clip_seconds": bad})
    with h5py.File(path, "r+") as handle:
        handle.attrs["clip_seconds"] = -2.0
    with pytest.raises(ValueError, match=str(path) + r": attrs\['clip_seconds'\]"):
        emb.read_split(path)


def test_the_al_splits_are_dcase_s():
    from bioal.dcase import SPLITS

    assert emb.SPLITS is SPLITS["AL"]


def test_damaged_bytes_fail_to_read_rather_than_read_wrong(tmp_path):
    # the numeric datasets carry checksums: bytes damaged on disk are an error naming the file
    rng = np.random.default_rng(0)
    split = emb.EmbeddingSplit(rng.normal(size=(64, 32, 16)).astype(np.float32), np.zeros((64, 32, 2), np.float32),
                           ["a", "b"], np.array(["r"] * 64, dtype=object), np.arange(64) * 5.0)
    path = emb.write_split(tmp_path / "train.h5", split)
    np.testing.assert_array_equal(emb.read_split(path).embeddings, split.embeddings)
    raw = bytearray(path.read_bytes())
    first = split.embeddings.tobytes()[:16]  # the first four values: the start of the first chunk
    at = bytes(raw).find(first)  # the embeddings' data, stored as written
    assert at > 0
    raw[at + 4 : at + 8] = b"\x00\x00\x80\x3f"  # one value becomes 1.0: finite, plausible, wrong
    path.write_bytes(bytes(raw))
    with pytest.raises(OSError, match=r"train.h5: cannot read its datasets, truncated or damaged"):
        emb.read_split(path)
