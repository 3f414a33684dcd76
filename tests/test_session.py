"""The labelling session on a collection: journal replay, resume after a kill, Raven round trip,
warm start, answers and classes."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pandas as pd
import pytest

from bioal.annotations import read_raven, write_raven
from bioal.detections import detect, export_detections, raven_table_name, raven_table_names
from bioal.embeddings import EmbeddingSplit
from bioal.recordings import validation_for
from bioal.session import JOURNAL_FILE, JournalError, Session, SimulatedAnnotator, parse_answer_text
from bioal.utils import CheckpointFileError
from tests.helpers_session import CONFIG, ROOT


def run_rounds(folder, events, n_rounds):
    session = Session(folder, CONFIG)
    annotator = SimulatedAnnotator(events)
    while len(session.trained) < n_rounds:
        session.next_round()
        annotator.label_round(session)
        session.finish_round()
    return session


def summary(session):
    return ([r["picks"] for r in session.rounds], session.classes, session.clip_tags().tolist(),
            session.stopping()["kappa"].fillna(-9).round(12).tolist())


KILLED = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    import pandas as pd
    from bioal.session import Session, SessionConfig, SimulatedAnnotator
    folder, events_csv, marker = sys.argv[1:4]
    session = Session(folder, SessionConfig(k=4, max_epochs=8, classifier_hidden=16, standardize_features=True))
    annotator = SimulatedAnnotator(pd.read_csv(events_csv))
    for r in range(2):
        session.next_round(); annotator.label_round(session); session.finish_round()
    session.next_round()
    annotator.label_round(session, limit=2)  # two of the third round's four answers, then the kill
    Path(marker).write_text("ready")
    time.sleep(120)
    """
)


def test_kill_mid_round_resumes_exactly(built, col, tmp_path):
    root, events = built
    folder, _ = col
    marker = tmp_path / "marker"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-c", KILLED, str(folder), str(root / "events.csv"), str(marker)], env=env)
    try:
        deadline = time.monotonic() + 150
        while not marker.exists():
            assert proc.poll() is None, "the labelling process died before the kill"
            assert time.monotonic() < deadline, "the labelling process never reached the kill point"
            time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    resumed = Session(folder, CONFIG)
    assert len(resumed.trained) == 2 and resumed.pending_round_index() == 2
    assert len(resumed.unanswered()) == 2  # the two answers given before the kill are kept
    assert resumed.next_round().tolist() == resumed.rounds[2]["picks"]  # same clips, not a new pick
    resumed = run_rounds(folder, events, 4)
    shutil.copytree(root / "col", tmp_path / "fresh")
    fresh = run_rounds(tmp_path / "fresh", events, 4)
    assert summary(resumed) == summary(fresh)
    np.testing.assert_array_equal(resumed.predict_frames(), fresh.predict_frames())


def test_torn_last_line_is_dropped_and_other_damage_named(col):
    folder, events = col
    session = run_rounds(folder, events, 1)
    session.next_round()
    SimulatedAnnotator(events).label_round(session, limit=1)
    journal = folder / JOURNAL_FILE
    good = journal.read_bytes()
    journal.write_bytes(good + b'{"type": "answer", "clip": 3, "sta')  # a write cut short
    with pytest.warns(UserWarning, match=r"line \d+: incomplete last record"):
        again = Session(folder, CONFIG)
    assert journal.read_bytes() == good
    assert len(again.unanswered()) == len(again.picks()) - 1
    lines = good.split(b"\n")
    lines[2] = b"garbage"
    journal.write_bytes(b"\n".join(lines))
    with pytest.raises(JournalError, match=r"journal.jsonl, line 3: not a journal record"):
        Session(folder, CONFIG)


def test_journal_refuses_another_seed_or_collection(col):
    folder, _ = col
    Session(folder, CONFIG)
    with pytest.raises(JournalError, match="started with seed 0, not 1"):
        Session(folder, CONFIG.replace(seed=1))
    lines = (folder / JOURNAL_FILE).read_text().splitlines()
    head = json.loads(lines[0])
    head["collection"]["n_clips"] = 5
    (folder / JOURNAL_FILE).write_text(json.dumps(head) + "\n")
    with pytest.raises(JournalError, match="belongs to another collection"):
        Session(folder, CONFIG)


