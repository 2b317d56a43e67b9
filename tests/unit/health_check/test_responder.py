"""The responder: an environment in trouble while its deployments run gets them all rolled back."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from health_check.errors import AwsCallError
from health_check.job import Runtime
from health_check.release import RESTORE_DESCRIPTION

from health_check import responder
from tests.support import load_event
from tests.unit.health_check.fakes import (
    APPLICATION,
    SMOKE_TEST_HOOK_ARN,
    TRAFFIC_GUARD_HOOK_ARN,
    Clock,
)

ENVIRON = {
    "NOTIFICATION_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:pipeline-notifications-dev",
    "CODEDEPLOY_APPLICATION": APPLICATION,
    "SMOKE_TEST_HOOK_ARN": SMOKE_TEST_HOOK_ARN,
    "TRAFFIC_GUARD_HOOK_ARN": TRAFFIC_GUARD_HOOK_ARN,
}


@dataclass
class Deployments:
    """CodeDeploy's in-progress deployments by group prefix, as the gateway reads them."""

    active: dict[str, list[str]] = field(default_factory=dict)
    descriptions: dict[str, str] = field(default_factory=dict)
    stopped: list[str] = field(default_factory=list)
    unreadable: bool = False

    def active_deployments(self, application: str, group_prefix: str) -> list[str]:
        if self.unreadable:
            raise AwsCallError("codedeploy:ListDeploymentGroups", "AccessDeniedException: no")
        return self.active.get(group_prefix, [])

    def deployment_descriptions(self, ids: list[str]) -> dict[str, str]:
        return {i: self.descriptions.get(i, "") for i in ids}

    def stop_deployment(self, deployment_id: str) -> None:
        self.stopped.append(deployment_id)


def _handle(event: dict[str, Any], deployments: Deployments) -> dict[str, Any]:
    runtime = Runtime(gateway=deployments, clock=Clock(), environ=ENVIRON)  # type: ignore[arg-type]
    return responder.handle(event, None, runtime)  # type: ignore[arg-type]


def test_an_alarm_in_alarm_rolls_back_every_deployment_of_its_environment() -> None:
    # GIVEN production's three deployments in progress and staging's one
    deployments = Deployments(
        active={"production-": ["d-api", "d-auth", "d-notify"], "staging-": ["d-staging"]}
    )
    # WHEN production's api-service 5XX alarm goes into ALARM
    reply = _handle(load_event("alarm_in_alarm.json"), deployments)
    # THEN all of production's are stopped with rollback, staging's left alone
    assert deployments.stopped == ["d-api", "d-auth", "d-notify"]
    assert reply["environment"] == "production"


def test_a_restore_is_never_stopped_by_the_alarms_of_the_release_it_replaces() -> None:
    deployments = Deployments(
        active={"production-": ["d-restore", "d-other"]},
        descriptions={"d-restore": f"{RESTORE_DESCRIPTION} of production api-service: ..."},
    )
    _handle(load_event("alarm_in_alarm.json"), deployments)
    assert deployments.stopped == ["d-other"]


def test_a_failed_deployment_rolls_back_its_siblings() -> None:
    deployments = Deployments(active={"staging-": ["d-FAILED123", "d-auth"]})
    reply = _handle(load_event("deployment_failed.json"), deployments)
    assert deployments.stopped == ["d-auth"]
    assert "d-FAILED123" in reply["cause"]


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("detail", "state", "value"), "OK"),
        (("detail", "alarmName"), "other-production-api-service-5xx-rate"),
        (("detail", "alarmName"), "dev-qa-api-service-5xx-rate"),
        (("source",), "aws.ec2"),
    ],
)
def test_events_that_are_not_this_copys_release_in_trouble_stop_nothing(
    path: tuple[str, ...], value: str
) -> None:
    event = load_event("alarm_in_alarm.json")
    node = event
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    deployments = Deployments(active={"production-": ["d-api"]})
    assert _handle(event, deployments)["stopped"] == []
    assert deployments.stopped == []


def test_deployments_that_cannot_be_listed_fail_the_invocation_so_lambda_retries_it() -> None:
    with pytest.raises(AwsCallError):
        _handle(load_event("alarm_in_alarm.json"), Deployments(unreadable=True))
