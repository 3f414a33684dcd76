"""Strategy registry (private): ``register``, ``STRATEGIES``, ``get_strategy``."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

STRATEGIES: dict[str, Strategy] = {}


@dataclasses.dataclass(frozen=True)
class Strategy:
    """A registered selection strategy.

    ``fn(space, labeled_mask, k, rng, clip_labels, clip_pred, init) -> ndarray[int]`` picks
    ``k`` unlabelled clips. ``needs_classifier``: later rounds need ``clip_labels`` and
    ``clip_pred``. ``random_init`` / ``random_later``: whether picks depend on ``rng`` in the
    init phase / later rounds (used by the conformance tests).
    """

    name: str
    fn: Callable[..., np.ndarray]
    needs_classifier: bool
    random_init: bool
    random_later: bool
    description: str


def register(
    name: str, *, needs_classifier: bool = False, random_init: bool = False, random_later: bool = False
) -> Callable[[Callable[..., np.ndarray]], Callable[..., np.ndarray]]:
    """Decorator adding a strategy function to :data:`STRATEGIES` under ``name``."""

    def decorate(fn: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
        if name in STRATEGIES and STRATEGIES[name].fn is not fn:
            raise ValueError(f"a strategy named {name!r} is already registered")
        doc = (fn.__doc__ or "").strip().splitlines()
        STRATEGIES[name] = Strategy(name, fn, needs_classifier, random_init, random_later, doc[0] if doc else "")
        return fn

    return decorate


def get_strategy(name: str) -> Strategy:
    """The registered strategy ``name``; unknown names list the known ones."""
    try:
        return STRATEGIES[name]
    except KeyError:
        raise KeyError(f"unknown strategy {name!r} (registered: {sorted(STRATEGIES)})") from None