def test_answers_statuses_and_classes(col):
    folder, _ = col
    session = Session(folder, CONFIG)
    picks = session.next_round()
    assert len(picks) == 4 and len(set(picks.tolist())) == 4
    with pytest.raises(ValueError, match=r"unknown class\(es\) \['owl'\].*add_class"):
        session.answer(int(picks[0]), ["owl"])
    session.add_class("owl")
    with pytest.raises(ValueError, match="cannot be a class name"):
        session.add_class("unsure")
    with pytest.raises(ValueError, match="not within the 10.0 s clip"):
        session.answer(int(picks[0]), ["owl"], events=[[9.0, 11.0, "owl"]])
    with pytest.raises(ValueError, match="takes no tags"):
        session.answer(int(picks[0]), ["owl"], status="skip")
    with pytest.raises(ValueError, match="have no answer yet"):
        session.finish_round()
    session.answer(int(picks[0]), ["owl"], events=[[2.0, 3.0, "owl"]])
    session.answer(int(picks[1]), [])
    session.answer(int(picks[2]), status="unsure")
    session.answer(int(picks[3]), status="skip")
    labels = session.frame_labels(picks[:2])
    assert labels.shape == (2, 32, 1) and labels[1].sum() == 0
    on = np.flatnonzero(labels[0, :, 0])
    assert 5 <= on.min() <= 7 and 9 <= on.max() <= 10  # frames of 2..3 s (0.3125 s each)
    session.finish_round()
    excluded = session.excluded_mask()
    assert excluded[picks[:3]].all() and not excluded[picks[3]]  # a skipped clip returns to the pool
    assert session.labelled_mask().sum() == 2


def test_raven_round_trip_of_a_round(col, tmp_path):
    folder, _ = col
    session = Session(folder, CONFIG)
    session.add_class("lo")
    picks = session.next_round()
    session.answer(int(picks[0]), ["lo"])
    path = session.export_round_raven(tmp_path / "round 0.selections.txt")
    table = read_raven(path, label_column="Annotation")
    assert len(table) == 4 and table["label"].tolist()[0] == "lo" and table["label"].tolist()[1:] == ["", "", ""]
    assert (table["end"] - table["start"] <= 10.0 + 1e-9).all()
    raw = pd.read_csv(path, sep="\t")
    assert {"Begin File", "Begin Path", "File Offset (s)"} <= set(raw.columns)
    table["label"] = ["lo", "hi;lo", "none", ""]
    extra = [c for c in table.columns if c not in ("recording", "start", "end", "low_freq", "high_freq", "label")]
    filled = tmp_path / "filled.selections.txt"
    write_raven(table[["recording", "start", "end", "low_freq", "high_freq", "label", *extra]], filled,
                durations=session.collection.durations())
    with pytest.raises(ValueError, match=r"selection 2 \(clip \d+\) names unknown class\(es\) \['hi'\]"):
        session.import_round_raven(filled)
    assert session.import_round_raven(filled, add_classes=True) == {"answered": 3, "empty": 1}
    assert session.classes == ["lo", "hi"]
    assert session.unanswered().tolist() == [int(picks[3])]
    assert session.clip_tags()[picks[1]].tolist() == [True, True]


def test_warm_start_from_imported_annotations(col):
    folder, events = col
    session = Session(folder, CONFIG)
    n = session.import_annotations(events[events["recording"] == "rec 0.wav"], complete=True, source="rec0.csv")
    assert n == 11 and session.classes == ["lo"]  # every clip of the 60 s recording
    assert session.labelled_mask().sum() == 11
    assert session.pending_round_index() is None
    picks = session.next_round()
    assert not session.labelled_mask()[picks].any()
    with pytest.raises(ValueError, match=r"import: recordings not in the collection: 'nope.wav' is not a recording"):
        session.import_annotations(events.assign(recording="nope.wav"))


