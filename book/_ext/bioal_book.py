"""Sphinx glue for the bioal book (loaded through ``_config.yml`` ``local_extensions``).

* Stops the build with a clear message when the offline assets (MathJax, the widget
  manager) have not been fetched: ``make book-assets``.
* Titles each per-run notebook ``_executed/runs/05_experiments-<run>`` by its run
  (``MFFT, cold start, seed 0``), so the sidebar and the figures chapter's links tell the
  runs apart although they all come from one notebook.
* Points the launch buttons (Binder, Colab) of executed pages at the committed source
  notebook in ``notebooks/``: the executed copies are build products, not in the repository.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.errors import ConfigError

from bioal.records import parse_run_name
from bioal.strategies import strategy_label

RUN_DOC = re.compile(r"^_executed/runs/(?P<notebook>\d\d_[a-z]+)-(?P<run>.+)$")
OFFLINE_ENTRY_POINTS = ("mathjax/tex-mml-chtml.js", "html-manager/embed.js")


def run_label(run: str) -> str:
    """Human title of a run folder name: ``mfft-warm-seed2`` -> ``MFFT, warm start, seed 2``."""
    info = parse_run_name(run)
    if info is None:
        return run
    if info["start"] == "full":
        return f"Full supervision, seed {info['seed']}"
    return f"{strategy_label(info['strategy'])}, {info['start']} start, seed {info['seed']}"


def source_notebook(docname: str) -> str | None:
    """The committed notebook an executed page came from (``notebooks/<name>``), else None."""
    match = RUN_DOC.match(docname)
    if match:
        return f"notebooks/{match['notebook']}"
    if docname.startswith("_executed/"):
        return "notebooks/" + docname.removeprefix("_executed/")
    return None


def check_offline_assets(app: Sphinx) -> None:
    if app.builder is None or app.builder.format != "html":
        return
    root = Path(app.srcdir)
    missing = [e for e in OFFLINE_ENTRY_POINTS if not (root / "_offline" / "site" / "_offline" / e).is_file()]
    if missing:
        raise ConfigError(
            f"offline book assets missing under {root / '_offline/site/_offline'}: {missing}; "
            "run `make book-assets` (fetches MathJax and the widget manager from npm)"
        )


def title_runs(app: Sphinx, doctree: nodes.document) -> None:
    docname = app.env.docname
    match = RUN_DOC.match(docname)
    if match is None:
        return
    label = run_label(match["run"])
    section = next(iter(doctree.findall(nodes.section)), None)
    if section is None or not section.children or not isinstance(section[0], nodes.title):
        return
    title = section[0]
    original = title.astext()
    title.children = [nodes.Text(f"{label}: {original}")]
    app.env.titles[docname] = nodes.title("", f"{label}: {original}")
    app.env.longtitles[docname] = nodes.title("", f"{label}: {original}")


def launch_from_sources(app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any) -> None:
    source = source_notebook(pagename)
    if source is None:
        return

    def fix(buttons: list[dict[str, Any]]) -> None:
        for button in buttons:
            if isinstance(button.get("url"), str):
                button["url"] = button["url"].replace(f"{pagename}.ipynb", f"{source}.ipynb")
            if isinstance(button.get("buttons"), list):
                fix(button["buttons"])

    fix(context.get("header_buttons", []))


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("builder-inited", check_offline_assets)
    app.connect("doctree-read", title_runs)
    # after sphinx-book-theme has made its launch buttons (priority 501)
    app.connect("html-page-context", launch_from_sources, priority=600)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
