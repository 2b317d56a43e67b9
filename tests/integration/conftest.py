"""Integration tests run against a real deployed stack and are skipped without one.

Tests that reach AWS carry the `integration` marker; the acceptance kit's own unit tests
(test_acceptance_kit.py) do not, and run everywhere. The read-only checks may run against any
stack; the acceptance checks, which force alarms and redeploy, go through the `sandbox` fixture,
which refuses a stack whose suffix is `prod` however the tests were started.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.integration.acceptance.aws import client
from tests.integration.acceptance.report import Observation, Report
from tests.integration.acceptance.target import AcceptanceRefused, refuse_production


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if os.environ.get("AWS_SAM_STACK_NAME"):
        return
    skip = pytest.mark.skip(reason="set AWS_SAM_STACK_NAME to a deployed stack to run")
    for item in items:
        if item.get_closest_marker("integration"):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def stack() -> dict[str, object]:
    name = os.environ["AWS_SAM_STACK_NAME"]
    described = client("cloudformation").describe_stacks(StackName=name)["Stacks"][0]
    parameters = {p["ParameterKey"]: p["ParameterValue"] for p in described.get("Parameters", [])}
    assert described["StackStatus"].endswith("_COMPLETE"), described["StackStatus"]
    return {
        "name": name,
        "parameters": parameters,
        "outputs": {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])},
    }


@pytest.fixture(scope="session")
def suffix(stack: dict[str, object]) -> str:
    parameters = stack["parameters"]
    assert isinstance(parameters, dict)
    return str(parameters["EnvironmentSuffix"])


@pytest.fixture(scope="session")
def sandbox(stack: dict[str, object], suffix: str) -> str:
    """The stack's suffix, once it is known not to be production (the deployed value counts)."""
    try:
        refuse_production(str(stack["name"]), suffix)
    except AcceptanceRefused as refusal:
        pytest.exit(str(refusal), returncode=2)
    return suffix


@pytest.fixture(scope="session")
def outputs(stack: dict[str, object]) -> dict[str, str]:
    found = stack["outputs"]
    assert isinstance(found, dict)
    return found


@pytest.fixture(scope="session")
def acceptance_report(stack: dict[str, object]) -> Iterator[Report]:
    report = Report(
        env=os.environ.get("ACCEPTANCE_ENV", "-"),
        stack_name=str(stack["name"]),
        started_at=datetime.now(UTC),
    )
    yield report
    directory = os.environ.get("ACCEPTANCE_REPORT_DIR")
    if directory and report.observations:
        json_path, markdown_path = report.write(Path(directory), datetime.now(UTC))
        print(f"\nacceptance report: {markdown_path} ({json_path.name})")


@pytest.fixture
def record(acceptance_report: Report) -> Callable[[Observation], None]:
    return acceptance_report.record
