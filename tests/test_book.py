"""The built book in a real browser, with the network cut off (issue 6).

Headless Chromium (Debian's ``chromium``, installed by ``make chromium``, a prerequisite of
``make test``) opens the built pages from disk (``file://``) with every host name resolving
to nothing and all traffic sent to a closed proxy port, runs their scripts, and we check the
DOM it dumps: Figure 1's image, Table I, a widget drawn from its saved state by the offline
widget manager, and MathJax-rendered math on the introduction. Screenshots are saved beside
the build (``_build/screenshots/``).

The demo book is built once per session: an existing ``_build/html`` is reused when it is
newer than every executed notebook and book source; otherwise the book is rebuilt from
``_executed/`` (running ``python -m bioal.pipeline --preset demo`` first if chapters are
missing). A stand-in book (small executed notebooks with the same kinds of output) checks
the configuration and offline assets independently of the pipeline.
"""

from __future__ import annotations

import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import helpers_book  # noqa: E402

ROOT = helpers_book.ROOT
HTML = ROOT / "_build" / "html"
SHOTS = ROOT / "_build" / "screenshots"
chromium = helpers_book.load_tool("headless_chromium")

# the first test builds the demo book (the whole pipeline, 20-30 min on 2 cores): more than the
# suite's default 30-minute timeout allows once other test files run beside it
pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.timeout(3600)]


def require_chromium() -> None:
    if chromium.find_chromium() is None:
        pytest.skip(
            "headless Chromium not found ($CHROMIUM, chromium, chromium-browser, google-chrome): "
            "run `make chromium` (apt-get install chromium) or `make test`, which does it first"
        )


def toc_docs() -> list[Path]:
    """Executed notebooks the table of contents names (the glob of runs included)."""
    import yaml

    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files: list[Path] = []

    def walk(entries):
        for entry in entries or []:
            if "file" in entry and entry["file"].startswith("_executed/"):
                files.append(ROOT / f"{entry['file']}.ipynb")
            if "glob" in entry:
                files.extend(sorted(ROOT.glob(f"{entry['glob']}.ipynb")))
            walk(entry.get("sections"))

    for part in toc.get("parts", []):
        walk(part.get("chapters"))
    return files


def book_sources() -> list[Path]:
    sources = [ROOT / "_config.yml", ROOT / "_toc.yml", ROOT / "references.bib", *ROOT.glob("book/**/*.*")]
    return sources + [p for p in toc_docs() if p.exists()]


def run(command: list[str]) -> None:
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{result.stdout[-6000:]}\n{result.stderr[-6000:]}")


@pytest.fixture(scope="session")
def demo_book() -> Path:
    """``_build/html`` of the demo book, built at most once per session."""
    require_chromium()
    python = sys.executable
    run([python, "tools/fetch_book_assets.py"])
    if not (ROOT / "_offline" / "figures" / "mfft_toy.png").is_file():
        run([python, "tools/book_figures.py"])
    if not all(p.is_file() for p in toc_docs()) or not list(ROOT.glob("_executed/runs/*.ipynb")):
        run([python, "-m", "bioal.pipeline", "--preset", "demo"])
    index = HTML / "_executed" / "06_figures.html"
    newest = max(p.stat().st_mtime for p in book_sources())
    if not index.is_file() or index.stat().st_mtime < newest:
        run([str(Path(python).with_name("jupyter-book")), "build", str(ROOT), "--warningiserror", "--keep-going"])
    return HTML


def page(book: Path, name: str, shot: str | None = None) -> str:
    url = (book / name).resolve().as_uri()
    if shot:
        path = chromium.screenshot(url, SHOTS / f"{shot}.png")
        assert path.stat().st_size > 20_000, f"screenshot of {name} looks blank ({path.stat().st_size} bytes)"
    return chromium.dump_dom(url)