def test_imported_names_status_and_times_are_checked(col, tmp_path):
    folder, events = col
    session = Session(folder, CONFIG)
    rec0 = events[events["recording"] == "rec 0.wav"]
    # Raven's and Audacity's default names drop the extension; Begin Path names the file itself
    split = session.collection.split

    def overlapped(event):  # clips of rec 0.wav that the event overlaps
        starts = split.clip_start[split.recording == "rec 0.wav"]
        return int(((starts < event.end) & (starts + 10.0 > event.start)).sum())

    stem = rec0.assign(recording="rec 0")
    assert session.import_annotations(stem.iloc[:1], source="rec 0.txt") == overlapped(rec0.iloc[0])
    by_path = rec0.iloc[1:2].assign(recording="elsewhere.wav", **{"Begin Path": str(tmp_path / "col" / "x")})
    with pytest.raises(ValueError, match="'elsewhere.wav' is not a recording"):
        session.import_annotations(by_path)
    audio = session.collection.audio_path("rec 0.wav")
    assert session.import_annotations(by_path.assign(**{"Begin Path": str(audio)})) == overlapped(rec0.iloc[1])
    # outside the recording (60 s) or before its start: an error naming the row, nothing recorded
    answered = dict(session.answers)
    for start, end in ((59.5, 61.0), (-1.0, 0.5), (70.0, 71.0)):
        bad = pd.concat([rec0.iloc[2:3], rec0.iloc[:1].assign(start=start, end=end)])
        with pytest.raises(ValueError, match=rf"t.csv: event 1 \(lo, {start}-{end} s\) lies outside rec 0.wav"):
            session.import_annotations(bad, source="t.csv")
    assert session.answers == answered
    # DCASE UNK events mark the clips they alone overlap as unsure, not as positives
    unk = pd.DataFrame({"recording": ["rec 1.wav"], "start": [31.0], "end": [32.0], "label": ["hi"],
                        "status": ["UNK"]})
    assert session.import_annotations(unk) == 2  # clips at 25 s and 30 s
    statuses = {c: a["status"] for c, a in session.answers.items() if session.collection.split.recording[c] == "rec 1.wav"}
    assert sorted(statuses.values()) == ["unsure", "unsure"] and "hi" not in session.classes


def test_rounds_without_positives_train_nothing_and_never_recommend_stopping(col):
    folder, events = col
    session = Session(folder, CONFIG.replace(kappa_window=1))
    session.add_class("owl")
    for _ in range(3):
        for clip in session.next_round():
            session.answer(int(clip), [])  # "no owl"
        record = session.finish_round()
        assert record["model"] is False and record["without_positives"] == ["owl"] and record["epochs"] == 0
        assert session.model() is None
    table = session.stopping()
    assert not table["stop"].any() and table["kappa"].isna().all() and (table["without_positives"] == 1).all()
    # a first positive: the round trains, and later rounds compare with it
    picks = session.next_round()
    session.answer(int(picks[0]), ["owl"])
    for clip in picks[1:]:
        session.answer(int(clip), [])
    record = session.finish_round()
    assert record["model"] is True and record["best_epoch"] >= 1 and record["without_positives"] == []
    assert session.model() is not None
    # a second class without positives holds the recommendation back (with the guard)
    session.add_class("bat")
    for clip in session.next_round():
        session.answer(int(clip), [])
    session.finish_round()
    table = session.stopping()
    assert table["without_positives"].tolist()[-1] == 1 and not table["stop"].iloc[-1]


def test_reopening_with_other_settings_is_refused(col):
    folder, events = col
    run_rounds(folder, events, 1)
    with pytest.raises(JournalError, match=r"THRESHOLD 0.5 in the journal, 0.9 now, CLASSIFIER_HIDDEN 16 in the journal, 32 now"):
        Session(folder, CONFIG.replace(classifier_hidden=32, threshold=0.9))
    session = Session(folder, CONFIG.replace(k=7, strategy="ft"))  # how many and how to pick may change
    model_file = session._model_path(int(session.trained[-1]["round"]))
    model_file.write_bytes(model_file.read_bytes()[:100])
    with pytest.raises(CheckpointFileError, match=str(model_file)):
        Session(folder, CONFIG).model()


