"""A folder of recordings -> clips on the grid -> embeddings in a resumable collection file."""

from __future__ import annotations

import json
import os

import h5py
import numpy as np
import pytest
import soundfile as sf

from bioal.collection import (
    CollectionConfig,
    CollectionError,
    build_collection,
    clip_grid,
    read_clip,
    read_collection,
    scan_audio,
)
from bioal.config import ConfigError
from bioal.grid import SAMPLE_RATE
from bioal.utils import StaleResumeError


def tone(seconds: float, sr: int, freq: float = 1000.0, channels: int = 1) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    mono = 0.3 * np.sin(2 * np.pi * freq * t)
    return np.stack([mono * (c + 1) / channels for c in range(channels)], axis=1) if channels > 1 else mono


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / "my recordings"
    (root / "site b").mkdir(parents=True)
    sf.write(root / "dawn chorus.wav", tone(12.0, 16000, channels=2), 16000)
    sf.write(root / "site b" / "night.flac", tone(7.0, 44100), 44100)
    sf.write(root / "short.WAV", tone(3.0, SAMPLE_RATE), SAMPLE_RATE)
    (root / "notes.txt").write_text("not audio")
    return root


def config(folder, out, **kw):
    base = dict(audio_dir=str(folder), collection_dir=str(out), encoder="random", width=0.0625,
                encoder_batch_size=2, standardise="collection", stats_clips=3)
    return CollectionConfig(**{**base, **kw})


def test_scan_lists_audio_with_rates_channels_and_names_with_spaces(folder):
    files, skipped = scan_audio(folder)
    assert files["recording"].tolist() == ["dawn chorus.wav", "short.WAV", "site b/night.flac"]
    assert files["samplerate"].tolist() == [16000, SAMPLE_RATE, 44100]
    assert files["channels"].tolist() == [2, 1, 1]
    assert files["duration_s"].tolist() == pytest.approx([12.0, 3.0, 7.0])
    assert skipped == []
    clips = clip_grid(files)
    assert clips["start_s"].tolist() == [0.0, 5.0, 0.0, 0.0]
    assert clip_grid(files, clip_s=4.0, hop_s=2.0).groupby("recording").size().to_dict() == {
        "dawn chorus.wav": 5, "short.WAV": 1, "site b/night.flac": 3}


