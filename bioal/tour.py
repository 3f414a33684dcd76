"""The strategies on a small pool, round by round (notebook 04's logic).

:func:`simulate` runs a strategy for a few rounds on ``[N, D]`` vectors from the loop's cold
start (:func:`bioal.experiment.start_clips`) with a light stand-in classifier (per-class
logistic regression on the normalised vectors, in place of the per-frame MLP) and records,
per round, the labelled set, the picks, every candidate's mismatch level and how many rare
clips are labelled; :func:`round_table` summarises one round across strategies;
:func:`dataset_tour` replays them on a dataset's clip embeddings. The figures are in
:mod:`bioal.plots.strategies` and the round slider in :mod:`bioal.widgets.strategy_stepper`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pandas as pd
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression

from bioal.config import PAPER_DATA_ROOT, Config, ConfigError
from bioal.experiment import start_clips
from bioal.strategies import CosineSpace, candidate_mismatch, get_strategy, rarest_classes, select, strategy_names
from bioal.utils import rng

__all__ = [
    "StrategyTourConfig",
    "ToyRound",
    "simulate",
    "simulate_all",
    "round_table",
    "DatasetTour",
    "dataset_tour",
    "project_2d",
]


@dataclasses.dataclass(frozen=True)
class StrategyTourConfig(Config):
    """Notebook 04's parameters."""

    data_root: str = PAPER_DATA_ROOT  # the toy sizes below are the chapter's, not the paper's
    seed: int = 0
    toy_size: int = 400
    toy_rounds: int = 6
    toy_batch: int = 10
    dataset_rounds: int = 5
    dataset_batch: int = 50

    def check(self) -> None:
        for name in ("toy_size", "toy_rounds", "toy_batch", "dataset_rounds", "dataset_batch"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name.upper()} must be >= 1, got {getattr(self, name)}")
        if self.seed < 0:
            raise ConfigError(f"SEED must be >= 0, got {self.seed}")


@dataclasses.dataclass
class ToyRound:
    """One round: ``labelled_before [N]`` bool, ``picks`` in order, ``levels [N]`` mismatch
    level of every unlabelled clip before the round (-1 labelled or no classifier yet),
    ``rare_found`` rare clips labelled after the round, ``init`` whether the init rule ran."""

    index: int
    labelled_before: np.ndarray
    picks: np.ndarray
    levels: np.ndarray
    rare_found: int
    init: bool


def _predict_tags(unit: np.ndarray, tags: np.ndarray, labelled: np.ndarray) -> np.ndarray:
    """Stand-in classifier: per-class logistic regression on the labelled clips, tags > 0.5.
    A class with no labelled positive (or no negative) is predicted constant."""
    pred = np.zeros(tags.shape, dtype=bool)
    x, y = unit[labelled], tags[labelled]
    for c in range(tags.shape[1]):
        if y[:, c].all() or not y[:, c].any():
            pred[:, c] = bool(y[:, c].all()) if len(y) else False
            continue
        model = LogisticRegression(C=10.0, class_weight="balanced", max_iter=500)
        model.fit(x, y[:, c])
        pred[:, c] = model.predict_proba(unit)[:, 1] > 0.5
    return pred