def test_raven_round_import_is_checked_whole_before_recording(col, tmp_path):
    folder, _ = col
    session = Session(folder, CONFIG)
    session.add_class("lo")
    session.next_round()
    table = read_raven(session.export_round_raven(tmp_path / "r.selections.txt"), label_column="Annotation")
    extra = [c for c in table.columns if c not in ("recording", "start", "end", "low_freq", "high_freq", "label")]
    cols = ["recording", "start", "end", "low_freq", "high_freq", "label", *extra]
    lines = len(session.journal.read())
    for labels, clip, message in (
        (["lo", "none", "owl", ""], None, r"selection 3 \(clip \d+\) names unknown class"),
        (["lo", "none", "", ""], "", r"selection 2: Clip '' is not a clip index"),
        (["lo", "none", "", ""], "99999", r"selection 2: clip 99999 is not among the pending round's clips"),
    ):
        filled = table.assign(label=labels)
        if clip is not None:
            filled.loc[1, "Clip"] = clip
        path = write_raven(filled[cols], tmp_path / "f.selections.txt", durations=session.collection.durations())
        with pytest.raises(ValueError, match=re.escape(str(path)) + ": " + message):
            session.import_round_raven(path)
        assert len(session.journal.read()) == lines  # nothing recorded


def test_parse_answer_text():
    assert parse_answer_text("", ["a"]) is None
    assert parse_answer_text(" Unsure ", ["a"])["status"] == "unsure"
    assert parse_answer_text("none", ["a"]) == {"status": "labelled", "tags": [], "unknown": []}
    assert parse_answer_text("a, b", ["a"]) == {"status": "labelled", "tags": ["a", "b"], "unknown": ["b"]}


def test_detections_export_valid_tables(col, tmp_path):

    folder, events = col
    session = run_rounds(folder, events, 2)
    found = detect(session, threshold=0.5, min_duration=0.1, max_gap=0.2)
    assert len(found) > 0 and len(detect(session, threshold=0.999999)) < len(found)
    assert list(found.columns) == ["recording", "start", "end", "low_freq", "high_freq", "label"]
    assert set(found["label"]) <= set(session.classes)
    assert ((found["end"] - found["start"]) >= 0.1).all() and (found["end"] <= 60.0 + 1e-9).all()
    paths = export_detections(session, found, tmp_path / "det")
    csv = pd.read_csv(paths["csv"])
    assert list(csv.columns) == ["Audiofilename", "Starttime", "Endtime", "label"] and len(csv) == len(found)
    for rec in session.collection.files["recording"]:
        assert paths[rec].name == raven_table_name(rec)
        back = read_raven(paths[rec], recording=rec)
        mine = found[found["recording"] == rec]
        assert len(back) == len(mine)
        np.testing.assert_allclose(back["start"].to_numpy(), mine["start"].to_numpy())
    assert raven_table_name("site b/night.flac") == "site b__night.Table.1.selections.txt"
    # recordings whose tables would share a name each get their own
    names = raven_table_names(["night.wav", "night.FLAC", "a/b.wav", "a__b.wav", "A__b.wav", "c.wav"])
    assert names == {"night.wav": "night.wav.Table.1.selections.txt", "night.FLAC": "night.FLAC.Table.1.selections.txt",
                     "a/b.wav": "a__b.wav.Table.1.selections.txt", "a__b.wav": "a__b.wav__2.Table.1.selections.txt",
                     "A__b.wav": "A__b.wav__3.Table.1.selections.txt", "c.wav": "c.Table.1.selections.txt"}


def test_validation_set_in_the_session_class_order(col):
    folder, events = col
    session = Session(folder, CONFIG)
    for name in ("hi", "lo"):
        session.add_class(name)
    m = 6
    labels = np.zeros((m, 32, 3), dtype=np.float32)
    labels[:3, 5:9, 0] = 1  # "lo"
    labels[3:, 2:4, 2] = 1  # "hi"
    split = EmbeddingSplit(session.collection.split.embeddings[:m], labels, ["lo", "other", "hi"],
                           np.array(["v.wav"] * m, dtype=object), 5.0 * np.arange(m))
    x, y = validation_for(session, split)
    np.testing.assert_array_equal(y[..., 0], labels[..., 2])
    np.testing.assert_array_equal(y[..., 1], labels[..., 0])
    session.next_round()
    SimulatedAnnotator(events).label_round(session)
    record = session.finish_round(validation=(x, y))
    assert 0.0 < record["valid_map"] <= 1.0
    session.add_class("new")
    assert validation_for(session, split) is None
