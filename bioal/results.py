"""Results of a sweep: the tidy long table, the paper-layout ``al_results.csv``, Table I.

Reads the run records of DESIGN.md ("Run records") under ``RESULTS_DIR/runs/`` and never
anything else, so every figure and table is generated from this run's records:

- :func:`tidy_table`: one row per run x round x class x metric, columns
  ``run, strategy, start, init_pos, seed, round, n_labelled, class, metric, value``.
  Per-class metrics (``class`` = a class name): ``valid_ap``, ``valid_f1``, ``test_ap``,
  ``test_f1`` (fractions 0..1) and ``count`` (labelled positive clips). Run-level metrics
  (``class`` = ``"all"``): the class means of the four scores (``test_ap`` there is the
  cmAP), ``count`` (sum over classes), ``negative``, ``rare_count`` (method §6.4),
  ``threshold``, ``epochs``, ``select_seconds``, ``train_seconds``.
  Event-level test scores (method §6.6; absent for rounds recorded before them):
  ``test_event_precision``, ``test_event_recall``, ``test_event_f`` per class, and with
  ``class`` = ``"all"`` their harmonic means over classes (the DCASE overall), plus
  ``event_seconds``.
  Full-supervision runs have ``strategy`` and ``start`` equal to ``"full"``. The rows every
  round has come from :func:`round_rows`, which :func:`bioal.release.release_tidy` shares.
  Only runs that belong in one table are read: the same embeddings, every run finished, and
  the same settings but for the grid's and non-result fields (:func:`check_runs_agree`).
- :func:`paper_layout`: the 43-column table of the paper's ``al_results.csv`` (method §6.3),
  in its row order, written by :func:`write_results` to ``RESULTS_DIR/al_results.csv``.
- :func:`event_layout`: the companion ``RESULTS_DIR/event_results.csv`` (same rows, event-level
  precision, recall and F in percent; the paper has no such columns).
- :func:`table_one` / :func:`table_one_from_layout`: Table I's ``mean(±std)`` cells, with
  the paper's population std (method Q14).
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from bioal import records
from bioal.config import GRID_PARAMETERS, PAPER_DATA_ROOT, PAPER_RESULTS_DIR, Config
from bioal.dcase import PAPER_POOL_SIZE, PAPER_POOL_TOTALS
from bioal.embeddings import embeddings_dir, read_split, split_file
from bioal.experiment import NON_RESULT_FIELDS, ExperimentConfig
from bioal.paper import (
    METHOD_ORDER,
    PAPER_CLASSES,
    PAPER_METHODS,
    RARE_CLASSES,
    paper_columns,
    paper_full_supervision,
    paper_tidy,
)
from bioal.records import ROUND_KEYS
from bioal.strategies import FULL, rarest_classes, strategy_label, strategy_names
from bioal.utils import atomic_path, read_json, resolve_path

__all__ = [
    "ResultsConfig",
    "SCORES",
    "EVENT_SCORES",
    "STRATEGY_LABELS",
    "ROUND_KEYS",
    "run_folders",
    "read_run",
    "run_summary",
    "TIDY_COLUMNS",
    "PAPER_METRIC",
    "round_rows",
    "tidy_run",
    "tidy_table",
    "check_same_embeddings",
    "check_runs_agree",
    "pool_totals",
    "paper_layout",
    "write_al_results",
    "event_layout",
    "format_cell",
    "table_one",
    "table_one_from_layout",
    "curve_summary",
    "budget_steps",
    "compare_with_paper",
    "describe_differences",
    "FINDINGS_COLUMNS",
    "paper_findings",
    "findings_summary",
    "rare_finds",
    "rare_finds_table",
    "rare_recordings_table",
    "class_enrichment",
    "paper_pool",
    "paper_class_enrichment",
    "paper_rates_on_pool",
    "enrichment_beside_paper",
    "describe_yardstick",
    "seeds_per_cell",
    "write_results",
]

#: Per-class score lists in every round file (fractions 0..1).
SCORES: tuple[str, ...] = ("valid_ap", "valid_f1", "test_ap", "test_f1")
#: Event-level test scores per class (fractions 0..1, method §6.6); their "all" row is the
#: harmonic mean over classes, under the overall key of the round record.
EVENT_SCORES: dict[str, str] = {
    "test_event_precision": "precision",
    "test_event_recall": "recall",
    "test_event_f": "f-measure",
}
#: Column labels of Table I and the figures (the strategy registry's labels).
STRATEGY_LABELS: dict[str, str] = {s: strategy_label(s) for s in (*strategy_names(), FULL)}
#: Column order of Table I (the registry's display order).
TABLE_ORDER: tuple[str, ...] = strategy_names()
#: The paper's name for each of :data:`SCORES`, in that order (its CSV's column stems, its checkpoints' keys).
PAPER_METRIC: dict[str, str] = dict(zip(SCORES, ("valid_cmap", "valid_f1", "test_cmap", "test_f1"), strict=True))
#: Columns of the tidy table: a run round's identity, then ``class, metric, value``.
TIDY_COLUMNS: tuple[str, ...] = (
    "run", "strategy", "start", "init_pos", "seed", "round", "n_labelled", "class", "metric", "value"
)
_ID = list(TIDY_COLUMNS[:-3])


@dataclasses.dataclass(frozen=True)
class ResultsConfig(Config):
    """Parameters of notebook 06: where the run records are and which data they came from."""

    preset: str = "paper"
    results_dir: str = PAPER_RESULTS_DIR
    data_root: str = PAPER_DATA_ROOT


# --------------------------------------------------------------------------- reading records


def run_folders(results_dir: str | os.PathLike) -> list[Path]:
    """Run folders (``RESULTS_DIR/runs/<run_name>/`` holding ``config.json``), sorted by name."""
    return records.run_folders(results_dir)


def read_run(folder: str | os.PathLike) -> tuple[dict, list[dict]]:
    """``(config, rounds)`` of one run folder (read by :func:`bioal.records.load_run`);
    rounds as dicts sorted by ``n_labelled``.

    Raises ``FileNotFoundError``/``KeyError``/``ValueError`` naming the folder, file and key.
    """
    run = records.load_run(folder)
    return run.config, sorted((r.to_dict() for r in run.rounds), key=lambda r: r["n_labelled"])


def _identity(run: records.RunRecord) -> dict:
    return {"strategy": run.strategy, "start": run.start, "init_pos": run.init_pos, "seed": run.seed}


def round_rows(
    base: Mapping[str, Any], class_names: Sequence[str], scores: Mapping[str, Any], counts: np.ndarray, threshold: float
) -> list[dict]:
    """The tidy rows every round has, each ``base`` (the identity columns, ``n_labelled`` among
    them) plus ``class, metric, value``: per :data:`SCORES` key, ``scores[key]`` ``[C]`` (a numpy
    array or tensor) per class and its ``.mean()`` (in its own dtype) as ``"all"``; ``counts``
    ``[C]`` (labelled positives, NaN when not known) per class; then, as ``"all"``, ``count``,
    ``negative`` (``n_labelled`` minus the counts), ``rare_count`` and ``threshold``."""
    names = list(class_names)
    rows = []
    for key in SCORES:
        values = scores[key]
        rows += [{**base, "class": c, "metric": key, "value": float(v)} for c, v in zip(names, values.tolist(), strict=True)]
        rows.append({**base, "class": "all", "metric": key, "value": float(values.mean())})
    rows += [{**base, "class": c, "metric": "count", "value": float(v)} for c, v in zip(names, counts, strict=True)]
    run_level = {
        "count": counts.sum(),
        "negative": base["n_labelled"] - counts.sum(),
        "rare_count": sum(counts[names.index(c)] for c in RARE_CLASSES if c in names),
        "threshold": threshold,
    }
    return rows + [{**base, "class": "all", "metric": k, "value": float(v)} for k, v in run_level.items()]


def tidy_run(folder: str | os.PathLike | records.RunRecord) -> pd.DataFrame:
    """The tidy rows of one run folder, or of a run already read (columns in the module docstring)."""
    run = folder if isinstance(folder, records.RunRecord) else records.load_run(folder)
    ident = {"run": run.name, **_identity(run)}
    rounds = sorted((r.to_dict() for r in run.rounds), key=lambda r: r["n_labelled"])
    rows = []
    for record in rounds:
        base = {**ident, "round": int(record["round"]), "n_labelled": int(record["n_labelled"])}
        names = list(record["class_names"])
        scores = {key: np.asarray(record[key], dtype=float) for key in SCORES}
        counts = np.asarray(record["class_counts"], dtype=float)
        rows += round_rows(base, names, scores, counts, record["threshold"])
        run_level = {
            "epochs": record["epochs"],
            "select_seconds": record["select_seconds"],
            "train_seconds": record["train_seconds"],
        }
        rows += [{**base, "class": "all", "metric": k, "value": float(v)} for k, v in run_level.items()]
        if record.get("test_event_f") is not None:
            overall = record["test_event_overall"]
            for key, name in EVENT_SCORES.items():
                rows += [{**base, "class": c, "metric": key, "value": float(v)} for c, v in zip(names, record[key], strict=True)]
                rows.append({**base, "class": "all", "metric": key, "value": float(overall[name])})
            rows.append({**base, "class": "all", "metric": "event_seconds", "value": float(record["event_seconds"])})
    return pd.DataFrame(rows, columns=list(TIDY_COLUMNS))


def run_summary(run: pd.DataFrame) -> pd.DataFrame:
    """One row per round of one run's tidy rows: scores in percent, rare count, negatives,
    threshold, epochs and timings."""
    rows = run[run["class"] == "all"].pivot(index="n_labelled", columns="metric", values="value")
    table = pd.DataFrame(index=rows.index)
    for key, name in (
        ("test_ap", "test mAP %"),
        ("test_f1", "test F1 %"),
        ("valid_ap", "valid mAP %"),
        ("valid_f1", "valid F1 %"),
    ):
        table[name] = (100 * rows[key]).round(2)
    for key in ("rare_count", "negative", "epochs"):
        table[key] = rows[key].astype(int)
    table["threshold"] = rows["threshold"].round(3)
    table["select s"] = rows["select_seconds"].round(2)
    table["train s"] = rows["train_seconds"].round(2)
    if "test_event_f" in rows:  # rounds recorded before event scores have none (method §6.6)
        table["test event F %"] = (100 * rows["test_event_f"]).round(2)
        table["event s"] = rows["event_seconds"].round(2)
    table.index.name = "annotated"
    return table


def check_same_embeddings(folders: Sequence[str | os.PathLike]) -> None:
    """Raise ``ValueError`` if the runs' ``inputs.json`` record different embeddings, naming
    the runs of each kind and the splits that differ. Runs without ``inputs.json`` (written
    before bioal recorded it) are not compared."""
    groups: dict[str, tuple[dict, list[str]]] = {}
    for folder in map(Path, folders):
        path = records.inputs_path(folder)
        if not path.is_file():
            continue
        recorded = read_json(path)
        if not isinstance(recorded, dict) or not isinstance(recorded.get("embeddings"), dict):
            raise KeyError(f"{path}: expected a mapping with key 'embeddings' (split -> digest)")
        digests = recorded["embeddings"]
        key = json.dumps(digests, sort_keys=True)
        groups.setdefault(key, (digests, []))[1].append(folder.name)
    if len(groups) < 2:
        return
    kinds = list(groups.values())
    splits = sorted({s for digests, _ in kinds for s in digests})
    differ = [s for s in splits if len({str(digests.get(s)) for digests, _ in kinds}) > 1]
    described = "; ".join(
        f"{', '.join(names)} ({', '.join(f'{s} {str(digests.get(s))[:12]}' for s in differ)})" for digests, names in kinds
    )
    raise ValueError(
        f"{Path(folders[0]).parent}: the runs were made on different embeddings (their inputs.json differ in "
        f"{', '.join(differ)}): {described}. One table would mix them: keep each set of runs in its own RESULTS_DIR"
    )


def _missing_rounds(run: records.RunRecord) -> str:
    """Why ``run`` is not complete, e.g. ``"3 of 10 rounds; missing budgets 140, 175, ..."``."""
    if run.start == "full":
        if not run.rounds:
            return "no round"
        return f"its round labelled {run.rounds[0].n_labelled} of the pool's {len(run.labelled_round)} clips"
    budgets = [int(b) for b in run.config["budgets"]]
    missing = budgets[len(run.rounds):]
    shown = ", ".join(map(str, missing[:4])) + (", ..." if len(missing) > 4 else "")
    return f"{len(run.rounds)} of {len(budgets)} rounds; missing budgets {shown}"


def _listed(names: Sequence[str], limit: int = 6) -> str:
    names = list(names)
    return ", ".join(names[:limit]) + (f" and {len(names) - limit} more" if len(names) > limit else "")


def check_runs_agree(runs: Sequence[records.RunRecord], allow_incomplete: bool = False) -> None:
    """Raise ``ValueError`` unless the runs can share one table: every run complete (a round per
    budget; naming each unfinished run and its missing budgets, unless ``allow_incomplete``), and
    every run made with the same result-shaping settings. Only the sweep's grid parameters
    (:data:`bioal.config.GRID_PARAMETERS`: strategy, start, seed, full supervision) and the fields
    that do not change results (:data:`bioal.experiment.NON_RESULT_FIELDS`) may differ; a field a
    run's ``config.json`` lacks (added since) counts as its default. The error names each differing
    field and the runs holding each of its values."""
    if not runs:
        return
    where = runs[0].folder.parent
    unfinished = [f"{run.name} ({_missing_rounds(run)})" for run in runs if not run.complete]
    if unfinished and not allow_incomplete:
        raise ValueError(
            f"{where}: {len(unfinished)} run(s) are not finished: {'; '.join(unfinished)}. Their means would "
            "mix runs with and without the missing rounds: finish them (python -m bioal.sweep resumes them) "
            "or pass allow_incomplete=True to inspect a partial sweep"
        )
    free = {p.lower() for p in GRID_PARAMETERS} | set(NON_RESULT_FIELDS)
    settings = {
        run.name: {k: v for k, v in ExperimentConfig.recorded(run.config).items() if k not in free} for run in runs
    }
    lines = []
    for key in sorted({k for values in settings.values() for k in values}):
        groups: dict[str, list[str]] = {}
        for name, values in settings.items():
            groups.setdefault(json.dumps(values.get(key), sort_keys=True, default=str), []).append(name)
        if len(groups) > 1:
            kinds = sorted(groups.items(), key=lambda item: len(item[1]))
            lines.append(f"{key}: " + "; ".join(f"{value} in {_listed(names)}" for value, names in kinds))
    if lines:
        raise ValueError(
            f"{where}: the runs were made with different settings, which one table would average: "
            f"{' | '.join(lines)}. Keep each set of runs in its own RESULTS_DIR (or run the odd ones again)"
        )


def tidy_table(results_dir: str | os.PathLike, progress: bool = True, allow_incomplete: bool = False) -> pd.DataFrame:
    """The tidy long table of every run under ``RESULTS_DIR/runs``.

    Raises ``FileNotFoundError`` if there is no run folder at all, and ``ValueError`` for runs
    made on different embeddings (:func:`check_same_embeddings`), with different result-shaping
    settings, or not finished (:func:`check_runs_agree`; ``allow_incomplete=True`` accepts
    unfinished runs, to inspect a partial sweep).
    """
    folders = run_folders(results_dir)
    if not folders:
        raise FileNotFoundError(f"no run records under {resolve_path(results_dir) / 'runs'}")
    check_same_embeddings(folders)
    runs = [records.load_run(f) for f in tqdm(folders, desc="reading runs", disable=not progress)]
    check_runs_agree(runs, allow_incomplete=allow_incomplete)
    parts = [tidy_run(run) for run in runs]
    table = pd.concat(parts, ignore_index=True)
    for column in ("init_pos", "seed", "round", "n_labelled"):
        table[column] = table[column].astype(np.int64)
    return table


def pool_totals(
    tidy: pd.DataFrame, results_dir: str | os.PathLike | None = None, data_root: str | os.PathLike | None = None
) -> tuple[pd.Series, int]:
    """``(positive clips per class in the AL train pool, pool size)`` for the ``Total_*`` columns.

    Taken from a full-supervision run's counts when there is one (it labels the whole
    pool); otherwise from the frame labels of ``DATA_ROOT/embeddings/train.h5``, where
    ``data_root`` defaults to the ``data_root`` recorded in a run's ``config.json``.
    """
    full = tidy[(tidy.strategy == "full") & (tidy.metric == "count") & (tidy["class"] != "all")]
    if len(full):
        last = full[full.n_labelled == full.n_labelled.max()]
        first_run = last[last.run == last.run.iloc[0]]
        totals = pd.Series(first_run.value.to_numpy(dtype=np.int64), index=first_run["class"].to_numpy())
        return totals, int(last.n_labelled.iloc[0])
    if data_root is None:
        if results_dir is None:
            raise ValueError("no full-supervision run: give results_dir or data_root to read the pool's labels")
        folder = run_folders(results_dir)[0]
        config = records.load_run(folder).config
        if "data_root" not in config:
            raise KeyError(f"{folder / 'config.json'}: key 'data_root' is missing")
        data_root = config["data_root"]
    path = split_file(embeddings_dir(data_root), "train")
    if not path.is_file():
        raise FileNotFoundError(f"no full-supervision run and no train embeddings at {path} for the Total_* columns")
    pool = read_split(path, meta_only=True)
    clip, labels = pool.clip_labels(), pool.labels
    names = pool.class_names
    return pd.Series(clip.sum(axis=0).astype(np.int64), index=names), int(len(labels))


# --------------------------------------------------------------------------- the paper's CSV


def _wide(tidy: pd.DataFrame) -> pd.DataFrame:
    """One row per run x round, one column per (metric, class)."""
    keys = ["strategy", "init_pos", "seed", "n_labelled"]
    wide = tidy.set_index([*keys, "metric", "class"])["value"].unstack(["metric", "class"])
    return wide


def _method_order(strategies: Sequence[str]) -> list[str]:
    """bioal strategy names in the paper's row order (rand, mp, mfft, ft), others after them."""
    key = {s: PAPER_METHODS.get(s, s) for s in strategies}
    known = [s for m in METHOD_ORDER for s in strategies if key[s] == m]
    return known + sorted((s for s in strategies if key[s] not in METHOD_ORDER), reverse=True)


