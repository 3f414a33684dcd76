"""Clip browser of notebook 01: choose split, class and clip; see the log-mel with the frame
labels over it and listen to the clip.

The widget is a thin view: :func:`bioal.data.matching_clips` (which clips fit a choice),
:func:`class_options`, :func:`default_state`, :func:`clip_view` (figure + waveform of one clip)
and :func:`browser_figure` (the static twin shown in the book) are pure functions, tested on
their own.

The player is an ``ipywidgets.Audio`` fed with WAV bytes rather than
``IPython.display.Audio`` inside an ``Output`` widget: the latter inlines ~850 kB of base64
per clip into the output-capture messages, which stalls papermill/nbclient for minutes; the
widget sends the WAV as a binary buffer.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

import ipywidgets as widgets
import numpy as np
from matplotlib.figure import Figure

from bioal.data import ALL_CLIPS, DIVISIONS, NEGATIVE, ClipDataset, matching_clips
from bioal.features import log_mel
from bioal.grid import SAMPLE_RATE
from bioal.plots.data import clip_figure
from bioal.widgets import figure_output, set_outputs, text_output, wav_bytes

__all__ = [
    "split_options",
    "class_options",
    "default_state",
    "clip_view",
    "browser_figure",
    "data_browser",
]


def split_options() -> list[str]:
    """``"AL/train"``, ``"AL/valid"``, ... in pipeline order."""
    return [f"{d}/{s}" for d in ("AL", "SL") for s in DIVISIONS[d]]


@functools.lru_cache(maxsize=8)
def _dataset(prepared_root: str, split_key: str) -> ClipDataset:
    division, split = split_key.split("/")
    return ClipDataset(prepared_root, division, split)


def class_options(class_names: list[str]) -> list[str]:
    """The class drop-down's choices: every class, then all-negative clips, then all clips."""
    return [*class_names, NEGATIVE, ALL_CLIPS]


def default_state(prepared_root: str | os.PathLike) -> dict[str, Any]:
    """The browser's first view: AL train, the first class with a positive clip, its first clip."""
    ds = _dataset(str(Path(prepared_root)), "AL/train")
    for name in ds.class_names:
        if len(matching_clips(ds.labels, ds.class_names, name)):
            return {"split": "AL/train", "choice": name, "position": 0}
    return {"split": "AL/train", "choice": ALL_CLIPS, "position": 0}


def clip_view(dataset: ClipDataset, index: int) -> tuple[Figure, np.ndarray]:
    """Figure (log-mel + frame labels) and waveform ``[320000]`` of clip ``index`` of ``dataset``."""
    wave, labels = dataset[index]
    row = dataset.clips.iloc[index]
    mel = log_mel(wave.numpy(), sample_rate=SAMPLE_RATE)
    positive = [c for c, on in zip(dataset.class_names, labels.numpy().max(axis=0) > 0.5, strict=True) if on]
    title = (f"{dataset.division}/{dataset.split} clip {index}: {row['recording']} "
             f"@ {row['start_s']:.0f} s  [{', '.join(positive) or 'negative'}]")
    return clip_figure(mel, labels.numpy(), dataset.class_names, title=title), wave.numpy()


def _resolve(prepared_root: str | os.PathLike, split: str, choice: str, position: int) -> tuple[ClipDataset, int]:
    ds = _dataset(str(Path(prepared_root)), split)
    matches = matching_clips(ds.labels, ds.class_names, choice)
    if len(matches) == 0:
        raise ValueError(f"no clip of {split} matches {choice!r}")
    if not 0 <= position < len(matches):
        raise IndexError(f"position {position} out of range: {len(matches)} clips of {split} match {choice!r}")
    return ds, int(matches[position])


def browser_figure(prepared_root: str | os.PathLike, split: str | None = None, choice: str | None = None,
                   position: int | None = None) -> Figure:
    """Static figure of the browser (its default state unless given): the book shows this."""
    state = default_state(prepared_root)
    state.update({k: v for k, v in {"split": split, "choice": choice, "position": position}.items() if v is not None})
    ds, index = _resolve(prepared_root, state["split"], state["choice"], state["position"])
    return clip_view(ds, index)[0]


def data_browser(prepared_root: str | os.PathLike):  # -> ipywidgets.VBox
    """The live browser: split / class drop-downs, a clip slider, the figure and an audio player."""
    state = default_state(prepared_root)
    split_w = widgets.Dropdown(options=split_options(), value=state["split"], description="split")
    ds = _dataset(str(Path(prepared_root)), state["split"])
    class_w = widgets.Dropdown(options=class_options(ds.class_names), value=state["choice"], description="class")
    clip_w = widgets.IntSlider(value=0, min=0, max=0, description="clip #")
    info = widgets.HTML()
    player = widgets.Audio(format="wav", autoplay=False, loop=False)
    out = widgets.Output()

    def refresh_classes(change=None) -> None:
        names = _dataset(str(Path(prepared_root)), split_w.value).class_names
        options = class_options(names)
        keep = class_w.value if class_w.value in options else options[0]
        class_w.options = options
        class_w.value = keep
        refresh_clips()

    def refresh_clips(change=None) -> None:
        d = _dataset(str(Path(prepared_root)), split_w.value)
        n = len(matching_clips(d.labels, d.class_names, class_w.value))
        clip_w.max = max(n - 1, 0)
        clip_w.value = min(clip_w.value, clip_w.max)
        info.value = f"{n} matching clip(s) of {len(d)}"
        show()

    def show(change=None) -> None:
        try:
            d, index = _resolve(prepared_root, split_w.value, class_w.value, clip_w.value)
        except ValueError as err:
            set_outputs(out, text_output(str(err)))
            return
        fig, wave = clip_view(d, index)
        set_outputs(out, figure_output(fig))
        player.value = wav_bytes(wave)

    split_w.observe(refresh_classes, names="value")
    class_w.observe(refresh_clips, names="value")
    clip_w.observe(show, names="value")
    refresh_clips()
    return widgets.VBox([widgets.HBox([split_w, class_w]), widgets.HBox([clip_w, info]), out, player])
