"""Figures and tables of the encoder chapters (notebooks 02 and 03).

* :func:`training_curves` - loss and valid mAP per epoch, best epoch marked.
* :func:`per_class_ap_table` - per-class valid AP at the best and the last epoch.
* :func:`project_2d` / :func:`clip_categories` / :func:`projection_figure` - a 2-D map of the
  clip vectors (max over frames) coloured by class, the rare classes highlighted.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE

from bioal.dcase import RARE_CLASSES

__all__ = [
    "RARE_CLASSES",
    "training_curves",
    "per_class_ap_table",
    "project_2d",
    "clip_categories",
    "projection_figure",
]



def training_curves(history: dict[str, Any]) -> Figure:
    """Two panels from ``history.json``: training loss and valid mAP (%) per epoch."""
    epochs = pd.DataFrame(history["epochs"])
    if epochs.empty:
        raise ValueError("the training history has no epochs yet")
    fig = Figure(figsize=(8, 3), constrained_layout=True)
    ax_loss, ax_map = fig.subplots(1, 2)
    ax_loss.plot(epochs["epoch"], epochs["loss"], marker="o")
    ax_loss.set(xlabel="epoch", ylabel="training loss (pos_weight BCE)", title="loss")
    ax_map.plot(epochs["epoch"], 100 * epochs["valid_map"], marker="o", color="C1")
    best = history.get("best_epoch", int(epochs["valid_map"].idxmax()))
    if best is not None and best >= 0:
        row = epochs.iloc[best]
        ax_map.scatter([row["epoch"]], [100 * row["valid_map"]], s=120, facecolors="none", edgecolors="k",
                       label=f"best (epoch {int(row['epoch'])})", zorder=3)
        ax_map.legend(loc="lower right", fontsize=8)
    ax_map.set(xlabel="epoch", ylabel="valid mAP (%)", title="SL validation mAP")
    for ax in (ax_loss, ax_map):
        ax.grid(alpha=0.3)
    return fig


def per_class_ap_table(history: dict[str, Any]) -> pd.DataFrame:
    """Per-class valid AP (%) at the best and the last epoch, classes as rows, plus a mean row."""
    epochs = history["epochs"]
    if not epochs:
        raise ValueError("the training history has no epochs yet")
    best = history.get("best_epoch", -1)
    best = best if best is not None and best >= 0 else len(epochs) - 1
    table = pd.DataFrame(
        {
            f"best (epoch {epochs[best]['epoch']})": 100 * np.asarray(epochs[best]["valid_ap"]),
            f"last (epoch {epochs[-1]['epoch']})": 100 * np.asarray(epochs[-1]["valid_ap"]),
        },
        index=pd.Index(history["class_names"], name="class"),
    )
    table.loc["mean (mAP)"] = table.mean(axis=0)
    return table.round(1)


def project_2d(vectors: np.ndarray, method: str = "pca", seed: int = 0) -> np.ndarray:
    """``[N, D]`` clip vectors -> ``[N, 2]`` with scikit-learn PCA or t-SNE (seeded)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim != 2 or len(vectors) < 3:
        raise ValueError(f"need [N >= 3, D] vectors, got shape {vectors.shape}")
    if method == "pca":
        return PCA(n_components=2, random_state=seed).fit_transform(vectors)
    if method == "tsne":
        perplexity = float(min(30.0, (len(vectors) - 1) / 3))
        return TSNE(n_components=2, random_state=seed, init="pca", perplexity=perplexity).fit_transform(vectors)
    raise ValueError(f"unknown projection {method!r}; use 'pca' or 'tsne'")


def clip_categories(clip_labels: np.ndarray, class_names: Sequence[str], rare: Sequence[str] = RARE_CLASSES) -> np.ndarray:
    """One category per clip from its tags ``[N, C]``: a rare class if tagged, else the first
    tagged class, else ``"Negative"``."""
    clip_labels = np.asarray(clip_labels, dtype=bool)
    out = np.full(len(clip_labels), "Negative", dtype=object)
    order = [c for c in range(len(class_names)) if class_names[c] not in rare]
    order += [c for c in range(len(class_names)) if class_names[c] in rare]  # rare ones win
    for c in order:
        out[clip_labels[:, c]] = class_names[c]
    return out


def projection_figure(
    xy: np.ndarray,
    categories: Sequence[str],
    class_names: Sequence[str],
    rare: Sequence[str] = RARE_CLASSES,
    title: str = "clip embeddings (max over frames), 2-D projection",
) -> Figure:
    """Scatter of ``xy [N, 2]``: negatives grey, classes coloured, rare classes as large stars."""
    categories = np.asarray(categories, dtype=object)
    palette = dict(zip(class_names, sns.color_palette("tab10", len(class_names)), strict=True))
    fig = Figure(figsize=(7, 5.5), constrained_layout=True)
    ax = fig.subplots()
    neg = categories == "Negative"
    ax.scatter(xy[neg, 0], xy[neg, 1], s=6, c="0.8", label=f"Negative ({neg.sum()})", linewidths=0)
    for name in class_names:
        sel = categories == name
        if not sel.any() or name in rare:
            continue
        ax.scatter(xy[sel, 0], xy[sel, 1], s=12, color=palette[name], label=f"{name} ({sel.sum()})", linewidths=0)
    for name in class_names:
        sel = categories == name
        if name in rare and sel.any():
            ax.scatter(xy[sel, 0], xy[sel, 1], s=160, marker="*", color=palette[name], edgecolors="k",
                       linewidths=0.8, label=f"{name} ({sel.sum()}, rare)", zorder=3)
    ax.set(title=title, xlabel="component 1", ylabel="component 2")
    ax.legend(fontsize=7, loc="best", markerscale=1.0)
    return fig
