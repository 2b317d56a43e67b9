"""The last known-good release: recorded when an environment passes, restored when it fails."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.stub import Stubber
from codedeploy_hooks.checks.deployment import RESTORE_DESCRIPTION as HOOKS_RESTORE_DESCRIPTION
from health_check.clients import AwsClients
from health_check.gateway import AwsGateway
from health_check.params import parse_user_parameters
from health_check.release import (
    KNOWN_GOOD_PARAMETER,
    RESTORE_DESCRIPTION,
    KnownGood,
    record_known_good,
    restore,
)
from health_check.settings import Settings

SETTINGS = Settings(
    notification_topic_arn="arn:aws:sns:us-east-1:123456789012:pipeline-notifications-dev",
    codedeploy_application="microservices-dev",
    smoke_test_hook_arn="arn:aws:lambda:us-east-1:123456789012:function:CodeDeployHook_SmokeTest-dev",
    traffic_guard_hook_arn=(
        "arn:aws:lambda:us-east-1:123456789012:function:CodeDeployHook_TrafficGuard-dev"
    ),
)
PARAMS = parse_user_parameters(
    json.dumps(
        {
            "environment": "production",
            "alarm_prefix": "dev-production-",
            "cluster": "production-cluster-dev",
            "services": ["api-service-dev"],
        }
    )
)
GOOD = "arn:aws:ecs:us-east-1:123456789012:task-definition/api-service-production-dev:7"
BAD = "arn:aws:ecs:us-east-1:123456789012:task-definition/api-service-production-dev:8"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/api-service-dev:tree-abc"


@dataclass
class FakeGateway:
    """The gateway's release calls, answered from fields and recorded (the restore logic is what
    is under test; the gateway's own calls are tested with Stubber below)."""

    running: str = BAD
    known_good: str | None = GOOD
    active: list[str] = field(default_factory=list)
    descriptions: dict[str, str] = field(default_factory=dict)
    calls: list[tuple[str, Any]] = field(default_factory=list)

    def primary_task_definitions(self, cluster: str, names: tuple[str, ...]) -> dict[str, str]:
        return dict.fromkeys(names, self.running)

    def read_parameter(self, name: str) -> str | None:
        if self.known_good is None:
            return None
        return KnownGood(self.known_good, IMAGE, "2026-11-29T10:00:00+00:00", "job-0").to_json()

    def active_deployments(self, application: str, group: str) -> list[str]:
        return self.active

    def deployment_descriptions(self, ids: list[str]) -> dict[str, str]:
        return {i: self.descriptions.get(i, "") for i in ids}

    def stop_deployment(self, deployment_id: str) -> None:
        self.calls.append(("stop", deployment_id))

    def create_restore(self, application: str, group: str, appspec: str, description: str) -> str:
        self.calls.append(("restore", (group, json.loads(appspec), description)))
        return "d-restore"

    def image_of(self, task_definition: str, container: str) -> str:
        return IMAGE

    def write_parameter(self, name: str, value: str, description: str) -> None:
        self.calls.append(("write", (name, json.loads(value))))

    def tag_image(self, repository: str, reference: dict[str, str], tag: str) -> None:
        self.calls.append(("tag", (repository, reference, tag)))


def test_the_hooks_and_the_health_check_agree_on_what_a_restore_is_called() -> None:
    assert RESTORE_DESCRIPTION == HOOKS_RESTORE_DESCRIPTION


def test_a_failed_environment_is_restored_to_its_known_good_task_definition_with_the_hooks() -> (
    None
):
    gateway = FakeGateway()
    notes = restore(gateway, SETTINGS, PARAMS)  # type: ignore[arg-type]
    [(kind, (group, appspec, description))] = gateway.calls
    assert (kind, group) == ("restore", "production-api-service")
    assert description.startswith(RESTORE_DESCRIPTION)
    target = appspec["Resources"][0]["TargetService"]["Properties"]
    assert target["TaskDefinition"] == GOOD
    assert target["LoadBalancerInfo"] == {"ContainerName": "api-service", "ContainerPort": 8080}
    assert appspec["Hooks"] == [
        {"AfterAllowTestTraffic": SETTINGS.smoke_test_hook_arn},
        {"BeforeAllowTraffic": SETTINGS.traffic_guard_hook_arn},
        {"AfterAllowTraffic": SETTINGS.traffic_guard_hook_arn},
    ]
    assert notes == [f"api-service: restoring {GOOD} (deployment d-restore)"]