def _count(value: Any) -> Any:
    """A clip count as an int, or NaN when it is not known."""
    return int(value) if pd.notna(value) else np.nan


def paper_layout(tidy: pd.DataFrame, totals: pd.Series, pool_size: int | None) -> pd.DataFrame:
    """The paper's ``al_results.csv`` table from a tidy table (method §6.3).

    Per run and budget: per-class positive counts, ``Negative`` = n - sum of counts, and
    the four scores as 100 x class mean rounded to 2 decimals. Aggregated over seeds per
    (method, start, budget): mean and std (ddof 1), rounded to 2 decimals. ``Total_*``
    come from ``totals`` (class -> positive clips in the pool) and ``pool_size``. The
    ``full_*`` columns: 100 x mean and std (ddof 0) over the full-supervision runs, rounded
    to 2 decimals, in every row (NaN without full runs). Counts that are not known (NaN
    ``count`` values, NaN ``totals``, ``pool_size`` None) leave their columns NaN. Rows: ``pos_init_num`` ascending,
    ``sampling_method`` rand, mp, mfft, ft, budgets ascending.
    """
    al = tidy[tidy.strategy != "full"]
    if al.empty:
        raise ValueError("no active-learning runs in the table")
    class_names = [c for c in al["class"].unique() if c != "all"]
    missing = [c for c in class_names if c not in totals.index]
    if missing:
        raise KeyError(f"pool totals have no entry for classes {missing}")
    wide = _wide(al)
    per_run = pd.DataFrame(index=wide.index)
    for name in class_names:
        per_run[name] = wide[("count", name)]
    per_run["Negative"] = wide[("negative", "all")]
    for key, paper_name in PAPER_METRIC.items():
        per_run[paper_name] = (100 * wide[(key, "all")]).round(2)
    groups = per_run.groupby(level=["strategy", "init_pos", "n_labelled"])
    means, stds = groups.mean().round(2), groups.std(ddof=1).round(2)

    full = tidy[(tidy.strategy == "full") & (tidy["class"] == "all")]
    full_values = {}
    for key, paper_name in PAPER_METRIC.items():
        per_seed = (100 * full[full.metric == key].groupby("seed")["value"].mean()).round(2).to_numpy()
        # numpy's rounding (as pandas' .round uses for the AL columns)
        mean = float(np.round(per_seed.mean(), 2)) if len(per_seed) else np.nan
        std = float(np.round(np.std(per_seed, ddof=0), 2)) if len(per_seed) else np.nan
        full_values[f"full_{paper_name}_mean"], full_values[f"full_{paper_name}_std"] = mean, std

    rows = []
    order = []
    for init_pos in sorted(means.index.get_level_values("init_pos").unique()):
        block = means.xs(init_pos, level="init_pos")
        for method in _method_order(list(block.index.get_level_values("strategy").unique())):
            for n in sorted(block.xs(method, level="strategy").index):
                order.append((method, init_pos, n))
    for strategy, init_pos, n in order:
        row = {
            "sampling_method": PAPER_METHODS.get(strategy, strategy),
            "pos_init_num": init_pos,
            "num_annotated_samples": n,
        }
        m, s = means.loc[(strategy, init_pos, n)], stds.loc[(strategy, init_pos, n)]
        for name in class_names:
            row[f"{name}_mean"], row[f"{name}_std"], row[f"Total_{name}"] = m[name], s[name], _count(totals[name])
        row["Negative_mean"], row["Negative_std"] = m["Negative"], s["Negative"]
        known = pool_size is not None and bool(totals[class_names].notna().all())
        row["Total_Negative"] = int(pool_size - int(totals[class_names].sum())) if known else np.nan
        for paper_name in PAPER_METRIC.values():
            row[f"{paper_name}_mean"], row[f"{paper_name}_std"] = m[paper_name], s[paper_name]
        row.update(full_values)
        rows.append(row)
    table = pd.DataFrame(rows, columns=paper_columns(class_names))
    return table


