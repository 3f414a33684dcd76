"""The synthetic DCASE-shaped development set (bioal.synth.audio), on the "tiny" size."""

from __future__ import annotations

import hashlib
import json
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from helpers_synth import al_class_summary, al_pool_summary

from bioal import dcase
from bioal.download import DCASE2024_RECORD
from bioal.synth import audio as synth

SEED = 0


def _digests(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.md5(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("synth") / "raw"
    return synth.generate_development_set(root, "tiny", SEED, progress=False, workers=1)


# --------------------------------------------------------------------------- layout and formats


def test_layout_matches_the_real_development_set(tiny):
    dev = tiny / "Development_Set"
    assert sorted(p.name for p in (dev / "Training_Set").iterdir()) == ["BV", "HT", "JD", "MT", "WMW"]
    assert sorted(p.name for p in (dev / "Validation_Set").iterdir()) == ["HB", "ME", "PB", "PB24", "PW", "RD"]
    for folder in [*(dev / "Training_Set").iterdir(), *(dev / "Validation_Set").iterdir()]:
        wavs = sorted(p.stem for p in folder.glob("*.wav"))
        assert wavs and wavs == sorted(p.stem for p in folder.glob("*.csv")), folder
    hb = [p.name for p in (dev / "Validation_Set" / "HB").glob("*.wav")]
    assert any(" " in n and "-" in n for n in hb), hb
    # the duplicate PB recording is a byte-identical copy of the PB24 one
    for ext in ("wav", "csv"):
        pb = dev / "Validation_Set" / "PB" / f"BUK5_20180921_015906a.{ext}"
        pb24 = dev / "Validation_Set" / "PB24" / f"BUK5_20180921_015906a.{ext}"
        assert pb.read_bytes() == pb24.read_bytes()
    assert (tiny / synth.MANIFEST_NAME).is_file()
    assert not list(tiny.rglob("*.part"))


def test_audio_rates_channels_and_levels(tiny):
    rates, channels = set(), set()
    for wav in (tiny / "Development_Set").rglob("*.wav"):
        info = sf.info(wav)
        assert info.subtype == "PCM_16" and info.format == "WAV"
        rates.add(info.samplerate)
        channels.add(info.channels)
        audio, _ = sf.read(wav, frames=info.samplerate * 20, dtype="float32")
        assert 0.001 < np.abs(audio).max() < 1.0, wav
    assert {16000, 22050, 44100}.issubset(rates)
    assert channels == {1, 2}


def test_training_csv_format(tiny):
    classes = dict(synth.TRAINING_CLASSES)
    unsorted = 0
    for csv in (tiny / "Development_Set" / "Training_Set").rglob("*.csv"):
        lines = csv.read_bytes().decode().splitlines()
        header = lines[0].split(",")
        assert header[:3] == ["Audiofilename", "Starttime", "Endtime"]
        codes = {c for c, _ in classes[csv.parent.name]}
        assert header[3:] and set(header[3:]) <= codes
        starts = []
        for line in lines[1:]:
            fields = line.split(",")
            assert fields[0] == csv.stem + ".wav"
            assert all(len(t.split(".")[1]) == 3 for t in fields[1:3]), line
            assert float(fields[1]) < float(fields[2])
            assert set(fields[3:]) <= {"POS", "NEG", "UNK"}
            starts.append(float(fields[1]))
        unsorted += starts != sorted(starts)
    assert unsorted > 0  # rows are not guaranteed to be sorted by start
    wmw = next((tiny / "Development_Set" / "Training_Set" / "WMW").glob("*.csv")).read_text().splitlines()[0]
    assert ",c_4,c_5," in wmw  # the duplicated Tachybaptus codes sit in adjacent columns
    jd = next((tiny / "Development_Set" / "Training_Set" / "JD").glob("*.csv")).read_bytes()
    assert b"\r\n" in jd


def test_validation_csv_format(tiny):
    for csv in (tiny / "Development_Set" / "Validation_Set").rglob("*.csv"):
        lines = csv.read_text().splitlines()
        assert lines[0] == "Audiofilename,Starttime,Endtime,Q"
        cells = [line.rsplit(",", 1)[1] for line in lines[1:]]
        assert set(cells) == {"POS", "UNK"}, csv
        assert cells.count("POS") >= 6


def test_class_csvs(tiny):
    train = (tiny / "DCASE2024_task5_training_set_classes.csv").read_bytes()
    valid = (tiny / "DCASE2024_task5_validation_set_classes.csv").read_bytes()
    for blob in (train, valid):
        assert b"\r\n" in blob and b"\n" not in blob.replace(b"\r\n", b"") and not blob.endswith(b"\n")
    rows = [r.split(",") for r in train.decode().split("\r\n")]
    assert rows[0] == ["dataset", "class_code", "class_name"]
    names = [dcase.normalise_name(r[2]) for r in rows[1:]]
    assert set(dcase.SL_CLASSES) <= set(names)
    assert set(names) - set(dcase.SL_CLASSES) == {"Anas_platyrhynchos_song"}
    tachy = [r for r in rows[1:] if r[2] == "Tachybaptus ruficollis song"]
    assert [r[1] for r in tachy] == ["c_4", "c_5"]
    # every SL class (code) has POS events somewhere
    pos = {}
    for csv in (tiny / "Development_Set" / "Training_Set").rglob("*.csv"):
        table = dcase.read_annotations(csv)
        for code in table.columns[3:]:
            pos[(csv.parent.name, code)] = pos.get((csv.parent.name, code), 0) + int((table[code] == 1).sum())
    assert all(pos.get((r[0], r[1]), 0) > 0 for r in rows[1:]), pos
    vrows = [r.split(",") for r in valid.decode().split("\r\n")]
    assert vrows[0] == ["dataset", "recording", "class_code", "class_name"]
    assert any(r[1].endswith(" ") for r in vrows[1:])
    assert {r[3] for r in vrows[1:]} == set(synth.AL_CLASS_NAMES)
    assert {r[2] for r in vrows[1:]} == {"Q"}
    listed = {(r[0], r[1].strip()) for r in vrows[1:]}
    on_disk = {(p.parent.name, p.stem) for p in (tiny / "Development_Set" / "Validation_Set").rglob("*.wav")}
    assert listed == on_disk


def test_every_al_class_is_in_every_recording_of_its_subsets(tiny):
    valid = dcase.read_validation_classes(tiny / "DCASE2024_task5_validation_set_classes.csv")
    seen = set()
    for csv in (tiny / "Development_Set" / "Validation_Set").rglob("*.csv"):
        name = valid[dcase.normalise_name(csv.stem)].replace("_", " ")
        assert csv.parent.name in synth.AL_CLASS_NAMES[name]
        assert (dcase.read_annotations(csv)["Q"] == 1).sum() >= 6
        seen.add((name, csv.parent.name))
    expected = {(c, s) for c, subsets in synth.AL_CLASS_NAMES.items() for s in subsets}
    assert seen == expected  # tiny has every class in every sub-dataset that carries it


# --------------------------------------------------------------------------- preparation-level checks


@pytest.mark.parametrize(
    "size, seed", [("tiny", 0), ("tiny", 1), ("tiny", 2), ("demo", 0), ("demo", 1), ("demo", 2), ("large", 0)]
)
def test_split_positives_and_rarity(size, seed):
    """Preparation's temporal split (bioal.dcase) applies on its main path and leaves positives of
    every class in valid and test, and >= 6 positive train-pool clips per class."""
    plans = synth.plan_development_set(size, seed)
    per_rec = al_pool_summary(plans)
    assert (per_rec[["train_events", "valid_events", "test_events"]] >= 1).all().all()
    table = al_class_summary(plans)
    assert (table["train_pos_clips"] >= 6).all(), table
    rare = table.loc[["Meerkat_alarm_call", "Meerkat_move_call"], "train_pos_clips"]
    common = table.drop(index=["Meerkat_alarm_call", "Meerkat_move_call", "total"])["train_pos_clips"]
    if size != "tiny":
        assert rare.max() <= 30 and common.min() >= 3 * rare.max(), table
        negative = 1 - table.loc["total", "train_pos_clips"] / table.loc["total", "train_clips"]
        assert 0.7 < negative < 0.9, negative
    if size == "demo":
        # the demo's largest budget (350) is at most 10 % of the pool (the paper: 500 of 21414, 2.3 %)
        assert 3500 <= table.loc["total", "train_clips"] <= 4200
        # most of the pool is the long, sparsely annotated bird recordings (random picks land there)
        pool = al_pool_summary(plans).groupby("subset")[["train_clips", "train_pos_clips"]].sum()
        birds = pool.loc[["PB", "PB24"]].sum()
        assert birds.train_clips > 0.6 * pool.train_clips.sum() and birds.train_pos_clips < 0.06 * birds.train_clips


def test_single_event_split_path_is_never_needed(caplog):
    for size in ("tiny", "demo"):
        al_pool_summary(synth.plan_development_set(size, SEED))
    assert "fewer than 2 events" not in caplog.text and "single POS event" not in caplog.text


# --------------------------------------------------------------------------- determinism and resume


def test_same_seed_same_bytes_other_seed_differs(tiny, tmp_path):
    again = synth.generate_development_set(tmp_path / "again", "tiny", SEED, progress=False, workers=2)
    assert _digests(again) == _digests(tiny)
    plans_other = synth.plan_development_set("tiny", SEED + 1)
    plans = synth.plan_development_set("tiny", SEED)
    assert [p.events for p in plans] != [p.events for p in plans_other]
    audio = synth.render_recording(plans[0], SEED)
    other = synth.render_recording(plans_other[0], SEED + 1)
    assert audio.shape == other.shape and not np.array_equal(audio, other)
    assert np.array_equal(audio, synth.render_recording(plans[0], SEED))


def test_resume_rewrites_only_missing_files(tiny, tmp_path):
    root = Path(shutil.copytree(tiny, tmp_path / "raw"))
    before = {p: p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}
    digests = _digests(root)
    victim = root / "Development_Set/Validation_Set/ME/ME2.wav"
    victim.unlink()
    synth.generate_development_set(root, "tiny", SEED, progress=False, workers=1)
    assert _digests(root) == digests
    changed = {p for p, t in before.items() if p.stat().st_mtime_ns != t}
    assert changed <= {victim, root / synth.MANIFEST_NAME}
    assert victim in changed
    # a finished tree is detected without rendering anything
    mtimes = {p: p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}
    synth.generate_development_set(root, "tiny", SEED, progress=False)
    assert mtimes == {p: p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}


def test_interrupted_run_resumes(tmp_path, monkeypatch):
    root = tmp_path / "raw"
    calls = []
    real = synth._write_recording

    def flaky(*args, **kwargs):
        if len(calls) == 3:
            raise KeyboardInterrupt
        calls.append(args[1].name)
        return real(*args, **kwargs)

    monkeypatch.setattr(synth, "_write_recording", flaky)
    with pytest.raises(KeyboardInterrupt):
        synth.generate_development_set(root, "tiny", SEED, progress=False, workers=1)
    assert not (root / synth.MANIFEST_NAME).exists() and not list(root.rglob("*.part"))
    with pytest.raises(ValueError, match="seed=0"):
        synth.generate_development_set(root, "tiny", SEED + 5, progress=False, workers=1)
    monkeypatch.setattr(synth, "_write_recording", real)
    done = {p: p.stat().st_mtime_ns for p in root.rglob("*.wav")}
    assert len(done) == 3
    synth.generate_development_set(root, "tiny", SEED, progress=False, workers=1)
    assert all(p.stat().st_mtime_ns == t for p, t in done.items())
    assert (root / synth.MANIFEST_NAME).is_file()


def test_mismatching_manifest_and_foreign_folders_are_errors(tiny, tmp_path):
    with pytest.raises(ValueError, match=synth.MANIFEST_NAME):
        synth.generate_development_set(tiny, "tiny", SEED + 1, progress=False)
    with pytest.raises(ValueError, match="size='tiny'"):
        synth.generate_development_set(tiny, "demo", SEED, progress=False)
    foreign = tmp_path / "real"
    (foreign / "Development_Set" / "Training_Set").mkdir(parents=True)
    with pytest.raises(ValueError, match="not written by the synthetic generator"):
        synth.generate_development_set(foreign, "tiny", SEED, progress=False)
    with pytest.raises(ValueError, match="unknown synthetic size"):
        synth.plan_development_set("huge")


# --------------------------------------------------------------------------- the calls


def _event_audio(root: Path, plan: synth.RecordingPlan, pos_only: bool = True):
    audio, sr = sf.read(root / plan.wav_relpath, dtype="float32", always_2d=True)
    for ev in plan.events:
        if not pos_only or ev.cells[0] == "POS":
            yield audio[int(ev.start * sr):int(ev.end * sr), 0], sr, ev


def _centroid(x: np.ndarray, sr: int) -> float:
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x)))) ** 2
    f = np.fft.rfftfreq(len(x), 1 / sr)
    return float((spec * f).sum() / spec.sum())


