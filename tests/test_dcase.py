"""DCASE formats, label tables, temporal split, clip grid and preparation (method §1.1-§1.5)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from helpers_data import make_dev_set

from bioal import dcase
from bioal.dcase import DatasetError


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("utf-8"))
    return path


# --------------------------------------------------------------------------- read_annotations


def test_read_training_format_crlf_unsorted_no_final_newline(tmp_path):
    p = write(tmp_path / "a.csv", "Audiofilename,Starttime,Endtime,AMRE,OVEN\r\n"
              "a.wav,5.000,6.500,POS,NEG\r\na.wav,1.000,2.000,NEG,UNK\r\na.wav,3.0,3.25, UNK ,POS")
    t = dcase.read_annotations(p)
    assert list(t.columns) == ["Audiofilename", "Starttime", "Endtime", "AMRE", "OVEN"]
    assert t["Starttime"].tolist() == [1.0, 3.0, 5.0]
    assert t["AMRE"].tolist() == [0, -1, 1] and t["OVEN"].tolist() == [-1, 1, 0]
    assert t["AMRE"].dtype == np.int8


def test_read_validation_format(tmp_path):
    p = write(tmp_path / "v.csv", "Audiofilename,Starttime,Endtime,Q\na.wav,1,2,POS\na.wav,3,4,UNK\n")
    t = dcase.read_annotations(p)
    assert t["Q"].tolist() == [1, -1]


def test_read_annotations_can_keep_the_file_order(tmp_path):
    p = write(tmp_path / "v.csv", "Audiofilename,Starttime,Endtime,Q\na.wav,5,6,POS\na.wav,0,4,UNK\na.wav,0,2,POS\n")
    t = dcase.read_annotations(p, sort=False)
    assert t["Endtime"].tolist() == [6.0, 4.0, 2.0] and t["Q"].tolist() == [1, -1, 1]
    assert dcase.read_annotations(p)["Endtime"].tolist() == [2.0, 4.0, 6.0]


def test_read_csv_text_strips_and_keeps_empty_fields(tmp_path):
    p = write(tmp_path / "t.csv", " a , b\r\n x ,\r\n")
    t = dcase.read_csv_text(p)
    assert list(t.columns) == ["a", "b"] and t.iloc[0].tolist() == ["x", ""]
    with pytest.raises(DatasetError, match="t2.csv: cannot parse as CSV"):
        dcase.read_csv_text(write(tmp_path / "t2.csv", ""))


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("Audiofilename,Starttime,AMRE\na.wav,1,POS\n", "missing column(s) ['Endtime']"),
        ("Audiofilename,Starttime,Endtime,Q\na.wav,1,2,POS\na.wav,3,4,MAYBE\n", "row 3: column 'Q' has unknown value 'MAYBE'"),
        ("Audiofilename,Starttime,Endtime,Q\na.wav,1,2,POS\na.wav,5,4,POS\n", "row 3: Endtime 4.0 < Starttime 5.0"),
        ("Audiofilename,Starttime,Endtime,Q\na.wav,1,2,POS\na.wav,x1,4,POS\n", "row 3: Starttime 'x1' is not a number"),
        ("Audiofilename,Starttime,Endtime,Q\na.wav,1,,POS\n", "row 2: Endtime '' is not a number"),
        ("Audiofilename,Starttime,Endtime\na.wav,1,2\n", "no class column"),
    ],
)
def test_bad_annotation_csv_names_file_and_row(tmp_path, text, fragment):
    p = write(tmp_path / "bad file.csv", text)
    with pytest.raises(DatasetError) as err:
        dcase.read_annotations(p)
    assert str(p) in str(err.value) and fragment in str(err.value)


def test_repeated_annotation_rows_are_kept_with_a_warning_naming_both(tmp_path):
    p = write(tmp_path / "twice.csv", "Audiofilename,Starttime,Endtime,Q\na.wav,1,2,POS\na.wav,1,2,UNK\na.wav,1.000,2,POS\n")
    with pytest.warns(UserWarning, match=r"twice.csv, rows 2 and 4: the same event twice \(1.0-2.0 s, every column equal\)"):
        table = dcase.read_annotations(p)
    assert len(table) == 3  # as the paper's preparation and the challenge's evaluation read it


# --------------------------------------------------------------------------- grid and frame labels


def test_frame_boundaries():
    b = dcase.frame_boundaries()
    assert len(b) == 33
    np.testing.assert_allclose(b[:4], [0, 0.315, 0.635, 0.955])
    np.testing.assert_allclose(b[-3:], [9.595, 9.915, 10.0])
    np.testing.assert_allclose(b[1:-1], 0.32 * np.arange(1, 32) - 0.005)


@pytest.mark.parametrize("dur, n", [(0.0, 1), (3.0, 1), (10.0, 1), (10.001, 2), (15.0, 2), (15.01, 3), (22.0, 4)])
def test_clip_starts(dur, n):
    s = dcase.clip_starts(dur)
    assert len(s) == n == 1 + max(0, int(np.ceil((dur - 10) / 5)))
    np.testing.assert_array_equal(s, 5.0 * np.arange(n))


def test_frame_labels_closed_interval_and_unk():
    classes = ["A", "B"]
    ev = pd.DataFrame({
        "Starttime": [0.0, 0.635, 3.0, 5.0, 20.315],
        "Endtime": [0.315, 0.700, 4.0, 6.0, 21.0],
        "A": [1, 0, -1, 1, 1],
        "B": [0, 1, 1, -1, 0],
    })
    lab = dcase.frame_labels(ev, classes, 0.0)
    assert lab.shape == (32, 2) and lab.dtype == np.float32
    # event [0, .315] touches segment 1's start (.315) -> frames 0 and 1
    assert lab[:, 0].nonzero()[0].tolist() == [0, 1] + list(range(15, 19))  # A: 5.0-6.0 -> segs 15..18
    # B: [.635,.700] touches seg 1 end (.635) and is inside seg 2; [3,4] -> segs 9..12
    assert lab[:, 1].nonzero()[0].tolist() == [1, 2, 9, 10, 11, 12]
    # clip starting at 20: [20.315, 21] -> relative [.315, 1.0] -> segs 0? no: seg0 ends .315 -> touches
    lab2 = dcase.frame_labels(ev, classes, 20.0)
    assert lab2[:, 0].nonzero()[0].tolist() == [0, 1, 2, 3]
    assert lab2[:, 1].sum() == 0


def test_clip_frame_labels_matches_per_clip():
    gen = np.random.default_rng(0)
    starts = np.sort(gen.uniform(0, 60, 40))
    ends = starts + gen.uniform(0, 2, 40)
    pos = gen.random((40, 3)) < 0.4
    clips = dcase.clip_starts(62.0)
    many = dcase.clip_frame_labels(starts, ends, pos, clips)
    ev = pd.DataFrame({"Starttime": starts, "Endtime": ends, **{c: pos[:, i].astype(int) for i, c in enumerate("xyz")}})
    for k, cs in enumerate(clips):
        np.testing.assert_array_equal(many[k], dcase.frame_labels(ev, list("xyz"), cs))


# --------------------------------------------------------------------------- split heuristics


def table(rows, classes=("A",)):
    return pd.DataFrame(rows, columns=["Starttime", "Endtime", *classes])


def test_split_main_path():
    # 11 POS events of 1 s at 0, 10, ..., 100: T = 11, S_j = j
    ev = table([(10.0 * i, 10.0 * i + 1, 1) for i in range(11)])
    # SL goal 8.8 -> J = 1..8 -> slot [end_7, start_8] = [61, 70]
    (s1,) = dcase.split_times(ev, ["A"], (0.8,))
    assert s1 == pytest.approx(65.5)
    # AL goals 7.7 -> k = 7 -> [51, 60]; 9.35 -> k = 9 -> [71, 80]
    s1, s2 = dcase.split_times(ev, ["A"], (0.7, 0.15))
    assert s1 == pytest.approx(55.5) and s2 == pytest.approx(75.5)


def test_split_ignores_non_pos_rows_and_intersects_classes():
    rows = [(10.0 * i, 10.0 * i + 1, 1, 0) for i in range(10)] + [(10.0 * i + 2, 10.0 * i + 7, 0, 1) for i in range(10)]
    rows += [(5.0, 9.0, -1, 0), (95.0, 99.0, 0, -1)]
    ev = table(sorted(rows), ("A", "B")).sort_values("Starttime")
    (s1,) = dcase.split_times(ev, ["A", "B"], (0.8,))
    # A: T=10, goal 8 -> k=7 -> [51, 60]; B: 5 s events at 10i+2, T=50, goal 40 -> k=7 -> [57, 62]
    # A = max(51, 57) = 57, B = min(60, 62) = 60 -> 58.5
    assert s1 == pytest.approx(58.5)


def test_split_fallback_uses_last_two_events(caplog):
    # one long event then short ones: S_1 = 50 >= goal -> |J| = 0 -> fallback to the last two events
    ev = table([(0.0, 50.0, 1), (60.0, 61.0, 1), (70.0, 71.0, 1), (80.0, 81.0, 1)])
    with caplog.at_level("WARNING"):
        (s1,) = dcase.split_times(ev, ["A"], (0.8,))
    assert s1 == pytest.approx((71 + 80) / 2)
    assert "last two" in caplog.text


def test_split_single_event(caplog):
    ev = table([(10.0, 20.0, 1), (30.0, 40.0, 0)])
    with caplog.at_level("WARNING"):
        (s1,) = dcase.split_times(ev, ["A"], (0.8,))
    assert s1 == pytest.approx(18.0)
    assert "single POS event" in caplog.text
    s1, s2 = dcase.split_times(ev, ["A"], (0.7, 0.15))
    assert (s1, s2) == (pytest.approx(17.0), pytest.approx(18.5))


def test_split_al_overlap_error():
    # both AL cuts fall back to the same gap -> the valid slot overlaps the train slot
    ev = table([(0.0, 50.0, 1), (60.0, 61.0, 1), (70.0, 71.0, 1)])
    with pytest.raises(DatasetError, match="rec7: the valid slot"):
        dcase.split_times(ev, ["A"], (0.7, 0.15), recording="rec7")


def test_split_disjoint_class_slots_warns(caplog):
    # A: 11 x 1 s, goal 7.7 -> [51, 60]; B: 10 x 0.25 s at 0.5i, T=2.5, goal 1.75 -> k=6 -> [2.25, 2.5]
    rows = [(10.0 * i, 10.0 * i + 1, 1, 0) for i in range(11)] + [(0.5 * i, 0.5 * i + 0.25, 0, 1) for i in range(10)]
    ev = table(rows, ("A", "B")).sort_values("Starttime")
    with caplog.at_level("WARNING"):
        (s1,) = dcase.split_times(ev, ["A", "B"], (0.7,))
    assert s1 == pytest.approx(55.5)
    assert "do not intersect" in caplog.text


def test_split_no_positive_is_an_error():
    with pytest.raises(DatasetError, match="recX: no POS event"):
        dcase.split_times(table([(1.0, 2.0, -1)]), ["A"], (0.8,), recording="recX")


def test_split_labels_al():
    ev = pd.DataFrame({"Audiofilename": "r.wav", "Starttime": [1.0, 9.0, 14.0, 22.0],
                       "Endtime": [2.0, 11.0, 21.0, 23.0], "A": [1, 1, -1, 1]})
    parts = dcase.split_labels(ev, [10.0, 20.0], "AL")
    assert parts["train"][["Starttime", "Endtime"]].values.tolist() == [[1, 2], [9, 10]]
    assert parts["valid"][["Starttime", "Endtime"]].values.tolist() == [[0, 1], [4, 10]]
    assert parts["test"][["Starttime", "Endtime"]].values.tolist() == [[0, 1], [2, 3]]
    sl = dcase.split_labels(ev, [10.0], "SL")
    assert sl["valid"][["Starttime", "Endtime"]].values.tolist() == [[0, 1], [4, 11], [12, 13]]


# --------------------------------------------------------------------------- label tables


def test_sl_table_merges_tachybaptus_and_drops_anas(tmp_path):
    root = make_dev_set(tmp_path)
    recs = dcase.find_recordings(root / "Development_Set", "Training_Set")
    assert [r.name for r in recs] == ["bv1", "wmw_1"]
    tables, order = dcase.sl_label_table(recs, root / "DCASE2024_task5_training_set_classes.csv")
    assert order == list(dcase.SL_CLASSES) and len(order) == 45
    raw = dcase.read_annotations(recs[1].csv)
    merged = tables["wmw_1"]["Tachybaptus_ruficollis_song"].to_numpy()
    expect = np.where((raw[["c_4", "c_5"]] == 1).any(axis=1), 1, np.where((raw[["c_4", "c_5"]] == -1).any(axis=1), -1, 0))
    np.testing.assert_array_equal(merged, expect)
    assert "Anas_platyrhynchos_song" not in tables["wmw_1"].columns
    assert (tables["wmw_1"]["Audiofilename"] == "wmw_1.wav").all()
    assert tables["bv1"]["American_Redstart"].abs().sum() > 0 and tables["bv1"]["Jackdaw_call"].eq(0).all()
    _, order2 = dcase.sl_label_table(recs, root / "DCASE2024_task5_training_set_classes.csv", "from_csv")
    assert order2 == ["American_Redstart", "Ovenbird", "Tachybaptus_ruficollis_song"]


def test_sl_unknown_class_is_loud_unless_allowed(tmp_path):
    root = make_dev_set(tmp_path)
    csv = root / "DCASE2024_task5_training_set_classes.csv"
    csv.write_text(csv.read_text().replace("Ovenbird", "Dodo"))
    recs = dcase.find_recordings(root / "Development_Set", "Training_Set")
    with pytest.raises(DatasetError, match=r"bv1\.csv: SL class\(es\) \['Dodo'\]"):
        dcase.sl_label_table(recs, csv)
    tables, _ = dcase.sl_label_table(recs, csv, allow_unknown_classes=True)
    assert "Dodo" not in tables["bv1"].columns


def test_sl_code_missing_from_class_csv(tmp_path):
    root = make_dev_set(tmp_path)
    csv = root / "DCASE2024_task5_training_set_classes.csv"
    csv.write_text(csv.read_text().replace("BV,OVEN,Ovenbird\n", ""))
    recs = dcase.find_recordings(root / "Development_Set", "Training_Set")
    with pytest.raises(DatasetError, match=r"bv1\.csv: class code\(s\) \['OVEN'\]"):
        dcase.sl_label_table(recs, csv)


def test_al_table(tmp_path):
    root = make_dev_set(tmp_path)
    recs = dcase.find_recordings(root / "Development_Set", "Validation_Set")
    names = [r.name for r in recs]
    assert "R4_cleaned_recording_13_10_17" in names and "BUK5_20180921_015906a" not in names  # duplicate dropped
    tables, order = dcase.al_label_table(recs, root / "DCASE2024_task5_validation_set_classes.csv")
    assert order == list(dcase.AL_CLASSES)
    hb = tables["R4_cleaned_recording_13_10_17"]
    assert set(hb["Mosquito"]) == {1, -1} and (hb[order[1:]] == 0).all().all()
    assert set(tables["ME1"]["Meerkat_alarm_call"]) == {1, -1}


def test_recording_missing_from_class_csv(tmp_path):
    root = make_dev_set(tmp_path)
    csv = root / "DCASE2024_task5_validation_set_classes.csv"
    csv.write_text(csv.read_text().replace("ME,ME1,Q,Meerkat alarm call\n", ""))
    recs = dcase.find_recordings(root / "Development_Set", "Validation_Set")
    with pytest.raises(DatasetError, match=r"ME1\.csv: recording 'ME1' is missing from the class CSV"):
        dcase.al_label_table(recs, csv)


def test_csv_without_wav(tmp_path):
    root = make_dev_set(tmp_path)
    (root / "Development_Set/Validation_Set/ME/ME1.wav").unlink()
    with pytest.raises(DatasetError, match=r"ME1\.csv: annotation CSV has no WAV beside it"):
        dcase.find_recordings(root / "Development_Set", "Validation_Set")


def test_corrupt_and_truncated_wav(tmp_path):
    good = tmp_path / "good.wav"
    sf.write(good, np.zeros(16000), 16000, subtype="PCM_16")
    assert dcase.check_wav(good) == (16000, 16000)
    trunc = tmp_path / "trunc.wav"
    trunc.write_bytes(good.read_bytes()[:20000])
    with pytest.raises(DatasetError, match=r"trunc\.wav: truncated WAV"):
        dcase.check_wav(trunc)
    bad = tmp_path / "corrupt.wav"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunkjunkjunk" * 4)
    with pytest.raises(DatasetError, match=r"corrupt\.wav: not a readable audio file"):
        dcase.check_wav(bad)


def test_prepare_names_corrupt_wav(tmp_path):
    root = make_dev_set(tmp_path / "raw")
    wav = root / "Development_Set/Validation_Set/ME/ME1.wav"
    wav.write_bytes(wav.read_bytes()[: wav.stat().st_size // 2])
    with pytest.raises(DatasetError, match=r"ME1\.wav: truncated WAV"):
        dcase.prepare(root, tmp_path / "prepared", progress=False)
    assert not dcase.is_prepared(tmp_path / "prepared")


def test_prepare_names_bad_csv_row(tmp_path):
    root = make_dev_set(tmp_path / "raw")
    csv = root / "Development_Set/Training_Set/BV/bv1.csv"
    lines = csv.read_text().split("\n")
    lines[3] = lines[3].replace("POS", "PSO", 1).replace("NEG", "PSO", 1)
    csv.write_text("\n".join(lines))
    with pytest.raises(DatasetError, match=r"bv1\.csv, row 4: column '(AMRE|OVEN)' has unknown value 'PSO'"):
        dcase.prepare(root, tmp_path / "prepared", progress=False)


# --------------------------------------------------------------------------- unpack and prepare


def make_zip(dev_root: Path, zip_path: Path) -> Path:
    with zipfile.ZipFile(zip_path, "w") as zf:
        for p in sorted(dev_root.rglob("*")):
            if p.is_file():
                zf.write(p, p.relative_to(dev_root.parent).as_posix())
        zf.writestr("__MACOSX/Development_Set/._junk.wav", b"apple double")
        zf.writestr("Development_Set/Validation_Set/ME/._ME1.wav", b"apple double")
    return zip_path


def test_unpack(tmp_path):
    src = make_dev_set(tmp_path / "src")
    z = make_zip(src / "Development_Set", tmp_path / "Development_set.zip")
    raw = tmp_path / "raw"
    dev = dcase.unpack_development_set(z, raw, progress=False)
    assert not (raw / "__MACOSX").exists()
    hb = sorted(p.name for p in (dev / "Validation_Set/HB").iterdir())
    assert hb == ["R4_cleaned_recording_13_10_17.csv", "R4_cleaned_recording_13_10_17.wav"]
    assert not list((dev / "Validation_Set/PB").glob("BUK5*"))
    assert not (dev / "Validation_Set/ME/._ME1.wav").exists()
    # existing entries are skipped (resume): a marker in a file survives a second unpack
    target = dev / "Training_Set/BV/bv1.csv"
    target.write_text("kept")
    dcase.unpack_development_set(z, raw, progress=False)
    assert target.read_text() == "kept"


def test_prepare_end_to_end_and_resume(tmp_path):
    raw = make_dev_set(tmp_path / "raw")
    out = tmp_path / "prepared"
    seen = []

    class Stop(Exception):
        pass

    def interrupt(division, name):
        seen.append((division, name))
        if len(seen) == 3:
            raise Stop

    with pytest.raises(Stop):
        dcase.prepare(raw, out, progress=False, sl_classes="from_csv", on_recording=interrupt)
    assert not dcase.is_prepared(out)
    assert not list(out.rglob("*.part"))
    done = {p: p.stat().st_mtime_ns for p in out.rglob("*.wav")}
    assert len(done) == 2 * 2 + 3  # two SL recordings (2 chunks) + one AL recording (3 chunks)
    again = []
    dcase.prepare(raw, out, progress=False, sl_classes="from_csv", on_recording=lambda d, n: again.append((d, n)))
    assert dcase.is_prepared(out)
    assert {p: p.stat().st_mtime_ns for p in done} == done  # finished recordings not redone
    assert again == [("SL", "bv1"), ("SL", "wmw_1"), ("AL", "BUK1_20181011_001004"), ("AL", "ME1"),
                     ("AL", "R4_cleaned_recording_13_10_17")]
    al_names = ["BUK1_20181011_001004", "ME1", "R4_cleaned_recording_13_10_17"]
    for split in ("train", "valid", "test"):
        assert sorted(p.stem for p in (out / "AL" / split).glob("*.wav")) == al_names
        t = pd.read_csv(out / "AL" / f"{split}_label.csv")
        assert list(t.columns) == ["Audiofilename", "Starttime", "Endtime", *dcase.AL_CLASSES]
        assert sorted(t["Audiofilename"].unique()) == [n + ".wav" for n in al_names]
    for split in ("train", "valid"):
        assert sorted(p.stem for p in (out / "SL" / split).glob("*.wav")) == ["bv1", "wmw_1"]
    assert not (out / "SL" / "test").exists()
    # audio: 32 kHz mono PCM16, chunk lengths add up to the original duration
    for name, dur in [("ME1", 32.0), ("R4_cleaned_recording_13_10_17", 45.0), ("BUK1_20181011_001004", 50.0)]:
        infos = [sf.info(out / "AL" / s / f"{name}.wav") for s in ("train", "valid", "test")]
        assert all(i.samplerate == 32000 and i.channels == 1 and i.subtype == "PCM_16" for i in infos)
        assert sum(i.frames for i in infos) == pytest.approx(dur * 32000, abs=3)
    info = sf.info(out / "SL" / "train" / "wmw_1.wav")
    assert info.channels == 1 and info.samplerate == 32000
    # labels lie inside their chunk
    for split in ("train", "valid", "test"):
        t = pd.read_csv(out / "AL" / f"{split}_label.csv")
        for rec, g in t.groupby("Audiofilename"):
            d = sf.info(out / "AL" / split / rec).duration
            assert g["Starttime"].min() >= 0 and g["Endtime"].max() <= d + 1e-3
    # raw untouched (named departure): still all there
    assert (raw / "Development_Set/Validation_Set/HB/R4_cleaned recording_13-10-17.wav").is_file()
    # a finished preparation is skipped
    calls = []
    dcase.prepare(raw, out, progress=False, sl_classes="from_csv", on_recording=lambda d, n: calls.append(n))
    assert calls == []


# --------------------------------------------------------------------------- review mends: layout, lines, header


@pytest.mark.parametrize("where", ["ME/extra/ME3", "ME4"])
def test_recordings_outside_the_layout_are_an_error(tmp_path, where):
    root = make_dev_set(tmp_path)
    subset = root / "Development_Set/Validation_Set"
    write(subset / "__MACOSX/ME/._ME1.csv", "x")  # hidden folders are still passed over
    write(subset / "ME/.cache/ME1.csv", "x")
    assert "ME1" in [r.name for r in dcase.find_recordings(root / "Development_Set", "Validation_Set")]
    (subset / where).parent.mkdir(parents=True, exist_ok=True)
    for ext in ("wav", "csv"):
        (subset / f"{where}.{ext}").write_bytes((subset / f"ME/ME1.{ext}").read_bytes())
    with pytest.raises(DatasetError, match=r"2 WAV/CSV file\(s\) outside the layout") as err:
        dcase.find_recordings(root / "Development_Set", "Validation_Set")
    assert str(subset / f"{where}.wav") in str(err.value) and str(subset / f"{where}.csv") in str(err.value)


def test_error_rows_are_file_lines_when_the_csv_has_blank_lines(tmp_path):
    p = write(tmp_path / "gaps.csv", "Audiofilename,Starttime,Endtime,Q\na.wav,1,2,POS\n\n  \na.wav,5,4,POS\n")
    with pytest.raises(DatasetError, match=r"gaps\.csv, row 5: Endtime 4.0 < Starttime 5.0"):
        dcase.read_annotations(p)
    p = write(tmp_path / "lead.csv", "\nAudiofilename,Starttime,Endtime,Q\r\n\r\na.wav,1,2,POS\r\na.wav,1,2,POS\r\n")
    with pytest.warns(UserWarning, match=r"lead\.csv, rows 4 and 5: the same event twice"):
        assert len(dcase.read_annotations(p)) == 2
    p = write(tmp_path / "classes.csv", "dataset,class_code,class_name\nBV,A,x\n\nBV,A,y\n")
    with pytest.raises(DatasetError, match=r"classes\.csv, row 4: \('BV', 'A'\) already named 'x', now 'y'"):
        dcase.read_training_classes(p)


def test_duplicated_class_column_is_named_as_such(tmp_path):
    p = write(tmp_path / "dup.csv", "Audiofilename,Starttime,Endtime,GIG, GIG\na1.wav,1,2,POS,NEG\n")
    with pytest.raises(DatasetError, match=r"dup\.csv, row 1: duplicated column names \['GIG'\]"):
        dcase.read_annotations(p)