def event_layout(tidy: pd.DataFrame) -> pd.DataFrame:
    """The companion of ``al_results.csv``: event-level test scores per (method, start, budget).

    Rows in the paper layout's order (``pos_init_num`` ascending, methods rand, mp, mfft, ft,
    budgets ascending), then full supervision (``sampling_method`` ``full``). Columns
    ``sampling_method, pos_init_num, num_annotated_samples, runs``, then for the overall scores
    (harmonic means over classes) and each class: ``event_{precision,recall,f}_mean/_std`` and
    ``<class>_event_{...}_mean/_std``, each 100 x the run's value rounded to 2 decimals, then mean
    and std (ddof 1) over runs, rounded to 2 decimals (as the paper's columns). Only rounds with
    event scores count (method §6.6); raises ``ValueError`` when there are none.
    """
    rows = tidy[tidy.metric.isin(list(EVENT_SCORES))]
    if rows.empty:
        raise ValueError("no event-level scores in these run records (recorded before method §6.6)")
    class_names = [c for c in dict.fromkeys(rows["class"]) if c != "all"]
    wide = (100 * rows.set_index([*_ID, "metric", "class"])["value"].unstack(["metric", "class"])).round(2)
    short = {"test_event_precision": "precision", "test_event_recall": "recall", "test_event_f": "f"}
    columns = {}
    for name in ["all", *class_names]:
        for key, tag in short.items():
            columns[(key, name)] = f"event_{tag}" if name == "all" else f"{name}_event_{tag}"
    per_run = wide[list(columns)].set_axis(list(columns.values()), axis=1)
    groups = per_run.groupby(level=["strategy", "init_pos", "n_labelled"])
    means, stds, runs = groups.mean().round(2), groups.std(ddof=1).round(2), groups.size()
    order = []
    al = means[means.index.get_level_values("strategy") != "full"]
    for init_pos in sorted(al.index.get_level_values("init_pos").unique()):
        block = al.xs(init_pos, level="init_pos")
        for method in _method_order(list(block.index.get_level_values("strategy").unique())):
            order += [(method, init_pos, n) for n in sorted(block.xs(method, level="strategy").index)]
    order += [k for k in means.index if k[0] == "full"]
    out = []
    for key in order:
        strategy, init_pos, n = key
        row = {
            "sampling_method": "full" if strategy == "full" else PAPER_METHODS.get(strategy, strategy),
            "pos_init_num": int(init_pos),
            "num_annotated_samples": int(n),
            "runs": int(runs.loc[key]),
        }
        for column in columns.values():
            row[f"{column}_mean"], row[f"{column}_std"] = means.loc[key, column], stds.loc[key, column]
        out.append(row)
    return pd.DataFrame(out)


