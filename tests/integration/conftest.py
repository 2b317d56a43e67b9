"""Integration tests run against a real deployed stack and are skipped without one."""

from __future__ import annotations

import os

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if os.environ.get("AWS_SAM_STACK_NAME"):
        return
    skip = pytest.mark.skip(reason="set AWS_SAM_STACK_NAME to a deployed stack to run")
    for item in items:
        if "tests/integration" in str(item.path):
            item.add_marker(skip)
