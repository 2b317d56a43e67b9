"""Resolving a deployment into what the hooks check: from GetDeployment + GetDeploymentGroup."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from botocore.stub import Stubber
from codedeploy_hooks.checks import deployment
from codedeploy_hooks.errors import DeploymentShapeError, UnknownDeploymentError

from tests.unit.hooks.fakes import (
    CLUSTER,
    ECS_SERVICE,
    GROUP,
    RESTORE_PARAMETER,
    World,
    client,
)


def test_resolve_reads_service_environment_and_routes_from_the_deployment(world: World) -> None:
    # GIVEN a blue/green deployment of staging-api-service in moto
    # WHEN it is resolved
    target = deployment.resolve(client("codedeploy"), world.deployment_id)

    # THEN everything the checks need comes from CodeDeploy itself
    assert (target.environment, target.service, target.suffix) == ("staging", "api-service", "dev")
    assert (target.cluster, target.ecs_service) == (CLUSTER, ECS_SERVICE)
    assert target.deployment_group == GROUP
    assert target.target_group_names == ("staging-api-blue", "staging-api-green")
    assert target.prod_listener_arns == (world.prod_listener_arn,)
    assert target.test_listener_arns == (world.test_listener_arn,)
    assert target.config_parameter == "/pipeline/staging/api-service/config"
    assert target.alarm_prefix == "dev-staging-api-service-"


def test_resolve_raises_unknown_deployment_for_an_id_codedeploy_does_not_know(
    world: World,
) -> None:
    # GIVEN an id moto has never seen
    # WHEN / THEN
    with pytest.raises(UnknownDeploymentError, match="d-DOESNOTEXIST"):
        deployment.resolve(client("codedeploy"), "d-DOESNOTEXIST")


def _stubbed_resolve(group: dict[str, Any]) -> deployment.DeploymentTarget:
    """moto leaves alarmConfiguration empty, so the group description comes from a Stubber."""
    codedeploy = client("codedeploy")
    with Stubber(codedeploy) as stubber:
        stubber.add_response(
            "get_deployment",
            {
                "deploymentInfo": {
                    "applicationName": "microservices-dev",
                    "deploymentGroupName": GROUP,
                    "computePlatform": "ECS",
                }
            },
            {"deploymentId": "d-1"},
        )
        stubber.add_response(
            "get_deployment_group",
            {"deploymentGroupInfo": group},
            {"applicationName": "microservices-dev", "deploymentGroupName": GROUP},
        )
        return deployment.resolve(codedeploy, "d-1")


_GROUP: dict[str, Any] = {
    "ecsServices": [{"serviceName": ECS_SERVICE, "clusterName": CLUSTER}],
    "loadBalancerInfo": {
        "targetGroupPairInfoList": [
            {
                "targetGroups": [{"name": "b"}, {"name": "g"}],
                "prodTrafficRoute": {"listenerArns": ["prod"]},
                "testTrafficRoute": {"listenerArns": ["test"]},
            }
        ]
    },
}


def test_resolve_takes_alarm_names_from_an_enabled_alarm_configuration() -> None:
    # GIVEN a deployment group with two alarms wired into its alarm configuration
    group = {
        **_GROUP,
        "alarmConfiguration": {"enabled": True, "alarms": [{"name": "a1"}, {"name": "a2"}]},
    }
    # WHEN it is resolved
    target = _stubbed_resolve(group)
    # THEN both alarms are to be checked
    assert target.alarm_names == ("a1", "a2")


def test_resolve_ignores_the_alarms_of_a_disabled_alarm_configuration() -> None:
    group = {**_GROUP, "alarmConfiguration": {"enabled": False, "alarms": [{"name": "a1"}]}}
    assert _stubbed_resolve(group).alarm_names == ()


@pytest.mark.parametrize(
    ("operation", "code"),
    [
        ("get_deployment", "DeploymentDoesNotExistException"),
        ("get_deployment", "InvalidDeploymentIdException"),
        ("get_deployment_group", "DeploymentGroupDoesNotExistException"),
        ("get_deployment_group", "ApplicationDoesNotExistException"),
    ],
)
def test_resolve_maps_each_modeled_not_found_error_to_unknown_deployment(
    operation: str, code: str
) -> None:
    # GIVEN CodeDeploy answering one of its modeled "not found" errors
    codedeploy = client("codedeploy")
    with Stubber(codedeploy) as stubber:
        if operation == "get_deployment_group":
            stubber.add_response(
                "get_deployment",
                {
                    "deploymentInfo": {
                        "applicationName": "microservices-dev",
                        "deploymentGroupName": GROUP,
                    }
                },
                {"deploymentId": "d-1"},
            )
        stubber.add_client_error(operation, code)
        # WHEN / THEN
        with pytest.raises(UnknownDeploymentError, match="d-1"):
            deployment.resolve(codedeploy, "d-1")


def test_resolve_passes_aws_errors_other_than_not_found_through() -> None:
    # GIVEN CodeDeploy throttles
    codedeploy = client("codedeploy")
    with Stubber(codedeploy) as stubber:
        stubber.add_client_error("get_deployment", "ThrottlingException")
        # WHEN / THEN the ClientError reaches the runner (which reports Failed)
        with pytest.raises(codedeploy.exceptions.ClientError, match="Throttling"):
            deployment.resolve(codedeploy, "d-1")


@pytest.mark.parametrize(
    "name",
    ["api-service", "dev-api-service", "staging", "staging-", "production_api", ""],
)
def test_split_group_name_rejects_names_outside_the_contract(name: str) -> None:
    with pytest.raises(DeploymentShapeError):
        deployment.split_group_name(name)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("staging-api-service", ("staging", "api-service")),
        ("production-notification-service", ("production", "notification-service")),
    ],
)
def test_split_group_name_splits_on_the_first_dash(name: str, expected: tuple[str, str]) -> None:
    assert deployment.split_group_name(name) == expected


def test_from_descriptions_rejects_a_non_ecs_deployment() -> None:
    info = {"computePlatform": "Server", "deploymentGroupName": GROUP}
    with pytest.raises(DeploymentShapeError, match="not ECS"):
        deployment.from_descriptions("d-1", info, _GROUP)


def test_from_descriptions_rejects_a_group_without_a_target_group_pair() -> None:
    info = {
        "computePlatform": "ECS",
        "applicationName": "microservices-dev",
        "deploymentGroupName": GROUP,
    }
    with pytest.raises(DeploymentShapeError, match="target group pair"):
        deployment.from_descriptions("d-1", info, {**_GROUP, "loadBalancerInfo": {}})


def test_from_descriptions_reads_when_codedeploy_created_the_deployment() -> None:
    created = dt.datetime(2026, 12, 1, 9, 30, tzinfo=dt.UTC)
    info = {
        "computePlatform": "ECS",
        "applicationName": "microservices-dev",
        "deploymentGroupName": GROUP,
        "createTime": created,
    }
    assert deployment.from_descriptions("d-1", info, _GROUP).created_at == created.timestamp()
    without = {key: value for key, value in info.items() if key != "createTime"}
    assert deployment.from_descriptions("d-1", without, _GROUP).created_at is None


def test_from_descriptions_rejects_an_application_outside_the_contract() -> None:
    info = {"computePlatform": "ECS", "applicationName": "other", "deploymentGroupName": GROUP}
    with pytest.raises(DeploymentShapeError, match="microservices-"):
        deployment.from_descriptions("d-1", info, _GROUP)


_INFO: dict[str, Any] = {
    "computePlatform": "ECS",
    "applicationName": "microservices-dev",
    "deploymentGroupName": GROUP,
}


def _record(deployment_id: str) -> str:
    """The health check's restore record (src/health_check/health_check/deployments.py)."""
    return json.dumps(
        {"requested_at": 1_800_000_000.0, "task_definition": "td:7", "deployment_id": deployment_id}
    )