# --------------------------------------------------------------------------- Table I


def format_cell(mean: float, std0: float) -> str:
    """Table I's cell: ``round(mean)(±round(std))``, e.g. ``68(±3)``; std is the population std."""
    if not np.isfinite(mean):
        return ""
    std_text = f"{round(std0):d}" if np.isfinite(std0) else "?"
    return f"{round(mean):d}(±{std_text})"


def _arrange(cells: pd.DataFrame, full_cell: str | None) -> pd.DataFrame:
    """``cells`` has columns start, strategy, n_labelled, cell -> a budget x (start, strategy) table."""
    table = cells.pivot(index="n_labelled", columns=["start", "strategy"], values="cell")
    columns = [
        (start, s)
        for start in ("cold", "warm")
        for s in [*TABLE_ORDER, *sorted(set(cells.strategy) - set(TABLE_ORDER))]
        if (start, s) in table.columns
    ]
    table = table[columns]
    table.columns = pd.MultiIndex.from_tuples([(start, STRATEGY_LABELS.get(s, s)) for start, s in columns])
    table.index = table.index.astype(object)
    if full_cell is not None:
        table.loc["full"] = full_cell
    table.index.name = "annotations"
    return table


def table_one_from_layout(layout: pd.DataFrame, metric: str = "test_cmap", runs: int = 5) -> pd.DataFrame:
    """Table I from a paper-layout table whose AL std has ddof 1 over ``runs`` repetitions.

    The std is converted to the population std (x sqrt((runs-1)/runs)) as the paper's
    Table I does (method Q14); the full-supervision row uses the ddof-0 ``full_*`` columns.
    """
    factor = np.sqrt((runs - 1) / runs)
    cells = pd.DataFrame(
        {
            "start": [records.start_name(False, int(p)) for p in layout.pos_init_num],
            "strategy": [{v: k for k, v in PAPER_METHODS.items()}.get(m, m) for m in layout.sampling_method],
            "n_labelled": layout.num_annotated_samples.astype(int),
            "cell": [
                format_cell(m, s * factor)
                for m, s in zip(layout[f"{metric}_mean"], layout[f"{metric}_std"], strict=True)
            ],
        }
    )
    full = format_cell(layout[f"full_{metric}_mean"].iloc[0], layout[f"full_{metric}_std"].iloc[0])
    return _arrange(cells, full)


def curve_summary(
    tidy: pd.DataFrame, metric: str = "test_ap", class_name: str = "all", percent: bool = True
) -> pd.DataFrame:
    """Mean, population std and run count over seeds per (strategy, start, n_labelled).

    ``percent`` multiplies the scores (not counts) by 100.
    """
    rows = tidy[(tidy.metric == metric) & (tidy["class"] == class_name)]
    if rows.empty:
        raise KeyError(f"no rows for metric {metric!r} and class {class_name!r}")
    scale = 100.0 if percent and (metric in SCORES or metric in EVENT_SCORES) else 1.0
    grouped = rows.groupby(["strategy", "start", "n_labelled"])["value"]
    summary = pd.DataFrame(
        {
            "mean": grouped.mean() * scale,
            "std0": grouped.std(ddof=0) * scale,
            "std": grouped.std(ddof=1) * scale,
            "runs": grouped.size(),
        }
    ).reset_index()
    return summary


