"""Code cites the book's method page: every "method §x.y" / "method Qn" points at a section or quirk that exists."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
METHOD = ROOT / "book" / "method.md"
SOURCES = [p for d in ("bioal", "tests", "tools", "notebooks", "book") for p in (ROOT / d).rglob("*")
           if p.suffix in (".py", ".ipynb", ".md") and p.is_file()]


def method_sections() -> tuple[set[str], set[str]]:
    text = METHOD.read_text(encoding="utf-8")
    sections = set(re.findall(r"^#{2,3} (\d+(?:\.\d+)?)[. ]", text, flags=re.M))
    quirks = set(re.findall(r"^- \*\*(Q\d+)\*\*", text, flags=re.M))
    return sections, quirks


def test_the_method_page_is_in_the_book_and_numbered():
    assert "file: book/method" in (ROOT / "_toc.yml").read_text()
    sections, quirks = method_sections()
    assert {"1", "2", "3", "4", "5", "6", "7", "8", "4.3", "6.2"} <= sections
    assert quirks == {f"Q{i}" for i in range(1, 19)}


def test_every_method_citation_resolves():
    sections, quirks = method_sections()
    bad = []
    for path in SOURCES:
        text = path.read_text(encoding="utf-8")
        for match in re.finditer(r"method ((?:§\d+(?:\.\d+)?(?:-§\d+(?:\.\d+)?)?(?:, )?)+|Q\d+)", text):
            for ref in re.findall(r"§(\d+(?:\.\d+)?)|(Q\d+)", match.group(1)):
                section, quirk = ref
                if (section and section not in sections) or (quirk and quirk not in quirks):
                    bad.append(f"{path.relative_to(ROOT)}: {match.group(0)}")
        for match in re.finditer(r"\bSPEC (?:\d|Q\d|section)", text):
            bad.append(f"{path.relative_to(ROOT)}: old citation {match.group(0)!r}")
    assert not bad, "\n".join(bad)
