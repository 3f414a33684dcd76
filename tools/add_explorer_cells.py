"""Add the selected-samples explorer to notebooks/06_figures.ipynb (idempotent).

Fills the notebook's final "Selected samples" section with the live explorer and its static
default-state figure, adds the imports to the first code cell, and keeps the summary as the
last cell. Run once after editing; commit the notebook stripped of outputs.
"""

from __future__ import annotations

from pathlib import Path

import nbformat

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "06_figures.ipynb"
IMPORTS = "from bioal.plots import explorer as explorer_plots\nfrom bioal.widgets import explorer"
CELLS = (
    "explorer.selected_samples_explorer(config.results_dir, config.data_root)",
    "explorer_plots.default_figure(config.results_dir, config.data_root);",
)
NOTE = (
    "```{note}\nThe live explorer needs a running kernel (open the notebook in JupyterLab, `make lab`); the\n"
    "figure after it is its default state: MFFT from a cold start, the lowest seed, round 1 (the first\n"
    "round chosen by mismatch). Each title gives the clip's class and why it was picked: its mismatch\n"
    "level and its cosine distance to the labelled set before the round.\n```"
)


def main() -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    sources = [c.source for c in nb.cells]
    first_code = next(c for c in nb.cells if c.cell_type == "code")
    if IMPORTS not in first_code.source:
        first_code.source = first_code.source.rstrip() + "\n" + IMPORTS
    heading = next(i for i, c in enumerate(nb.cells) if c.cell_type == "markdown" and c.source.startswith("## Selected samples"))
    if CELLS[0] not in sources:
        new = [nbformat.v4.new_markdown_cell(NOTE)] + [nbformat.v4.new_code_cell(s) for s in CELLS]
        nb.cells[heading + 1 : heading + 1] = new
    summary = next((i for i, c in enumerate(nb.cells) if c.cell_type == "markdown" and c.source.startswith("## Summary")), None)
    if summary is not None and summary != len(nb.cells) - 1:
        nb.cells.append(nb.cells.pop(summary))
    nbformat.write(nb, NOTEBOOK)


if __name__ == "__main__":
    main()
