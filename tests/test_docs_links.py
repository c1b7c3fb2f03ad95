"""Every relative link in the README and docs/ opens something: the file exists and its #anchor is a heading there.

Anchors follow GitHub's rule for heading ids: lower-case, punctuation other than `-` and `_` dropped, spaces to `-`,
and a repeated heading gets `-1`, `-2`, ... appended. Links to other sites are not followed (tests stay offline).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$")
FENCE = re.compile(r"^\s*(```|~~~)")


def _prose_lines(text: str) -> list[str]:
    """The page without its fenced code blocks: a `# comment` in a shell example is not a heading."""
    lines, fenced = [], False
    for line in text.splitlines():
        if FENCE.match(line):
            fenced = not fenced
        elif not fenced:
            lines.append(line)
    return lines


def github_anchor(heading: str) -> str:
    text = re.sub(r"`([^`]*)`", r"\1", heading)  # code spans keep their text
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)  # a link keeps its label
    text = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    found: set[str] = set()
    seen: dict[str, int] = {}
    for line in _prose_lines(page.read_text()):
        match = HEADING.match(line)
        if not match:
            continue
        slug = github_anchor(match.group(1))
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        found.add(slug if count == 0 else f"{slug}-{count}")
    return found


def _shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else path.name


def broken_links(page: Path) -> list[str]:
    broken = []
    for line in _prose_lines(page.read_text()):
        for target in LINK.findall(line):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto:
                continue
            path_part, _, anchor = target.partition("#")
            linked = (page.parent / path_part).resolve() if path_part else page
            if not linked.exists():
                broken.append(f"{target}: no file {_shown(linked)}")
            elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
                broken.append(f"{target}: no heading #{anchor} in {_shown(linked)}")
    return broken


def test_github_anchor_follows_githubs_heading_ids() -> None:
    # Examples of GitHub's ids for headings like these pages' own.
    assert github_anchor("5. Destroy the old stack") == "5-destroy-the-old-stack"
    assert github_anchor("Deploy: the stack config") == "deploy-the-stack-config"
    assert github_anchor("`make up` refuses") == "make-up-refuses"
    assert github_anchor("Who may use the cluster?") == "who-may-use-the-cluster"


def test_a_missing_heading_is_found(tmp_path: Path) -> None:
    page = tmp_path / "a.md"
    page.write_text("# Title\n\n## Same\n\n## Same\n\nsee [x](#same-1), [y](#nowhere), [z](b.md)\n")
    assert broken_links(page) == ["#nowhere: no heading #nowhere in a.md", "b.md: no file b.md"]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_opens_a_file_and_heading(page: Path) -> None:
    assert broken_links(page) == []
