"""Test-session settings shared by every test module."""

from __future__ import annotations

import os

import matplotlib

# Figures in the test process render off-screen. The variable is not exported, so the
# notebook kernels that papermill starts keep their inline backend.
matplotlib.use("Agg")
os.environ.setdefault("NUMBA_CACHE_DIR", os.path.join(os.path.dirname(os.path.dirname(__file__)), ".numba_cache"))
