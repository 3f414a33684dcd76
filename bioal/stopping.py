"""When to stop labelling: the stabilising-predictions criterion (method §10.3).

After each round the new classifier's binary clip tags on the clips still unlabelled are
compared with the previous round's tags on the same clips by Cohen's kappa
(:func:`prediction_kappa`); :func:`stop_recommended` says stop once the mean kappa over the
last ``window`` rounds exceeds ``threshold``; :func:`stopping_table` lays it out per round.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.metrics import cohen_kappa_score

__all__ = ["KAPPA_THRESHOLD", "KAPPA_WINDOW", "prediction_kappa", "stop_recommended", "stopping_table"]

KAPPA_THRESHOLD: float = 0.99
KAPPA_WINDOW: int = 3


def prediction_kappa(previous: np.ndarray, current: np.ndarray) -> float:
    """Cohen's kappa between two rounds' binary tags ``[N, C]`` of the same N unlabelled clips,
    flattened over clips and classes. Identical tags give 1.0 (also when every tag is the same
    value, where kappa's formula is 0/0).
    """
    previous = np.asarray(previous)
    current = np.asarray(current)
    if previous.shape != current.shape:
        raise ValueError(f"previous tags {previous.shape} and current tags {current.shape} differ in shape")
    if previous.size == 0:
        raise ValueError("no unlabelled clips to compare: kappa is undefined")
    for name, tags in (("previous", previous), ("current", current)):
        if not np.isin(tags, (0, 1)).all():
            raise ValueError(f"{name} tags must be binary (0/1 or bool)")
    a = previous.astype(bool).ravel()
    b = current.astype(bool).ravel()
    if np.array_equal(a, b):
        return 1.0
    return float(cohen_kappa_score(a, b))


def stop_recommended(kappas: Sequence[float], threshold: float = KAPPA_THRESHOLD, window: int = KAPPA_WINDOW) -> bool:
    """True when the mean of the last ``window`` kappas exceeds ``threshold`` (NaN = no kappa
    yet for that round, e.g. the first one, which never counts)."""
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    values = np.asarray(kappas, dtype=np.float64)
    if len(values) < window:
        return False
    last = values[-window:]
    return bool(np.isfinite(last).all() and last.mean() > threshold)


def stopping_table(
    n_labelled: Sequence[int],
    kappas: Sequence[float],
    threshold: float = KAPPA_THRESHOLD,
    window: int = KAPPA_WINDOW,
) -> pd.DataFrame:
    """Per round: ``n_labelled``, ``kappa`` (NaN in the first round), ``window_mean`` (NaN until
    ``window`` kappas exist) and ``stop`` (the recommendation after that round)."""
    if len(n_labelled) != len(kappas):
        raise ValueError(f"{len(n_labelled)} label counts but {len(kappas)} kappas")
    kappa = np.asarray(kappas, dtype=np.float64)
    rows = []
    for i in range(len(kappa)):
        seen = kappa[: i + 1]
        mean = seen[-window:].mean() if len(seen) >= window and np.isfinite(seen[-window:]).all() else np.nan
        rows.append(
            {
                "n_labelled": int(n_labelled[i]),
                "kappa": kappa[i],
                "window_mean": mean,
                "stop": stop_recommended(seen, threshold, window),
            }
        )
    return pd.DataFrame(rows, columns=["n_labelled", "kappa", "window_mean", "stop"])
