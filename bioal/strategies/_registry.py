"""Strategy registry (private): ``register``, ``STRATEGIES``, ``get_strategy`` and the
display facts every table, figure and widget asks for (label, title, paper name, order, colour).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from bioal.records import STRATEGY_NAME

if TYPE_CHECKING:
    from bioal.strategies._cosine import CosineSpace

STRATEGIES: dict[str, Strategy] = {}

#: The pseudo-strategy of full-supervision runs (every clip labelled, nothing selected).
FULL = "full"
_FULL_LABEL, _FULL_TITLE = "Full", "Full supervision"


@dataclasses.dataclass(frozen=True)
class Selection:
    """What one ``select`` call picked and why.

    ``indices [k]`` int64: the picks in pick order. Per pick, the score that chose it, NaN
    where the strategy did not use one: ``mismatch [k]`` float (the mismatch level against
    the current classifier, method §4.3) and ``distance [k]`` float (cosine distance, at the
    moment of the pick, to the labelled set plus the earlier picks of the call; NaN while
    that set is empty). ``len(selection)`` and ``np.asarray(selection)`` give the indices.
    """

    indices: np.ndarray
    mismatch: np.ndarray
    distance: np.ndarray

    def __post_init__(self) -> None:
        k = len(self.indices)
        for name in ("mismatch", "distance"):
            if len(getattr(self, name)) != k:
                raise ValueError(f"Selection.{name} has {len(getattr(self, name))} entries for {k} picks")

    @classmethod
    def of(cls, indices: Any, mismatch: Any = None, distance: Any = None) -> Selection:
        """A selection from indices and optional per-pick scores (missing ones are NaN)."""
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        nan = np.full(len(idx), np.nan)
        return cls(
            idx,
            nan.copy() if mismatch is None else np.asarray(mismatch, dtype=np.float64).reshape(-1),
            nan.copy() if distance is None else np.asarray(distance, dtype=np.float64).reshape(-1),
        )

    def __len__(self) -> int:
        return len(self.indices)

    def __iter__(self):
        return iter(self.indices)

    def __getitem__(self, item: Any) -> Any:
        return self.indices[item]

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return self.indices if dtype is None else self.indices.astype(dtype)

    def tolist(self) -> list[int]:
        return [int(i) for i in self.indices]


class StrategyFn(Protocol):
    """A strategy function: pick ``k`` clips not in ``labeled`` (a ``[N]`` bool mask).

    ``clip_labels [N, C]`` true tags (labelled rows read), ``clip_pred [n_unlabelled, C]``
    predicted tags of the unlabelled clips in ascending order (None before a classifier
    exists), ``init``: the start-up rule. Returns the indices ``[k]`` in pick order, or a
    :class:`Selection` when it knows the scores behind its picks.
    """

    def __call__(
        self,
        space: CosineSpace,
        labeled: np.ndarray,
        k: int,
        rng: np.random.Generator,
        clip_labels: np.ndarray | None = None,
        clip_pred: np.ndarray | None = None,
        init: bool = False,
    ) -> np.ndarray | Selection: ...


@dataclasses.dataclass(frozen=True)
class Strategy:
    """A registered selection strategy and how it is shown.

    ``fn``: a :class:`StrategyFn`. ``needs_classifier``: later rounds need ``clip_labels``
    and ``clip_pred``. ``random_init`` / ``random_later``: whether picks depend on ``rng``
    in the init phase / later rounds (used by the conformance tests). ``label``: the short
    name of tables and legends (``RS``); ``title``: the long one; ``paper_name``: the
    ``sampling_method`` value of the paper's results CSV; ``order``: position in tables and
    figures; ``colour``: its colour in every figure.
    """

    name: str
    fn: StrategyFn
    needs_classifier: bool
    random_init: bool
    random_later: bool
    description: str
    label: str = ""
    title: str = ""
    paper_name: str = ""
    order: int = 100
    colour: str = "#555555"


def register(
    name: str,
    *,
    needs_classifier: bool = False,
    random_init: bool = False,
    random_later: bool = False,
    label: str = "",
    title: str = "",
    paper_name: str = "",
    order: int = 100,
    colour: str = "#555555",
) -> Any:
    """Decorator adding a strategy function to :data:`STRATEGIES` under ``name``.

    ``name`` is the strategy part of its runs' folder names, so it must match
    :data:`bioal.records.STRATEGY_NAME` (lower-case letters, digits and ``_``).
    """

    def decorate(fn: StrategyFn) -> StrategyFn:
        if not isinstance(name, str) or not STRATEGY_NAME.match(name):
            raise ValueError(
                f"strategy name {name!r} is not allowed: run folders are named <strategy>-<cold|warm>-seed<n>, "
                f"so a name must match {STRATEGY_NAME.pattern!r} (lower-case letters, digits, '_'), e.g. 'my_ft'"
            )
        if name == FULL:
            raise ValueError(f"{FULL!r} is reserved for full-supervision runs")
        if name in STRATEGIES and STRATEGIES[name].fn is not fn:
            raise ValueError(f"a strategy named {name!r} is already registered")
        doc = (fn.__doc__ or "").strip().splitlines()
        STRATEGIES[name] = Strategy(
            name,
            fn,
            needs_classifier,
            random_init,
            random_later,
            doc[0] if doc else "",
            label=label or name.upper(),
            title=title or label or name,
            paper_name=paper_name or name,
            order=order,
            colour=colour,
        )
        return fn

    return decorate


def get_strategy(name: str) -> Strategy:
    """The registered strategy ``name``; unknown names list the known ones."""
    try:
        return STRATEGIES[name]
    except KeyError:
        raise KeyError(f"unknown strategy {name!r} (registered: {sorted(STRATEGIES)})") from None


def strategy_names() -> tuple[str, ...]:
    """Registered strategy names in display order (tables, legends, the sweep grid)."""
    return tuple(s.name for s in sorted(STRATEGIES.values(), key=lambda s: (s.order, s.name)))


def ordered(names: Iterable[str]) -> list[str]:
    """``names`` (distinct) in display order: registered strategies first, then ``full``, then others."""
    rank = {n: i for i, n in enumerate(strategy_names())}
    rank[FULL] = len(rank)
    return sorted(dict.fromkeys(names), key=lambda n: (rank.get(n, len(rank) + 1), n))


def strategy_label(name: str) -> str:
    """Short display name (``"random"`` -> ``"RS"``, ``"full"`` -> ``"Full"``); other names unchanged."""
    if name == FULL:
        return _FULL_LABEL
    return STRATEGIES[name].label if name in STRATEGIES else name


def strategy_title(name: str) -> str:
    """Long display name (``"ft"`` -> ``"Farthest-first"``); other names unchanged."""
    if name == FULL:
        return _FULL_TITLE
    return STRATEGIES[name].title if name in STRATEGIES else name


def strategy_colours() -> dict[str, str]:
    """``{name: colour}`` of the registered strategies, in display order."""
    return {n: STRATEGIES[n].colour for n in strategy_names()}


def paper_name(name: str) -> str:
    """The paper's ``sampling_method`` for a strategy (``"random"`` -> ``"rand"``)."""
    try:
        return STRATEGIES[name].paper_name
    except KeyError:
        raise KeyError(f"strategy {name!r} has no paper name (registered: {sorted(STRATEGIES)})") from None


def from_paper_name(method: str) -> str:
    """The strategy whose paper name is ``method`` (``"rand"`` -> ``"random"``)."""
    for s in STRATEGIES.values():
        if s.paper_name == method:
            return s.name
    raise KeyError(f"no strategy has the paper name {method!r} (known: {sorted(s.paper_name for s in STRATEGIES.values())})")
