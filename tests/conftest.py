"""Test-session settings shared by every test module."""

from __future__ import annotations

import os

import matplotlib

# Figures in the test process render off-screen. The variable is not exported, so the
# notebook kernels that papermill starts keep their inline backend.
matplotlib.use("Agg")
os.environ.setdefault("NUMBA_CACHE_DIR", os.path.join(os.path.dirname(os.path.dirname(__file__)), ".numba_cache"))


def pytest_collection_modifyitems(config, items):
    """The browser tests (the demo book, built once: the longest file by far) run first.

    ``make test`` runs pytest-xdist with ``--dist loadfile``, which hands out test files in
    collection order; starting the book first lets the other files run beside it on the
    second worker instead of after it.
    """
    items.sort(key=lambda item: 0 if item.get_closest_marker("browser") else 1)
