"""Selected-samples explorer (ipywidgets): which clips a strategy picked in a round, and why.

Choose strategy, start, seed and round; see a gallery of the clips selected in that round,
each with its log-mel spectrogram, its frame labels, its class, why it was picked (its
recorded mismatch level and cosine distance) and an audio player. A thin view over
:mod:`bioal.explorer`; :func:`bioal.plots.explorer.default_figure` is its static twin.
"""

from __future__ import annotations

import os
from typing import Any

import ipywidgets as widgets

from bioal import records
from bioal.data import prepared_dir, split_dir
from bioal.explorer import clip_spectrogram, default_state, explorer_options, explorer_table, read_train_meta
from bioal.plots.explorer import clip_panel
from bioal.utils import resolve_path
from bioal.widgets import figure_output, set_outputs, wav_bytes

__all__ = ["selected_samples_explorer"]


def selected_samples_explorer(
    results_dir: str | os.PathLike, data_root: str | os.PathLike, per_page: int = 4
) -> Any:
    """The live explorer (ipywidgets): strategy, start, seed, round and page controls over a
    gallery of ``per_page`` selected clips (spectrogram with frame labels, class, why it was
    picked, audio player)."""
    data_root = resolve_path(data_root)
    meta = read_train_meta(data_root)
    prepared = split_dir(prepared_dir(data_root), "AL", "train")
    options = explorer_options(results_dir)
    state = default_state(results_dir)
    strategy = widgets.Dropdown(options=options["strategy"], value=state["strategy"], description="strategy")
    start = widgets.Dropdown(options=options["start"], value=state["start"], description="start")
    seed = widgets.Dropdown(options=options["seed"], value=state["seed"], description="seed")
    round_ = widgets.IntSlider(value=state["round"], min=0, max=9, description="round")
    page = widgets.IntSlider(value=0, min=0, max=0, description="page")
    header = widgets.HTML()
    gallery = widgets.VBox()

    def refresh(*_: Any) -> None:
        try:
            folder = records.find_run(results_dir, strategy.value, start.value, seed.value)
        except FileNotFoundError as err:
            header.value = f"<b>{err}</b>"
            gallery.children = ()
            return
        round_.max = len(records.round_paths(folder)) - 1
        table = explorer_table(results_dir, meta, strategy.value, start.value, seed.value, round_.value)
        page.max = max(0, (len(table) - 1) // per_page)
        header.value = (
            f"<b>{strategy.value} {start.value} seed {seed.value}, round {table.attrs['round']}</b>: "
            f"{len(table)} clips picked, {table.attrs['n_labelled']} labelled after the round"
        )
        items = []
        for row in table.iloc[page.value * per_page : (page.value + 1) * per_page].itertuples():
            wave, mel = clip_spectrogram(prepared, row.recording, row.clip_start)
            fig = clip_panel(mel, meta.labels[row.index], meta.class_names, title=f"#{row.pick}: {row.classes}")
            # write the picture into the Output widget's state (no display capture: a kernel
            # run by papermill/nbclient then saves it with the widget state, without waiting)
            out = widgets.Output()
            set_outputs(out, figure_output(fig))
            info = widgets.HTML(
                f"<b>pick {row.pick}</b>, clip {row.index}<br>{row.recording} @ {row.clip_start:.1f} s<br>"
                f"class: {row.classes}<br>why: {row.why}"
            )
            audio = widgets.Audio(value=wav_bytes(wave), format="wav", autoplay=False, loop=False)
            items.append(widgets.HBox([out, widgets.VBox([info, audio])]))
        gallery.children = tuple(items)

    for control in (strategy, start, seed, round_, page):
        control.observe(refresh, names="value")
    refresh()
    return widgets.VBox([widgets.HBox([strategy, start, seed]), widgets.HBox([round_, page]), header, gallery])
