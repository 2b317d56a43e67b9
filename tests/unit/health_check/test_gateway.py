"""Data access: what the gateway reads from moto, how many calls it makes, client settings."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.stub import Stubber
from health_check.clients import CLIENT_CONFIG, AwsClients
from health_check.deployments import DeploymentFact
from health_check.errors import AwsCallError
from health_check.gateway import AwsGateway, default_gateway

from tests.unit.health_check.conftest import SUSPENDED_STATE_FLAGS, Aws
from tests.unit.health_check.fakes import APPLICATION, CLUSTER, PREFIX, REGION, inject_timeout


def count_calls(client: Any, operation: str) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    service = client.meta.service_model.service_id.hyphenize()
    client.meta.events.register(
        f"provide-client-params.{service}.{operation}",
        lambda params, **_: seen.append(dict(params)),
    )
    return seen


def test_alarms_are_read_by_prefix_only(aws: Aws) -> None:
    # GIVEN two staging alarms and a production alarm
    aws.alarm(f"{PREFIX}api-5xx", "ALARM", reason="5xx above 1")
    aws.alarm(f"{PREFIX}any", "OK")
    aws.alarm("dev-production-api-5xx", "ALARM")
    # WHEN
    alarms = aws.gateway.describe_alarms(PREFIX)
    # THEN
    assert [(a.name, a.state) for a in alarms] == [
        (f"{PREFIX}any", "OK"),
        (f"{PREFIX}api-5xx", "ALARM"),
    ]
    assert alarms[1].reason == "5xx above 1"


def test_alarms_are_one_paginated_call_of_100_per_page_asking_for_both_kinds() -> None:
    # GIVEN a CloudWatch that answers in two pages (moto does not paginate DescribeAlarms)
    gateway = AwsGateway(AwsClients(boto3.Session(region_name=REGION)))
    base = {"AlarmNamePrefix": PREFIX, "AlarmTypes": ["MetricAlarm", "CompositeAlarm"]}
    with Stubber(gateway.clients.cloudwatch) as stub:
        stub.add_response(
            "describe_alarms",
            # pragma: allowlist nextline secret
            {"MetricAlarms": [{"AlarmName": "a", "StateValue": "OK"}], "NextToken": "p2"},
            {**base, "MaxRecords": 100},
        )
        stub.add_response(
            "describe_alarms",
            {"CompositeAlarms": [{"AlarmName": "b", "StateValue": "ALARM"}]},
            # pragma: allowlist nextline secret
            {**base, "MaxRecords": 100, "NextToken": "p2"},
        )
        # WHEN
        alarms = gateway.describe_alarms(PREFIX)
        # THEN both pages were read, and nothing else was called
        stub.assert_no_pending_responses()
    assert [a.name for a in alarms] == ["a", "b"]


def test_services_are_described_in_batches_of_ten(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN 23 steady services
    names = [f"svc-{n:02}" for n in range(23)]
    aws.services(monkeypatch, names, running=2)
    calls = count_calls(aws.gateway.clients.ecs, "DescribeServices")
    # WHEN
    services = aws.gateway.describe_services(CLUSTER, tuple(names))
    # THEN three calls of at most ten services, facts in the requested order
    assert [len(call["services"]) for call in calls] == [10, 10, 3]
    assert [s.name for s in services] == names
    assert all(s.steady for s in services)


def test_a_service_ecs_does_not_know_is_missing(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    aws.services(monkeypatch, ["api-service-dev"], running=1)
    services = aws.gateway.describe_services(CLUSTER, ("api-service-dev", "ghost"))
    assert [(s.name, s.status, s.running, s.desired) for s in services] == [
        ("api-service-dev", "ACTIVE", 1, 2),
        ("ghost", "MISSING", 0, 0),
    ]


def test_blue_green_services_are_judged_by_their_task_sets() -> None:
    gateway = AwsGateway(AwsClients(boto3.Session(region_name=REGION)))
    service = {
        "serviceName": "api-service-dev",
        "status": "ACTIVE",
        "runningCount": 2,
        "desiredCount": 2,
        "deploymentController": {"type": "CODE_DEPLOY"},
        "taskSets": [{"status": "PRIMARY"}, {"status": "ACTIVE"}],
        "deployments": [{"status": "PRIMARY"}],
    }
    with Stubber(gateway.clients.ecs) as stub:
        stub.add_response("describe_services", {"services": [service], "failures": []})
        (fact,) = gateway.describe_services(CLUSTER, ("api-service-dev",))
    # the old task set still exists: not steady yet
    assert (fact.primary_deployments, fact.other_deployments, fact.steady) == (1, 1, False)


def test_only_the_environments_active_deployments_are_listed(aws: Aws) -> None:
    # GIVEN a deployment in staging and one in production
    staging = aws.deployment("staging-api-service")
    aws.deployment("production-api-service")
    # WHEN
    ids = aws.gateway.active_deployments(APPLICATION, "staging-")
    # THEN
    assert ids == [staging]


def test_a_deployment_is_stopped_with_rollback(aws: Aws) -> None:
    assert aws.gateway.stop_deployment("d-123")
    assert aws.stops.named("StopDeployment") == [
        {"deploymentId": "d-123", "autoRollbackEnabled": True}
    ]


def test_a_deployment_that_already_completed_is_not_stopped_and_says_so(aws: Aws) -> None:
    # GIVEN CodeDeploy answering that the deployment completed before the stop reached it
    aws.stops.errors["StopDeployment"] = "DeploymentAlreadyCompletedException"
    # WHEN / THEN it is no error, and not a stop
    assert aws.gateway.stop_deployment("d-123") is False


def test_the_deployment_groups_are_listed_by_prefix(aws: Aws) -> None:
    for group in ("staging-api-service", "staging-auth-service", "production-api-service"):
        aws.deployment_group(group)
    assert sorted(aws.gateway.deployment_groups(APPLICATION, "staging-")) == [
        "staging-api-service",
        "staging-auth-service",
    ]


def test_exact_lists_only_the_named_groups_deployments(aws: Aws) -> None:
    # GIVEN a deployment in the group and one in a group whose name starts with it
    mine = aws.deployment("staging-api-service")
    aws.deployment("staging-api-service-v2")
    # WHEN / THEN
    assert aws.gateway.active_deployments(APPLICATION, "staging-api-service", exact=True) == [mine]


def test_a_deployment_is_described_with_what_marks_a_codedeploy_rollback() -> None:
    # GIVEN GetDeployment's answer for a rollback (moto creates no rollbacks)
    gateway = AwsGateway(AwsClients(boto3.Session(region_name=REGION)))
    created = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
    with Stubber(gateway.clients.codedeploy) as stub:
        stub.add_response(
            "get_deployment",
            {
                "deploymentInfo": {
                    "deploymentId": "d-rollback",
                    "deploymentGroupName": "staging-api-service",
                    "status": "InProgress",
                    "creator": "codeDeployRollback",
                    "rollbackInfo": {"rollbackTriggeringDeploymentId": "d-failed"},
                    "createTime": created,
                }
            },
            {"deploymentId": "d-rollback"},
        )
        # WHEN
        [fact] = gateway.describe_deployments(["d-rollback"])
    # THEN
    assert fact == DeploymentFact(
        "d-rollback",
        "staging-api-service",
        "InProgress",
        "codeDeployRollback",
        "d-failed",
        created.timestamp(),
    )


def test_a_deployment_a_user_created_is_described_as_no_rollback(aws: Aws) -> None:
    deployment = aws.deployment("staging-api-service")
    [fact] = aws.gateway.describe_deployments([deployment])
    assert (fact.group, fact.creator, fact.is_rollback) == ("staging-api-service", "user", False)


def test_the_ecs_service_a_group_deploys_is_read_from_the_group(aws: Aws) -> None:
    aws.deployment_group("staging-api-service", "api-service-dev")
    assert aws.gateway.ecs_service_of(APPLICATION, "staging-api-service") == (
        CLUSTER,
        "api-service-dev",
    )


def test_a_group_without_one_ecs_service_is_an_aws_call_error(aws: Aws) -> None:
    aws.deployment_group("staging-api-service")
    with pytest.raises(AwsCallError, match="deploys 0 ECS services"):
        aws.gateway.ecs_service_of(APPLICATION, "staging-api-service")


def test_suspending_scaling_suspends_every_kind_and_keeps_the_capacity_bounds() -> None:
    # GIVEN the service's scalable target (exact parameters: moto does not check what is sent)
    gateway = AwsGateway(AwsClients(boto3.Session(region_name=REGION)))
    resource = f"service/{CLUSTER}/api-service-dev"
    target = {"ServiceNamespace": "ecs", "ScalableDimension": "ecs:service:DesiredCount"}
    with Stubber(gateway.clients.autoscaling) as stub:
        stub.add_response(
            "describe_scalable_targets",
            {
                "ScalableTargets": [
                    {
                        **target,
                        "ResourceId": resource,
                        "MinCapacity": 2,
                        "MaxCapacity": 8,
                        "RoleARN": "arn:aws:iam::123456789012:role/scaling",
                        "CreationTime": datetime(2026, 12, 1, tzinfo=UTC),
                    }
                ]
            },
            {**target, "ResourceIds": [resource]},
        )
        stub.add_response(
            "register_scalable_target",
            {},
            {
                **target,
                "ResourceId": resource,
                # no MinCapacity / MaxCapacity: RegisterScalableTarget keeps the target's own
                "SuspendedState": dict.fromkeys(SUSPENDED_STATE_FLAGS, True),
            },
        )
        # WHEN
        changed = gateway.set_scaling_suspended(CLUSTER, "api-service-dev", suspended=True)
        # THEN
        stub.assert_no_pending_responses()
    assert changed


@pytest.mark.parametrize("suspended", [True, False])
def test_scaling_is_set_as_asked(
    aws: Aws, monkeypatch: pytest.MonkeyPatch, *, suspended: bool
) -> None:
    # GIVEN a scalable target in the other state
    aws.services(monkeypatch, ["api-service-dev"], running=2)
    aws.scalable("api-service-dev", suspended=not suspended)
    # WHEN
    aws.gateway.set_scaling_suspended(CLUSTER, "api-service-dev", suspended=suspended)
    # THEN
    assert aws.scaling_suspended("api-service-dev") == dict.fromkeys(
        SUSPENDED_STATE_FLAGS, suspended
    )


def test_a_service_without_a_scalable_target_is_left_alone(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    aws.services(monkeypatch, ["api-service-dev"], running=2)
    assert aws.gateway.set_scaling_suspended(CLUSTER, "api-service-dev", suspended=True) is False


def test_a_deregistered_task_definition_is_described_as_inactive(aws: Aws) -> None:
    ecs = aws.gateway.clients.ecs
    arn = ecs.register_task_definition(
        family="app", containerDefinitions=[{"name": "app", "image": "app:1", "memory": 512}]
    )["taskDefinition"]["taskDefinitionArn"]
    ecs.deregister_task_definition(taskDefinition=arn)
    assert aws.gateway.describe_task_definition(arn)["status"] == "INACTIVE"


def test_a_registered_task_definition_is_a_new_active_revision(aws: Aws) -> None:
    # GIVEN a family at revision 1
    containers = [{"name": "app", "image": "app:1", "memory": 512}]
    aws.gateway.clients.ecs.register_task_definition(family="app", containerDefinitions=containers)
    # WHEN it is registered again
    arn = aws.gateway.register_task_definition(
        {"family": "app", "containerDefinitions": containers}
    )
    # THEN
    assert arn.endswith("task-definition/app:2")
    assert aws.gateway.describe_task_definition(arn)["status"] == "ACTIVE"


def test_a_timeout_becomes_an_aws_call_error_naming_the_call(aws: Aws) -> None:
    inject_timeout(aws.gateway.clients.cloudwatch, "DescribeAlarms", "read")
    with pytest.raises(AwsCallError, match=r"cloudwatch:DescribeAlarms failed: ReadTimeoutError"):
        aws.gateway.describe_alarms(PREFIX)


def test_timeouts_are_retried_before_giving_up(aws: Aws) -> None:
    # GIVEN a client allowed two attempts
    gateway = AwsGateway(
        AwsClients(
            boto3.Session(region_name=REGION),
            config=Config(connect_timeout=1, retries={"mode": "standard", "total_max_attempts": 2}),
        )
    )
    attempts = inject_timeout(gateway.clients.cloudwatch, "DescribeAlarms", "connect")
    # WHEN / THEN
    with pytest.raises(AwsCallError, match="ConnectTimeoutError"):
        gateway.describe_alarms(PREFIX)
    assert len(attempts) == 2


def test_clients_retry_adaptively_and_time_out_well_inside_the_lambda_timeout() -> None:
    retries = CLIENT_CONFIG.retries or {}
    assert retries["mode"] == "adaptive"
    attempts = retries["total_max_attempts"]
    assert CLIENT_CONFIG.connect_timeout is not None
    assert CLIENT_CONFIG.read_timeout is not None
    worst_case = attempts * (CLIENT_CONFIG.connect_timeout + CLIENT_CONFIG.read_timeout)
    assert worst_case < 300 / 4


def test_the_lambda_gateway_and_its_clients_are_created_once_per_container() -> None:
    default_gateway.cache_clear()
    first = default_gateway()
    assert default_gateway() is first
    assert first.clients.cloudwatch is first.clients.cloudwatch
    default_gateway.cache_clear()