def table_one(tidy: pd.DataFrame, metric: str = "test_ap") -> pd.DataFrame:
    """Table I of this run's records: ``round(mean)(±round(population std))`` in percent."""
    summary = curve_summary(tidy, metric)
    summary["cell"] = [format_cell(m, s) for m, s in zip(summary["mean"], summary["std0"], strict=True)]
    full = summary[summary.strategy == "full"]
    full_cell = None
    if len(full):
        full_cell = format_cell(float(full["mean"].iloc[-1]), float(full["std0"].iloc[-1]))
    return _arrange(summary[summary.strategy != "full"], full_cell)


# --------------------------------------------------------------------------- comparison


_COMPARE = {**PAPER_METRIC, "rare_count": "rare_count"}


def budget_steps(n_labelled: Any) -> dict[int, int]:
    """``{budget: step}``: each distinct budget's 1-based rank (the paper's 50..500 are steps 1..10)."""
    return {int(n): i + 1 for i, n in enumerate(sorted({int(v) for v in n_labelled}))}


def compare_with_paper(tidy: pd.DataFrame, metric: str = "test_ap") -> pd.DataFrame:
    """This run's numbers beside the paper's, per (strategy, start, budget step) both have.

    Budgets are matched by their step (the k-th budget here against the paper's k-th), so a
    run with other budgets (the demo's 35..350 against the paper's 50..500) is compared round by
    round. Columns ``strategy, start, step, n_labelled, paper_n_labelled, ours_mean, ours_std0,
    runs, paper_mean, paper_std0, difference`` (ours - paper; percent for scores, clips for
    ``rare_count``).
    """
    if metric in EVENT_SCORES:
        raise KeyError(f"the paper reports no event-level scores ({metric!r}, method §6.6): nothing to compare")
    if metric not in _COMPARE:
        raise KeyError(f"metric {metric!r} cannot be compared (choose from {sorted(_COMPARE)})")
    ours = curve_summary(tidy, metric)
    ours = ours[ours.strategy != "full"].rename(columns={"mean": "ours_mean", "std0": "ours_std0"})
    ours["step"] = ours.n_labelled.map(budget_steps(ours.n_labelled))
    paper = paper_tidy()
    paper = paper[paper.metric == _COMPARE[metric]][["strategy", "start", "n_labelled", "mean", "std0"]]
    paper = paper.rename(columns={"mean": "paper_mean", "std0": "paper_std0", "n_labelled": "paper_n_labelled"})
    paper["step"] = paper.paper_n_labelled.map(budget_steps(paper.paper_n_labelled))
    merged = ours.merge(paper, on=["strategy", "start", "step"], how="inner")
    merged["difference"] = merged.ours_mean - merged.paper_mean
    return merged[
        ["strategy", "start", "step", "n_labelled", "paper_n_labelled", "ours_mean", "ours_std0", "runs",
         "paper_mean", "paper_std0", "difference"]
    ]


def describe_differences(tidy: pd.DataFrame, metric: str = "test_ap") -> list[str]:
    """Sentences on how this run's records differ from the paper, computed from the records.

    Covers, at the largest budget both have: each start's best strategy here and in the
    paper, the gap of MFFT to random sampling, and the largest absolute difference.
    """
    comparison = compare_with_paper(tidy, metric)
    if comparison.empty:
        return ["No (strategy, start, budget) cell of this run is also in the paper's table."]
    unit = "clips" if metric == "rare_count" else "points"
    lines = []
    for start, block in comparison.groupby("start"):
        n = int(block.n_labelled.max())
        at = block[block.n_labelled == n].set_index("strategy")
        paper_n = int(at.paper_n_labelled.iloc[0])
        where = f"{n} annotations" + ("" if paper_n == n else f" (the paper: {paper_n})")
        ours_best, paper_best = at.ours_mean.idxmax(), at.paper_mean.idxmax()
        agree = (
            "as in the paper"
            if ours_best == paper_best
            else f"the paper's best is {STRATEGY_LABELS.get(paper_best, paper_best)}"
        )
        lines.append(
            f"{start} start, {where}: best here is {STRATEGY_LABELS.get(ours_best, ours_best)} "
            f"({at.ours_mean[ours_best]:.2f}), {agree} ({at.paper_mean[paper_best]:.2f})."
        )
        if {"mfft", "random"} <= set(at.index):
            ours_gap = at.ours_mean["mfft"] - at.ours_mean["random"]
            paper_gap = at.paper_mean["mfft"] - at.paper_mean["random"]
            lines.append(
                f"{start} start, {where}: MFFT - RS = {ours_gap:+.2f} {unit} here, {paper_gap:+.2f} in the paper."
            )
    worst = comparison.loc[comparison.difference.abs().idxmax()]
    lines.append(
        f"Largest difference: {STRATEGY_LABELS.get(worst.strategy, worst.strategy)} {worst.start} at "
        f"{int(worst.n_labelled)} annotations (the paper: {int(worst.paper_n_labelled)}), {worst.ours_mean:.2f} here vs {worst.paper_mean:.2f} in the paper "
        f"({worst.difference:+.2f} {unit})."
    )
    lines.append(
        f"Mean difference over {len(comparison)} cells: {comparison.difference.mean():+.2f} {unit} "
        f"(mean absolute {comparison.difference.abs().mean():.2f})."
    )
    return lines


# --------------------------------------------------------------------------- the paper's findings

#: Columns of :func:`paper_findings`.
FINDINGS_COLUMNS: tuple[str, ...] = ("finding", "criterion", "paper", "this run", "reproduced")


