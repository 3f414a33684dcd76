"""Test-session settings shared by every test module."""

from __future__ import annotations

import os

import matplotlib
import pytest

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


# --------------------------------------------------------------------------- a small collection
# (test_session.py and test_labeller.py)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A small collection of three recordings, built once per test module: ``(root, events)``."""
    from tests.helpers_session import build_small_collection

    root = tmp_path_factory.mktemp("session")
    return root, build_small_collection(root)


@pytest.fixture
def col(built, tmp_path):
    """A fresh copy of the built collection for one test (its own journal): ``(folder, events)``."""
    from tests.helpers_session import fresh_copy

    root, events = built
    return fresh_copy(root, tmp_path / "col"), events
