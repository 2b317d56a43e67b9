"""Template fixtures: each template parsed once per session with a CloudFormation loader."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import REPO_ROOT, load_template


@pytest.fixture(scope="session")
def root_template() -> dict[str, Any]:
    return load_template(REPO_ROOT / "template.yaml")
