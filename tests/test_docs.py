"""The documentation holds together: every relative link in README.md, docs/**/*.md,
dev/README.md and dev/bench/README.md leads to a file of this repository, every ``#anchor`` to
a heading of its target (as GitHub makes heading ids), every reference page and screenshot is
reachable, and README.md stays one page (at most 250 lines)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from dev.harness.pack import ROOT

README_MAX_LINES = 250
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".webp", ".svg"}


def documents() -> list[Path]:
    """The Markdown files whose links are checked."""
    files = [ROOT / "README.md", ROOT / "dev" / "README.md", ROOT / "dev" / "bench" / "README.md"]
    files += sorted((ROOT / "docs").rglob("*.md"))
    return files


# ---------------------------------------------------------------- reading Markdown

FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
#: An inline code span: a run of backticks, then anything up to the same run.
CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1")
#: ``[text](target)`` and ``![alt](target)``; the target may be in <angle brackets> and may
#: carry a title. The text may hold one level of brackets.
INLINE_LINK = re.compile(
    r"""!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*(<[^>]*>|[^\s)]+)(?:\s+(?:"[^"]*"|'[^']*'|\([^)]*\)))?\s*\)"""
)
#: ``[label]: target`` (a reference definition).
REFERENCE = re.compile(r"^ {0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)")
#: ``src="..."`` and ``href="..."`` of HTML in the Markdown.
HTML_LINK = re.compile(r"""<(?:img|a|source)\b[^>]*?\b(?:src|href)\s*=\s*["']([^"']+)["']""", re.IGNORECASE)
#: An explicit anchor: ``<a id="x">`` or ``<a name="x">``.
HTML_ANCHOR = re.compile(r"""<a\b[^>]*?\b(?:id|name)\s*=\s*["']([^"']+)["']""", re.IGNORECASE)
ATX_HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)[ \t]*#*[ \t]*$")


def prose_lines(text: str) -> Iterator[tuple[int, str]]:
    """The lines outside fenced code blocks, with their 1-based numbers."""
    fence: str | None = None
    for number, line in enumerate(text.splitlines(), 1):
        opened = FENCE.match(line)
        if fence is None and opened:
            fence = opened.group(1)
        elif fence is not None:
            if line.strip().startswith(fence[0] * len(fence)) and not line.strip().strip(fence[0]):
                fence = None
        else:
            yield number, line


@dataclass(frozen=True)
class Link:
    source: Path
    line: int
    target: str

    def __str__(self) -> str:
        return f"{self.source.relative_to(ROOT)}:{self.line}: {self.target}"


def links(path: Path) -> Iterator[Link]:
    """Every link and image of a Markdown file, code blocks and code spans left out."""
    for number, line in prose_lines(path.read_text(encoding="utf-8")):
        if definition := REFERENCE.match(line):
            yield Link(path, number, definition.group(1).strip("<>"))
            continue
        prose = CODE_SPAN.sub("", line)
        for match in INLINE_LINK.finditer(prose):
            yield Link(path, number, match.group(1).strip("<>"))
        for match in HTML_LINK.finditer(prose):
            yield Link(path, number, match.group(1))


