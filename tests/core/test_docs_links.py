"""Every relative link in README.md and docs/*.md resolves: to a file of the repository, and to a
heading of it when the link names one (`api.md#options`, `#the-console`), by GitHub's rules."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

FENCE = re.compile(r"^\s*(```|~~~)")
CODE_SPAN = re.compile(r"`[^`]*`")
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)  # https:, mailto:, ...


def prose_lines(text: str) -> list[str]:
    """The lines outside fenced code blocks, with inline code spans removed."""
    out, fenced = [], False
    for line in text.splitlines():
        if FENCE.match(line):
            fenced = not fenced
            continue
        out.append("" if fenced else CODE_SPAN.sub("", line))
    return out


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: its text lower-cased, punctuation dropped, spaces -> '-'."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link counts as its text
    text = re.sub(r"[^\w\- ]", "", text.lower())
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    found: set[str] = set()
    seen: dict[str, int] = {}
    fenced = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if FENCE.match(line):
            fenced = not fenced
            continue
        match = None if fenced else HEADING.match(line)
        if match is None:
            continue
        base = slug(match.group(2))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def links(path: Path) -> list[tuple[int, str]]:
    text = path.read_text(encoding="utf-8")
    return [
        (number, target)
        for number, line in enumerate(prose_lines(text), start=1)
        for target in LINK.findall(line)
        if not EXTERNAL.match(target)
    ]


def broken_links(path: Path, root: Path = ROOT) -> list[str]:
    problems = []
    for number, target in links(path):
        where, _, anchor = target.partition("#")
        dest = (path.parent / where).resolve() if where else path
        name = f"{path.relative_to(root)}:{number}: {target}"
        if root not in dest.parents:
            problems.append(f"{name}: outside the repository")
        elif not dest.is_file():
            problems.append(f"{name}: no such file")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            problems.append(f"{name}: no heading #{anchor} in {dest.relative_to(root)}")
    return problems


def test_the_docs_exist() -> None:
    names = {p.name for p in DOCS}
    assert {"README.md", "api.md", "errors.md", "cli.md", "architecture.md"} <= names


@pytest.mark.parametrize("path", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(path: Path) -> None:
    assert broken_links(path) == []


def test_the_checker_finds_broken_links(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    (tmp_path / "there.md").write_text("# A heading (`x.py`)\n## Again\n## Again\n")
    page.write_text(
        "# Top\n[ok](there.md#a-heading-xpy) [ok](there.md#again-1) [ok](#top)\n"
        "[gone](missing.md) [bad](there.md#nope) [bad](#nowhere) [web](https://example.com)\n"
        "`[code](missing.md)`\n```\n[fenced](missing.md)\n```\n"
    )
    problems = broken_links(page, root=tmp_path)
    assert [p.split(": ", 1)[1] for p in problems] == [
        "missing.md: no such file",
        "there.md#nope: no heading #nope in there.md",
        "#nowhere: no heading #nowhere in page.md",
    ]