def test_a_deployment_the_restore_record_names_is_a_restore() -> None:
    target = deployment.from_descriptions("d-1", _INFO, _GROUP, restore_record=_record("d-1"))
    assert target.restore


def test_a_deployment_described_as_a_restore_without_a_record_is_not_one() -> None:
    # GIVEN a description anyone allowed to call CreateDeployment can write
    info = {**_INFO, "description": "Restore of the last known-good release of staging"}
    # WHEN / THEN it says nothing
    assert not deployment.from_descriptions("d-1", info, _GROUP).restore


@pytest.mark.parametrize("record", [_record("d-OTHER"), "not json", '{"deployment_id": 7}', ""])
def test_a_record_that_does_not_name_the_deployment_makes_no_restore(record: str) -> None:
    assert not deployment.from_descriptions("d-1", _INFO, _GROUP, restore_record=record).restore


@pytest.mark.parametrize(
    "marks",
    [
        {"creator": "codeDeployRollback"},
        {"rollbackInfo": {"rollbackTriggeringDeploymentId": "d-FAILED1"}},
    ],
    ids=["creator", "rollbackInfo"],
)
def test_codedeploys_rollback_marks_make_a_rollback(marks: dict[str, Any]) -> None:
    assert deployment.from_descriptions("d-1", {**_INFO, **marks}, _GROUP).rollback


def test_a_deployment_a_user_created_is_not_a_rollback() -> None:
    info = {**_INFO, "creator": "user", "rollbackInfo": {}}
    assert not deployment.from_descriptions("d-1", info, _GROUP).rollback


def test_resolve_with_ssm_reads_the_restore_record_of_the_deployments_group(world: World) -> None:
    # GIVEN the health check recorded the world's deployment as its restore of the group
    client("ssm").put_parameter(
        Name=RESTORE_PARAMETER, Type="String", Value=_record(world.deployment_id)
    )
    # WHEN it is resolved with SSM
    target = deployment.resolve(client("codedeploy"), world.deployment_id, client("ssm"))
    # THEN it is a restore
    assert target.restore


def test_resolve_with_ssm_and_no_record_is_not_a_restore(world: World) -> None:
    target = deployment.resolve(client("codedeploy"), world.deployment_id, client("ssm"))
    assert not target.restore