def github_slug(heading: str) -> str:
    """The id GitHub gives a heading (github-slugger): its text as rendered (no Markdown),
    lowercased; letters, digits, marks, ``_`` and ``-`` kept, spaces made ``-``, the rest
    dropped."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link or image: its text
    text = re.sub(r"<[^>]+>", "", text)  # inline HTML
    text = text.replace("`", "").replace("*", "")
    text = re.sub(r"(?<!\w)_+|_+(?!\w)", "", text)  # _emphasis_, not snake_case
    slug = []
    for char in text.lower():
        if char == " ":
            slug.append("-")
        elif char == "-" or unicodedata.category(char)[0] in "LNM" or unicodedata.category(char) == "Pc":
            slug.append(char)
    return "".join(slug)


def anchors(path: Path) -> set[str]:
    """The ids a Markdown file offers: its headings' slugs (a repeated one gets ``-1``,
    ``-2``…, as on GitHub) and explicit HTML anchors."""
    found: set[str] = set()
    seen: dict[str, int] = {}
    for _, line in prose_lines(path.read_text(encoding="utf-8")):
        found.update(match.group(1) for match in HTML_ANCHOR.finditer(line))
        heading = ATX_HEADING.match(line)
        if heading is None:
            continue
        slug = github_slug(heading.group(2))
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        found.add(slug if count == 0 else f"{slug}-{count}")
    return found


def resolve(link: Link) -> tuple[Path, str] | None:
    """The file and anchor a relative link points at; None for a link to elsewhere (a URL
    with a scheme or host, e.g. https: or mailto:)."""
    parts = urlsplit(link.target)
    if parts.scheme or parts.netloc:
        return None
    path = link.source if not parts.path else (link.source.parent / unquote(parts.path)).resolve()
    return path, unquote(parts.fragment)


# ---------------------------------------------------------------- the tests


def test_the_documents_exist() -> None:
    for path in documents()[:3]:
        assert path.is_file(), f"{path.relative_to(ROOT)} is missing"
    assert len(documents()) > 3, "docs/ has no reference pages"


@pytest.mark.parametrize("path", documents(), ids=lambda path: path.relative_to(ROOT).as_posix())
def test_every_relative_link_resolves(path: Path) -> None:
    broken: list[str] = []
    for link in links(path):
        resolved = resolve(link)
        if resolved is None:
            continue
        target, anchor = resolved
        if not target.is_relative_to(ROOT.resolve()):
            broken.append(f"{link}: leads out of the repository")
        elif not target.exists():
            broken.append(f"{link}: no such file")
        elif anchor:
            if target.suffix != ".md":
                broken.append(f"{link}: an anchor into a file that is not Markdown")
            elif anchor not in anchors(target):
                broken.append(f"{link}: no heading #{anchor} in {target.relative_to(ROOT)}")
    assert not broken, "broken links:\n" + "\n".join(broken)


def test_readme_is_one_page() -> None:
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines; at most {README_MAX_LINES}"


def linked_files() -> set[Path]:
    """Every file of the repository some checked document links to."""
    found: set[Path] = set()
    for path in documents():
        for link in links(path):
            resolved = resolve(link)
            if resolved is not None:
                found.add(resolved[0])
    return found


def test_every_reference_page_and_screenshot_is_linked() -> None:
    linked = linked_files()
    pages = [path.resolve() for path in (ROOT / "docs").rglob("*.md")]
    images = [path.resolve() for path in (ROOT / "docs").rglob("*") if path.suffix.lower() in IMAGE_SUFFIXES]
    orphans = sorted(str(path.relative_to(ROOT.resolve())) for path in [*pages, *images] if path not in linked)
    assert not orphans, f"not linked from any document: {orphans}"


# ---------------------------------------------------------------- the checker itself


@pytest.mark.parametrize(
    ("heading", "slug"),
    [
        ("Answer from your phone", "answer-from-your-phone"),
        ("From a terminal: `cli.py`", "from-a-terminal-clipy"),
        ('The memory of "last answer"', "the-memory-of-last-answer"),
        ("In ComfyUI's page", "in-comfyuis-page"),
        ("Pushes to a phone (from the server)", "pushes-to-a-phone-from-the-server"),
        ("`on_timeout` and modes", "on_timeout-and-modes"),
        ("What *is* [sent](x.md)", "what-is-sent"),
        ("Schritte & Größe", "schritte--größe"),
    ],
)
def test_github_slugs(heading: str, slug: str) -> None:
    assert github_slug(heading) == slug


def test_the_checker_finds_links_and_skips_code(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "# Title\n## Title\n"
        "[a](other.md#x) ![b](img.png 'no') `[not](a-link.md)` <img src=\"pic.png\" width=3>\n"
        "```\n[inside](code.md)\n```\n"
        "[ref]: <ref target.md>\n",
        encoding="utf-8",
    )
    assert [link.target for link in links(page)] == ["other.md#x", "img.png", "pic.png", "ref target.md"]
    assert anchors(page) == {"title", "title-1"}
