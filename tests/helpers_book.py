"""Helpers for the book tests: headless Chromium (from tools/) and a small stand-in book.

The stand-in book uses the real ``_config.yml``, ``book/_ext``, ``references.bib`` and
offline assets, with small notebooks executed by nbclient (so widget state is saved the
same way the pipeline saves it): an image, a table, math and an ipywidgets widget. It
proves the configuration, the offline assets and the browser checks without the pipeline.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat

from bioal.notebooks import CHAPTERS

ROOT = Path(__file__).resolve().parents[1]


def load_tool(name: str):
    """Import ``tools/<name>.py`` as a module."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def count_images(path: Path) -> int:
    """PNG outputs in an executed notebook."""
    nb = nbformat.read(path, as_version=4)
    return sum("image/png" in out.get("data", {}) for c in nb.cells if c.cell_type == "code" for out in c.outputs)


def standin_notebook(path: Path, title: str) -> Path:
    """Write and execute a notebook with a figure, a table, math and a widget."""
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [
        nbformat.v4.new_markdown_cell(f"# {title}\n\nStand-in chapter with $d = 1 - \\cos\\theta$."),
        nbformat.v4.new_code_cell(
            "%matplotlib inline\nimport ipywidgets as widgets\n"
            "import matplotlib.pyplot as plt\nimport pandas as pd\nfrom IPython.display import display"
        ),
        nbformat.v4.new_markdown_cell("## Figure 1"),
        nbformat.v4.new_code_cell("fig, ax = plt.subplots(figsize=(4, 3))\nax.plot([50, 100], [0.3, 0.5])\nax.set_title('Figure 1')\nplt.show()"),
        nbformat.v4.new_markdown_cell("## Table I"),
        nbformat.v4.new_code_cell("pd.DataFrame({'MFFT cold': ['68(±3)'], 'MFFT warm': ['71(±2)']}, index=[500])"),
        nbformat.v4.new_code_cell("slider = widgets.IntSlider(value=3, min=0, max=9, description='round')\ndisplay(slider)"),
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    client = NotebookClient(nb, kernel_name="python3", timeout=120, resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    nbformat.write(nb, path)
    return path


def standin_book(root: Path) -> Path:
    """A stand-in book folder under ``root`` (real config, stand-in chapters); returns root."""
    for name in ("_config.yml", "references.bib"):
        shutil.copy(ROOT / name, root / name)
    shutil.copytree(ROOT / "book", root / "book", ignore=shutil.ignore_patterns("__pycache__", "api.md"))
    (root / "benchmarks").mkdir(exist_ok=True)
    results = ROOT / "benchmarks" / "RESULTS.md"
    (root / "benchmarks" / "RESULTS.md").write_text(
        results.read_text() if results.is_file() else "# Benchmarks\n\nStand-in: no measurements.\n"
    )
    (root / "_offline").mkdir(exist_ok=True)
    (root / "_offline" / "site").symlink_to(ROOT / "_offline" / "site")
    figures = root / "_offline" / "figures"
    figures.mkdir()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([0, 1], [0, 1])
    fig.savefig(figures / "mfft_toy.png")
    plt.close(fig)
    for name in (c for c in CHAPTERS if c != "05_experiments"):  # chapter 5 is one notebook per run
        standin_notebook(root / "_executed" / f"{name}.ipynb", f"Chapter {name}")
    standin_notebook(root / "_executed" / "runs" / "05_experiments-mfft-cold-seed0.ipynb", "Experiments")
    intro = root / "book" / "intro.md"
    intro.write_text("\n".join(line for line in intro.read_text().splitlines() if "{doc}`api`" not in line) + "\n")
    toc = (ROOT / "_toc.yml").read_text().replace("      - file: book/api\n", "")
    (root / "_toc.yml").write_text(toc)
    return root


def build_book(root: Path, log: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``jupyter-book build <root> --warningiserror --keep-going``; raises with the log on failure."""
    jb = Path(sys.executable).with_name("jupyter-book")
    result = subprocess.run(
        [str(jb), "build", str(root), "--warningiserror", "--keep-going"], capture_output=True, text=True
    )
    if log is not None:
        log.write_text(result.stdout + result.stderr)
    if result.returncode != 0:
        raise RuntimeError(f"jupyter-book build failed:\n{result.stdout[-6000:]}\n{result.stderr[-4000:]}")
    return result