def test_unreadable_files_are_named_or_skipped_and_listed(folder):
    (folder / "broken one.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    (folder / "empty.flac").write_bytes(b"")
    with pytest.raises(CollectionError, match=r"2 unreadable audio file\(s\)") as info:
        scan_audio(folder)
    assert "broken one.wav" in str(info.value) and "empty.flac" in str(info.value)
    files, skipped = scan_audio(folder, skip_unreadable=True)
    assert [name for name, _ in skipped] == ["broken one.wav", "empty.flac"]
    assert "broken one.wav" not in files["recording"].tolist()
    # other audio formats are not collected, and say so; other files are not audio at all
    (folder / "sub").mkdir()
    for name in ("sub/dusk.ogg", "memo.MP3"):
        (folder / name).write_bytes(b"x")
    files, skipped = scan_audio(folder, skip_unreadable=True)
    assert skipped[2:] == [("memo.MP3", "not collected: only .wav/.flac files are"),
                           ("sub/dusk.ogg", "not collected: only .wav/.flac files are")]  # notes.txt: not audio


def test_read_clip_resamples_mixes_and_pads(folder):
    clip = read_clip(folder / "site b" / "night.flac", 0.0)  # 44.1 kHz, 7 s
    assert clip.shape == (10 * SAMPLE_RATE,) and clip.dtype == np.float32
    expected = tone(7.0, SAMPLE_RATE)
    np.testing.assert_allclose(clip[1000 : 6 * SAMPLE_RATE], expected[1000 : 6 * SAMPLE_RATE], atol=2e-3)
    assert not clip[int(7.01 * SAMPLE_RATE) :].any()
    later = read_clip(folder / "dawn chorus.wav", 5.0, channel=-1)  # 16 kHz stereo, mean of 0.5x and 1x
    ref = 0.75 * tone(12.0, SAMPLE_RATE)[5 * SAMPLE_RATE :]
    np.testing.assert_allclose(later[1000 : 6 * SAMPLE_RATE], ref[1000 : 6 * SAMPLE_RATE], atol=2e-3)
    right = read_clip(folder / "dawn chorus.wav", 5.0, channel=1)
    assert np.abs(right).max() > np.abs(later).max()
    with pytest.raises(CollectionError, match="channel 2 asked for, the file has 2"):
        read_clip(folder / "dawn chorus.wav", 0.0, channel=2)


def test_build_resumes_and_equals_an_uninterrupted_run(folder, tmp_path):
    whole = build_collection(config(folder, tmp_path / "a"), progress=False)
    part = build_collection(config(folder, tmp_path / "b"), progress=False, max_batches=1)
    with h5py.File(part) as handle:
        assert int(handle.attrs["n_done"]) == 2
    with pytest.raises(ValueError, match="unfinished"):
        read_collection(part)
    build_collection(config(folder, tmp_path / "b"), progress=False)
    a, b = read_collection(whole), read_collection(tmp_path / "b")
    assert a.split.embeddings.shape == (4, 32, 128) and a.split.labels.shape == (4, 32, 0)
    np.testing.assert_array_equal(a.split.embeddings, b.split.embeddings)
    assert a.split.recording.tolist() == ["dawn chorus.wav", "dawn chorus.wav", "short.WAV", "site b/night.flac"]
    assert a.durations() == pytest.approx({"dawn chorus.wav": 12.0, "short.WAV": 3.0, "site b/night.flac": 7.0})
    assert a.audio_path("short.WAV") == folder / "short.WAV"
    assert a.skipped == [] and a.clip_seconds == 10.0


def test_a_moved_folder_is_read_from_its_new_place(folder, tmp_path):
    out = tmp_path / "m"
    build_collection(config(folder, out), progress=False)
    moved = folder.rename(tmp_path / "moved recordings")
    build_collection(config(moved, out), progress=False)  # the same files: nothing to embed again
    collection = read_collection(out, audio_dir=moved)
    assert collection.audio_path("site b/night.flac") == moved / "site b" / "night.flac"
    assert len(collection.clip_audio(3)) == 10 * SAMPLE_RATE
    with pytest.raises(CollectionError, match=r"does not hold the collection's recording\(s\) \['dawn chorus.wav'"):
        read_collection(out, audio_dir=tmp_path)


def test_changed_inputs_are_refused_and_skips_recorded(folder, tmp_path):
    out = tmp_path / "c"
    build_collection(config(folder, out), progress=False, max_batches=1)
    short = folder / "short.WAV"
    stat = short.stat()
    os.utime(short, ns=(0, 123456789))  # the same bytes, touched (a backup, a copy without -p)
    build_collection(config(folder, out), progress=False, max_batches=1)  # resumes
    # other bytes of the same size under the old time (cp -p, rsync -t) are still refused
    original = short.read_bytes()
    short.write_bytes(original[:-2000] + bytes(2000))
    os.utime(short, ns=(0, 123456789))
    (out / "file_digests.json").unlink()  # a fresh machine: nothing cached
    with pytest.raises(StaleResumeError, match=r"other inputs.*files.*Changed: short.WAV\. .*move the journal aside"):
        build_collection(config(folder, out), progress=False)
    short.write_bytes(original)
    os.utime(short, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    build_collection(config(folder, out), progress=False, max_batches=1)
    sf.write(folder / "new.wav", tone(2.0, 8000), 8000)
    with pytest.raises(StaleResumeError, match=r"other inputs.*files.*Added: new.wav\."):
        build_collection(config(folder, out), progress=False)
    (folder / "bad.flac").write_bytes(b"fLaC")
    path = build_collection(config(folder, tmp_path / "d", skip_unreadable=True), progress=False)
    collection = read_collection(path)
    assert [name for name, _ in collection.skipped] == ["bad.flac"]
    with h5py.File(path) as handle:
        assert json.loads(handle.attrs["skipped"])[0][0] == "bad.flac"


def test_user_embeddings_file(folder, tmp_path):
    user = np.arange(4 * 5 * 3, dtype=np.float32).reshape(4, 5, 3)
    np.save(tmp_path / "mine.npy", user)
    path = build_collection(config(folder, tmp_path / "e", encoder="file", embeddings_file=str(tmp_path / "mine.npy")),
                            progress=False)
    np.testing.assert_array_equal(read_collection(path).split.embeddings, user)
    # other values in the same file, size and modification time: refused
    stat = (tmp_path / "mine.npy").stat()
    np.save(tmp_path / "mine.npy", user + 1)
    os.utime(tmp_path / "mine.npy", ns=(stat.st_atime_ns, stat.st_mtime_ns))
    with pytest.raises(StaleResumeError, match=r"other inputs \(encoder differ.*Changed: <embeddings file>"):
        build_collection(config(folder, tmp_path / "e", encoder="file", embeddings_file=str(tmp_path / "mine.npy")),
                         progress=False)
    np.save(tmp_path / "wrong.npy", user[:3])
    with pytest.raises(CollectionError, match=r"shape \(3, 5, 3\), expected \[4, T, D\]"):
        build_collection(config(folder, tmp_path / "f", encoder="file", embeddings_file=str(tmp_path / "wrong.npy")),
                         progress=False)


@pytest.mark.parametrize(("field", "value", "message"), [("width", -1.0, "WIDTH: must be positive"),
                                                         ("seed", -1, "SEED must be >= 0")])
def test_collection_config_ranges(tmp_path, field, value, message):
    with pytest.raises(ConfigError, match=message):
        CollectionConfig(audio_dir=str(tmp_path), collection_dir=str(tmp_path / "c"), **{field: value})


def test_silent_statistics_clips_are_named(tmp_path):
    folder = tmp_path / "quiet"
    folder.mkdir()
    sf.write(folder / "left only.wav", np.stack([tone(12.0, 8000), np.zeros(12 * 8000)], axis=1), 8000)
    with pytest.raises(CollectionError, match=r"all hold the same value \(silence\?\), channel 1: \['left only.wav at 0.0 s"):
        build_collection(config(folder, tmp_path / "c", channel=1), progress=False)


def test_the_journal_file_is_named_once_below_the_session():
    from bioal import collection, session

    assert collection.JOURNAL_FILE == "journal.jsonl" and session.JOURNAL_FILE is collection.JOURNAL_FILE
