"""Figures of the selected-samples explorer (:mod:`bioal.explorer`, :mod:`bioal.widgets.explorer`).

:func:`clip_panel` draws one clip: its log-mel spectrogram with the frame labels as a band
of coloured rows underneath. :func:`explorer_figure` draws a round's gallery, and
:func:`default_figure` the explorer's default state, the static twin shown in the book.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from bioal.data import prepared_dir, split_dir
from bioal.explorer import clip_spectrogram, default_state, explorer_table, read_train_meta
from bioal.grid import CLIP_SECONDS
from bioal.utils import resolve_path

__all__ = ["clip_panel", "explorer_figure", "default_figure"]



def _draw_clip(ax_mel, ax_lab, mel: np.ndarray, frame_labels: np.ndarray, class_names: list[str]) -> None:
    """Spectrogram ``mel [frames, 64]`` on ``ax_mel``; ``frame_labels [T, C]`` on ``ax_lab``."""
    ax_mel.imshow(mel.T, origin="lower", aspect="auto", cmap="magma", extent=(0, CLIP_SECONDS, 0, mel.shape[1]))
    ax_mel.set_ylabel("mel band")
    ax_mel.tick_params(labelbottom=False)
    colours = sns.color_palette("tab10", len(class_names))
    t = frame_labels.shape[0]
    rgba = np.ones((len(class_names), t, 4))
    for c, colour in enumerate(colours):
        on = frame_labels[:, c] > 0.5
        rgba[c, on, :3] = colour
    ax_lab.imshow(rgba, aspect="auto", extent=(0, CLIP_SECONDS, len(class_names) - 0.5, -0.5), interpolation="nearest")
    ax_lab.set_yticks(range(len(class_names)))
    ax_lab.set_yticklabels(class_names, fontsize=6)
    ax_lab.set_xlabel("time in clip (s)")


def clip_panel(mel: np.ndarray, frame_labels: np.ndarray, class_names: list[str], title: str = "") -> Figure:
    """One clip: ``mel [frames, 64]`` dB and its ``frame_labels [T, C]`` (T = 32)."""
    fig = Figure(figsize=(4.2, 2.8), constrained_layout=True)
    ax_mel, ax_lab = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1.4]})
    _draw_clip(ax_mel, ax_lab, mel, frame_labels, class_names)
    ax_mel.set_title(title, fontsize=9)
    return fig


def explorer_figure(
    table: pd.DataFrame, mels: list[np.ndarray], frame_labels: np.ndarray, class_names: list[str], title: str = "", columns: int = 3
) -> Figure:
    """A gallery of selected clips: ``table`` rows from :func:`bioal.explorer.explorer_table`
    (first ``len(mels)`` rows), their log-mels and ``frame_labels [k, T, C]``."""
    k = len(mels)
    if k == 0:
        raise ValueError("explorer_figure needs at least one clip")
    if len(frame_labels) != k:
        raise ValueError(f"{k} spectrograms but {len(frame_labels)} label arrays")
    rows = (k + columns - 1) // columns
    fig = Figure(figsize=(4.0 * columns, 3.2 * rows), constrained_layout=True)
    grid = fig.add_gridspec(2 * rows, columns, height_ratios=[3, 1.4] * rows)
    for i, row in enumerate(table.iloc[:k].itertuples()):
        r, c = divmod(i, columns)
        ax_mel = fig.add_subplot(grid[2 * r, c])
        ax_lab = fig.add_subplot(grid[2 * r + 1, c], sharex=ax_mel)
        _draw_clip(ax_mel, ax_lab, mels[i], frame_labels[i], class_names)
        ax_mel.set_title(f"#{row.pick} clip {row.index}: {row.classes}\n{row.why}", fontsize=8)
        if c:
            ax_mel.set_ylabel("")
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def default_figure(results_dir: str | os.PathLike, data_root: str | os.PathLike, n_clips: int = 6) -> Figure:
    """The explorer's default state (MFFT, cold start, lowest seed, round 1) as a static
    gallery of its first ``n_clips`` selected clips."""
    data_root = resolve_path(data_root)
    meta = read_train_meta(data_root)
    state = default_state(results_dir)
    table = explorer_table(results_dir, meta, state["strategy"], state["start"], state["seed"], state["round"])
    shown = table.iloc[:n_clips]
    prepared = split_dir(prepared_dir(data_root), "AL", "train")
    mels = [clip_spectrogram(prepared, r.recording, r.clip_start)[1] for r in shown.itertuples()]
    title = (
        f"{state['strategy']} {state['start']} start, seed {state['seed']}, round {table.attrs['round']}: "
        f"first {len(shown)} of {len(table)} clips picked ({table.attrs['n_labelled']} labelled after the round)"
    )
    return explorer_figure(shown, mels, meta.labels[shown["index"].to_numpy()], meta.class_names, title=title)
