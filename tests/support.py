"""Helpers shared by the test suites (import as `from tests.support import ...`)."""

from __future__ import annotations

import contextlib
import json
import socketserver
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

from packaging.requirements import Requirement

from tools import cfn_render

REPO_ROOT = Path(__file__).resolve().parent.parent
EVENTS_DIR = REPO_ROOT / "events"
PIPELINE_DIR = REPO_ROOT / "pipeline"
# How often a test server's loop looks for shutdown(): the standard library's 0.5 s made every
# fixture's teardown wait up to half a second.
SERVER_POLL_SECONDS = 0.01

Server = TypeVar("Server", bound=socketserver.BaseServer)


@contextlib.contextmanager
def serving(server: Server) -> Iterator[Server]:
    """`server` answering on a daemon thread for the block, then shut down and closed."""
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": SERVER_POLL_SECONDS}, daemon=True
    )
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def read_requirements(path: Path) -> list[Requirement]:
    """A requirements file's requirements: comments dropped, `\\` continuations joined, and pip's
    per-requirement options (`--hash=...`) left out."""
    logical = path.read_text().replace("\\\n", " ")
    lines = (line.split("#", 1)[0].split(" --", 1)[0].strip() for line in logical.splitlines())
    return [Requirement(line) for line in lines if line]


def load_event(name: str) -> dict[str, Any]:
    """An event from events/, the same file `sam local invoke -e events/<name>` uses."""
    event: dict[str, Any] = json.loads((EVENTS_DIR / name).read_text())
    return event


def load_template(path: Path) -> dict[str, Any]:
    """Parse a CloudFormation template with cfn-lint's loader: `!Ref x` becomes {"Ref": "x"}.
    Parsed once per content in a test process; each call returns a copy of its own."""
    return cfn_render.load_template(path)


def put_alarm(cloudwatch: Any, name: str, state: str = "OK", reason: str = "test") -> None:
    """A metric alarm (moto, or any CloudWatch client) on a target-group 5XX count, forced into
    `state`: what the health check and the hooks read of an alarm is its name, state and reason."""
    cloudwatch.put_metric_alarm(
        AlarmName=name,
        MetricName="HTTPCode_Target_5XX_Count",
        Namespace="AWS/ApplicationELB",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )
    cloudwatch.set_alarm_state(AlarmName=name, StateValue=state, StateReason=reason)


def resources_of_type(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    """Logical id -> resource, for every resource of one type."""
    return {
        logical_id: resource
        for logical_id, resource in template.get("Resources", {}).items()
        if resource.get("Type") == resource_type
    }
