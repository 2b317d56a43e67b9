"""The health-check function's AWS, canned: alarms, ECS services and task definitions, the topic,
SSM, CodeDeploy, Application Auto Scaling and the CodePipeline job-result calls, answered by
CannedAws through the function's own gateway."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from health_check.clients import CLIENT_CONFIG, REPORT_CONFIG
from health_check.gateway import AwsGateway
from health_check.params import encode_token, new_token, parse_user_parameters
from health_check.verdict import Outcome

from tests.reliability.canned_aws import CannedAws
from tests.unit.health_check.fakes import pinned, release_targets, role

APPLICATION = "microservices-dev"
TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:pipeline-notifications-dev"
_FUNCTION = "arn:aws:lambda:us-east-1:123456789012:function:"
ENVIRON = {
    "NOTIFICATION_TOPIC_ARN": TOPIC_ARN,
    "CODEDEPLOY_APPLICATION": APPLICATION,
    "SMOKE_TEST_HOOK_ARN": f"{_FUNCTION}CodeDeployHook_SmokeTest-dev",
    "TRAFFIC_GUARD_HOOK_ARN": f"{_FUNCTION}CodeDeployHook_TrafficGuard-dev",
    # Each environment's cluster, services, families, repositories and roles (what the template
    # writes): the event only chooses the environment.
    "RELEASE_TARGETS": release_targets(),
}
_TASK_DEFINITION = "arn:aws:ecs:us-east-1:123456789012:task-definition/{service}-staging-dev:{n}"
PREFIX = "dev-staging-"
CLUSTER = "staging-cluster-dev"
SERVICES = ("api-service-dev", "auth-service-dev", "notification-service-dev")
GROUPS = ("staging-api-service", "staging-auth-service", "production-api-service")
USER_PARAMETERS = {
    "environment": "staging",
    "alarm_prefix": PREFIX,
    "bake_seconds": 300,
    "cluster": CLUSTER,
    "services": list(SERVICES),
}
JOB_RESULT_CALLS = ("PutJobSuccessResult", "PutJobFailureResult")


@dataclass(frozen=True)
class FixedClock:
    """A clock stopped at one moment: these tests are about calls, not the passing of time."""

    now: float

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.now


def attach(gateway: AwsGateway, canned: CannedAws) -> AwsGateway:
    """Every client the gateway makes, answered by `canned` (costed with the real config)."""
    for client in (
        gateway.clients.cloudwatch,
        gateway.clients.ecs,
        gateway.clients.sns,
        gateway.clients.ssm,
        gateway.clients.ecr,
        gateway.clients.codedeploy,
        gateway.clients.autoscaling,
    ):
        canned.attach(client, CLIENT_CONFIG)
    canned.attach(gateway.clients.codepipeline, REPORT_CONFIG)
    return gateway


def job_event(job_id: str, user_parameters: Any = None, token: Any = None) -> dict[str, Any]:
    parameters = USER_PARAMETERS if user_parameters is None else user_parameters
    data: dict[str, Any] = {
        "actionConfiguration": {
            "configuration": {
                "FunctionName": "health-check-dev",
                "UserParameters": parameters
                if isinstance(parameters, str)
                else json.dumps(parameters),
            }
        }
    }
    if token is not None:
        data["continuationToken"] = token
    return {"CodePipeline.job": {"id": job_id, "accountId": "123456789012", "data": data}}


def restoring_token(
    now: float,
    user_parameters: dict[str, Any] = USER_PARAMETERS,
    failed_as: Outcome = Outcome.FAILED_ALARM,
) -> str:
    """The token of a check of `user_parameters` that found the environment failed at `now` and
    began restoring it."""
    token = new_token(parse_user_parameters(json.dumps(user_parameters)), int(now) - 60)
    return encode_token(token.restoring(now, "1 alarm(s) in ALARM: dev-staging-x", failed_as))


@dataclass(frozen=True)
class World:
    """What the function finds besides the alarms: each field can be changed by a test."""

    services_steady: bool = True
    # Each deployment group has a deployment in progress (the pipeline's).
    busy: bool = True
    # The services run their known-good release (revision 1) instead of revision 2.
    on_known_good: bool = False
    # DescribeTaskDefinition's status of every task definition (INACTIVE: deregistered).
    task_definition_status: str = "ACTIVE"
    # Each service has a scalable target.
    scalable: bool = True
    groups: tuple[str, ...] = GROUPS


def _service(name: str, steady: bool, revision: int) -> dict[str, Any]:
    """Each service runs `revision` of its task definition; its known-good is revision 1."""
    running = _TASK_DEFINITION.format(service=name.removesuffix("-dev"), n=revision)
    return {
        "serviceName": name,
        "status": "ACTIVE",
        "runningCount": 2 if steady else 1,
        "desiredCount": 2,
        "deploymentController": {"type": "CODE_DEPLOY"},
        "taskDefinition": running,
        "taskSets": [{"status": "PRIMARY", "taskDefinition": running}],
    }


def _parameter(params: dict[str, Any]) -> dict[str, Any]:
    """`/pipeline/{environment}/{service}/known-good`: revision 1; any other (the restore
    records): an empty value, which no reader takes for a record."""
    name = params["Name"]
    _, _, _, service, kind = name.split("/")
    record = {
        "task_definition": _TASK_DEFINITION.format(service=service, n=1),
        "image": pinned(service, "1"),
        "recorded_at": "2026-11-29T10:00:00+00:00",
        "job_id": "job-0",
    }
    value = json.dumps(record) if kind == "known-good" else ""
    return {"Parameter": {"Name": name, "Type": "String", "Value": value}}


def _task_definition(arn: str, status: str) -> dict[str, Any]:
    """A staging task definition as the pipeline builds it: the service's family, its image of
    the service's repository pinned by digest (the revision names the digest), its roles."""
    family, _, revision = arn.split("/")[1].partition(":")
    service = family.removesuffix("-staging-dev")
    return {
        "taskDefinition": {
            "taskDefinitionArn": arn,
            "family": family,
            "status": status,
            "taskRoleArn": role("staging", service, "task"),
            "executionRoleArn": role("staging", service, "execution"),
            "containerDefinitions": [{"name": service, "image": pinned(service, revision)}],
        }
    }


