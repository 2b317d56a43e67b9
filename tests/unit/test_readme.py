"""The README is a map (STYLE.md): what this is, the first commands, where to read on. A newcomer
without an AWS account finds their path first; operations of a real account live in docs/."""

from __future__ import annotations

import re

from tests.support import REPO_ROOT

README = (REPO_ROOT / "README.md").read_text()
SECTIONS = re.findall(r"^## (.+)$", README, flags=re.MULTILINE)
# Today's map is about 240 lines; the manual it replaced was 620.
MAP_LINES = 300


def _section(title: str) -> str:
    return README.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]


def test_the_newcomers_path_comes_right_after_the_quick_start() -> None:
    assert SECTIONS[:2] == ["Quick start", "Start here, without an AWS account"]
    start = _section("Start here, without an AWS account")
    for command in ("make deploy", "make drill", "make invoke", "make rehearse"):
        assert command in start, command


def test_the_readme_stays_a_map() -> None:
    assert README.count("\n") <= MAP_LINES
    # Each document of docs/ is named in "Where to read on".
    read_on = _section("Where to read on")
    documents = sorted(p.name for p in (REPO_ROOT / "docs").glob("*.md"))
    assert [d for d in documents if f"(docs/{d})" not in read_on] == []
