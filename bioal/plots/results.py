"""Figures of the experiments (notebooks 05 and 06), drawn from the tidy table of run records.

Every function takes a tidy table (:func:`bioal.results.tidy_table` or
:func:`bioal.results.tidy_run`) and returns a matplotlib ``Figure`` (:func:`findings_styler`, a
table's pandas ``Styler``); nothing here reads files or computes results beyond grouping for
display.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from bioal.paper import paper_full_supervision, paper_tidy
from bioal.results import EVENT_SCORES, PAPER_METRIC, SCORES, budget_steps
from bioal.strategies import strategy_colours, strategy_label

__all__ = [
    "METRIC_LABELS",
    "STRATEGY_COLORS",
    "run_curves",
    "selected_class_counts",
    "figure_one",
    "figure_two",
    "paper_overlay",
    "per_class_curves",
    "metric_view_figure",
    "findings_styler",
]

METRIC_LABELS = {
    "test_ap": "test mAP",
    "test_f1": "test F1",
    "valid_ap": "valid mAP",
    "valid_f1": "valid F1",
    "rare_count": "rare species count",
    "count": "positive clips labelled",
    "threshold": "threshold",
    "epochs": "epochs",
    "test_event_precision": "test event precision",
    "test_event_recall": "test event recall",
    "test_event_f": "test event F",
}
#: Colour per strategy, in display order (the strategy registry's).
STRATEGY_COLORS = strategy_colours()
_DASHES = {"cold": "", "warm": (4, 2)}


def _scale(metric: str) -> float:
    return 100.0 if metric in SCORES or metric in EVENT_SCORES else 1.0


def _select(tidy: pd.DataFrame, metric: str, class_name: str = "all") -> pd.DataFrame:
    rows = tidy[(tidy.metric == metric) & (tidy["class"] == class_name)].copy()
    if rows.empty:
        raise KeyError(f"no rows for metric {metric!r}, class {class_name!r}")
    rows["value"] = rows["value"] * _scale(metric)
    return rows


def run_curves(run: pd.DataFrame) -> Figure:
    """One run's learning curve: valid/test mAP and F1 (%) against annotations."""
    rows = run[(run["class"] == "all") & run.metric.isin(SCORES)].copy()
    rows["value"] *= 100
    rows["metric"] = rows.metric.map(METRIC_LABELS)
    fig, ax = plt.subplots(figsize=(6.5, 3.8), layout="constrained")
    sns.lineplot(data=rows, x="n_labelled", y="value", hue="metric", style="metric", markers=True, ax=ax)
    ax.set(xlabel="annotated clips", ylabel="%", title=f"run {run.run.iloc[0]}")
    ax.legend(title=None)
    return fig