def test_a_deployment_still_in_progress_is_stopped_before_the_restore() -> None:
    gateway = FakeGateway(active=["d-bad"])
    restore(gateway, SETTINGS, PARAMS)  # type: ignore[arg-type]
    assert [kind for kind, _ in gateway.calls] == ["stop", "restore"]


def test_a_service_already_on_its_known_good_release_is_left_alone() -> None:
    gateway = FakeGateway(running=GOOD)
    assert restore(gateway, SETTINGS, PARAMS) == [  # type: ignore[arg-type]
        "api-service: already on its known-good release"
    ]
    assert gateway.calls == []


def test_a_group_already_restoring_is_not_restored_twice() -> None:
    gateway = FakeGateway(active=["d-1"], descriptions={"d-1": f"{RESTORE_DESCRIPTION} of ..."})
    assert restore(gateway, SETTINGS, PARAMS) == [  # type: ignore[arg-type]
        "api-service: a restore is already in progress"
    ]
    assert gateway.calls == []


def test_without_a_known_good_release_a_human_is_asked_to_choose() -> None:
    gateway = FakeGateway(known_good=None)
    [note] = restore(gateway, SETTINGS, PARAMS)  # type: ignore[arg-type]
    assert "a human must choose" in note
    assert gateway.calls == []


def test_a_passed_environment_records_what_it_runs_and_protects_the_image() -> None:
    gateway = FakeGateway(running=GOOD)
    note = record_known_good(gateway, SETTINGS, PARAMS, "job-9", 1_767_225_600.0)  # type: ignore[arg-type]
    [(write, (name, record)), (tag_call, (repository, reference, tag))] = gateway.calls
    assert (write, tag_call) == ("write", "tag")
    assert name == KNOWN_GOOD_PARAMETER.format(environment="production", service="api-service")
    assert (record["task_definition"], record["image"], record["job_id"]) == (GOOD, IMAGE, "job-9")
    assert (repository, reference) == ("api-service-dev", {"imageTag": "tree-abc"})
    assert tag == "known-good-production-20260101000000"
    assert "recorded for api-service" in note


def _stubbable_gateway() -> AwsGateway:
    """The gateway with its own clients, for a Stubber (no moto, no network)."""
    session = boto3.Session(
        aws_access_key_id="t", aws_secret_access_key="t", region_name="us-east-1"
    )
    return AwsGateway(AwsClients(session))


def test_create_restore_switches_alarm_monitoring_off_for_that_deployment_only() -> None:
    # GIVEN the gateway's own CodeDeploy client
    gateway = _stubbable_gateway()
    with Stubber(gateway.clients.codedeploy) as stubber:
        stubber.add_response(
            "create_deployment",
            {"deploymentId": "d-restore"},
            {
                "applicationName": "microservices-dev",
                "deploymentGroupName": "production-api-service",
                "description": "Restore of the last known-good release of production api-service",
                "deploymentConfigName": "CodeDeployDefault.ECSAllAtOnce",
                "revision": {"revisionType": "AppSpecContent", "appSpecContent": {"content": "{}"}},
                # CreateDeployment API reference: a redeploy of a release known to work, with
                # alarm polling turned off, "proceeds without being blocked by the alarm that was
                # generated by the previous, failed, deployment".
                "overrideAlarmConfiguration": {
                    "enabled": False,
                    "ignorePollAlarmFailure": False,
                    "alarms": [],
                },
            },
        )
        # WHEN / THEN
        assert (
            gateway.create_restore(
                "microservices-dev",
                "production-api-service",
                "{}",
                "Restore of the last known-good release of production api-service",
            )
            == "d-restore"
        )
        stubber.assert_no_pending_responses()


def test_a_group_busy_with_another_deployment_is_not_an_error_but_no_restore() -> None:
    gateway = _stubbable_gateway()
    with Stubber(gateway.clients.codedeploy) as stubber:
        stubber.add_client_error(
            "create_deployment", service_error_code="DeploymentLimitExceededException"
        )
        assert (
            gateway.create_restore("microservices-dev", "production-api-service", "{}", "r") is None
        )
