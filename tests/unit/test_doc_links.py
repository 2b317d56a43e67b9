"""Every relative link in README.md and docs/ leads somewhere: the file exists and, when the link
names a heading (`#...`), the file has that heading (GitHub's anchor for it)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support import REPO_ROOT

DOCUMENTS = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]
# [text](target) and ![alt](target), outside fenced code.
_LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
_FENCED = re.compile(r"```.*?```", re.DOTALL)
_HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*$", re.MULTILINE)


def anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link in a heading: its text
    text = text.replace("`", "").lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(document: Path) -> set[str]:
    text = _FENCED.sub("", document.read_text()) if document.suffix == ".md" else ""
    return {anchor(heading) for heading in _HEADING.findall(text)}


def links(document: Path) -> list[str]:
    text = _FENCED.sub("", document.read_text())
    return [target for target in _LINK.findall(text) if not re.match(r"[a-z]+:", target)]


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: p.name)
def test_every_relative_link_resolves(document: Path) -> None:
    broken = []
    for target in links(document):
        path, _, fragment = target.partition("#")
        resolved = (document.parent / path).resolve() if path else document
        if not resolved.exists():
            broken.append(f"{target}: no such file")
        elif fragment and fragment not in anchors(resolved):
            broken.append(f"{target}: no heading #{fragment} in {resolved.name}")
    assert broken == []


def test_the_anchor_rule_matches_githubs_for_this_repositorys_headings() -> None:
    assert anchor("Deploying to an AWS account") == "deploying-to-an-aws-account"
    assert (
        anchor("First deploy: bootstrap image and task count")
        == "first-deploy-bootstrap-image-and-task-count"
    )
    assert (
        anchor("Synthetic client (`src/synthetic_client/`)")
        == "synthetic-client-srcsynthetic_client"
    )
