"""bioal: active learning for bioacoustic sound event detection.

A companion to Zhang & Virtanen, *Hybrid Disagreement-Diversity Active Learning for
Bioacoustic Sound Event Detection* (EUSIPCO 2025). Modules follow the pipeline:
data (``dcase``, ``data``, ``synth``), ``features``, ``encoder``, ``embeddings``,
``strategies``, ``classifier``, ``metrics``, ``experiment``, ``sweep``, ``results``,
``plots``, ``widgets``. Importing ``bioal`` is cheap; submodules load on use.
"""

__version__ = "0.1.0"
