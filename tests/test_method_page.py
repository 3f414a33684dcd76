"""Code and docs cite the book's method page: every section or quirk a citation names exists.

A citation starts at "method §x.y" or "method Qn"; every § number and quirk number from there
to the end of its sentence, and every one on the same line, must be a heading or quirk of
book/method.md (so a second section named after "and" is checked as well as the first). The
method page's own cross-references are checked too.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
METHOD = ROOT / "book" / "method.md"
SOURCES = [
    *(p for d in ("bioal", "tests", "tools", "notebooks", "book") for p in (ROOT / d).rglob("*")
      if p.suffix in (".py", ".ipynb", ".md") and p.is_file()),
    ROOT / "README.md",
    ROOT / "DESIGN.md",
]

SECTION = re.compile(r"§(\d+(?:\.\d+)?)")
QUIRK = re.compile(r"\b(Q\d+)\b")
#: "method" then a section or quirk, across a line break inside a comment or docstring
CITATION = re.compile(r"\bmethod\s+(?:#\s*)?(?=§\d|Q\d)")
#: the end of a sentence: a full stop before a capital or a backtick, or a blank line
SENTENCE_END = re.compile(r"[.!?](?=\s+[A-Z`*])|\n\s*\n")


def method_sections() -> tuple[set[str], set[str]]:
    text = METHOD.read_text(encoding="utf-8")
    sections = set(re.findall(r"^#{2,3} (\d+(?:\.\d+)?)[. ]", text, flags=re.M))
    quirks = set(re.findall(r"^- \*\*(Q\d+)\*\*", text, flags=re.M))
    return sections, quirks


def source_text(path: Path) -> str:
    """A notebook's cell sources (not its JSON), any other file as it is."""
    if path.suffix == ".ipynb":
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        return "\n\n".join("".join(cell["source"]) for cell in cells)
    return path.read_text(encoding="utf-8")


def cited(text: str) -> list[tuple[str, str]]:
    """``(citation text, section or quirk)`` for every number a method citation in ``text`` names."""
    out = []
    for match in CITATION.finditer(text):
        end = SENTENCE_END.search(text, match.end())
        stop = end.start() if end else len(text)
        line_start = text.rfind("\n", 0, match.start()) + 1
        line_end = text.find("\n", match.end())
        line_end = len(text) if line_end < 0 else line_end
        spans = (text[match.start():stop], text[line_start:line_end])
        refs = {ref for span in spans for ref in (*SECTION.findall(span), *QUIRK.findall(span))}
        out += [(" ".join(spans[0].split())[:120], ref) for ref in sorted(refs)]
    return out


def unresolved(text: str, sections: set[str], quirks: set[str]) -> list[str]:
    return [f"{ref} in {quote!r}" for quote, ref in cited(text)
            if ref not in (quirks if ref.startswith("Q") else sections)]


def test_the_method_page_is_in_the_book_and_numbered():
    assert "file: book/method" in (ROOT / "_toc.yml").read_text()
    sections, quirks = method_sections()
    assert {"1", "2", "3", "4", "5", "6", "7", "8", "4.3", "6.2"} <= sections
    assert quirks == {f"Q{i}" for i in range(1, 19)}


def test_a_citation_is_checked_to_the_end_of_its_sentence():
    s = "\u00a7"  # not written out, so that this file holds no citation of a missing section
    sections, quirks = {"6", "6.6", "10.1", "10.2"}, {"Q1"}
    assert unresolved(f"described in method {s}10.1 (Raven) and {s}11.2 (Audacity).", sections, quirks) == [
        f"11.2 in 'method {s}10.1 (Raven) and {s}11.2 (Audacity).'"]
    assert unresolved(f"(method\n    {s}6.6), overall {s}7.", sections, quirks) != []
    assert unresolved(f"# the metric (method\n# {s}6.6 and Q2)", sections, quirks) == [
        f"Q2 in 'method # {s}6.6 and Q2)'"]
    assert unresolved(f"method {s}6.6.\nAnother sentence, {s}12 of a paper.", sections, quirks) == []
    assert unresolved(f"see {s}12 and method {s}6.6", sections, quirks) != []  # the same line
    assert unresolved(f"method {s}6.6; method Q1 and {s}6.", sections, quirks) == []


def test_every_method_citation_resolves():
    sections, quirks = method_sections()
    bad = []
    for path in SOURCES:
        text = source_text(path)
        bad += [f"{path.relative_to(ROOT)}: {item}" for item in unresolved(text, sections, quirks)]
        for match in re.finditer(r"\bSPEC (?:\d|Q\d|section)", text):
            bad.append(f"{path.relative_to(ROOT)}: old citation {match.group(0)!r}")
    own = METHOD.read_text(encoding="utf-8")
    bad += [f"book/method.md: §{ref}" for ref in SECTION.findall(own) if ref not in sections]
    assert not bad, "\n".join(bad)
