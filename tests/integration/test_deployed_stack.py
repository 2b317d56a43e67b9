"""Checks against a real deployed copy of the stack (AWS_SAM_STACK_NAME); skipped otherwise.

Run after `make deploy ENV=<env>` and at least one pipeline release (read-only, so any copy will
do; the acceptance checks beside it refuse production and run through `make acceptance`):
    AWS_SAM_STACK_NAME=microservices-pipeline-prod .venv/bin/pytest \
        tests/integration/test_deployed_stack.py
"""

from __future__ import annotations

import urllib.request

import pytest
from health_check.cli import main as verdict_cli

ENVIRONMENTS = ("staging", "production")
SERVICES = ("api-service", "auth-service", "notification-service")

pytestmark = pytest.mark.integration


def endpoint_key(service: str, environment: str) -> str:
    return "".join(part.title() for part in service.split("-")) + environment.title() + "Endpoint"


@pytest.mark.parametrize("environment", ENVIRONMENTS)
@pytest.mark.parametrize("service", SERVICES)
def test_every_service_answers_health_through_the_load_balancer(
    outputs: dict[str, str], service: str, environment: str
) -> None:
    url = outputs[endpoint_key(service, environment)] + "/health"
    with urllib.request.urlopen(url, timeout=10) as reply:
        assert reply.status == 200


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_validator_finds_the_environment_healthy(
    outputs: dict[str, str], environment: str
) -> None:
    suffix = outputs["StagingClusterName"].rsplit("-", 1)[-1]
    cluster = outputs[f"{environment.title()}ClusterName"]
    services = ",".join(f"{service}-{suffix}" for service in SERVICES)
    arguments = [
        "--environment", environment,
        "--alarm-prefix", f"{suffix}-{environment}-",
        "--cluster", cluster,
        "--services", services,
    ]  # fmt: skip
    assert verdict_cli(arguments) == 0
