"""Raven, Audacity and DCASE annotation files (method §10.1, §10.2): reading real-format quirks,
round trips, and errors that name the file and line."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from bioal.annotations import (
    EVENT_COLUMNS,
    AnnotationError,
    read_any,
    read_audacity,
    read_dcase_csv,
    read_raven,
    write_audacity,
    write_raven,
)

RAVEN_HEADER = "Selection\tView\tChannel\tBegin Time (s)\tEnd Time (s)\tLow Freq (Hz)\tHigh Freq (Hz)"


def write(path, text, newline="\n"):
    path.write_bytes(text.replace("\n", newline).encode())
    return path


def events(**extra):
    frame = pd.DataFrame(
        {
            "recording": ["night one", "night one", "night one"],
            "start": [0.1, 12.345678901234, 30.0],
            "end": [1.5, 13.0, 30.0],
            "low_freq": [200.0, math.nan, 1000.0],
            "high_freq": [4000.0, math.nan, 8000.5],
            "label": ["owl", "", "frog"],
        }
    )
    for key, values in extra.items():
        frame[key] = values
    return frame


def test_raven_waveform_and_spectrogram_rows_count_once_with_crlf(tmp_path):
    path = write(
        tmp_path / "night one.Table.1.selections.txt",
        RAVEN_HEADER + "\tDelta Time (s)\tSpecies\n"
        "1\tWaveform 1\t1\t1.0\t2.5\t0\t16000\t1.5\towl\n"
        "1\tSpectrogram 1\t1\t1.0\t2.5\t300\t3000\t1.5\towl\n"
        "2\tSpectrogram 1\t1\t4.0\t5.0\t100.5\t900\t1.0\t\n"
        "2\tWaveform 1\t1\t4.0\t5.0\t0\t16000\t1.0\t\n",
        newline="\r\n",
    )
    frame = read_raven(path)
    assert list(frame.columns) == [*EVENT_COLUMNS, "Channel", "Delta Time (s)"]
    assert frame["recording"].tolist() == ["night one", "night one"]
    assert frame["start"].tolist() == [1.0, 4.0] and frame["end"].tolist() == [2.5, 5.0]
    assert frame["low_freq"].tolist() == [300.0, 100.5]  # the spectrogram row's range
    assert frame["high_freq"].tolist() == [3000.0, 900.0]
    assert frame["label"].tolist() == ["owl", ""]
    assert frame["Delta Time (s)"].tolist() == ["1.5", "1.0"]


def test_raven_multi_file_table_uses_begin_file_and_file_offset(tmp_path):
    path = write(
        tmp_path / "all.selections.txt",
        RAVEN_HEADER + "\tBegin File\tBegin Path\tFile Offset (s)\tAnnotation\n"
        "1\tSpectrogram 1\t1\t3.0\t4.0\t0\t8000\ta.wav\tC:\\x\\a.wav\t3.0\tbat\n"
        "2\tSpectrogram 1\t1\t65.0\t66.5\t0\t8000\tb b.wav\tC:\\x\\b b.wav\t5.0\tbird\n",
    )
    frame = read_raven(path)
    assert frame["recording"].tolist() == ["a.wav", "b b.wav"]
    assert frame["start"].tolist() == [3.0, 5.0] and frame["end"].tolist() == [4.0, 6.5]
    assert frame["Begin Path"].tolist() == ["C:\\x\\a.wav", "C:\\x\\b b.wav"]
    again = read_raven(write_raven(frame.assign(Channel=["2", "1"]), tmp_path / "again.selections.txt",
                                   durations={"a.wav": 60.0, "b b.wav": 60.0}))
    pd.testing.assert_frame_equal(again, frame.assign(Channel=["2", "1"]))


def test_raven_label_column_must_be_named_when_ambiguous(tmp_path):
    path = write(tmp_path / "t.selections.txt", RAVEN_HEADER + "\tSpecies\tNotes\n1\tSpectrogram 1\t1\t0\t1\t0\t10\towl\tfaint\n")
    with pytest.raises(AnnotationError, match=r"2 annotation columns.*label_column"):
        read_raven(path)
    frame = read_raven(path, label_column="Species")
    assert frame["label"].tolist() == ["owl"] and frame["Notes"].tolist() == ["faint"]
    with pytest.raises(AnnotationError, match="no column 'Call'"):
        read_raven(path, label_column="Call")


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("2\tSpectrogram 1\t1\tabc\t1\t0\t10\towl", r"line 3: Begin Time \(s\) 'abc' is not a number"),
        ("2\tSpectrogram 1\t1\t5\t1\t0\t10\towl", "line 3: end 1.0 is before start 5.0"),
        ("2\tSpectrogram 1\t1\t0\t1\t0\t10\towl\textra", "line 3: 9 fields, header has 8"),
        ("2\tSpectrogram 1\t1\t0\t1", "line 3: 5 fields"),
        ("1\tWaveform 1\t1\t0.5\t1\t0\t10\towl", "line 3: selection 1 repeats with Begin Time"),
        ("1\tWaveform 1\t1\t0\t1\t0\t10\tthrush", "line 3: selection 1 is labelled 'thrush' here and 'owl' on line 2"),
        ("1\tSpectrogram 1\t1\t0\t1\t500\t900\tdeer", "line 3: selection 1 repeats in the same view as line 2"),
    ],
)
def test_raven_malformed_row_names_file_and_line(tmp_path, row, message):
    path = write(tmp_path / "bad.selections.txt", RAVEN_HEADER + "\tSpecies\n1\tSpectrogram 1\t1\t0\t1\t0\t10\towl\n" + row + "\n")
    with pytest.raises(AnnotationError, match=message) as info:
        read_raven(path)
    assert str(path) in str(info.value)


def test_raven_round_trip_single_recording_keeps_extras(tmp_path):
    frame = events(Notes=["a", "", "c"])
    path = write_raven(frame, tmp_path / "night one.Table.1.selections.txt")
    text = path.read_bytes().decode()
    assert text.startswith(RAVEN_HEADER + "\tAnnotation\tNotes\r\n")
    back = read_raven(path, label_column="Annotation")
    assert back.pop("Channel").tolist() == ["1", "1", "1"]
    expected = frame.copy()
    expected["low_freq"] = expected["low_freq"].fillna(0.0)
    expected["high_freq"] = expected["high_freq"].fillna(16000.0)
    pd.testing.assert_frame_equal(back, expected)


def test_raven_round_trip_multi_file_table(tmp_path):
    frame = pd.concat([events(), events().assign(recording="b.wav")], ignore_index=True)
    with pytest.raises(AnnotationError, match="2 recordings; pass durations"):
        write_raven(frame, tmp_path / "x.selections.txt")
    with pytest.raises(AnnotationError, match=r"no duration for recording\(s\) \['b.wav'\]"):
        write_raven(frame, tmp_path / "x.selections.txt", durations={"night one": 60.0})
    path = write_raven(frame, tmp_path / "x.selections.txt", durations={"night one": 60.0, "b.wav": 40.0})
    table = pd.read_csv(path, sep="\t")
    assert table["Begin Time (s)"].tolist()[3:] == pytest.approx([60.1, 72.345678901234, 90.0])
    back = read_raven(path)
    assert back["recording"].tolist() == frame["recording"].tolist()
    np.testing.assert_allclose(back[["start", "end"]].to_numpy(), frame[["start", "end"]].to_numpy(), atol=1e-9)


def test_raven_accepts_dcase_style_events(tmp_path):
    frame = pd.DataFrame({"Audiofilename": ["r.wav"], "Starttime": [1.0], "Endtime": [2.0], "label": ["POS"]})
    back = read_raven(write_raven(frame, tmp_path / "r.selections.txt"))
    assert back["recording"].tolist() == ["r"] and back["label"].tolist() == ["POS"]


def test_audacity_frequency_lines_and_round_trip(tmp_path):
    path = write(tmp_path / "rec 2.txt", "1.5\t2.0\towl call\n\\\t300\t-1\n4\t4\tpoint\n6.25\t7\t\n", newline="\r\n")
    frame = read_audacity(path)
    assert frame["recording"].tolist() == ["rec 2"] * 3
    assert frame["label"].tolist() == ["owl call", "point", ""]
    assert frame["low_freq"].iloc[0] == 300.0 and math.isnan(frame["high_freq"].iloc[0])
    assert frame[["low_freq", "high_freq"]].iloc[1:].isna().all().all()
    out = write_audacity(events(), tmp_path / "out.txt")
    assert out.read_text().splitlines()[:2] == ["0.1\t1.5\towl", "\\\t200.0\t4000.0"]
    pd.testing.assert_frame_equal(read_audacity(out, recording="night one"), events())


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("\\\t1\t2\n", r"line 1: frequency line '\\' does not follow a label line"),
        ("1\t2\tx\n\\\t5\n", "line 2: frequency line needs"),
        ("1\t2\tx\nfoo\n", "line 2: expected start<TAB>end<TAB>label"),
        ("1\t2\tx\n3\tz\ty\n", "line 2: end 'z' is not a number"),
    ],
)
def test_audacity_malformed_line_names_file_and_line(tmp_path, text, message):
    path = write(tmp_path / "bad.txt", text)
    with pytest.raises(AnnotationError, match=message) as info:
        read_audacity(path)
    assert str(path) in str(info.value)


def test_audacity_refuses_two_recordings(tmp_path):
    with pytest.raises(AnnotationError, match="one recording"):
        write_audacity(events().assign(recording=["a", "b", "a"]), tmp_path / "x.txt")


def test_dcase_csv_gives_one_event_per_pos_or_unk_cell(tmp_path):
    path = write(tmp_path / "r.csv", "Audiofilename,Starttime,Endtime,Q\nr.wav,1.0,2.0,POS\nr.wav,3,4,UNK\nr.wav,0.5,0.7,NEG\n")
    frame = read_dcase_csv(path)
    assert frame["label"].tolist() == ["Q", "Q"] and frame["status"].tolist() == ["POS", "UNK"]
    assert frame["start"].tolist() == [1.0, 3.0]
    pd.testing.assert_frame_equal(read_any(path), frame)
    bad = write(tmp_path / "bad.csv", "Audiofilename,Starttime,Endtime,Q\nr.wav,x,2.0,POS\n")
    with pytest.raises(AnnotationError, match="row 2: Starttime 'x'"):
        read_dcase_csv(bad)


def test_read_any_dispatches_on_content(tmp_path):
    raven = write_raven(events(), tmp_path / "night one.selections.txt")
    audacity = write_audacity(events(), tmp_path / "night one.txt")
    assert read_any(raven)["label"].tolist() == ["owl", "", "frog"]
    assert read_any(audacity)["low_freq"].iloc[0] == 200.0
    for path in (raven, audacity):
        assert set(read_any(path, recording="sub/night 1.flac")["recording"]) == {"sub/night 1.flac"}
    with pytest.raises(AnnotationError, match="unknown annotation format"):
        read_any(tmp_path / "x.json")
