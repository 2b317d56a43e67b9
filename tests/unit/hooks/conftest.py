"""Fixtures for the hook tests; the doubles they build are in fakes.py."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from codedeploy_hooks.observability import metrics
from moto import mock_aws

from tests.support import serving
from tests.unit.hooks.fakes import (
    GreenTasks,
    GreenTasksHandler,
    GreenTasksServer,
    World,
    build_world,
)


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    # The hooks never read AMIs; loading moto's default catalogue would dominate every test.
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
    with mock_aws():
        yield build_world()


@pytest.fixture
def green_tasks() -> Iterator[GreenTasks]:
    server = GreenTasksServer(("127.0.0.1", 0), GreenTasksHandler)
    server.tasks = GreenTasks(port=server.server_address[1])
    with serving(server):
        yield server.tasks


@pytest.fixture
def refusing_port() -> int:
    """A port nothing listens on: bound, read, closed."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture(autouse=True)
def _fresh_metrics() -> Iterator[None]:
    """Handlers flush metrics per invocation; tests that call `handle` directly do not."""
    metrics.clear_metrics()
    yield
    metrics.clear_metrics()
