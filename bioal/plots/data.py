"""Figures of the data chapter (notebook 01): event durations, class balance, one clip.

Each function takes plain tables/arrays and returns a ``matplotlib.figure.Figure`` (no global
pyplot state), so the notebook shows it and tests can check it.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import matplotlib
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from bioal.dcase import frame_boundaries
from bioal.grid import CLIP_SECONDS

__all__ = ["event_durations", "class_balance", "clip_figure"]



def event_durations(events: pd.DataFrame, title: str = "POS event durations per class") -> Figure:
    """Box + strip plot of event duration (s, log scale) per class.

    ``events``: ``bioal.data.pos_events`` output (``class``, ``split``, ``duration_s``).
    """
    if events.empty:
        raise ValueError("no POS events to plot")
    order = list(dict.fromkeys(events["class"]))
    fig = Figure(figsize=(8, 0.35 * len(order) + 1.5), layout="constrained")
    ax = fig.subplots()
    with warnings.catch_warnings():
        # seaborn 0.13.2 (the latest release) still passes matplotlib's deprecated ``vert``
        warnings.filterwarnings("ignore", message="vert: bool", category=matplotlib.MatplotlibDeprecationWarning)
        sns.boxplot(data=events, x="duration_s", y="class", order=order, ax=ax, color="0.85", fliersize=0,
                    log_scale=True)
    sns.stripplot(data=events, x="duration_s", y="class", order=order, hue="split", ax=ax, size=2.5,
                  alpha=0.6, dodge=True, jitter=0.25)
    ax.set_xlabel("event duration (s, log scale)")
    ax.set_ylabel("")
    ax.set_title(title)
    return fig


def class_balance(summary: pd.DataFrame, division: str = "AL", title: str | None = None) -> Figure:
    """Positive clips per class and split (log scale), ``Negative`` (all-negative clips) included.

    ``summary``: ``bioal.data.split_summary`` output.
    """
    table = summary.loc[division].drop(index="All clips").dropna(axis=1, how="all")
    long = table.reset_index().melt(id_vars="class", var_name="split", value_name="clips")
    long["clips"] = long["clips"].astype(float)
    n = len(table)
    fig = Figure(figsize=(8, 0.3 * n + 1.8) if n > 10 else (8, 4), layout="constrained")
    ax = fig.subplots()
    if n > 10:
        sns.barplot(data=long, y="class", x="clips", hue="split", ax=ax)
        ax.set_xscale("log")
        ax.set_xlabel("clips with the class (log scale)")
        ax.set_ylabel("")
    else:
        sns.barplot(data=long, x="class", y="clips", hue="split", ax=ax)
        ax.set_yscale("log")
        ax.set_ylabel("clips with the class (log scale)")
        ax.set_xlabel("")
        ax.tick_params(axis="x", rotation=30)
        for label in ax.get_xticklabels():
            label.set_horizontalalignment("right")
        for container in ax.containers:
            ax.bar_label(container, fmt="%d", fontsize=7)
    ax.set_title(title or f"{division}: positive clips per class and split")
    return fig


def clip_figure(
    mel: np.ndarray, frame_labels: np.ndarray, class_names: Sequence[str], title: str = "",
    boundaries: np.ndarray | None = None,
) -> Figure:
    """One clip: log-mel ``[frames, 64]`` (dB) with its frame labels ``[32, C]`` drawn over it.

    Each positive (class, frame) is a coloured bar at the top of the spectrogram spanning the
    frame's segment (``boundaries``, default :func:`bioal.dcase.frame_boundaries`); the label
    grid's segment edges are marked as ticks. Classes without positives are not drawn.
    """
    bounds = frame_boundaries() if boundaries is None else boundaries
    mel = np.asarray(mel)
    frame_labels = np.asarray(frame_labels)
    if frame_labels.shape[0] != len(bounds) - 1:
        raise ValueError(f"frame_labels has {frame_labels.shape[0]} frames, the grid {len(bounds) - 1}")
    fig = Figure(figsize=(9, 3.6), layout="constrained")
    ax = fig.subplots()
    image = ax.imshow(mel.T, origin="lower", aspect="auto", cmap="magma",
                      extent=(0, CLIP_SECONDS, 0, mel.shape[1]), interpolation="nearest")
    fig.colorbar(image, ax=ax, label="dB", pad=0.01)
    colours = sns.color_palette("tab10", len(class_names))
    active = [c for c in range(len(class_names)) if frame_labels[:, c].any()]
    height = mel.shape[1] * 0.06
    for row, c in enumerate(active):
        y = mel.shape[1] - (row + 1) * height
        for t in np.flatnonzero(frame_labels[:, c] > 0.5):
            ax.add_patch(_rect((bounds[t], y), bounds[t + 1] - bounds[t], height * 0.85, colours[c]))
            ax.axvspan(bounds[t], bounds[t + 1], color=colours[c], alpha=0.12, lw=0)
        ax.plot([], [], color=colours[c], lw=6, label=class_names[c])
    ax.set_xticks(bounds[::4])
    ax.set_xticks(bounds, minor=True)
    ax.tick_params(axis="x", which="minor", length=3)
    ax.set_xlabel("time in clip (s); minor ticks = the 32 label frames")
    ax.set_ylabel("mel band")
    if active:
        ax.legend(loc="lower right", fontsize=7, framealpha=0.8)
    else:
        ax.text(0.99, 0.02, "no positive frame", transform=ax.transAxes, ha="right", color="w", fontsize=8)
    ax.set_title(title)
    return fig


def _rect(xy, width, height, colour):
    return Rectangle(xy, width, height, facecolor=colour, edgecolor="white", linewidth=0.3, gid="frame-label")
