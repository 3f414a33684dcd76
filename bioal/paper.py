"""The paper's published numbers, shipped with ``bioal`` as package data.

``bioal/resources/paper_al_results.csv`` is a byte-for-byte copy of the authors'
``results/al_results.csv`` (method §6.3): 80 rows (4 methods x 2 starts x 10 budgets), 43
columns, AL statistics over 5 repetitions (std with ddof 1) and the full-supervision
baseline (std with ddof 0) copied into every row. Reading it needs no network.
"""

from __future__ import annotations

from importlib import resources

import numpy as np
import pandas as pd

from bioal.dcase import AL_CLASSES, RARE_CLASSES
from bioal.records import start_name
from bioal.strategies import from_paper_name, paper_name, strategy_names

__all__ = [
    "PAPER_CLASSES",
    "RARE_CLASSES",
    "PAPER_METHODS",
    "METHOD_ORDER",
    "PAPER_RUNS",
    "PAPER_SCORES",
    "paper_csv_text",
    "paper_results",
    "paper_columns",
    "paper_tidy",
    "paper_full_supervision",
    "to_paper_method",
    "from_paper_method",
]

#: Class order of the AL h5 files and of the CSV's per-class columns (method §6.3).
PAPER_CLASSES: tuple[str, ...] = AL_CLASSES
#: bioal strategy name -> the paper's ``sampling_method`` value (from the strategy registry).
PAPER_METHODS: dict[str, str] = {s: paper_name(s) for s in strategy_names()}
#: Row order of ``sampling_method`` within one ``pos_init_num`` block: names descending.
METHOD_ORDER: tuple[str, ...] = tuple(sorted(PAPER_METHODS.values(), reverse=True))
#: Repetitions behind every AL row of the paper's CSV (exp_1..exp_5).
PAPER_RUNS = 5
#: The paper's score names, in the CSV's column order (``<score>_mean``, ``<score>_std``).
PAPER_SCORES: tuple[str, ...] = ("valid_f1", "valid_cmap", "test_f1", "test_cmap")
_SCORE_ORDER = ("test_cmap", "test_f1", "valid_cmap", "valid_f1")  # the long tables' metric order

_RESOURCE = "paper_al_results.csv"


def to_paper_method(strategy: str) -> str:
    """``"random"`` -> ``"rand"``; the other strategy names are the same."""
    return paper_name(strategy)


def from_paper_method(method: str) -> str:
    """``"rand"`` -> ``"random"``; the inverse of :func:`to_paper_method`."""
    return from_paper_name(method)


def paper_csv_text() -> str:
    """The shipped CSV file's text, exactly as the authors committed it."""
    return resources.files("bioal").joinpath("resources", _RESOURCE).read_text(encoding="utf-8")


def paper_results() -> pd.DataFrame:
    """The paper's ``al_results.csv`` as a DataFrame (80 rows x 43 columns, file order)."""
    with resources.as_file(resources.files("bioal").joinpath("resources", _RESOURCE)) as path:
        return pd.read_csv(path)


def paper_columns(class_names: tuple[str, ...] | list[str] = PAPER_CLASSES) -> list[str]:
    """The 43 column names of the paper's layout for ``class_names`` (method §6.3)."""
    columns = ["sampling_method", "pos_init_num", "num_annotated_samples"]
    for name in [*class_names, "Negative"]:
        columns += [f"{name}_mean", f"{name}_std", f"Total_{name}"]
    for prefix in ("", "full_"):
        for metric in PAPER_SCORES:
            columns += [f"{prefix}{metric}_mean", f"{prefix}{metric}_std"]
    return columns


def paper_tidy(table: pd.DataFrame | None = None, runs: int = PAPER_RUNS) -> pd.DataFrame:
    """A paper-layout table (default: the paper's own) as a long table for comparisons.

    Columns ``strategy`` (bioal names), ``start`` (``cold``/``warm``), ``init_pos``,
    ``n_labelled``, ``metric``, ``mean``, ``std`` (ddof 1, as in the CSV), ``std0``
    (population std, ddof 0, = std * sqrt((runs-1)/runs)). Metrics: ``test_cmap``,
    ``test_f1``, ``valid_cmap``, ``valid_f1`` (percent), ``count_<class>``, ``negative``
    and ``rare_count`` (clips; the rare count's std is not recoverable and is NaN).
    """
    table = paper_results() if table is None else table
    class_names = [c[: -len("_mean")] for c in table.columns[3:-19:3]]
    rows = []
    factor = np.sqrt((runs - 1) / runs)
    for record in table.to_dict("records"):
        base = {
            "strategy": from_paper_method(record["sampling_method"]),
            "start": start_name(False, int(record["pos_init_num"])),
            "init_pos": int(record["pos_init_num"]),
            "n_labelled": int(record["num_annotated_samples"]),
        }
        metrics = {m: (record[f"{m}_mean"], record[f"{m}_std"]) for m in _SCORE_ORDER}
        for name in class_names:
            metrics[f"count_{name}"] = (record[f"{name}_mean"], record[f"{name}_std"])
        metrics["negative"] = (record["Negative_mean"], record["Negative_std"])
        metrics["rare_count"] = (sum(record[f"{c}_mean"] for c in RARE_CLASSES if c in class_names), np.nan)
        for metric, (mean, std) in metrics.items():
            rows.append({**base, "metric": metric, "mean": float(mean), "std": float(std), "std0": float(std) * factor})
    return pd.DataFrame(rows)


def paper_full_supervision(table: pd.DataFrame | None = None) -> pd.DataFrame:
    """The full-supervision baseline: one row per metric with ``mean`` and ``std`` (ddof 0, %)."""
    table = paper_results() if table is None else table
    first = table.iloc[0]
    return pd.DataFrame(
        {
            "metric": list(_SCORE_ORDER),
            "mean": [float(first[f"full_{m}_mean"]) for m in _SCORE_ORDER],
            "std": [float(first[f"full_{m}_std"]) for m in _SCORE_ORDER],
        }
    )
