"""The labelling widget of chapter 08: the pending round's clips one at a time, their
spectrogram and sound, a toggle per class, ``unsure`` / ``skip``, an optional event span,
and a box to add a class. Each answer goes to the session's journal as it is given.

The widget is a thin view over pure functions: :func:`default_state` (the clip shown first and
the progress line), :func:`clip_view` (spectrogram, waveform, title and the answer so far of one
clip), :func:`toggle` (the selected classes after a button press) and :func:`answer_arguments`
(the buttons' state -> the arguments of :meth:`bioal.session.Session.answer`).
:func:`labeller_figure` is the static figure of the default state for the book.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import ipywidgets as widgets
from matplotlib.figure import Figure

from bioal.features import log_mel
from bioal.plots.session import labeller_panel
from bioal.session import Session
from bioal.widgets import figure_output, set_outputs, text_output, wav_bytes

__all__ = ["default_state", "clip_view", "toggle", "answer_arguments", "labeller_figure", "labeller"]


def default_state(session: Session) -> dict[str, Any]:
    """``clip``: the first unanswered clip of the pending round (None when none is left),
    ``position`` (1-based, in the round), ``progress`` (a line such as "round 0: clip 1 of 10,
    0 answered")."""
    picks = session.picks().tolist()
    left = session.unanswered().tolist()
    r = session.pending_round_index()
    if r is None:
        return {"clip": None, "position": 0, "progress": "no round pending: call session.next_round()"}
    if not left:
        return {"clip": None, "position": len(picks),
                "progress": f"round {r}: all {len(picks)} clips answered; run session.finish_round()"}
    clip = left[0]
    position = picks.index(clip) + 1
    return {"clip": clip, "position": position,
            "progress": f"round {r}: clip {position} of {len(picks)}, {len(picks) - len(left)} answered"}


def clip_view(session: Session, clip: int) -> dict[str, Any]:
    """``waveform [clip samples]``, ``mel [frames, 64]`` (dB), ``title``, and the clip's answer so
    far: ``selected`` classes and ``status`` (None when unanswered)."""
    split = session.collection.split
    recording, start = str(split.recording[clip]), float(split.clip_start[clip])
    wave = session.collection.clip_audio(int(clip))
    answer = session.answers.get(int(clip))
    return {
        "waveform": wave,
        "mel": log_mel(wave),
        "title": f"clip {clip}: {recording} @ {start:.1f} s",
        "selected": list(answer["tags"]) if answer else [],
        "status": answer["status"] if answer else None,
    }


def toggle(selected: Sequence[str], name: str) -> list[str]:
    """``selected`` with ``name`` added, or removed if it was there (order kept)."""
    return [s for s in selected if s != name] if name in selected else [*selected, name]


def answer_arguments(
    selected: Sequence[str], status: str = "labelled", span: tuple[float, float] | None = None
) -> dict[str, Any]:
    """The keyword arguments of ``Session.answer`` for the buttons' state: ``status``
    ``labelled`` (the ``selected`` classes; with ``span`` one event ``[start, end]`` per class),
    ``unsure`` or ``skip`` (no tags)."""
    if status != "labelled":
        return {"tags": [], "status": status, "events": None}
    events = [[float(span[0]), float(span[1]), name] for name in selected] if span is not None and selected else None
    return {"tags": list(selected), "status": "labelled", "events": events}


def labeller_figure(session: Session) -> Figure:
    """Static figure of the widget's default state (for the book)."""
    state = default_state(session)
    if state["clip"] is None:
        raise ValueError(f"nothing to label: {state['progress']}")
    view = clip_view(session, state["clip"])
    return labeller_panel(view["mel"], session.clip_seconds, view["title"], session.classes, view["selected"],
                          state["progress"])


def labeller(session: Session) -> Any:
    """The live widget over ``session``'s pending round."""
    state: dict[str, Any] = {"clip": None, "selected": []}
    out = widgets.Output()
    player = widgets.Audio(format="wav", autoplay=False, loop=False)
    progress = widgets.HTML()
    tag_box = widgets.HBox()
    span = widgets.FloatRangeSlider(value=(0.0, session.clip_seconds), min=0.0, max=session.clip_seconds, step=0.05,
                                    description="event (s)", layout=widgets.Layout(width="480px"))
    use_span = widgets.Checkbox(value=False, description="mark the event's start and end")
    save = widgets.Button(description="save answer", button_style="primary")
    unsure = widgets.Button(description="unsure")
    skip = widgets.Button(description="skip")
    new_class = widgets.Text(placeholder="new class name")
    add = widgets.Button(description="+ class")

    def buttons() -> None:
        toggles = []
        for name in session.classes:
            button = widgets.ToggleButton(value=name in state["selected"], description=name)
            button.observe(lambda change, n=name: pick(n), names="value")
            toggles.append(button)
        tag_box.children = toggles

    def pick(name: str) -> None:
        state["selected"] = toggle(state["selected"], name)

    def show() -> None:
        current = default_state(session)
        progress.value = f"<b>{current['progress']}</b>"
        state["clip"] = current["clip"]
        if current["clip"] is None:
            set_outputs(out, text_output(current["progress"]))
            return
        view = clip_view(session, current["clip"])
        state["selected"] = view["selected"]
        buttons()
        fig = labeller_panel(view["mel"], session.clip_seconds, view["title"], [], [], "")
        set_outputs(out, figure_output(fig))
        player.value = wav_bytes(view["waveform"])

    def give(status: str) -> None:
        if state["clip"] is None:
            return
        chosen = span.value if use_span.value else None
        session.answer(state["clip"], **answer_arguments(state["selected"], status, chosen))
        show()

    def on_add(_: Any) -> None:
        session.add_class(new_class.value)
        new_class.value = ""
        buttons()

    save.on_click(lambda _: give("labelled"))
    unsure.on_click(lambda _: give("unsure"))
    skip.on_click(lambda _: give("skip"))
    add.on_click(on_add)
    show()
    return widgets.VBox([progress, out, player, tag_box, widgets.HBox([use_span, span]),
                         widgets.HBox([save, unsure, skip]), widgets.HBox([new_class, add])])
