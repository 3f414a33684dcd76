"""Screenshots of the built book for the README, rendered by headless Chromium offline.

Takes the built Figure 1 page (``_build/html/_executed/06_figures.html``, from `make book`),
shows its Figure 1 section at the top and saves ``docs/figure1.png``, then writes a smaller
copy of the introduction page to ``docs/intro.png``. The pictures are generated from the
book, never edited by hand; run again after rebuilding the book.

    python tools/readme_screenshots.py [--book _build/html] [--out docs]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import headless_chromium  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

# name, page, anchor (section to scroll to), window
SHOTS = (
    ("figure1", "_executed/06_figures.html", "figure-1", (1280, 1100)),
    ("intro", "book/intro.html", "the-idea-mismatch-first-then-farthest-traversal", (1280, 1100)),
)


def anchored_copy(page: Path, anchor: str) -> Path:
    """A copy of ``page`` beside it that, once loaded, hides the article's content before the
    section ``anchor`` (the page title stays), so the section shows at the top of the first
    screen; Chromium's headless screenshots do not follow URL fragments or scrolling."""
    html = page.read_text(encoding="utf-8")
    script = (
        "<script>window.addEventListener('load',function(){"
        f"var e=document.getElementById('{anchor}');if(!e){{return;}}"
        "var top=e.closest('article')||document.body;"
        "for(var n=e;n&&n!==top;n=n.parentElement){"
        "for(var s=n.previousElementSibling;s;s=s.previousElementSibling){"
        "if(s.tagName!=='H1'){s.style.display='none';}}}});</script>"
    )
    if "</body>" not in html:
        raise ValueError(f"{page}: no </body> to add the script to")
    copy = page.with_name(f".{page.stem}.screenshot.html")
    copy.write_text(html.replace("</body>", script + "</body>"), encoding="utf-8")
    return copy


def take(book: Path, out: Path) -> list[Path]:
    written = []
    for name, rel, anchor, window in SHOTS:
        page = book / rel
        if not page.is_file():
            raise FileNotFoundError(f"{page} does not exist: build the book first (`make book`)")
        copy = anchored_copy(page, anchor)
        try:
            with tempfile.TemporaryDirectory() as tmp:
                shot = headless_chromium.screenshot(copy.as_uri(), Path(tmp) / f"{name}.png", window=window)
                out.mkdir(parents=True, exist_ok=True)
                target = out / f"{name}.png"
                shutil.move(shot, target)
        finally:
            copy.unlink(missing_ok=True)
        written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--book", type=Path, default=ROOT / "_build" / "html")
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    args = parser.parse_args(argv)
    for path in take(args.book, args.out):
        print(f"wrote {path} ({path.stat().st_size // 1024} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