def _judge_findings(
    score: Mapping[tuple[str, str, int], float],
    found: Mapping[tuple[str, str, int], float],
    full: float,
    budgets: Sequence[int],
    pool_size: int,
    rare: Sequence[str],
    rare_total: int,
) -> list[tuple[str, str, str, bool]]:
    """The paper's findings checked on one set of numbers.

    ``score[(strategy, start, n)]``: mean test cmAP in percent; ``found[...]``: mean labelled
    clips of the ``rare`` classes; ``full``: the fully annotated test cmAP. Returns
    ``(finding, criterion, value, bool)`` rows.
    """
    label = STRATEGY_LABELS
    second, last = budgets[1], budgets[-1]

    def at(start: str, n: int, names: Sequence[str], table: Mapping = score, fmt: str = ".0f") -> str:
        present = sorted((s for s in names if (s, start, n) in table), key=lambda s: -table[(s, start, n)])
        return ", ".join(f"{label[s]} {table[(s, start, n)]:{fmt}}" for s in present)

    def get(table: Mapping, s: str, start: str, n: int) -> float:
        return table.get((s, start, n), np.nan)

    rows = []
    ft, mfft = get(score, "ft", "cold", second), get(score, "mfft", "cold", second)
    rs, mp = get(score, "random", "cold", second), get(score, "mp", "cold", second)
    rows.append((
        "Cold start, {second} labels: diversity (FT, MFFT) far above RS and MP",
        "FT and MFFT each >= RS + 10 and >= MP + 10 points",
        f"{at('cold', second, ['ft', 'mfft'])} vs {at('cold', second, ['random', 'mp'])}",
        bool(min(ft, mfft) >= max(rs, mp) + 10),
    ))
    cold = {s: get(score, s, "cold", last) for s in TABLE_ORDER}
    rows.append((
        "Cold start, {last} labels: MFFT best, far above RS",
        "MFFT >= RS + 10, and the best cold strategy or within 2 points of it",
        at("cold", last, TABLE_ORDER),
        bool(cold["mfft"] >= cold["random"] + 10 and cold["mfft"] >= max(cold.values()) - 2),
    ))
    rows.append((
        "Warm start, {last} labels: MFFT above RS",
        "MFFT >= RS + 2 points",
        at("warm", last, TABLE_ORDER),
        bool(get(score, "mfft", "warm", last) >= get(score, "random", "warm", last) + 2),
    ))
    n_found = {s: get(found, s, "cold", last) for s in TABLE_ORDER}
    rows.append((
        "Cold start, {last} labels: the rare classes are found",
        f"FT and MFFT each find >= 2x and >= 3 more clips of the two rarest classes ({' and '.join(rare)}) "
        "than RS and than MP",
        f"{at('cold', last, ['ft', 'mfft'], found, '.1f')} vs {at('cold', last, ['random', 'mp'], found, '.1f')} "
        f"(of {rare_total})",
        _rare_classes_found(n_found),
    ))
    mfft_cold, mfft_warm = get(score, "mfft", "cold", last), get(score, "mfft", "warm", last)
    rows.append((
        "Fully annotated pool, and MFFT close to it",
        "full >= 65 %; MFFT at the largest budget, cold and warm, within 10 points of full",
        f"full {full:.0f}; MFFT cold {mfft_cold:.0f}, warm {mfft_warm:.0f}",
        bool(full >= 65 and min(mfft_cold, mfft_warm) >= full - 10),
    ))
    steps = np.diff([0, *budgets])
    rows.append((
        "Label efficiency",
        "the largest budget <= 10 % of the AL pool, in ten equal steps",
        f"{last} of {pool_size:,} clips ({100 * last / pool_size:.1f} %), {len(budgets)} steps of {steps[0]}",
        bool(last <= 0.1 * pool_size and len(budgets) == 10 and (steps == steps[0]).all()),
    ))
    return rows


def _rare_classes_found(n_found: Mapping[str, float]) -> bool:
    """The rare-classes finding's rule on clips found per strategy: FT and MFFT each find at least
    twice, and at least 3 more than, the larger of RS's and MP's counts."""
    others = max(n_found["random"], n_found["mp"])
    return bool(all(n_found[s] >= max(2 * others, others + 3) for s in ("ft", "mfft")))


def _rarest(totals: pd.Series, k: int = 2) -> list[str]:
    return list(totals.index[rarest_classes(totals.to_numpy(), k)])


def paper_pool() -> tuple[pd.Series, int]:
    """The paper's AL train pool as :func:`pool_totals` gives a run's: ``(positive clips per class
    [7], number of clips)``."""
    return pd.Series(PAPER_POOL_TOTALS, dtype=np.int64), PAPER_POOL_SIZE


def _paper_findings_rows() -> list[tuple[str, str, str, bool, int, int]]:
    """The findings judged on the paper's own numbers, with its second and last budget."""
    paper = paper_tidy()
    p_score = {(r.strategy, r.start, r.n_labelled): r.mean for r in paper[paper.metric == "test_cmap"].itertuples()}
    p_totals, p_pool = paper_pool()
    p_rare = _rarest(p_totals)
    p_found_rows = paper[paper.metric.isin([f"count_{c}" for c in p_rare])]
    p_found = p_found_rows.groupby(["strategy", "start", "n_labelled"])["mean"].sum().to_dict()
    p_full = float(paper_full_supervision().set_index("metric").loc["test_cmap", "mean"])
    p_budgets = sorted(int(n) for n in paper.n_labelled.unique())
    rows = _judge_findings(p_score, p_found, p_full, p_budgets, p_pool, p_rare, int(p_totals[p_rare].sum()))
    return [(*row, p_budgets[1], p_budgets[-1]) for row in rows]


def paper_findings(tidy: pd.DataFrame, totals: pd.Series, pool_size: int) -> pd.DataFrame:
    """The paper's qualitative findings, each checked on the paper's numbers and on this run's.

    ``tidy``: :func:`tidy_table` with AL runs of the four strategies, cold and warm, and a
    full-supervision run; ``totals``/``pool_size``: :func:`pool_totals`. Each row holds the
    finding, its criterion, the paper's values, this run's (means over seeds, test cmAP in
    percent, rare clips over the two rarest AL classes of each pool) and whether this run
    meets the criterion. Columns :data:`FINDINGS_COLUMNS`. Records without every strategy and
    start or without a full run (a partial sweep) give the paper's column and "not judged".
    """
    summary = curve_summary(tidy, "test_ap")
    full_rows = summary[summary.strategy == "full"]
    al = summary[summary.strategy != "full"]
    missing = {(s, start) for s in TABLE_ORDER for start in ("cold", "warm")} - set(zip(al.strategy, al.start, strict=True))
    budgets = sorted(int(n) for n in al.n_labelled.unique())
    problem = ""
    if full_rows.empty:
        problem = "no full-supervision run in these records"
    elif missing:
        problem = "these records lack " + ", ".join(f"{s} {start}" for s, start in sorted(missing))
    elif len(budgets) < 2:
        problem = f"these records have fewer than two budgets ({budgets})"
    paper_rows = _paper_findings_rows()
    if problem:  # a partial sweep: the paper's column, and why this run cannot be judged
        return pd.DataFrame([(t[0].format(second=t[4], last=t[5]), t[1], t[2], f"not judged: {problem}", False)
                             for t in paper_rows], columns=list(FINDINGS_COLUMNS))
    score = {(r.strategy, r.start, int(r.n_labelled)): float(r.mean) for r in al.itertuples()}
    rare = _rarest(totals)
    counts = tidy[(tidy.metric == "count") & tidy["class"].isin(rare) & (tidy.strategy != "full")]
    per_run = counts.groupby(["strategy", "start", "seed", "n_labelled"])["value"].sum()
    found = {(s, start, int(n)): float(v) for (s, start, n), v in per_run.groupby(
        ["strategy", "start", "n_labelled"]).mean().items()}
    ours = _judge_findings(score, found, float(full_rows["mean"].iloc[-1]), budgets, pool_size, rare,
                           int(totals[rare].sum()))

    theirs = [t[:4] for t in paper_rows]
    p_budgets = [paper_rows[0][4], paper_rows[0][5]]

    def budget(n: int, paper_n: int) -> str:
        return str(n) if n == paper_n else f"{n} (the paper: {paper_n})"

    names = {"second": budget(budgets[1], p_budgets[0]), "last": budget(budgets[-1], p_budgets[1])}
    rows = [(o[0].format(**names), o[1], t[2], o[2], o[3]) for o, t in zip(ours, theirs, strict=True)]
    return pd.DataFrame(rows, columns=list(FINDINGS_COLUMNS))


