"""A results explorer: choose metric, class and start, see the curves of every strategy.

A thin view over :func:`view_options` and :func:`view_rows` (pure, tested) and
:func:`bioal.plots.results.metric_view_figure`; :func:`default_figure` is its static twin
for the book.
"""

from __future__ import annotations

import ipywidgets as widgets
import pandas as pd
from matplotlib.figure import Figure

from bioal.plots.results import METRIC_LABELS, metric_view_figure
from bioal.results import EVENT_SCORES, SCORES
from bioal.widgets import figure_output, set_outputs, text_output

__all__ = ["VIEW_METRICS", "view_options", "view_rows", "default_state", "default_figure", "results_view"]

#: Metrics offered by the view (per-class ones also for the run-level mean, class "all").
VIEW_METRICS: tuple[str, ...] = (*SCORES, *EVENT_SCORES, "count", "rare_count", "threshold", "epochs")
_RUN_LEVEL_ONLY = ("rare_count", "threshold", "epochs")


def view_options(tidy: pd.DataFrame) -> dict[str, list[str]]:
    """The choices the records support: ``metric``, ``class`` (``all`` first), ``start``."""
    metrics = [m for m in VIEW_METRICS if m in set(tidy.metric)]
    classes = ["all", *[c for c in dict.fromkeys(tidy["class"]) if c != "all"]]
    starts = [s for s in ("cold", "warm") if s in set(tidy.start)]
    return {"metric": metrics, "class": classes, "start": starts}


def view_rows(tidy: pd.DataFrame, metric: str, class_name: str, start: str) -> pd.DataFrame:
    """Rows for one view state, scores in percent; the full-supervision runs are kept as the
    reference. Run-level metrics (``rare_count``, ``threshold``, ``epochs``) only exist for
    class ``all``: asking for another class is an error naming the metric."""
    if metric in _RUN_LEVEL_ONLY and class_name != "all":
        raise ValueError(f"metric {metric!r} is per run, not per class: choose class 'all'")
    rows = tidy[(tidy.metric == metric) & (tidy["class"] == class_name) & tidy.start.isin([start, "full"])].copy()
    if rows[rows.start == start].empty:
        raise KeyError(f"no records for metric {metric!r}, class {class_name!r}, start {start!r}")
    if metric in SCORES or metric in EVENT_SCORES:
        rows["value"] = rows["value"] * 100
    return rows


def default_state(tidy: pd.DataFrame) -> dict[str, str]:
    """The view's initial state: test mAP, all classes, the first start present."""
    options = view_options(tidy)
    return {
        "metric": "test_ap" if "test_ap" in options["metric"] else options["metric"][0],
        "class": "all",
        "start": options["start"][0],
    }


def default_figure(tidy: pd.DataFrame) -> Figure:
    """Static figure of the view's default state (for the book)."""
    state = default_state(tidy)
    return metric_view_figure(
        view_rows(tidy, state["metric"], state["class"], state["start"]),
        state["metric"],
        state["class"],
        state["start"],
    )


def results_view(tidy: pd.DataFrame):  # -> ipywidgets.VBox
    """The live widget: three dropdowns and the figure of the chosen state."""
    options = view_options(tidy)
    state = default_state(tidy)
    metric = widgets.Dropdown(
        options=[(METRIC_LABELS.get(m, m), m) for m in options["metric"]], value=state["metric"], description="metric"
    )
    cls = widgets.Dropdown(options=options["class"], value=state["class"], description="class")
    start = widgets.Dropdown(options=options["start"], value=state["start"], description="start")
    out = widgets.Output()

    def redraw(*_):
        try:
            rows = view_rows(tidy, metric.value, cls.value, start.value)
        except (KeyError, ValueError) as err:
            set_outputs(out, text_output(str(err)))
            return
        set_outputs(out, figure_output(metric_view_figure(rows, metric.value, cls.value, start.value)))

    for control in (metric, cls, start):
        control.observe(redraw, names="value")
    redraw()
    return widgets.VBox([widgets.HBox([metric, cls, start]), out])