def test_call_types_are_distinguishable():
    """Rendered calls alone (no background): spectral centroids in the expected order, the click
    buzz far broader than the whistles, and the two songs differing in note rate."""
    g = synth.rng(0, "test-calls")
    sr = 22050
    cent = {}
    for name, call in synth._AL_CALLS.items():
        lo, hi = synth._AL_DURATION[name]
        cent[name] = np.median([_centroid(call(int(g.uniform(lo, hi) * sr), sr, g), sr) for _ in range(8)])
    assert cent["Red Deer"] < cent["Mosquito"] < cent["Meerkat alarm call"] < cent["Meerkat move call"]
    assert cent["Meerkat move call"] < min(cent["Song thrush call"], cent["Blackbird call"])
    assert cent["Pilot whale foraging buzzes"] > 3000

    def onsets_per_second(call) -> float:
        x = np.abs(call(3 * sr, sr, g))
        env = x[: len(x) // 220 * 220].reshape(-1, 220).max(axis=1)  # 10 ms frames
        on = (env > 0.1 * env.max()).astype(int)
        return float(np.sum(np.diff(on) == 1)) / 3

    thrush = np.median([onsets_per_second(synth._AL_CALLS["Song thrush call"]) for _ in range(6)])
    blackbird = np.median([onsets_per_second(synth._AL_CALLS["Blackbird call"]) for _ in range(6)])
    assert thrush > 1.5 * blackbird


def test_events_stand_out_from_background(tiny):
    """In the written files, the mosquito events are centred higher than the red-deer events, and
    POS event segments are louder than the background around them on average."""
    plans = {(p.subset, p.name): p for p in synth.plan_development_set("tiny", SEED)}
    hb = next(p for (s, _), p in plans.items() if s == "HB")
    rd = next(p for (s, _), p in plans.items() if s == "RD")

    def band_centroid(x, sr):  # ignore the low-frequency background (< 80 Hz)
        spec = np.abs(np.fft.rfft(x)) ** 2
        f = np.fft.rfftfreq(len(x), 1 / sr)
        spec[f < 80] = 0
        return float((spec * f).sum() / spec.sum())

    hb_c = np.median([band_centroid(x, sr) for x, sr, ev in _event_audio(tiny, hb) if ev.snr_db > 5])
    rd_c = np.median([band_centroid(x, sr) for x, sr, ev in _event_audio(tiny, rd) if ev.snr_db > 5])
    assert hb_c > rd_c
    audio, sr = sf.read(tiny / hb.wav_relpath, dtype="float32")
    ratios = []
    for ev in hb.events:
        if ev.cells[0] == "POS" and ev.snr_db > 5:
            inside = audio[int(ev.start * sr):int(ev.end * sr)]
            before = audio[max(0, int((ev.start - 1.0) * sr)):int(ev.start * sr)]
            ratios.append(np.sqrt(np.mean(inside**2) / np.mean(before**2)))
    assert np.median(ratios) > 1.5


# --------------------------------------------------------------------------- zenodo stand-in


def test_zenodo_record(tiny, tmp_path):
    out = tmp_path / "zenodo"
    record = synth.make_zenodo_record(tiny, out, "http://127.0.0.1:9999/api/")
    assert record == json.loads((out / "record.json").read_text())
    assert record["id"] == 10829604
    keys = [f["key"] for f in record["files"]]
    assert keys == ["Development_set.zip", "Development_set_annotations.zip",
                    "DCASE2024_task5_training_set_classes.csv", "DCASE2024_task5_validation_set_classes.csv"]
    for entry in record["files"]:
        blob = (out / entry["key"]).read_bytes()
        assert entry["size"] == len(blob)
        assert entry["checksum"] == "md5:" + hashlib.md5(blob).hexdigest()
        assert entry["links"]["self"] == f"http://127.0.0.1:9999/api/records/10829604/files/{entry['key']}/content"
    with zipfile.ZipFile(out / "Development_set.zip") as archive:
        names = archive.namelist()
        assert any(n.startswith("__MACOSX/Development_Set/._") for n in names)
        hb = "Development_Set/Validation_Set/HB/R4_cleaned recording_13-10-17.wav"
        assert archive.read(hb) == (tiny / hb).read_bytes()
        files = {n for n in names if not n.endswith("/") and not n.startswith("__MACOSX")}
        on_disk = {p.relative_to(tiny).as_posix() for p in (tiny / "Development_Set").rglob("*") if p.is_file()}
        assert files == on_disk
    with zipfile.ZipFile(out / "Development_set_annotations.zip") as archive:
        assert all(n.endswith(".csv") for n in archive.namelist())
    # deterministic packaging
    again = synth.make_zenodo_record(tiny, tmp_path / "again", "http://127.0.0.1:9999/api")
    assert [f["checksum"] for f in again["files"]] == [f["checksum"] for f in record["files"]]


def test_cli(tiny, tmp_path, capsys):
    root = Path(shutil.copytree(tiny, tmp_path / "raw"))
    (root / "Development_Set/Training_Set/JD/jackdaw nest-1.csv").unlink()
    assert synth.main([str(root), "--size", "tiny", "--seed", str(SEED), "--workers", "1", "--no-progress",
                       "--zenodo", str(tmp_path / "z")]) == 0
    assert _digests(root) == _digests(tiny)
    assert "synthetic tiny set (seed 0)" in capsys.readouterr().out
    assert json.loads((tmp_path / "z" / "record.json").read_text())["id"] == DCASE2024_RECORD
    with pytest.raises(SystemExit):
        synth.main([str(root), "--size", "huge"])


@pytest.mark.slow
def test_real_preparation_runs_on_it(tiny, tmp_path):
    """bioal.dcase.prepare, unchanged, on the synthetic tree: 45 SL and 7 AL classes with positives."""
    prepared = dcase.prepare(tiny, tmp_path / "prepared", progress=False)
    table, classes = dcase.read_label_table(prepared / "SL" / "train_label.csv")
    assert classes == list(dcase.SL_CLASSES) and ((table[classes] == 1).sum() > 0).all()
    for split in ("train", "valid", "test"):
        table, classes = dcase.read_label_table(prepared / "AL" / f"{split}_label.csv")
        assert len(classes) == 7 and ((table[classes] == 1).sum() > 0).all(), split
    assert not (prepared / "AL" / "train" / "R4_cleaned recording_13-10-17.wav").exists()
    assert (prepared / "AL" / "train" / "R4_cleaned_recording_13_10_17.wav").is_file()


def _band_profile(x: np.ndarray, sr: int) -> np.ndarray:
    """Log energy in 24 bands up to 7.5 kHz, level-normalised (the shape of the spectrum)."""
    spec = np.abs(np.fft.rfft(x.reshape(-1, 1024) * np.hanning(1024), axis=1)) ** 2
    freqs = np.fft.rfftfreq(1024, 1 / sr)
    edges = np.linspace(50, 7500, 25)
    bands = np.array([spec[:, (freqs >= a) & (freqs < b)].mean() for a, b in zip(edges[:-1], edges[1:], strict=True)])
    profile = np.log10(bands + 1e-20)
    return profile - profile.mean()


def test_each_subset_has_its_own_background():
    """The AL pool's sub-datasets sound like different sites: each recording's background is
    nearest in spectral shape to another recording of its own sub-dataset."""
    from bioal.utils import rng

    subsets = ["HB", "ME", "PB", "PW", "RD"]
    sr, n = 16000, 16000 * 8
    names, profiles = [], []
    for sub in subsets:
        for rec in range(4):
            x = synth.ENVIRONMENTS[sub].background(rng(SEED, "test-bg", sub, rec), n, sr)
            assert x.shape == (n,) and x.dtype == np.float32
            assert abs(float(np.sqrt(np.mean(x.astype(np.float64) ** 2))) - 1) < 0.05  # unit RMS
            names.append(sub)
            profiles.append(_band_profile(x[: n // 1024 * 1024], sr))
    profiles = np.array(profiles)
    dist = np.linalg.norm(profiles[:, None] - profiles[None], axis=2)
    np.fill_diagonal(dist, np.inf)
    nearest = [names[j] for j in dist.argmin(axis=1)]
    assert nearest == names
    assert set(synth.ENVIRONMENTS) == {s for subs in synth.AL_CLASS_NAMES.values() for s in subs} | set(
        synth.TRAINING_CLASSES)


def test_training_recordings_hold_unannotated_calls_of_other_species(monkeypatch):
    """Generator 4: every training recording holds about as many unannotated calls of other
    species of its taxon as annotated events; validation recordings hold none, so the AL pool is
    rendered exactly as without them."""
    plans = synth.plan_development_set("tiny", SEED)
    training = [p for p in plans if p.division == "Training_Set"]
    validation = [p for p in plans if p.division == "Validation_Set"]
    assert all(synth._other_species_calls(p, SEED) == [] for p in validation)
    counts = np.array([len(synth._other_species_calls(p, SEED)) for p in training])
    events = np.array([len(p.events) for p in training])
    assert counts.sum() > 0 and 0.7 < counts.sum() / events.sum() < 1.3
    classes = {dataset: [synth._sl_class_params(SEED, code, dataset) for code, _ in codes]
               for dataset, codes in synth.TRAINING_CLASSES.items()}
    for plan in training:
        for i0, sig, snr in synth._other_species_calls(plan, SEED):
            assert 0 <= i0 and i0 + len(sig) <= plan.n_samples and sig.dtype == np.float32 and np.abs(sig).max() > 0
            lo, hi = synth.ENVIRONMENTS[plan.subset].snr_db
            assert lo <= snr <= hi
    for dataset, params in classes.items():  # the other species are not the annotated classes
        others = [synth._sl_class_params(SEED, f"other-{j}", dataset) for j in range(synth.OTHER_SPECIES)]
        assert all(o["family"] in synth._SL_TAXA[dataset] for o in others)
        assert not any(o == p for o in others for p in params)
    # rendering: the calls are added to training recordings only
    with_others = {p.name: synth.render_recording(p, SEED) for p in (training[0], validation[0])}
    monkeypatch.setattr(synth, "_other_species_calls", lambda plan, seed: [])
    assert not np.array_equal(synth.render_recording(training[0], SEED), with_others[training[0].name])
    np.testing.assert_array_equal(synth.render_recording(validation[0], SEED), with_others[validation[0].name])