def findings_summary(findings: pd.DataFrame, tidy: pd.DataFrame) -> str:
    """One Markdown sentence: how many of :func:`paper_findings`' rows this run reproduces, over which seeds."""
    seeds = sorted(int(s) for s in tidy.loc[tidy.strategy != FULL, "seed"].unique())
    missed = findings.loc[~findings.reproduced.astype(bool), "finding"].tolist()
    text = (f"This run ({len(seeds)} seed{'s' if len(seeds) != 1 else ''}: {', '.join(map(str, seeds))}) "
            f"reproduces **{int(findings.reproduced.sum())} of {len(findings)}** findings.")
    return text + ("" if not missed else " Missed: " + "; ".join(missed) + ".")


def rare_finds(
    results_dir: str | os.PathLike, data_root: str | os.PathLike, start: str = "cold", k: int = 2
) -> pd.DataFrame:
    """When and why each run labelled the ``k`` rarest AL classes' clips.

    Reads every AL run of ``start`` under ``results_dir`` and the pool's clip tags from
    ``DATA_ROOT/embeddings/train.h5``. One row per run and round: ``strategy``, ``seed``,
    ``round``, ``n_labelled``, ``found`` (rare clips labelled in that round), ``mismatched``
    (those among them whose recorded mismatch level was >= 1, i.e. the classifier's tags
    disagreed with the nearest labelled clip's) and ``no_level`` (picks without a level: the
    start-up round), and ``from_rare_recordings`` (the round's picks, rare or not, from the
    recordings that hold the rare clips: each recording carries one class, so these are the
    rare classes' recordings). ``attrs`` hold ``pool_size``, ``rare_clips``,
    ``rare_recording_clips`` and ``rare_recordings``. A pick index outside the pool is an
    error naming the run's folder.
    """
    path = split_file(embeddings_dir(data_root), "train")
    if not path.is_file():
        raise FileNotFoundError(f"no train embeddings at {path}: the pool's labels are needed for the rare clips")
    pool = read_split(path, meta_only=True)
    tags = pool.clip_labels()
    totals = pd.Series(tags.sum(axis=0), index=pool.class_names)
    rare_columns = [pool.class_names.index(c) for c in _rarest(totals, k)]
    is_rare = tags[:, rare_columns].any(axis=1)
    recording = np.asarray(pool.recording).astype(str)
    rare_recordings = sorted(set(recording[is_rare].tolist()))
    in_rare_recording = np.isin(recording, rare_recordings)
    rows = []
    for folder in records.run_folders(results_dir):
        run = records.load_run(folder)
        if run.strategy == FULL or run.start != start:
            continue
        for r in run.rounds:
            picks = np.asarray(r.selected, dtype=np.int64)
            if len(picks) and (picks.min() < 0 or picks.max() >= len(is_rare)):
                raise ValueError(f"{folder}: round {r.round} selects clips outside the pool of {len(is_rare)} "
                                 f"clips in {path}; the run was made on another pool")
            level = np.array([-1 if m is None else m for m in r.selected_mismatch], dtype=np.int64)
            hit = is_rare[picks]
            rows.append((run.strategy, run.seed, r.round, r.n_labelled, int(hit.sum()),
                         int((hit & (level >= 1)).sum()), int((hit & (level < 0)).sum()),
                         int(in_rare_recording[picks].sum())))
    columns = ["strategy", "seed", "round", "n_labelled", "found", "mismatched", "no_level", "from_rare_recordings"]
    if not rows:
        raise ValueError(f"{results_dir}: no {start}-start AL runs")
    finds = pd.DataFrame(rows, columns=columns)
    finds.attrs.update(pool_size=int(len(is_rare)), rare_clips=int(is_rare.sum()),
                       rare_recording_clips=int(in_rare_recording.sum()), rare_recordings=rare_recordings)
    return finds


def _strategies_across(cells: pd.DataFrame, index_name: str = "annotations") -> pd.DataFrame:
    """Strategy columns in Table I's order, under their labels; the index named ``index_name``."""
    order = [s for s in TABLE_ORDER if s in cells.columns] + sorted(set(cells.columns) - set(TABLE_ORDER))
    cells = cells[order]
    cells.columns = [STRATEGY_LABELS.get(s, s) for s in order]
    cells.index.name = index_name
    return cells


def rare_finds_table(finds: pd.DataFrame) -> pd.DataFrame:
    """:func:`rare_finds` as a table: budgets down, strategies across (Table I's order); each
    cell "found (mismatched)", means over seeds of the rare clips a round added."""
    means = finds.groupby(["n_labelled", "strategy"])[["found", "mismatched"]].mean()
    cells = means.apply(lambda r: f"{r.found:.1f} ({r.mismatched:.1f})", axis=1).unstack("strategy")
    return _strategies_across(cells)


def rare_recordings_table(finds: pd.DataFrame) -> pd.DataFrame:
    """Where each strategy looked for the rare calls, from :func:`rare_finds`.

    Budgets down, strategies across. Each cell, means over seeds of the clips labelled so
    far: "clips from the rare classes' recordings (x their share of the pool, % of them
    rare calls)". Visiting those recordings more often than their share is what diversity
    does; the percentage says whether the picks inside them were the calls.
    """
    for key in ("pool_size", "rare_recording_clips"):
        if key not in finds.attrs:
            raise KeyError(f"finds.attrs has no {key!r}: pass the table rare_finds returned")
    if not finds.attrs["rare_recording_clips"]:
        raise ValueError("the pool has no rare clips, so no rare classes' recordings")
    share = finds.attrs["rare_recording_clips"] / finds.attrs["pool_size"]
    runs = finds.sort_values("n_labelled").groupby(["strategy", "seed"], sort=False)
    cumulative = finds.assign(
        visits=runs.from_rare_recordings.cumsum(), rare=runs.found.cumsum()
    ).groupby(["n_labelled", "strategy"])[["visits", "rare"]].mean()

    def cell(row: pd.Series) -> str:
        n = row.name[0]
        percent = f"{100 * row.rare / row.visits:.0f} %" if row.visits else "-"
        return f"{row.visits:.1f} ({row.visits / n / share:.1f}x, {percent})"

    cells = cumulative.apply(cell, axis=1).unstack("strategy")
    return _strategies_across(cells)