def selected_class_counts(run: pd.DataFrame) -> Figure:
    """Positive clips of each class (and negatives) among the clips selected in each round."""
    counts = run[(run.metric == "count") & (run["class"] != "all")].pivot(
        index="n_labelled", columns="class", values="value"
    )
    negative = run[(run.metric == "negative") & (run["class"] == "all")].set_index("n_labelled")["value"]
    classes = list(dict.fromkeys(run[(run.metric == "count") & (run["class"] != "all")]["class"]))
    table = counts[classes].copy()
    table["Negative"] = negative
    new = table.diff().fillna(table).astype(int)  # counts are cumulative over the labelled set
    fig, ax = plt.subplots(figsize=(7.5, 3.8), layout="constrained")
    bottom = np.zeros(len(new))
    palette = sns.color_palette("tab10", len(classes)) + [(0.85, 0.85, 0.85)]
    for color, column in zip(palette, new.columns, strict=True):
        ax.bar(np.arange(len(new)), new[column], bottom=bottom, label=column, color=color)
        bottom += new[column].to_numpy()
    ax.set_xticks(np.arange(len(new)), [str(n) for n in new.index])
    ax.set(
        xlabel="round (annotated clips after it)",
        ylabel="clips selected in the round",
        title="what each round selected",
    )
    ax.legend(fontsize=7, ncol=2, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return fig


def _curves(ax: plt.Axes, rows: pd.DataFrame, legend: bool) -> None:
    hue_order = [s for s in STRATEGY_COLORS if s in set(rows.strategy)]
    sns.lineplot(
        data=rows,
        x="n_labelled",
        y="value",
        hue="strategy",
        hue_order=hue_order,
        palette=STRATEGY_COLORS,
        style="start",
        style_order=[s for s in ("cold", "warm") if s in set(rows.start)],
        dashes=_DASHES,
        errorbar="sd",
        marker="o",
        markersize=3,
        ax=ax,
        legend=legend,
    )


def figure_one(tidy: pd.DataFrame) -> Figure:
    """Figure 1: test mAP, test F1 and rare-species count against annotations.

    Cold starts solid, warm dashed, bands = one std over seeds; the full-supervision runs'
    mean as a black dashed line (for the rare count: the rare clips in the pool).
    """
    fig, axes = plt.subplots(1, 3, figsize=(14, 4), layout="constrained")
    panels = (("test_ap", "test mAP (%)"), ("test_f1", "test F1 (%)"), ("rare_count", "rare species count"))
    for i, (ax, (metric, label)) in enumerate(zip(axes, panels, strict=True)):
        rows = _select(tidy, metric)
        _curves(ax, rows[rows.strategy != "full"], legend=i == 0)
        full = rows[rows.strategy == "full"]
        if len(full):
            ax.axhline(full.value.mean(), color="black", linestyle="--", linewidth=1, label="fully annotated")
        ax.set(xlabel="number of annotations", ylabel=label)
    handles, labels = axes[0].get_legend_handles_labels()
    axes[0].get_legend().remove()
    labels = [strategy_label(x) for x in labels]
    fig.legend(handles, labels, loc="outside right center", fontsize=8)
    return fig


def figure_two(tidy: pd.DataFrame) -> Figure:
    """Figure 2 (not in the paper): event-level test precision, recall and F (%) against annotations.

    The DCASE Task 5 event metric of every round's classifier on the test recordings (method
    §6.6), overall = harmonic mean over classes; styles as in :func:`figure_one`. Records
    without event scores (written before them) give a figure that says so.
    """
    fig, axes = plt.subplots(1, 3, figsize=(14, 4), layout="constrained")
    if not tidy.metric.isin(list(EVENT_SCORES)).any():
        for ax in axes:
            ax.set_axis_off()
        axes[1].text(0.5, 0.5, "these run records have no event-level scores", ha="center", va="center")
        return fig
    for i, (ax, metric) in enumerate(zip(axes, EVENT_SCORES, strict=True)):
        rows = _select(tidy, metric)
        _curves(ax, rows[rows.strategy != "full"], legend=i == 0)
        full = rows[rows.strategy == "full"]
        if len(full):
            ax.axhline(full.value.mean(), color="black", linestyle="--", linewidth=1, label="fully annotated")
        ax.set(xlabel="number of annotations", ylabel=f"{METRIC_LABELS[metric]} (%)")
    handles, labels = axes[0].get_legend_handles_labels()
    axes[0].get_legend().remove()
    fig.legend(handles, [strategy_label(x) for x in labels], loc="outside right center", fontsize=8)
    return fig


def paper_overlay(tidy: pd.DataFrame, metric: str = "test_ap") -> Figure:
    """This run's curves (solid, bands over seeds) beside the paper's means (dotted), per start."""
    rows = _select(tidy, metric)
    paper = paper_tidy()
    paper_metric = PAPER_METRIC.get(metric, metric)
    paper = paper[paper.metric == paper_metric]
    starts = [s for s in ("cold", "warm") if s in set(rows.start)]
    fig, axes = plt.subplots(
        1, len(starts), figsize=(6 * len(starts), 4), layout="constrained", squeeze=False, sharey=True
    )
    # budgets are matched by step (the k-th here against the paper's k-th), as compare_with_paper does
    ours_steps = budget_steps(rows.loc[rows.strategy != "full", "n_labelled"])
    paper_steps = budget_steps(paper.n_labelled)
    same = sorted(ours_steps) == sorted(paper_steps)
    for ax, start in zip(axes[0], starts, strict=True):
        ours = rows[(rows.start == start)]
        for strategy in [s for s in STRATEGY_COLORS if s in set(ours.strategy)]:
            color = STRATEGY_COLORS[strategy]
            summary = ours[ours.strategy == strategy].groupby("n_labelled")["value"].agg(["mean", "std"])
            if not same:
                summary.index = summary.index.map(ours_steps)
            label = strategy_label(strategy)
            ax.plot(summary.index, summary["mean"], color=color, marker="o", markersize=3, label=f"{label} (here)")
            ax.fill_between(
                summary.index,
                summary["mean"] - summary["std"].fillna(0),
                summary["mean"] + summary["std"].fillna(0),
                color=color,
                alpha=0.15,
            )
            ref = paper[(paper.start == start) & (paper.strategy == strategy)]
            ref_x = ref.n_labelled if same else ref.n_labelled.map(paper_steps)
            ax.plot(ref_x, ref["mean"], color=color, linestyle=":", linewidth=2, label=f"{label} (paper)")
        if paper_metric in set(paper_full_supervision().metric):
            full = paper_full_supervision().set_index("metric").loc[paper_metric, "mean"]
            ax.axhline(full, color="black", linestyle=":", linewidth=1, label="fully annotated (paper)")
        full_here = rows[rows.strategy == "full"]
        if len(full_here):
            ax.axhline(
                full_here.value.mean(), color="black", linestyle="--", linewidth=1, label="fully annotated (here)"
            )
        ax.set(
            title=f"{start} start",
            xlabel="number of annotations" if same else (
                f"budget step (here {min(ours_steps)}..{max(ours_steps)}, the paper "
                f"{min(paper_steps)}..{max(paper_steps)} annotations)"),
            ylabel=METRIC_LABELS.get(metric, metric) + (" (%)" if metric in SCORES else ""),
        )
    axes[0][-1].legend(fontsize=7, loc="best", ncol=2)
    return fig


def per_class_curves(tidy: pd.DataFrame, metric: str = "test_ap") -> Figure:
    """One panel per class: ``metric`` against annotations, per strategy and start."""
    rows = tidy[(tidy.metric == metric) & (tidy["class"] != "all") & (tidy.strategy != "full")].copy()
    if rows.empty:
        raise KeyError(f"no per-class rows for metric {metric!r}")
    rows["value"] *= _scale(metric)
    classes = list(dict.fromkeys(rows["class"]))
    cols = 4
    nrows = int(np.ceil(len(classes) / cols))
    fig, axes = plt.subplots(nrows, cols, figsize=(14, 3.2 * nrows), layout="constrained", squeeze=False, sharex=True)
    for i, (ax, name) in enumerate(zip(axes.flat, classes, strict=False)):
        _curves(ax, rows[rows["class"] == name], legend=i == 0)
        ax.set(title=name, xlabel="annotations", ylabel=METRIC_LABELS.get(metric, metric))
    for ax in list(axes.flat)[len(classes) :]:
        ax.set_visible(False)
    legend = axes[0][0].get_legend()
    if legend is not None:
        handles, labels = axes[0][0].get_legend_handles_labels()
        legend.remove()
        fig.legend(handles, [strategy_label(x) for x in labels], loc="outside right center", fontsize=8)
    return fig


def metric_view_figure(rows: pd.DataFrame, metric: str, class_name: str, start: str) -> Figure:
    """The results widget's figure: the rows chosen by :func:`bioal.widgets.results_view.view_rows`."""
    fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
    curves = rows[rows.strategy != "full"]
    if len(curves):
        _curves(ax, curves, legend=True)
        handles, labels = ax.get_legend_handles_labels()
        ax.legend(handles, [strategy_label(x) for x in labels], fontsize=8)
    full = rows[rows.strategy == "full"]
    if len(full):
        ax.axhline(full.value.mean(), color="black", linestyle="--", linewidth=1)
    unit = " (%)" if metric in SCORES else ""
    ax.set(
        xlabel="number of annotations",
        ylabel=METRIC_LABELS.get(metric, metric) + unit,
        title=f"{class_name}, {start} start",
    )
    return fig


def findings_styler(findings: pd.DataFrame) -> pd.io.formats.style.Styler:
    """:func:`bioal.results.paper_findings` without its index, ``reproduced`` in green or red."""
    return findings.style.hide(axis="index").map(
        lambda ok: f"color: {'#1b7837' if ok else '#b2182b'}; font-weight: bold", subset=["reproduced"]
    )
