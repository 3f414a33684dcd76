"""Figures for the strategies chapter (notebook 04): a pool with one round's picks, the
strategies side by side (the static twin of :func:`bioal.widgets.strategy_stepper.strategy_stepper`),
and the rare cluster's discovery over rounds, from :mod:`bioal.tour`'s rounds."""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns

from bioal.strategies import strategy_label, strategy_title

__all__ = ["plot_round", "plot_round_grid", "plot_rare_discovery"]



def _title(name: str) -> str:
    """``"Farthest-first (FT)"``: the registry's title and label."""
    title, label = strategy_title(name), strategy_label(name)
    return title if title == label else f"{title} ({label})"


def plot_round(ax: Any, xy: np.ndarray, rd: Any, title: str = "", rare_mask: np.ndarray | None = None) -> Any:
    """One panel: the pool (mismatch level as colour once a classifier exists), the labelled
    clips, this round's picks numbered in pick order, the rare clips circled."""
    unl = ~rd.labelled_before
    if (rd.levels[unl] >= 0).any():
        levels = rd.levels[unl]
        sc = ax.scatter(xy[unl, 0], xy[unl, 1], c=levels, cmap="viridis", s=10, vmin=0, vmax=max(1, levels.max()))
        plt.colorbar(sc, ax=ax, fraction=0.046, pad=0.02, label="mismatch level")
    else:
        ax.scatter(xy[unl, 0], xy[unl, 1], c="0.75", s=10)
    lab = rd.labelled_before
    ax.scatter(xy[lab, 0], xy[lab, 1], marker="s", c="k", s=18, label="labelled")
    if rare_mask is not None:
        ax.scatter(
            xy[rare_mask, 0],
            xy[rare_mask, 1],
            facecolors="none",
            edgecolors="tab:red",
            s=70,
            lw=1.2,
            label="rare class",
        )
    p = rd.picks
    ax.scatter(xy[p, 0], xy[p, 1], marker="*", c="tab:orange", edgecolors="k", lw=0.5, s=120, label="picked", zorder=3)
    for i, j in enumerate(p[:20]):
        ax.annotate(str(i + 1), xy[j], fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.set_title(title, fontsize=10)
    ax.set_xticks([])
    ax.set_yticks([])
    return ax


def plot_round_grid(
    xy: np.ndarray, runs: dict[str, list[Any]], r: int = 0, rare_mask: np.ndarray | None = None
) -> plt.Figure:
    """The four strategies' round ``r`` side by side (the stepper's static figure)."""
    fig, axes = plt.subplots(1, len(runs), figsize=(4.2 * len(runs), 4.0), squeeze=False)
    for ax, (name, rounds) in zip(axes[0], runs.items(), strict=True):
        rd = rounds[r]
        phase = "init rule" if rd.init else "mismatch round" if (rd.levels >= 0).any() else ""
        plot_round(ax, xy, rd, f"{_title(name)}\nround {r} ({phase}), rare found: {rd.rare_found}", rare_mask)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), frameon=False)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return fig


def plot_rare_discovery(runs: dict[str, list[Any]], rare_total: int, ax: Any = None) -> Any:
    """Rare clips labelled vs number of labelled clips, one line per strategy."""
    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 3.5))
    for name, rounds in runs.items():
        n = np.cumsum([len(rd.picks) for rd in rounds])
        sns.lineplot(x=n, y=[rd.rare_found for rd in rounds], marker="o", label=_title(name), ax=ax)
    ax.axhline(rare_total, ls="--", c="0.5", label="all rare clips")
    ax.set_xlabel("labelled clips")
    ax.set_ylabel("rare clips labelled")
    ax.legend(fontsize=8)
    return ax
