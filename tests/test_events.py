"""bioal.events: frames -> events on recording timelines, and the DCASE Task 5 event metric.

Every scoring rule is pinned by a hand-made case whose counts are worked out in the comments.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bioal.dcase import frame_boundaries
from bioal.events import (
    FLOOR,
    EventsError,
    dcase_event_scores,
    frame_timeline,
    frames_to_events,
    label_events,
    match_count,
    read_predictions,
    split_event_scores,
)
from bioal.grid import LABEL_FRAMES
from bioal.utils import rng

ROOT = Path(__file__).resolve().parents[1]
B = frame_boundaries()  # [33] frame edges within a clip, s


def write_ref(root: Path, subset: str, stem: str, rows: list[tuple[float, float, str]]) -> Path:
    folder = root / subset
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{stem}.csv"
    lines = ["Audiofilename,Starttime,Endtime,Q"] + [f"{stem}.wav,{a},{b},{q}" for a, b, q in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def preds(rows: list[tuple[str, float, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["Audiofilename", "Starttime", "Endtime"])


# --------------------------------------------------------------------------- frames -> events


def test_timeline_mean_and_max_of_overlapping_clips():
    # two clips of one recording, 5 s apart: [5, 10) is covered by both
    probs = np.zeros((2, LABEL_FRAMES, 1))
    probs[0, :, 0] = 0.2
    probs[1, :, 0] = 0.8
    edges, mean = frame_timeline(probs, np.array([0.0, 5.0]), merge="mean")
    _, top = frame_timeline(probs, np.array([0.0, 5.0]), merge="max")
    mids = (edges[:-1] + edges[1:]) / 2
    assert edges[0] == 0.0 and edges[-1] == 15.0
    np.testing.assert_allclose(mean[mids < 5, 0], 0.2)
    np.testing.assert_allclose(mean[(mids > 5) & (mids < 10), 0], 0.5)
    np.testing.assert_allclose(top[(mids > 5) & (mids < 10), 0], 0.8)
    np.testing.assert_allclose(mean[mids > 10, 0], 0.8)


@pytest.mark.parametrize("merge", ["mean", "max"])
def test_timeline_matches_a_point_by_point_evaluation(merge):
    # irregular clip starts (three clips overlap in places, one gap): check every piece's value
    # against the frames covering its midpoint, found clip by clip
    starts = np.array([0.0, 3.2, 6.0, 30.0])
    probs = rng(1, "timeline").uniform(0, 1, (4, LABEL_FRAMES, 2))
    edges, values = frame_timeline(probs, starts, merge=merge)
    for m, v in zip((edges[:-1] + edges[1:]) / 2, values, strict=True):
        hits = [probs[k, np.searchsorted(B, m - s, side="right") - 1] for k, s in enumerate(starts) if s <= m < s + 10]
        if not hits:
            assert np.isnan(v).all() and 16 < m < 30
        else:
            np.testing.assert_allclose(v, np.mean(hits, axis=0) if merge == "mean" else np.max(hits, axis=0))


def test_frames_to_events_uses_frame_boundaries_and_threshold_rule():
    probs = np.zeros((1, LABEL_FRAMES, 2))
    probs[0, 3:6, 0] = 0.9  # frames 3..5 of class a
    probs[0, 10, 1] = 0.5  # exactly at the threshold: not active (prob > t)
    out = frames_to_events(probs, ["r.wav"], [20.0], ["a", "b"], 0.5)
    assert list(out.columns) == ["Audiofilename", "Starttime", "Endtime", "label"]
    assert len(out) == 1
    row = out.iloc[0]
    assert (row.Audiofilename, row.label) == ("r.wav", "a")
    assert row.Starttime == pytest.approx(20.0 + B[3]) and row.Endtime == pytest.approx(20.0 + B[6])
    # per-class thresholds: class b now fires
    out = frames_to_events(probs, ["r.wav"], [20.0], ["a", "b"], [0.5, 0.4])
    assert sorted(out.label) == ["a", "b"]


def test_frames_to_events_mean_merge_differs_from_max():
    # clip 0 says 0.9 over its second half, clip 1 says 0.1 there: mean 0.5 is not > 0.5, max is
    probs = np.zeros((2, LABEL_FRAMES, 1))
    probs[0, 16:, 0] = 0.9
    probs[1, :, 0] = 0.1
    starts = [0.0, 5.0]
    assert frames_to_events(probs, ["r", "r"], starts, ["a"], 0.5, merge="mean").empty
    top = frames_to_events(probs, ["r", "r"], starts, ["a"], 0.5, merge="max")
    assert len(top) == 1 and top.Starttime.iloc[0] == pytest.approx(B[16])


def test_max_gap_and_min_duration():
    probs = np.zeros((1, LABEL_FRAMES, 1))
    probs[0, [2, 3, 5, 20], 0] = 0.9  # runs: frames 2-3, 5, 20; gap 2-3 -> 5 is one frame
    base = frames_to_events(probs, ["r"], [0.0], ["a"], 0.5)
    assert len(base) == 3
    gap = B[5] - B[4]
    joined = frames_to_events(probs, ["r"], [0.0], ["a"], 0.5, max_gap=gap + 1e-9)
    assert len(joined) == 2
    assert joined.Starttime.iloc[0] == pytest.approx(B[2]) and joined.Endtime.iloc[0] == pytest.approx(B[6])
    short = frames_to_events(probs, ["r"], [0.0], ["a"], 0.5, max_gap=gap + 1e-9, min_duration=0.5)
    assert len(short) == 1 and short.Starttime.iloc[0] == pytest.approx(B[2])


@pytest.mark.parametrize("frame", range(1, LABEL_FRAMES - 2))
def test_one_frame_gap_and_duration_hold_at_every_position(frame):
    # frames 0 .. frame-1 and frame+1 .. : a one-frame gap; max_gap of exactly one frame joins it,
    # and min_duration of exactly one frame keeps a one-frame event, wherever it lies in the clip
    width = round(B[frame + 1] - B[frame], 3)  # as a user writes it, e.g. 0.32
    probs = np.full((1, LABEL_FRAMES, 1), 0.9)
    probs[0, frame, 0] = 0.1
    assert len(frames_to_events(probs, ["r"], [0.0], ["a"], 0.5, max_gap=width)) == 1
    single = np.zeros((1, LABEL_FRAMES, 1))
    single[0, frame, 0] = 0.9
    assert len(frames_to_events(single, ["r"], [0.0], ["a"], 0.5, min_duration=width)) == 1


@pytest.mark.parametrize("clip_s", [10.0, 1.1, 0.3])
def test_back_to_back_clips_join_without_slivers(clip_s):
    # clips end to end, with a clip length not exact in binary: constant activity is one event
    starts = np.arange(28) * clip_s
    probs = np.full((len(starts), LABEL_FRAMES, 1), 0.9)
    events = frames_to_events(probs, ["r"] * len(starts), starts, ["a"], 0.5, clip_seconds=clip_s)
    assert len(events) == 1 and events.Endtime.iloc[0] == pytest.approx(28 * clip_s)


def test_clip_table_is_explicit_and_any_order():
    # clips of two recordings given interleaved and out of order
    probs = np.zeros((3, LABEL_FRAMES, 1))
    probs[1, 0:2, 0] = 0.9  # y.wav at 0 s
    probs[2, 30:, 0] = 0.9  # x.wav clip at 5 s, frames 30, 31
    out = frames_to_events(probs, ["x.wav", "y.wav", "x.wav"], [0.0, 0.0, 5.0], ["a"], 0.5)
    assert list(out.Audiofilename) == ["x.wav", "y.wav"]
    assert out.Endtime.iloc[0] == pytest.approx(15.0)
    cut = frames_to_events(
        probs, ["x.wav", "y.wav", "x.wav"], [0.0, 0.0, 5.0], ["a"], 0.5, recording_seconds={"x.wav": 14.7, "y.wav": 9}
    )
    assert cut.Endtime.iloc[0] == pytest.approx(14.7)


def test_frames_to_events_bad_input():
    probs = np.zeros((2, LABEL_FRAMES, 1))
    with pytest.raises(ValueError, match="two clips starting at 5.0"):
        frames_to_events(probs, ["r", "r"], [5.0, 5.0], ["a"], 0.5)
    nan = probs.copy()
    nan[1, 3, 0] = np.nan
    with pytest.raises(ValueError, match=r"clip 1 \(r at 5.0 s\) has NaN/inf frame probabilities"):
        frames_to_events(nan, ["r", "r"], [0.0, 5.0], ["a"], 0.5)
    with pytest.raises(ValueError, match="merge"):
        frames_to_events(probs, ["r", "r"], [0.0, 5.0], ["a"], 0.5, merge="median")
    with pytest.raises(ValueError, match="one per class"):
        frames_to_events(probs, ["r", "r"], [0.0, 5.0], ["a"], [0.5, 0.5])
    with pytest.raises(KeyError, match=r"no length for recording\(s\) \['r'\]"):
        frames_to_events(probs, ["r", "r"], [0.0, 5.0], ["a"], 0.5, recording_seconds={"q": 10.0})
    with pytest.raises(ValueError, match="recordings has 1"):
        frames_to_events(probs, ["r"], [0.0, 5.0], ["a"], 0.5)


# --------------------------------------------------------------------------- matching


def test_iou_exactly_min_is_not_a_match():
    # pred [0, 3], ref [0, 10]: IoU 3/10 = 0.3 exactly -> no match; [0, 3.01] -> match
    assert match_count([[0.0, 3.0]], [[0.0, 10.0]], 0.3)[0] == 0
    assert match_count([[0.0, 3.01]], [[0.0, 10.0]], 0.3)[0] == 1


def test_matching_is_maximum_not_greedy():
    # pred 0 overlaps refs 0 and 1, pred 1 only ref 0: a greedy pass taking pred 0 -> ref 0
    # (its best IoU) leaves pred 1 alone; the maximum matching pairs both
    pred = [[0.0, 2.0], [0.0, 1.2]]
    ref = [[0.0, 1.5], [0.5, 2.5]]
    n, matched = match_count(pred, ref, 0.3)
    assert n == 2 and matched.all()


def _brute_force_matching(pred, ref, min_iou):
    """Largest one-to-one matching by trying every assignment (small cases only)."""
    ok = {
        (i, j)
        for i, p in enumerate(pred)
        for j, r in enumerate(ref)
        if (min(p[1], r[1]) - max(p[0], r[0])) / (max(p[1], r[1]) - min(p[0], r[0])) > min_iou
    }
    best = 0
    for perm in itertools.permutations(range(len(ref)) if len(ref) >= len(pred) else range(len(pred))):
        if len(ref) >= len(pred):
            best = max(best, sum((i, perm[i]) in ok for i in range(len(pred))))
        else:
            best = max(best, sum((perm[j], j) in ok for j in range(len(ref))))
    return best


def test_matching_equals_brute_force_on_random_cases():
    g = rng(0, "matching")
    for _ in range(150):
        n_pred, n_ref = g.integers(0, 6, 2)
        starts_p, starts_r = g.uniform(0, 6, n_pred), g.uniform(0, 6, n_ref)
        pred = np.stack([starts_p, starts_p + g.uniform(0.2, 2.5, n_pred)], 1)
        ref = np.stack([starts_r, starts_r + g.uniform(0.2, 2.5, n_ref)], 1)
        n, matched = match_count(pred, ref, 0.3)
        assert n == _brute_force_matching(pred, ref, 0.3) == int(matched.sum())


def test_one_prediction_overlapping_two_references_matches_one(tmp_path):
    # pred [1, 5] overlaps refs [1, 3] (IoU .5) and [3, 5] (IoU .5): one TP, the other ref is FN
    write_ref(tmp_path, "A", "f", [(1, 3, "POS"), (3, 5, "POS")])
    out = dcase_event_scores(preds([("f.wav", 1, 5)]), tmp_path, n_shots=0)
    assert out["per_file"]["A/f.wav"] == {"TP": 1, "FP": 0, "FN": 1}


# --------------------------------------------------------------------------- the metric's rules


def test_unk_absorption(tmp_path):
    # preds: one on the POS (TP), one on the UNK (absorbed: neither TP nor FP), one on nothing (FP)
    write_ref(tmp_path, "A", "f", [(10, 11, "POS"), (20, 21, "UNK")])
    out = dcase_event_scores(preds([("f.wav", 10, 11), ("f.wav", 20, 21), ("f.wav", 30, 31)]), tmp_path, n_shots=0)
    assert out["per_file"]["A/f.wav"] == {"TP": 1, "FP": 1, "FN": 0}
    # a prediction matched to POS is not also absorbed by an UNK at the same place
    write_ref(tmp_path, "B", "g", [(10, 11, "POS"), (10, 11, "UNK")])
    out = dcase_event_scores(preds([("g.wav", 10, 11), ("g.wav", 10, 11)]), tmp_path, n_shots=0)
    assert out["per_file"]["B/g.wav"] == {"TP": 1, "FP": 0, "FN": 0}


def test_shot_cut_after_sorting_by_starttime(tmp_path):
    # rows NOT in time order; the cut counts POS events in Starttime order
    rows = [(5, 6, "POS"), (3, 4, "POS"), (1, 2, "POS"), (3.5, 4, "UNK"), (0.5, 4, "POS"), (7, 8, "POS")]
    write_ref(tmp_path, "A", "f", rows)
    # sorted by start: [.5,4] POS, [1,2] POS -> 2nd POS ends at 2 -> cut at 2
    p = preds([("f.wav", 3, 4), ("f.wav", 5, 6)])
    out = dcase_event_scores(p, tmp_path, n_shots=2)
    # kept: [3,4] POS, [3.5,4] UNK, [5,6] POS, [7,8] POS ([.5,4] ends at 4 > 2: kept, POS)
    assert out["per_file"]["A/f.wav"] == {"TP": 2, "FP": 0, "FN": 2}
    out = dcase_event_scores(p, tmp_path, n_shots=3)  # 3rd POS by start is [3,4]: cut at 4
    assert out["per_file"]["A/f.wav"] == {"TP": 1, "FP": 1, "FN": 1}  # only [5,6], [7,8] left
    out = dcase_event_scores(p, tmp_path, n_shots=0)
    assert out["per_file"]["A/f.wav"] == {"TP": 2, "FP": 0, "FN": 3}


def test_file_without_predictions_counts_every_pos_including_shots(tmp_path):
    write_ref(tmp_path, "A", "f", [(i, i + 0.5, "POS") for i in range(7)] + [(20, 21, "UNK")])
    write_ref(tmp_path, "A", "g", [(i, i + 0.5, "POS") for i in range(6)])
    out = dcase_event_scores(preds([("g.wav", 5, 5.5)]), tmp_path, n_shots=5)
    assert out["per_file"]["A/f.wav"] == {"TP": 0, "FP": 0, "FN": 7}  # the 5 shots included
    assert out["per_file"]["A/g.wav"] == {"TP": 1, "FP": 0, "FN": 0}  # after the cut: 1 POS
    assert out["per_subset"]["A"]["TP"] == 1 and out["per_subset"]["A"]["FN"] == 7


def test_empty_predictions_floor_every_score(tmp_path):
    write_ref(tmp_path, "A", "f", [(1, 2, "POS")])
    write_ref(tmp_path, "B", "g", [(1, 2, "POS")])
    out = dcase_event_scores(preds([]), tmp_path, n_shots=0)
    assert out["overall"] == {"precision": FLOOR, "recall": FLOOR, "f-measure": FLOOR, "TP": 0, "FP": 0, "FN": 2}


def test_file_with_no_pos(tmp_path):
    # n_shots=0: a file with only UNK; a prediction on it is absorbed, one elsewhere is FP
    write_ref(tmp_path, "A", "f", [(1, 2, "UNK")])
    write_ref(tmp_path, "A", "e", [])
    out = dcase_event_scores(preds([("f.wav", 1, 2), ("f.wav", 5, 6), ("e.wav", 1, 2)]), tmp_path, n_shots=0)
    assert out["per_file"]["A/f.wav"] == {"TP": 0, "FP": 1, "FN": 0}
    assert out["per_file"]["A/e.wav"] == {"TP": 0, "FP": 1, "FN": 0}
    # with shots to cut, a file with too few POS and no prediction counts its POS as missed (as
    # the challenge's script, which cuts shots only where there are predictions) ...
    out = dcase_event_scores(preds([]), tmp_path, n_shots=5)
    assert out["per_file"] == {"A/e.wav": {"TP": 0, "FP": 0, "FN": 0}, "A/f.wav": {"TP": 0, "FP": 0, "FN": 0}}
    # ... and with predictions it is an error naming the file (the script fails there)
    with pytest.raises(EventsError, match=r"A/e.wav: 0 POS events, fewer than the n_shots=5"):
        dcase_event_scores(preds([("e.wav", 1, 2)]), tmp_path, n_shots=5)


def test_prediction_rows_in_any_order_give_the_same_counts(tmp_path):
    # POS [0, 2], UNK [2, 4]; predictions [0, 2] and [1, 3]. Either may match the POS (IoU 1
    # and 1/3); in Starttime order [0, 2] does, and [1, 3] is absorbed by the UNK (IoU 1/3)
    write_ref(tmp_path, "A", "f", [(0, 2, "POS"), (2, 4, "UNK")])
    for rows in ([("f.wav", 0, 2), ("f.wav", 1, 3)], [("f.wav", 1, 3), ("f.wav", 0, 2)]):
        out = dcase_event_scores(preds(rows), tmp_path, n_shots=0)
        assert out["per_file"]["A/f.wav"] == {"TP": 1, "FP": 0, "FN": 0}, rows


def test_recall_and_f_are_floored_only_at_zero_tp(tmp_path):
    write_ref(tmp_path, "A", "f", [(0, 1, "POS")])
    many = [("f.wav", 0, 1)] + [("f.wav", 10 + 2 * i, 11 + 2 * i) for i in range(250_000)]
    out = dcase_event_scores(preds(many), tmp_path, n_shots=0)
    assert out["per_subset"]["A"]["f-measure"] == pytest.approx(1 / (1 + 250_000 / 2))  # below FLOOR
    assert out["per_subset"]["A"]["precision"] == FLOOR  # precision alone has a floor


def test_per_subset_sums_f_measure_and_harmonic_mean(tmp_path):
    # A: f has 2 POS, g has 1 POS; preds: 2 TP, 1 FP -> TP 2, FP 1, FN 1
    write_ref(tmp_path, "A", "f", [(1, 2, "POS"), (3, 4, "POS")])
    write_ref(tmp_path, "A", "g", [(1, 2, "POS")])
    # B: one POS, found exactly -> P = R = F = 1
    write_ref(tmp_path, "B", "h", [(1, 2, "POS")])
    p = preds([("f.wav", 1, 2), ("g.wav", 1, 2), ("g.wav", 8, 9), ("h.wav", 1, 2)])
    out = dcase_event_scores(p, tmp_path, n_shots=0)
    a = out["per_subset"]["A"]
    assert (a["TP"], a["FP"], a["FN"]) == (2, 1, 1)
    assert a["precision"] == pytest.approx(2 / 3) and a["recall"] == pytest.approx(2 / 3)
    assert a["f-measure"] == pytest.approx(2 / (2 + (1 + 1) / 2))
    assert out["per_subset"]["B"]["f-measure"] == 1.0
    hm = 2 / (1 / (2 / 3) + 1)
    assert out["overall"]["f-measure"] == pytest.approx(hm)
    assert (out["overall"]["TP"], out["overall"]["FP"], out["overall"]["FN"]) == (3, 1, 1)
    # one subset with no TP pulls the harmonic mean to ~FLOOR-scale, never to 0
    p2 = p[p.Audiofilename != "h.wav"]
    out = dcase_event_scores(p2, tmp_path, n_shots=0)
    assert out["per_subset"]["B"]["f-measure"] == FLOOR
    assert 0 < out["overall"]["f-measure"] < 3 * FLOOR


# --------------------------------------------------------------------------- bad input


def test_bad_prediction_header(tmp_path):
    write_ref(tmp_path / "ref", "A", "f", [(1, 2, "POS")])
    path = tmp_path / "pred.csv"
    path.write_text("Audiofilename,Start,End\nf.wav,1,2\n")
    with pytest.raises(EventsError, match=r"pred.csv: header is 'Audiofilename,Start,End', expected exactly"):
        dcase_event_scores(path, tmp_path / "ref")
    with pytest.raises(EventsError, match="predictions table: columns"):
        read_predictions(pd.DataFrame({"Audiofilename": [], "Starttime": [], "Endtime": [], "label": []}))


def test_bad_reference_header_and_q(tmp_path):
    folder = tmp_path / "A"
    folder.mkdir()
    (folder / "f.csv").write_text("Audiofilename,Starttime,Endtime,CLASS\nf.wav,1,2,POS\n")
    with pytest.raises(EventsError, match=r"f.csv: header is .*expected exactly 'Audiofilename,Starttime,Endtime,Q'"):
        dcase_event_scores(preds([]), tmp_path)
    (folder / "f.csv").write_text("Audiofilename,Starttime,Endtime,Q\nf.wav,1,2,POS\nf.wav,3,4,NEG\n")
    with pytest.raises(EventsError, match=r"f.csv, row 3: Q is 'NEG', expected one of \['POS', 'UNK'\]"):
        dcase_event_scores(preds([]), tmp_path)


def test_reference_is_read_by_the_dcase_reader(tmp_path):
    # the annotation CSV's one reader (bioal.dcase.read_annotations): its checks name file and row
    write_ref(tmp_path, "A", "f", [(1, 2, "POS"), (3, 4, "POS"), (1, 2, "POS")])
    with pytest.warns(UserWarning, match=r"f.csv, rows 2 and 4: the same event twice"):
        out = dcase_event_scores(preds([]), tmp_path, n_shots=0)
    assert out["per_file"]["A/f.wav"]["FN"] == 3  # kept, as the challenge's evaluation counts it
    write_ref(tmp_path, "A", "f", [(1, 2, "POS"), (3, 4, "maybe")])
    with pytest.raises(EventsError, match=r"f.csv, row 3: column 'Q' has unknown value 'maybe'"):
        dcase_event_scores(preds([]), tmp_path)
    # ... in file order: events starting together keep the file's order for the shot cut.
    # The 1st POS is [0, 4] (not [0, 2]): cut at 4, so only [5, 6] is left, and found
    write_ref(tmp_path, "A", "f", [(0, 4, "POS"), (0, 2, "POS"), (5, 6, "POS")])
    out = dcase_event_scores(preds([("f.wav", 5, 6)]), tmp_path, n_shots=1)
    assert out["per_file"]["A/f.wav"] == {"TP": 1, "FP": 0, "FN": 0}


def test_endtime_before_starttime(tmp_path):
    write_ref(tmp_path / "ref", "A", "f", [(1, 2, "POS"), (5, 4, "POS")])
    with pytest.raises(EventsError, match=r"f.csv, row 3: Endtime 4.0 < Starttime 5.0"):
        dcase_event_scores(preds([]), tmp_path / "ref")
    write_ref(tmp_path / "ref", "A", "f", [(1, 2, "POS")])
    path = tmp_path / "pred.csv"
    path.write_text("Audiofilename,Starttime,Endtime\nf.wav,1,2\nf.wav,3,2.5\n")
    with pytest.raises(EventsError, match=r"pred.csv, row 3: Endtime 2.5 < Starttime 3.0"):
        dcase_event_scores(path, tmp_path / "ref")


def test_prediction_for_file_without_reference(tmp_path):
    write_ref(tmp_path / "ref", "A", "f", [(1, 2, "POS")])
    path = tmp_path / "pred.csv"
    path.write_text("Audiofilename,Starttime,Endtime\nf.wav,1,2\nghost.wav,3,4\n")
    with pytest.raises(EventsError, match=r"pred.csv, row 3: no reference file for 'ghost.wav'"):
        dcase_event_scores(path, tmp_path / "ref")


# --------------------------------------------------------------------------- the AL split and the CLI


def test_split_event_scores_per_class():
    # one recording, two classes; class a predicted exactly, class b missed, one stray b event
    labels = np.zeros((2, LABEL_FRAMES, 2), dtype=np.float32)
    labels[0, 4:8, 0] = 1
    labels[1, 20:24, 1] = 1
    probs = labels * 0.9
    probs[1, 20:24, 1] = 0.0
    probs[0, 28:30, 1] = 0.9  # stray b on clip 0, frames 28-29 (clip 1 covers them with 0 -> mean .45)
    out = split_event_scores(probs, labels, ["r", "r"], [0.0, 5.0], ["a", "b"], 0.4)
    assert out["per_subset"]["a"]["TP"] == 1 and out["per_subset"]["a"]["f-measure"] == 1.0
    assert (out["per_subset"]["b"]["TP"], out["per_subset"]["b"]["FP"], out["per_subset"]["b"]["FN"]) == (0, 1, 1)
    assert out["overall"]["f-measure"] == pytest.approx(2 / (1 + 1 / FLOOR))


def test_clips_of_another_length_lie_on_their_own_grid():
    # 2 s clips back to back at 0, 2, 4 s; clips 0 and 2 fully positive: two calls, 0-2 s and 4-6 s
    labels = np.zeros((3, LABEL_FRAMES, 1), dtype=np.float32)
    labels[[0, 2]] = 1
    recordings, starts = ["r", "r", "r"], [0.0, 2.0, 4.0]
    events = label_events(labels, recordings, starts, ["a"], clip_seconds=2.0)
    np.testing.assert_allclose(events[["Starttime", "Endtime"]].to_numpy(float), [[0.0, 2.0], [4.0, 6.0]])
    assert len(label_events(labels, recordings, starts, ["a"])) == 1  # read as 10 s clips they overlap
    out = split_event_scores(labels * 0.9, labels, recordings, starts, ["a"], 0.5, clip_seconds=2.0)
    assert (out["overall"]["TP"], out["overall"]["FP"], out["overall"]["FN"]) == (2, 0, 0)


def test_cli_prints_json_and_names_bad_rows(tmp_path):
    write_ref(tmp_path / "ref", "A", "f", [(i, i + 1, "POS") for i in range(0, 20, 2)])
    path = tmp_path / "pred.csv"
    path.write_text("Audiofilename,Starttime,Endtime\r\nf.wav,12,13\r\nf.wav,16,17\r\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "bioal.events", str(path), str(tmp_path / "ref"), "--n-shots", "5"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    # 10 POS at 0, 2, ..., 18; cut at the 5th (ends 9): 5 left (10..18); 2 found
    assert report["per_subset"]["A"]["TP"] == 2 and report["per_subset"]["A"]["FN"] == 3
    assert report["overall"]["recall"] == pytest.approx(0.4)
    assert report["overall"]["fmeasure (percentage)"] == round(100 * 2 / (2 + 3 / 2), 3)
    path.write_text("Audiofilename,Starttime,Endtime\nf.wav,12,11\n")
    done = subprocess.run(
        [sys.executable, "-m", "bioal.events", str(path), str(tmp_path / "ref")],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 1 and "pred.csv, row 2: Endtime 11.0 < Starttime 12.0" in done.stderr


def test_rows_are_file_lines_when_a_csv_has_blank_lines(tmp_path):
    # pandas skips blank lines; the messages give the line in the file (header = line 1)
    write_ref(tmp_path / "ref", "A", "f", [(1, 2, "POS")])
    path = tmp_path / "pred.csv"
    path.write_text("Audiofilename,Starttime,Endtime\n\nf.wav,1,2\n\nf.wav,3,2.5\n")
    with pytest.raises(EventsError, match=r"pred.csv, row 5: Endtime 2.5 < Starttime 3.0"):
        dcase_event_scores(path, tmp_path / "ref")
    path.write_text("Audiofilename,Starttime,Endtime\nf.wav,1,2\n\n\nghost.wav,3,4\n")
    with pytest.raises(EventsError, match=r"pred.csv, row 5: no reference file for 'ghost.wav'"):
        dcase_event_scores(path, tmp_path / "ref")
    (tmp_path / "ref" / "A" / "f.csv").write_text("Audiofilename,Starttime,Endtime,Q\n\nf.wav,1,2,POS\n\nf.wav,3,4,NEG\n")
    with pytest.raises(EventsError, match=r"f.csv, row 5: Q is 'NEG'"):
        dcase_event_scores(preds([]), tmp_path / "ref")
