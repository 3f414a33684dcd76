# bioal: one-command set-up. `make test` and `make book` work from a fresh clone with
# Python 3.11 and the package registries; everything is pinned in requirements.lock.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PRESET ?= demo

export NUMBA_CACHE_DIR := $(CURDIR)/.numba_cache
export PYTHONHASHSEED := 0

.PHONY: help install test test-fast book book-assets pipeline reproduce lab chromium lint clean lock

help:
	@echo "make test       install everything and run the whole test suite"
	@echo "make book       run the notebooks on PRESET=$(PRESET) and build the book into _build/html"
	@echo "make reproduce  the papermill sweep (PRESET=paper on a GPU with the real data)"
	@echo "make lab        open the notebooks in JupyterLab"
	@echo "make book-assets  fetch the book's offline MathJax and widget manager (npm)"

install: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -c requirements.lock -e ".[dev,book,lab,cluster]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (bioal)" >/dev/null
	@touch $@

# Debian's Chromium for the browser tests (installed by the project, not by hand).
chromium:
	@command -v chromium >/dev/null || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null; }

# two pytest-xdist workers, one per core; whole files per worker, handed out in collection order
# (tests/conftest.py puts the demo book's file first, so the other files run beside its build)
test: lint chromium
	$(BIN)/python -m pytest -n 2 --dist loadfile --no-loadscope-reorder

test-fast: lint
	$(BIN)/python -m pytest -m "not slow and not browser"

pipeline: $(STAMP)
	$(BIN)/python -m bioal.pipeline --preset $(PRESET)

book: $(STAMP) book-assets
	$(BIN)/python -m bioal.pipeline --preset $(PRESET)
	$(BIN)/jupyter-book build . --warningiserror --keep-going

# The book's offline web assets (MathJax, the Jupyter widget manager) from the npm registry,
# pinned and checked, into the git-ignored _offline/ (served from _build/html/_offline/),
# and the book's own generated figures.
book-assets: $(STAMP)
	$(BIN)/python tools/fetch_book_assets.py
	$(BIN)/python tools/book_figures.py

reproduce: $(STAMP)
	$(BIN)/python -m bioal.sweep --preset $(PRESET)

# JupyterLab in the project's environment, on the chapter notebooks (kernel "python3" is
# this .venv, installed by `make install`); BIOAL_ROOT makes relative preset paths resolve
# against the project folder whatever the notebook's working directory.
lab: $(STAMP)
	BIOAL_ROOT=$(CURDIR) $(BIN)/jupyter lab --notebook-dir=notebooks $$( [ "$$(id -u)" = 0 ] && echo --allow-root )

lint: $(STAMP)
	$(BIN)/ruff check bioal tests notebooks benchmarks tools book/_ext

# Re-pin every package after changing pyproject.toml's dependencies.
lock: $(STAMP)
	$(BIN)/python -m pip freeze --exclude-editable --exclude bioal | sort -f > requirements.lock

clean:
	rm -rf _build _executed
