"""Figures, one module per pipeline stage (data, encoder, strategies, results, explorer)."""
