"""The pure functions behind the labelling widget, its static figure, and the live widget's wiring."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from bioal.plots.session import stopping_figure
from bioal.session import Session
from bioal.widgets.labeller import answer_arguments, clip_view, default_state, labeller, labeller_figure, toggle
from tests.helpers_session import CONFIG


def test_toggle_and_answer_arguments():
    assert toggle([], "owl") == ["owl"]
    assert toggle(["owl", "frog"], "owl") == ["frog"]
    assert toggle(["frog"], "owl") == ["frog", "owl"]
    assert answer_arguments(["owl"]) == {"tags": ["owl"], "status": "labelled", "events": None}
    assert answer_arguments(["owl", "frog"], span=(1.0, 2.5))["events"] == [[1.0, 2.5, "owl"], [1.0, 2.5, "frog"]]
    assert answer_arguments([], span=(1.0, 2.0))["events"] is None
    assert answer_arguments(["owl"], "unsure", (1.0, 2.0)) == {"tags": [], "status": "unsure", "events": None}


def test_default_state_clip_view_and_figure(col):
    folder, _ = col
    session = Session(folder, CONFIG)
    assert default_state(session)["clip"] is None and "next_round" in default_state(session)["progress"]
    session.add_class("lo")
    picks = session.next_round()
    state = default_state(session)
    assert state == {"clip": int(picks[0]), "position": 1, "progress": "round 0: clip 1 of 4, 0 answered"}
    session.answer(int(picks[0]), **answer_arguments(["lo"], span=(0.5, 1.0)))
    state = default_state(session)
    assert state["clip"] == int(picks[1]) and state["progress"] == "round 0: clip 2 of 4, 1 answered"
    view = clip_view(session, int(picks[0]))
    assert view["waveform"].shape == (320000,) and view["mel"].shape == (1001, 64)
    assert view["selected"] == ["lo"] and view["status"] == "labelled"
    assert view["title"].startswith(f"clip {picks[0]}: rec ")
    fig = labeller_figure(session)
    assert isinstance(fig, Figure)
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert {"lo", "unsure", "skip", "+ class", "round 0: clip 2 of 4, 1 answered"} <= set(texts)
    for clip in picks[1:]:
        session.answer(int(clip), **answer_arguments([], "skip"))
    assert "all 4 clips answered" in default_state(session)["progress"]
    with pytest.raises(ValueError, match="nothing to label"):
        labeller_figure(session)


def test_live_widget_records_answers(col):
    folder, _ = col
    session = Session(folder, CONFIG)
    session.add_class("lo")
    picks = session.next_round()
    box = labeller(session)
    progress, _, player, tag_box, _, actions, adding = box.children
    assert player.value[:4] == b"RIFF" and "clip 1 of 4" in progress.value
    tag_box.children[0].value = True  # press "lo"
    actions.children[0].click()  # save answer
    assert session.answers[int(picks[0])]["tags"] == ["lo"]
    actions.children[2].click()  # skip the second clip
    assert session.answers[int(picks[1])]["status"] == "skip"
    adding.children[0].value = "hi"
    adding.children[1].click()
    assert session.classes == ["lo", "hi"] and len(tag_box.children) == 2


def test_stopping_figure():
    table = pd.DataFrame({"n_labelled": [4, 8, 12, 16], "kappa": [np.nan, 0.995, 0.999, 1.0],
                          "window_mean": [np.nan] * 3 + [0.998], "stop": [False, False, False, True],
                          "valid_map": [0.2, 0.3, 0.35, 0.36]})
    fig = stopping_figure(table, 0.99)
    assert len(fig.axes) == 2
    assert "stop recommended" in [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