class Sections(HTMLParser):
    """Collects, per <section id=...>, its img srcs, table count and text."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.images: dict[str, list[str]] = {}
        self.tables: dict[str, int] = {}
        self.text: dict[str, str] = {}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "section":
            self.stack.append(attrs.get("id", ""))
        for sid in self.stack:
            if tag == "img":
                self.images.setdefault(sid, []).append(attrs.get("src", ""))
            if tag == "table":
                self.tables[sid] = self.tables.get(sid, 0) + 1

    def handle_endtag(self, tag):
        if tag == "section" and self.stack:
            self.stack.pop()

    def handle_data(self, data):
        for sid in self.stack:
            self.text[sid] = self.text.get(sid, "") + data


def sections(dom: str) -> Sections:
    parser = Sections()
    parser.feed(dom)
    return parser


def assert_png(path: Path) -> None:
    import matplotlib.image as mpimg

    assert path.is_file(), f"image {path} is missing from the build"
    pixels = mpimg.imread(path)
    assert pixels.shape[0] > 100 and pixels.shape[1] > 100, f"{path} is tiny: {pixels.shape}"
    assert pixels.std() > 0.01, f"{path} is blank"


def assert_offline_assets(book: Path) -> None:
    offline = book / "_offline"
    assert (offline / "mathjax" / "tex-mml-chtml.js").is_file()
    assert (offline / "html-manager" / "embed.js").is_file()
    static = book / "_static"
    assert not list(static.rglob("tex-mml-chtml.js")) and not list(static.rglob("embed.js")), "assets leaked into _static/"
    for html in book.rglob("*.html"):
        text = html.read_text(encoding="utf-8")
        remote = re.findall(r'<(?:script|link)[^>]+(?:src|href)="(https?://[^"]+)"', text)
        remote = [u for u in remote if not re.search(r"<link[^>]+rel=\"(?:canonical|alternate)\"", u)]
        assert not remote, f"{html.relative_to(book)} loads remote resources: {remote[:3]}"


# --------------------------------------------------------------------------- the demo book


def test_offline_assets(demo_book):
    assert_offline_assets(demo_book)
    intro = (demo_book / "book" / "intro.html").read_text()
    # Sphinx may append a ?v=<digest> cache buster to local script URLs
    assert re.search(r'src="\.\./_static/\.\./_offline/mathjax/tex-mml-chtml\.js(\?[^"]*)?"', intro), "MathJax not served locally"
    figures = (demo_book / "_executed" / "06_figures.html").read_text()
    assert "../_static/../_offline/html-manager/embed.js" in figures
    assert "application/vnd.jupyter.widget-state+json" in figures


def test_math_rendered_on_intro(demo_book):
    raw = (demo_book / "book" / "intro.html").read_text()
    assert "mjx-container" not in raw
    dom = page(demo_book, "book/intro.html", shot="intro")
    assert dom.count("<mjx-container") >= 4, "MathJax did not typeset the introduction's math"
    assert "\\frac{x_i^\\top x_j}" not in re.sub(r"<mjx-assistive-mml.*?</mjx-assistive-mml>", "", dom, flags=re.S)
    parsed = sections(dom)
    figure = [src for src in parsed.images.get("the-idea-mismatch-first-then-farthest-traversal", []) if "_images" in src]
    assert figure, "the MFFT toy figure is missing from the introduction"
    assert_png((demo_book / "book" / figure[0]).resolve())


def test_figure_one_table_one_and_widgets(demo_book):
    raw = (demo_book / "_executed" / "06_figures.html").read_text()
    dom = page(demo_book, "_executed/06_figures.html", shot="06_figures")
    parsed = sections(dom)
    figure_one = [src for src in parsed.images.get("figure-1", []) if "_images" in src]
    assert figure_one, "no image in the Figure 1 section"
    assert_png((demo_book / "_executed" / figure_one[0]).resolve())
    assert parsed.tables.get("table-i", 0) >= 1, "no table in the Table I section"
    assert "±" in parsed.text["table-i"] or "(±" in parsed.text["table-i"]
    # widgets: nothing rendered in the static file, rendered DOM after the widget manager ran
    assert "jupyter-widgets" not in raw.replace("jupyter-widgets/", "")
    assert re.search(r'class="[^"]*\bjupyter-widgets\b', dom), "the widget manager rendered no widget"
    assert re.search(r'class="[^"]*\bwidget-(?:dropdown|slider|hslider|select|toggle-buttons|box|vbox|hbox)\b', dom)
    explorer = [src for src in parsed.images.get("selected-samples", []) if "_images" in src]
    assert explorer, "the selected-samples explorer's static figure is missing"


def test_runs_have_titles_and_launch_buttons_open_sources(demo_book):
    runs = sorted((demo_book / "_executed" / "runs").glob("05_experiments-*.html"))
    assert runs, "no per-run notebook pages"
    text = runs[0].read_text()
    assert re.search(r"<title>(MFFT|FT|MP|Random|Full supervision)[^<]*seed \d+", text)
    data = (demo_book / "_executed" / "01_data.html").read_text()
    assert "mybinder.org/v2/gh/bioal-project/bioal/main?urlpath=lab/tree/notebooks/01_data.ipynb" in data
    assert "_executed/01_data.ipynb" not in re.sub(r'href="[^"]*_sources[^"]*"', "", data)


def test_every_chapter_page_loads_offline(demo_book):
    for name in ("01_data", "02_encoder", "03_embeddings", "04_strategies"):
        dom = page(demo_book, f"_executed/{name}.html", shot=name)
        assert "<article" in dom and "<h1" in dom, f"{name} did not render"


# --------------------------------------------------------------------------- the stand-in book


def test_standin_book_renders_offline(tmp_path):
    """The configuration and offline assets on small stand-in notebooks (no pipeline needed)."""
    require_chromium()
    subprocess.run([sys.executable, "tools/fetch_book_assets.py"], cwd=ROOT, check=True, capture_output=True)
    root = helpers_book.standin_book(tmp_path)
    helpers_book.build_book(root)
    book = root / "_build" / "html"
    assert_offline_assets(book)
    dom = chromium.dump_dom((book / "_executed" / "06_figures.html").as_uri())
    parsed = sections(dom)
    assert any("_images" in s for s in parsed.images.get("figure-1", []))
    assert parsed.tables.get("table-i", 0) == 1
    assert re.search(r'class="[^"]*\bwidget-slider\b', dom)
    assert dom.count("<mjx-container") >= 1
    title = (book / "_executed" / "runs" / "05_experiments-mfft-cold-seed0.html").read_text()
    assert "<title>MFFT, cold start, seed 0: Experiments" in title