def class_enrichment(
    tidy: pd.DataFrame, totals: pd.Series, pool_size: int, start: str = "cold", n_labelled: int | None = None
) -> pd.DataFrame:
    """Which classes each strategy sought out: labelled clips over random sampling's expectation.

    For the ``start`` runs at ``n_labelled`` (default: their largest budget), the mean over
    seeds of each class's labelled positive clips, and of the ``"Negative"`` rest, divided
    by ``n_labelled x total / pool_size``, what uniform random picks hold on average
    (``totals``: positive clips per class in the pool, as :func:`pool_totals` gives them;
    the negatives' total is ``pool_size - totals.sum()``, the paper's convention). 1 is
    random sampling's share, above 1 the strategy sought the class out, below 1 it passed
    it by. Classes down (``totals``' order, then ``"Negative"``), strategies across in Table
    I's order; a class with no clip in the pool is NaN. ``attrs["n_labelled"]`` is the budget.
    """
    al = tidy[(tidy.strategy != FULL) & (tidy.start == start)]
    if al.empty:
        raise ValueError(f"no {start}-start AL runs in the table (starts: {sorted(set(tidy.start))})")
    n = int(al.n_labelled.max()) if n_labelled is None else int(n_labelled)
    at = al[al.n_labelled == n]
    if at.empty:
        raise ValueError(f"no {start}-start round ends at {n} labels (budgets: {sorted(set(al.n_labelled.tolist()))})")
    if pool_size < n:
        raise ValueError(f"pool_size {pool_size} is smaller than the {n} labelled clips")
    per_class = at[(at.metric == "count") & (at["class"] != "all")]
    unknown = sorted(set(per_class["class"]) - set(totals.index))
    if unknown:
        raise KeyError(f"classes {unknown} of the runs have no pool total (totals: {list(totals.index)})")
    counts = per_class.groupby(["class", "strategy"]).value.mean().unstack("strategy")
    counts = counts.reindex(list(totals.index))
    negative = at[(at.metric == "negative") & (at["class"] == "all")].groupby("strategy").value.mean()
    if len(negative):
        counts.loc["Negative"] = negative
    pool = pd.concat([totals.astype(float), pd.Series({"Negative": float(pool_size - totals.sum())})])
    expected = pool.reindex(counts.index) * n / pool_size
    ratio = _strategies_across(counts.div(expected.where(expected > 0), axis=0), index_name="class")
    ratio.columns.name = None
    ratio.attrs["n_labelled"] = n
    return ratio


def paper_class_enrichment(start: str = "cold", n_labelled: int | None = None) -> pd.DataFrame:
    """:func:`class_enrichment` of the paper's published counts in its pool (:func:`paper_pool`),
    at ``n_labelled`` (default: its largest budget)."""
    totals, pool_size = paper_pool()
    paper = paper_tidy().rename(columns={"mean": "value"})
    counts = paper[paper.metric.str.startswith("count_")]
    counts = counts.assign(**{"class": counts.metric.str[len("count_"):], "metric": "count"})
    negative = paper[paper.metric == "negative"].assign(**{"class": "all"})
    return class_enrichment(pd.concat([counts, negative]), totals, pool_size, start=start, n_labelled=n_labelled)


def paper_rates_on_pool(totals: pd.Series, pool_size: int, n_labelled: int, start: str = "cold") -> pd.DataFrame:
    """The rare clips the paper's strategies would label in this pool if their published rates carried over.

    For the two rarest classes of ``totals`` (those the findings count), each strategy's ratio in
    :func:`paper_class_enrichment` (the paper's ``start`` runs at its largest budget) times random
    sampling's expectation here, ``n_labelled x total / pool_size``, capped at the class's clips:
    no class can be labelled at more than ``pool_size / n_labelled`` times its share. A yardstick
    for a pool whose budget is another share of it than the paper's, not a prediction. Classes
    down, then ``"rare classes"`` (their sum); strategies across (Table I's order), then ``"in the
    pool"``. ``attrs``: ``n_labelled``, ``cap`` (``pool_size / n_labelled``), ``paper_cap`` and
    ``criterion_met`` (the rare-classes finding's rule on the sums).
    """
    if not 0 < n_labelled <= pool_size:
        raise ValueError(f"n_labelled must be between 1 and the pool's {pool_size} clips, not {n_labelled}")
    rare = _rarest(totals)
    ratio = paper_class_enrichment(start)
    unknown = [c for c in rare if c not in ratio.index]
    if unknown:
        raise KeyError(f"the paper publishes no rates for {unknown} (its classes: {list(PAPER_CLASSES)})")
    clips = totals[rare].astype(float)
    expected = ratio.loc[rare].mul(clips * n_labelled / pool_size, axis=0)
    table = expected.clip(upper=clips, axis=0)
    table.loc["rare classes"] = table.sum()
    table["in the pool"] = [*clips, clips.sum()]
    table.attrs.update(n_labelled=int(n_labelled), cap=pool_size / n_labelled,
                       paper_cap=PAPER_POOL_SIZE / ratio.attrs["n_labelled"],
                       criterion_met=_rare_classes_found(
                           {s: table.loc["rare classes", STRATEGY_LABELS[s]] for s in TABLE_ORDER}))
    return table


def enrichment_beside_paper(ours: pd.DataFrame, theirs: pd.DataFrame) -> pd.DataFrame:
    """:func:`class_enrichment` of this run beside the paper's (:func:`paper_class_enrichment`),
    each under a column level naming its budget; ratios to two decimals."""
    return pd.concat({f"paper, {theirs.attrs['n_labelled']} labels": theirs,
                      f"this run, {ours.attrs['n_labelled']} labels": ours}, axis=1).round(2)


def describe_yardstick(yardstick: pd.DataFrame) -> str:
    """One Markdown sentence on :func:`paper_rates_on_pool`: the cap on a class's ratio at this
    budget (and the paper's), and whether the paper's rates would meet the rare-classes finding."""
    a = yardstick.attrs
    return (f"At {a['n_labelled']} labels a class can be labelled at most {a['cap']:.1f} times its share "
            f"of this pool ({a['paper_cap']:.1f} in the paper). At the paper's rates the rare-classes "
            f"finding would {'' if a['criterion_met'] else 'not '}be met here.")


def seeds_per_cell(tidy: pd.DataFrame) -> pd.DataFrame:
    """How many seeds each (strategy, start) of a tidy table holds: ``strategy, start, seeds``."""
    return tidy.groupby(["strategy", "start"]).seed.nunique().rename("seeds").reset_index()


# --------------------------------------------------------------------------- files


def write_al_results(layout: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write a paper-layout table (:func:`paper_layout`, 43 columns) to ``path`` as the
    authors' ``al_results.csv``, atomically; return the path."""
    path = Path(path)
    with atomic_path(path) as tmp:
        layout.to_csv(tmp, index=False)
    return path


def write_results(
    results_dir: str | os.PathLike, data_root: str | os.PathLike | None = None, progress: bool = True
) -> dict[str, Path]:
    """Write ``tidy.parquet``, ``al_results.csv`` (paper layout), ``table_one.csv`` and, when the
    records have event scores, ``event_results.csv`` (:func:`event_layout`) into ``RESULTS_DIR``,
    atomically; return their paths by name (``event_results`` only when written)."""
    results_dir = resolve_path(results_dir)
    tidy = tidy_table(results_dir, progress=progress)
    totals, pool_size = pool_totals(tidy, results_dir=results_dir, data_root=data_root)
    paths = {
        "tidy": results_dir / "tidy.parquet",
        "al_results": results_dir / "al_results.csv",
        "table_one": results_dir / "table_one.csv",
    }
    with atomic_path(paths["tidy"]) as tmp:
        tidy.to_parquet(tmp, index=False)
    write_al_results(paper_layout(tidy, totals, pool_size), paths["al_results"])
    with atomic_path(paths["table_one"]) as tmp:
        table_one(tidy).to_csv(tmp)
    if tidy.metric.isin(list(EVENT_SCORES)).any():
        paths["event_results"] = results_dir / "event_results.csv"
        with atomic_path(paths["event_results"]) as tmp:
            event_layout(tidy).to_csv(tmp, index=False)
    return paths
