"""Step through AL rounds of the strategies on a small pool (notebook 04): a round slider
over :func:`bioal.plots.strategies.plot_round_grid` and :func:`bioal.tour.round_table`, a
thin view over :mod:`bioal.tour`, whose default state the book shows as a static figure.
"""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets
import numpy as np

from bioal.plots.strategies import plot_round_grid
from bioal.tour import ToyRound, round_table
from bioal.widgets import figure_output, rich_output, set_outputs

__all__ = ["strategy_stepper"]


def strategy_stepper(xy: np.ndarray, runs: dict[str, list[ToyRound]], rare_mask: np.ndarray | None = None) -> Any:
    """ipywidgets view: a round slider redrawing the four strategies' panels and the table."""
    n_rounds = len(next(iter(runs.values())))
    slider = widgets.IntSlider(value=0, min=0, max=n_rounds - 1, description="round", continuous_update=False)
    out = widgets.Output()

    def draw(change: Any = None) -> None:
        fig = plot_round_grid(xy, runs, slider.value, rare_mask=rare_mask)
        set_outputs(out, figure_output(fig), rich_output(round_table(runs, slider.value)))

    slider.observe(draw, names="value")
    draw()
    return widgets.VBox([slider, out])
