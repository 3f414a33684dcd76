"""The paper's evaluation metrics (method §6.1-§6.2), on sorted scores.

* :func:`class_average_precision` - exact (unbinned) step-wise average precision per class,
  ``sum_n (R_n - R_{n-1}) P_n`` over the distinct score thresholds, on frames flattened over
  clips. Same numbers as ``sklearn.metrics.average_precision_score`` and torchmetrics'
  ``MultilabelAveragePrecision(average="none", thresholds=None)``. A class with no positive
  frame scores 0 and stays in the mean (the paper's NaN -> 0).
* :func:`optimal_threshold` - one global threshold for all classes, chosen to maximise the
  class-mean F1 by the paper's coarse-to-fine search (0.1 -> 0.01 -> 0.001 steps around the
  previous winner, first maximum wins), positive meaning ``prob > t``.
* :func:`f1_per_class` - per-class F1 at a threshold (zero division -> 0).

Inputs are ``[N, T, C]`` (clips x frames x classes) or ``[M, C]``, NumPy arrays or torch
tensors (any device; moved to the CPU); labels are {0, 1} (anything ``> 0.5`` is positive).
Everything works on one sort of each class's scores plus binary searches, so AP and the
whole 47-candidate threshold search on 150k frames x 7 classes take tens of milliseconds.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

__all__ = ["class_average_precision", "optimal_threshold", "f1_per_class", "threshold_candidates"]


def _frames(x: Any, name: str) -> np.ndarray:
    """``[N, T, C]`` or ``[M, C]`` (NumPy or torch, any device) -> a ``[M, C]`` NumPy array."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    a = np.asarray(x)
    if a.ndim == 3:
        a = a.reshape(-1, a.shape[-1])
    if a.ndim != 2:
        raise ValueError(f"{name} must be [N, T, C] or [M, C], got shape {a.shape}")
    return a


class _Sorted:
    """Per-class sorted scores of all frames and of the positive frames (ascending)."""

    def __init__(self, probs: Any, labels: Any) -> None:
        p = _frames(probs, "probs")
        y = _frames(labels, "labels")
        if p.shape != y.shape:
            raise ValueError(f"probs {p.shape} and labels {y.shape} differ in shape (after flattening frames)")
        if not np.issubdtype(p.dtype, np.floating):
            raise TypeError(f"probs must be floating point, got {p.dtype}")
        if p.dtype not in (np.float32, np.float64):
            p = p.astype(np.float32)
        nan = np.isnan(p)
        if nan.any():
            raise ValueError(f"probs contain NaN (first at flattened frame {int(np.flatnonzero(nan.any(axis=1))[0])})")
        y = y > 0.5 if y.dtype != np.bool_ else y
        self.dtype = p.dtype
        self.n = p.shape[0]
        self.n_classes = p.shape[1]
        self.all = np.sort(p.T, axis=1)  # [C, M]
        self.pos = [np.sort(p[y[:, c], c]) for c in range(p.shape[1])]  # C x [P_c]

    def counts_above(self, t: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(tp, n_pred, n_pos) per class for the rule ``prob > t`` (compared in the probs' dtype)."""
        v = np.asarray(t, dtype=self.dtype)
        n_pred = np.array([self.n - np.searchsorted(self.all[c], v, side="right") for c in range(self.n_classes)])
        n_pos = np.array([len(s) for s in self.pos])
        tp = np.array([len(s) - np.searchsorted(s, v, side="right") for s in self.pos])
        return tp, n_pred, n_pos


def _f1(tp: np.ndarray, n_pred: np.ndarray, n_pos: np.ndarray) -> np.ndarray:
    denom = (n_pred + n_pos).astype(np.float64)
    return np.where(denom > 0, 2.0 * tp / np.maximum(denom, 1), 0.0)


def class_average_precision(probs: Any, labels: Any) -> np.ndarray:
    """Exact step-wise AP per class ``[C]`` (float64, 0..1) over all frames.

    ``probs`` and ``labels`` are ``[N, T, C]`` or ``[M, C]``. Tied scores form one
    threshold (as in scikit-learn and torchmetrics). No positives -> 0.
    """
    s = _Sorted(probs, labels)
    out = np.zeros(s.n_classes)
    for c in range(s.n_classes):
        pos = s.pos[c]
        if len(pos) == 0:
            continue
        # recall only changes at the distinct scores of positive frames
        values, first = np.unique(pos, return_index=True)  # ascending
        tp = len(pos) - first  # positives with score >= value
        n_pred = s.n - np.searchsorted(s.all[c], values, side="left")  # frames with score >= value
        gain = tp - np.append(tp[1:], 0)  # positives with score == value
        out[c] = float(np.sum(gain * (tp / n_pred)) / len(pos))
    return out


def f1_per_class(probs: Any, labels: Any, threshold: float) -> np.ndarray:
    """Per-class F1 ``[C]`` at ``threshold`` (positive means ``prob > threshold``).

    The comparison is done in the dtype of ``probs`` (as torchmetrics does); a class with
    no predicted and no true positives scores 0.
    """
    return _f1(*_Sorted(probs, labels).counts_above(threshold))


def threshold_candidates(level: int, centre: float) -> list[float]:
    """The paper's candidate thresholds at refinement ``level`` (1-based) around ``centre``.

    Level 1: 0.1 ... 0.9 (9 values, step 0.1, around 0.5); level l > 1: 19 values with step
    ``10**-l`` from ``centre - 9 step`` to ``centre + 9 step``. Values are rounded to ``l``
    decimals, so they are the decimal numbers the paper intends (``linspace`` noise removed).
    """
    step = 10.0**-level
    half = 4 if level == 1 else 9
    return [round(centre + step * i, level) for i in range(-half, half + 1)]


def optimal_threshold(probs: Any, labels: Any, levels: int = 3) -> tuple[float, np.ndarray]:
    """The global threshold maximising class-mean F1 by coarse-to-fine search (method §6.2).

    Returns ``(threshold, f1 [C])``. At each level the first maximum (lowest threshold) of
    the mean F1 wins; the next level searches around it. Positive means ``prob > t``.
    """
    if levels < 1:
        raise ValueError(f"levels must be >= 1, got {levels}")
    s = _Sorted(probs, labels)
    best_t, best_f1 = 0.5, np.zeros(s.n_classes)
    centre = 0.5
    for level in range(1, levels + 1):
        best_score = -1.0
        for t in threshold_candidates(level, centre):
            f1 = _f1(*s.counts_above(t))
            score = float(f1.mean())
            if score > best_score:
                best_score, best_t, best_f1 = score, t, f1
        centre = best_t
    return float(best_t), best_f1