def simulate(
    x: np.ndarray, tags: np.ndarray, strategy: str, rounds: int = 6, k: int = 10, seed: int = 0, rare: int | None = None
) -> list[ToyRound]:
    """Run ``strategy`` for ``rounds`` rounds of ``k`` picks from a cold start (1 random clip
    + the init rule in round 0). ``tags [N, C]`` bool; ``rare``: the rare class column."""
    tags = np.asarray(tags, dtype=bool)
    n = len(x)
    if rounds * k > n:
        raise ValueError(f"{rounds} rounds of {k} need {rounds * k} clips, the pool has {n}")
    space = CosineSpace(x)
    unit = space.unit.numpy()
    labelled = np.zeros(n, dtype=bool)
    out = []
    needs = get_strategy(strategy).needs_classifier
    for r in range(rounds):
        before = labelled.copy()
        levels = np.full(n, -1, dtype=np.int64)
        if r == 0:  # the loop's cold start: one random clip, then the init rule
            first = start_clips("cold", tags, range(tags.shape[1]), 0, seed)
            tmp = labelled.copy()
            tmp[first] = True
            rest = select(strategy, embeddings=space, labeled=tmp, k=k - len(first), rng=rng(seed, "toy-select", 0),
                          init=True, explain=False)
            picks = np.concatenate([first, rest.indices])
        else:
            pred = _predict_tags(unit, tags, labelled)
            cand, lev = candidate_mismatch(space, labelled, tags, pred)
            levels[cand] = lev
            picks = select(
                strategy,
                embeddings=space,
                labeled=labelled,
                k=k,
                rng=rng(seed, "toy-select", r),
                clip_labels=tags,
                clip_pred=pred if needs else None,
                explain=False,
            ).indices
        labelled[picks] = True
        rare_found = int(tags[labelled, rare].sum()) if rare is not None else 0
        out.append(ToyRound(r, before, picks, levels, rare_found, r == 0))
    return out


def simulate_all(
    x: np.ndarray,
    tags: np.ndarray,
    strategies: tuple[str, ...] | None = None,
    rounds: int = 6,
    k: int = 10,
    seed: int = 0,
    rare: int | None = None,
) -> dict[str, list[ToyRound]]:
    """:func:`simulate` for each strategy (default: every registered one, in display order), same pool and seed."""
    return {s: simulate(x, tags, s, rounds, k, seed, rare) for s in (strategies or strategy_names())}


def round_table(runs: dict[str, list[ToyRound]], r: int) -> pd.DataFrame:
    """Per strategy after round ``r``: labelled clips, rare clips found, and how the round's
    picks split over mismatch levels (``-`` before a classifier exists)."""
    rows = []
    for name, rounds in runs.items():
        rd = rounds[r]
        lv = rd.levels[rd.picks]
        spread = "-" if (lv < 0).all() else ", ".join(f"{v}: {int((lv == v).sum())}" for v in np.unique(lv)[::-1])
        rows.append(
            {
                "strategy": name,
                "labelled": int(rd.labelled_before.sum()) + len(rd.picks),
                "rare found": rd.rare_found,
                "picks by mismatch level": spread,
            }
        )
    return pd.DataFrame(rows).set_index("strategy")


@dataclasses.dataclass
class DatasetTour:
    """The strategies replayed on a dataset's clip embeddings: 2-D projection ``xy [N, 2]``,
    ``runs`` per strategy, ``rare [N]`` bool (clips of the two rarest classes), their names."""

    xy: np.ndarray
    runs: dict[str, list[ToyRound]]
    rare: np.ndarray
    rare_classes: list[str]

    def describe(self) -> str:
        return f"{len(self.xy)} clips; rare classes: {self.rare_classes} ({int(self.rare.sum())} clips)"


def dataset_tour(train: Any, rounds: int, k: int, seed: int) -> DatasetTour:
    """Replay the four strategies on an ``EmbeddingSplit`` (clip vectors = max over frames),
    tracking the two rarest classes together as the "rare" column."""
    vectors, tags = train.clip_vectors().astype(np.float32), train.clip_labels()
    rarest = rarest_classes(tags.sum(axis=0))
    rare = tags[:, rarest].any(axis=1)
    runs = simulate_all(
        vectors, np.concatenate([tags, rare[:, None]], axis=1), rounds=rounds, k=k, seed=seed, rare=tags.shape[1]
    )
    return DatasetTour(project_2d(vectors), runs, rare, [train.class_names[c] for c in rarest])


def project_2d(x: np.ndarray) -> np.ndarray:
    """2-D PCA projection ``[N, 2]`` of ``[N, D]`` vectors (rows normalised first: the
    strategies only see directions)."""
    x = np.asarray(x, dtype=np.float64)
    unit = x / (np.linalg.norm(x, axis=1, keepdims=True) + np.finfo(np.float32).eps)
    if unit.shape[1] <= 2:
        return unit[:, :2]
    return PCA(n_components=2, svd_solver="full").fit_transform(unit)
