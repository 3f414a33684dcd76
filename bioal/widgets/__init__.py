"""ipywidgets views, thin layers over pure functions in the stage modules. Each view has a
static-figure twin in ``bioal.plots`` that the book shows in place of the live widget."""
