"""Figures of a labelling session (chapter 08): the labeller's clip panel with its answer
buttons (the widget's static twin) and the stopping figure (labels spent vs kappa and valid mAP)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch

__all__ = ["labeller_panel", "stopping_figure"]


def labeller_panel(
    mel: np.ndarray,
    clip_seconds: float,
    title: str,
    classes: Sequence[str],
    selected: Sequence[str] = (),
    status: str = "",
) -> Figure:
    """The labeller as a picture: the clip's log-mel ``mel [frames, 64]`` (dB) over a row of
    buttons, one per class (filled when ``selected``), then ``unsure``, ``skip`` and
    ``+ class``; ``status`` (e.g. "clip 1 of 10") under it."""
    fig = Figure(figsize=(8, 4), constrained_layout=True)
    ax, ax_buttons = fig.subplots(2, 1, gridspec_kw={"height_ratios": [4, 1]})
    ax.imshow(mel.T, origin="lower", aspect="auto", cmap="magma", extent=(0, clip_seconds, 0, mel.shape[1]))
    ax.set_xlabel("time in clip (s)")
    ax.set_ylabel("mel bin")
    ax.set_title(title, fontsize=9)
    names = [*classes, "unsure", "skip", "+ class"]
    ax_buttons.set_xlim(0, len(names))
    ax_buttons.set_ylim(0, 1)
    ax_buttons.axis("off")
    for i, name in enumerate(names):
        on = name in selected
        ax_buttons.add_patch(
            FancyBboxPatch(
                (i + 0.08, 0.35), 0.84, 0.5, boxstyle="round,pad=0.02",
                facecolor="#2a6f97" if on else "#f0f0f0", edgecolor="#555555",
            )
        )
        ax_buttons.text(i + 0.5, 0.6, name, ha="center", va="center", fontsize=8, color="white" if on else "black")
    ax_buttons.text(0, 0.05, status, fontsize=8, va="bottom")
    return fig


def stopping_figure(table: pd.DataFrame, threshold: float, title: str = "When to stop") -> Figure:
    """Labels spent (x) against the round's kappa (left axis, with ``threshold`` and the rounds
    where stopping is recommended marked) and, where present, valid mAP (right axis).
    ``table``: :meth:`bioal.session.Session.stopping`."""
    fig = Figure(figsize=(6, 3.2), constrained_layout=True)
    ax = fig.subplots()
    ax.plot(table["n_labelled"], table["kappa"], "o-", color="#2a6f97", label="kappa (successive rounds)")
    ax.axhline(threshold, color="grey", linestyle="--", linewidth=1, label=f"threshold {threshold}")
    stop = table[table["stop"]]
    if len(stop):
        ax.plot(stop["n_labelled"], stop["kappa"], "s", color="#c1121f", markersize=9, fillstyle="none",
                label="stop recommended")
    ax.set_xlabel("labelled clips")
    ax.set_ylabel("Cohen's kappa")
    ax.set_title(title, fontsize=10)
    lines, labels = ax.get_legend_handles_labels()
    if "valid_map" in table and table["valid_map"].notna().any():
        ax2 = ax.twinx()
        ax2.plot(table["n_labelled"], table["valid_map"], "^-", color="#6a994e", label="valid mAP")
        ax2.set_ylabel("valid mAP")
        more = ax2.get_legend_handles_labels()
        lines, labels = lines + more[0], labels + more[1]
    ax.legend(lines, labels, fontsize=7, loc="lower right")
    return fig
