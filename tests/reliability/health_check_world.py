"""The health-check function's AWS, canned: alarms, ECS services, the topic, CodeDeploy and the
CodePipeline job-result calls, answered by CannedAws through the function's own gateway."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from health_check.clients import CLIENT_CONFIG, REPORT_CONFIG
from health_check.gateway import AwsGateway

from tests.reliability.canned_aws import CannedAws

APPLICATION = "microservices-dev"
TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:pipeline-notifications-dev"
_FUNCTION = "arn:aws:lambda:us-east-1:123456789012:function:"
ENVIRON = {
    "NOTIFICATION_TOPIC_ARN": TOPIC_ARN,
    "CODEDEPLOY_APPLICATION": APPLICATION,
    "SMOKE_TEST_HOOK_ARN": f"{_FUNCTION}CodeDeployHook_SmokeTest-dev",
    "TRAFFIC_GUARD_HOOK_ARN": f"{_FUNCTION}CodeDeployHook_TrafficGuard-dev",
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


def _service(name: str, steady: bool) -> dict[str, Any]:
    """Each service runs revision 2 of its task definition; its known-good is revision 1."""
    running = _TASK_DEFINITION.format(service=name.removesuffix("-dev"), n=2)
    return {
        "serviceName": name,
        "status": "ACTIVE",
        "runningCount": 2 if steady else 1,
        "desiredCount": 2,
        "deploymentController": {"type": "CODE_DEPLOY"},
        "taskDefinition": running,
        "taskSets": [{"status": "PRIMARY", "taskDefinition": running}],
    }


def _known_good(params: dict[str, Any]) -> dict[str, Any]:
    service = params["Name"].split("/")[3]
    record = {
        "task_definition": _TASK_DEFINITION.format(service=service, n=1),
        "image": f"123456789012.dkr.ecr.us-east-1.amazonaws.com/{service}-dev:tree-1",
        "recorded_at": "2026-11-29T10:00:00+00:00",
        "job_id": "job-0",
    }
    return {"Parameter": {"Name": params["Name"], "Type": "String", "Value": json.dumps(record)}}


def arrange(
    canned: CannedAws, alarm_pages: list[list[str]], *, services_steady: bool = True
) -> None:
    """A world whose alarms (their states, in pages) and services are given; CodeDeploy has one
    active deployment per deployment group."""
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
                "services": [_service(name, services_steady) for name in params["services"]],
                "failures": [],
            },
            "Publish": {"MessageId": "message-1"},
            "ListDeploymentGroups": {"applicationName": APPLICATION, "deploymentGroups": GROUPS},
            "ListDeployments": lambda params: {
                "deployments": [f"d-{params['deploymentGroupName']}"]
            },
            "StopDeployment": {"status": "Pending"},
            "GetDeployment": {"deploymentInfo": {"description": ""}},
            "CreateDeployment": {"deploymentId": "d-restore"},
            "GetParameter": _known_good,
            "PutParameter": {"Version": 2},
            "DescribeTaskDefinition": lambda params: {
                "taskDefinition": {
                    "taskDefinitionArn": params["taskDefinition"],
                    "containerDefinitions": [
                        {
                            "name": params["taskDefinition"].split("/")[1].split("-staging")[0],
                            "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/app:tree-2",
                        }
                    ],
                }
            },
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