def arrange(
    canned: CannedAws,
    alarm_pages: list[list[str]],
    *,
    services_steady: bool = True,
    world: World | None = None,
) -> None:
    """A world whose alarms (their states, in pages) are given, and the rest as `world` says
    (by default: steady services on revision 2, one deployment in progress per group)."""
    world = world or World(services_steady=services_steady)
    canned.reset()

    def describe_alarms(params: dict[str, Any]) -> dict[str, Any]:
        page = int(params.get("NextToken") or 0)
        states = alarm_pages[page] if page < len(alarm_pages) else []
        reply: dict[str, Any] = {
            "MetricAlarms": [
                {"AlarmName": f"{PREFIX}alarm-{page}-{n}", "StateValue": state}
                for n, state in enumerate(states)
            ]
        }
        if page + 1 < len(alarm_pages):
            reply["NextToken"] = str(page + 1)
        return reply

    canned.replies.update(
        {
            "DescribeAlarms": describe_alarms,
            "DescribeServices": lambda params: {
                "services": [
                    _service(name, world.services_steady, 1 if world.on_known_good else 2)
                    for name in params["services"]
                ],
                "failures": [],
            },
            "Publish": {"MessageId": "message-1"},
            "ListDeploymentGroups": {
                "applicationName": APPLICATION,
                "deploymentGroups": list(world.groups),
            },
            "ListDeployments": lambda params: {
                "deployments": [f"d-{params['deploymentGroupName']}"] if world.busy else []
            },
            "StopDeployment": {"status": "Pending"},
            "GetDeployment": lambda params: {
                "deploymentInfo": {
                    "deploymentId": params["deploymentId"],
                    "deploymentGroupName": params["deploymentId"].removeprefix("d-"),
                    "status": "InProgress",
                    "creator": "user",
                }
            },
            "GetDeploymentGroup": lambda params: {
                "deploymentGroupInfo": {
                    "deploymentGroupName": params["deploymentGroupName"],
                    "ecsServices": [
                        {
                            "serviceName": params["deploymentGroupName"].partition("-")[2] + "-dev",
                            "clusterName": CLUSTER,
                        }
                    ],
                }
            },
            "CreateDeployment": {"deploymentId": "d-restore"},
            "GetParameter": _parameter,
            "PutParameter": {"Version": 2},
            "DescribeTaskDefinition": lambda params: _task_definition(
                params["taskDefinition"], world.task_definition_status
            ),
            "RegisterTaskDefinition": lambda params: {
                "taskDefinition": {
                    "taskDefinitionArn": _TASK_DEFINITION.format(
                        service=params["family"].removesuffix("-staging-dev"), n=3
                    ),
                    "status": "ACTIVE",
                }
            },
            "DescribeScalableTargets": lambda params: {
                "ScalableTargets": [
                    {
                        "ServiceNamespace": "ecs",
                        "ResourceId": params["ResourceIds"][0],
                        "ScalableDimension": "ecs:service:DesiredCount",
                        "MinCapacity": 2,
                        "MaxCapacity": 8,
                        "RoleARN": "arn:aws:iam::123456789012:role/scaling",
                        "CreationTime": 1_767_225_600,
                    }
                ]
                if world.scalable
                else []
            },
            "RegisterScalableTarget": {},
            "BatchGetImage": {"images": [{"imageManifest": "{}"}]},
            "PutImage": {"image": {}},
            "PutJobSuccessResult": {},
            "PutJobFailureResult": {},
        }
    )


def job_results(canned: CannedAws) -> list[tuple[str, dict[str, Any]]]:
    """The job-result calls made (a failed attempt included), with their parameters."""
    return [(c.operation, c.params) for c in canned.calls if c.operation in JOB_RESULT_CALLS]


def accepted_success(canned: CannedAws) -> bool:
    return any(c.operation == "PutJobSuccessResult" and not c.failed for c in canned.calls)
