"""Clip viewer for notebook 03: pick a split, a class and a clip; see its log-mel and frame labels.

The widget is a thin view over pure functions: :func:`read_meta` (an embedding split read
with ``meta_only``: labels and clip metadata, not the embeddings), :func:`clip_options` (the clips of a
class, chosen by :func:`bioal.data.matching_clips`), :func:`default_clip` (the clip shown first: a
rare-class clip if there is one), :func:`clip_data` (spectrogram, labels, title of one clip, read by
:func:`bioal.explorer.clip_spectrogram`). :func:`clip_viewer_figure` is the
static figure of the default state for the book; the drawing is
:func:`bioal.plots.explorer.clip_panel`.
"""

from __future__ import annotations

import os
from typing import Any

import ipywidgets as widgets
import numpy as np
from matplotlib.figure import Figure

from bioal.data import ALL_CLIPS, NEGATIVE, matching_clips, prepared_dir, split_dir
from bioal.dcase import RARE_CLASSES
from bioal.embeddings import EmbeddingSplit, embeddings_dir, read_split, split_file
from bioal.explorer import clip_spectrogram
from bioal.plots.explorer import clip_panel
from bioal.widgets import figure_output, set_outputs, text_output, wav_bytes

__all__ = ["read_meta", "clip_options", "default_clip", "clip_data", "clip_viewer_figure", "clip_viewer"]


def read_meta(data_root: str | os.PathLike, split: str = "train") -> EmbeddingSplit:
    """``DATA_ROOT/embeddings/<split>.h5`` without its embeddings (labels, clips, classes)."""
    return read_split(split_file(embeddings_dir(data_root), split), meta_only=True)


def clip_options(meta: EmbeddingSplit, class_name: str = ALL_CLIPS) -> list[tuple[str, int]]:
    """``(label, index)`` pairs of the clips of ``class_name`` (a class, :data:`bioal.data.NEGATIVE`
    or :data:`bioal.data.ALL_CLIPS`; :func:`bioal.data.matching_clips`)."""
    index = matching_clips(meta.labels, meta.class_names, class_name)
    return [(f"{i}: {meta.recording[i]} @ {meta.clip_start[i]:.0f} s", int(i)) for i in index]


def default_clip(meta: EmbeddingSplit, rare: tuple[str, ...] = RARE_CLASSES) -> tuple[str, int]:
    """The default state: ``(class, clip index)`` of the first clip of a rare class, else of
    the first positive clip, else clip 0."""
    tags = meta.clip_labels()
    for name in [*[r for r in rare if r in meta.class_names], *meta.class_names]:
        hits = np.flatnonzero(tags[:, meta.class_names.index(name)])
        if len(hits):
            return name, int(hits[0])
    return ALL_CLIPS, 0


def clip_data(data_root: str | os.PathLike, meta: EmbeddingSplit, index: int, split: str = "train") -> dict[str, Any]:
    """Log-mel ``mel [1001, 64]`` (dB), ``labels [32, C]``, ``class_names``, ``title``, ``waveform`` of one clip."""
    if not 0 <= index < len(meta.recording):
        raise IndexError(f"clip {index} out of range for {len(meta.recording)} clips of {split}")
    prepared = split_dir(prepared_dir(data_root), "AL", split)
    wave, mel = clip_spectrogram(prepared, str(meta.recording[index]), float(meta.clip_start[index]))
    present = [meta.class_names[c] for c in np.flatnonzero(meta.clip_labels()[index])] or [NEGATIVE]
    title = f"{split} clip {index}: {meta.recording[index]} @ {meta.clip_start[index]:.0f} s ({', '.join(present)})"
    return {"mel": mel, "labels": meta.labels[index], "class_names": meta.class_names, "title": title,
            "waveform": wave}


def clip_viewer_figure(data_root: str | os.PathLike, split: str = "train") -> Figure:
    """Static figure of the viewer's default state (for the book)."""
    meta = read_meta(data_root, split)
    _, index = default_clip(meta)
    data = clip_data(data_root, meta, index, split)
    fig = clip_panel(data["mel"], data["labels"], data["class_names"], title=data["title"])
    fig.set_size_inches(8, 4)
    return fig


def clip_viewer(data_root: str | os.PathLike, split: str = "train") -> Any:
    """The live widget: split, class and clip pickers, the clip's spectrogram + labels, audio."""
    state = {"meta": read_meta(data_root, split)}
    cls0, idx0 = default_clip(state["meta"])
    split_box = widgets.Dropdown(options=["train", "valid", "test"], value=split, description="split")
    class_box = widgets.Dropdown(options=[ALL_CLIPS, *state["meta"].class_names, NEGATIVE], value=cls0, description="class")
    clip_box = widgets.Dropdown(options=clip_options(state["meta"], cls0), value=idx0, description="clip",
                                layout=widgets.Layout(width="480px"))
    out = widgets.Output()
    player = widgets.Audio(format="wav", autoplay=False, loop=False)

    def draw(*_: Any) -> None:
        if clip_box.value is None:
            set_outputs(out, text_output("no clip of this class in this split"))
            return
        data = clip_data(data_root, state["meta"], clip_box.value, split_box.value)
        fig = clip_panel(data["mel"], data["labels"], data["class_names"], title=data["title"])
        fig.set_size_inches(8, 4)
        set_outputs(out, figure_output(fig))
        player.value = wav_bytes(data["waveform"])

    def on_split(change: dict) -> None:
        state["meta"] = read_meta(data_root, change["new"])
        on_class({"new": class_box.value})

    def on_class(change: dict) -> None:
        options = clip_options(state["meta"], change["new"])
        clip_box.options = options
        clip_box.value = options[0][1] if options else None

    split_box.observe(on_split, names="value")
    class_box.observe(on_class, names="value")
    clip_box.observe(draw, names="value")
    draw()
    return widgets.VBox([widgets.HBox([split_box, class_box]), clip_box, out, player])
