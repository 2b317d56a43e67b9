"""Test doubles: recorders for the calls moto does not implement, fault injection for the ones
it does (both hook botocore's event system on one client, so other calls still reach moto), an
injected clock and a CodePipeline job event builder."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.awsrequest import AWSResponse, HTTPHeaders
from botocore.client import BaseClient
from botocore.config import Config
from botocore.exceptions import ConnectTimeoutError, ReadTimeoutError

REGION = "us-east-1"
PREFIX = "dev-staging-"
CLUSTER = "staging-cluster-dev"
APPLICATION = "microservices-dev"
SMOKE_TEST_HOOK_ARN = "arn:aws:lambda:us-east-1:123456789012:function:CodeDeployHook_SmokeTest-dev"
TRAFFIC_GUARD_HOOK_ARN = (
    "arn:aws:lambda:us-east-1:123456789012:function:CodeDeployHook_TrafficGuard-dev"
)
ACCOUNT = "123456789012"
SERVICES = ("api-service", "auth-service", "notification-service")


def repository(service: str) -> str:
    """The service's ECR repository URI, as the service stack creates it."""
    return f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{service}-dev"


def role(environment: str, service: str, kind: str) -> str:
    """The service's task or execution role ARN in the environment (kind: task, execution)."""
    return f"arn:aws:iam::{ACCOUNT}:role/{service}-{environment}-{kind}-dev"


def pinned(service: str, release: str = "1") -> str:
    """An image of the service's repository pinned by digest (the release names the digest)."""
    return f"{repository(service)}@sha256:{hashlib.sha256(release.encode()).hexdigest()}"


def release_targets(services: dict[str, tuple[str, ...]] | None = None) -> str:
    """RELEASE_TARGETS as the template writes it: each environment's cluster, alarm prefix and
    services (by default every service in both environments)."""
    chosen = services or {"staging": SERVICES, "production": SERVICES}
    return json.dumps(
        {
            environment: {
                "cluster": f"{environment}-cluster-dev",
                "alarm_prefix": f"dev-{environment}-",
                "services": {
                    service: {
                        "ecs_service": f"{service}-dev",
                        "family": f"{service}-{environment}-dev",
                        "repository": repository(service),
                        "task_role": role(environment, service, "task"),
                        "execution_role": role(environment, service, "execution"),
                    }
                    for service in names
                },
            }
            for environment, names in chosen.items()
        }
    )


def task_definition_arguments(environment: str, service: str, release: str = "1") -> dict[str, Any]:
    """RegisterTaskDefinition's arguments of a release the pipeline built for the service in
    the environment: its family, its image pinned by digest, its roles."""
    return {
        "family": f"{service}-{environment}-dev",
        "taskRoleArn": role(environment, service, "task"),
        "executionRoleArn": role(environment, service, "execution"),
        "containerDefinitions": [
            {"name": service, "image": pinned(service, release), "memory": 512}
        ],
    }


# More Lambda time than any check here needs: the deadline never cuts these short.
PLENTY_MS = 300_000
JOB_ID = "11111111-2222-3333-4444-555555555555"
# One attempt, short timeouts: fault tests fail at once instead of sleeping through backoff.
FAST_CONFIG = Config(connect_timeout=1, read_timeout=1, retries={"total_max_attempts": 1})


@dataclass
class Clock:
    """An injected clock: tests move time forward instead of sleeping."""

    now: float = 1_800_000_000.0

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def _reply(status: int, body: dict[str, Any]) -> tuple[AWSResponse, dict[str, Any]]:
    return AWSResponse("https://fake.invalid", status, HTTPHeaders(), None), body


def client_error_body(code: str, message: str = "injected") -> dict[str, Any]:
    return {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": 400},
    }


@dataclass
class CallRecorder:
    """Answers the given operations of one client itself and records their parameters."""

    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)  # operation -> error code to return

    def attach(self, client: BaseClient, *operations: str) -> CallRecorder:
        service = client.meta.service_model.service_id.hyphenize()
        for operation in operations:
            # The same two events botocore's Stubber uses: parameters as the caller gave them,
            # then a reply instead of an HTTP request.
            client.meta.events.register_first(
                f"before-parameter-build.{service}.{operation}", self._record
            )
            client.meta.events.register_first(f"before-call.{service}.{operation}", self._answer)
        return self

    def _record(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        self.calls.append((model.name, dict(params)))

    def _answer(self, model: Any, **_: Any) -> tuple[AWSResponse, Any]:
        if model.name in self.errors:
            return _reply(400, client_error_body(self.errors[model.name]))
        return _reply(200, {"ResponseMetadata": {"HTTPStatusCode": 200}})

    def named(self, operation: str) -> list[dict[str, Any]]:
        return [params for name, params in self.calls if name == operation]


def inject_client_error(client: BaseClient, operation: str, code: str) -> None:
    """Every call of `operation` fails with the AWS error `code` (as after all retries)."""
    service = client.meta.service_model.service_id.hyphenize()

    def fail(**_: Any) -> tuple[AWSResponse, Any]:
        return _reply(400, client_error_body(code))

    client.meta.events.register_first(f"before-call.{service}.{operation}", fail)


def inject_timeout(client: BaseClient, operation: str, kind: str) -> list[int]:
    """Every attempt of `operation` times out on the wire; returns the attempt counter."""
    service = client.meta.service_model.service_id.hyphenize()
    attempts: list[int] = []

    def time_out(request: Any, **_: Any) -> None:
        attempts.append(1)
        if kind == "connect":
            raise ConnectTimeoutError(endpoint_url=request.url)
        raise ReadTimeoutError(endpoint_url=request.url)

    client.meta.events.register_first(f"before-send.{service}.{operation}", time_out)
    return attempts


# Long before any injected clock's bake: a state change that cannot interrupt a healthy streak.
LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)


@dataclass
class AlarmTimestamps:
    """moto stamps alarm state changes with the wall clock, but the tests run on an injected one;
    this rewrites DescribeAlarms' StateUpdatedTimestamp to `at`, or per alarm to `changed[name]`."""

    at: datetime = LONG_AGO
    changed: dict[str, datetime] = field(default_factory=dict)

    def attach(self, client: BaseClient) -> AlarmTimestamps:
        client.meta.events.register("after-call.cloudwatch.DescribeAlarms", self._pin)
        return self

    def _pin(self, parsed: dict[str, Any], **_: Any) -> None:
        for alarm in [*parsed.get("MetricAlarms", []), *parsed.get("CompositeAlarms", [])]:
            alarm["StateUpdatedTimestamp"] = self.changed.get(alarm["AlarmName"], self.at)


def job_event(
    user_parameters: object = None, token: object = None, job_id: str = JOB_ID
) -> dict[str, Any]:
    """A CodePipeline job event; dict/list parameters are JSON-encoded, strings passed as is."""
    if user_parameters is None:
        user_parameters = {"environment": "staging", "alarm_prefix": PREFIX, "bake_seconds": 300}
    if not isinstance(user_parameters, str):
        user_parameters = json.dumps(user_parameters)
    data: dict[str, Any] = {
        "actionConfiguration": {
            "configuration": {"FunctionName": "health-check-dev", "UserParameters": user_parameters}
        },
        "inputArtifacts": [],
        "outputArtifacts": [],
    }
    if token is not None:
        data["continuationToken"] = token
    return {"CodePipeline.job": {"id": job_id, "accountId": "123456789012", "data": data}}


@dataclass
class CallLog:
    """Records the parameters of one client's calls (the given operations, else every one) and
    lets them go on to be answered (by moto): for checking what was called, or that nothing was."""

    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def attach(self, client: BaseClient, *operations: str) -> CallLog:
        service = client.meta.service_model.service_id.hyphenize()
        events = [f"before-parameter-build.{service}.{operation}" for operation in operations]
        for event in events or [f"before-parameter-build.{service}"]:
            client.meta.events.register_first(event, self._record)
        return self

    def _record(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        self.calls.append((model.name, dict(params)))

    def named(self, operation: str) -> list[dict[str, Any]]:
        return [params for name, params in self.calls if name == operation]


@dataclass
class Rollbacks:
    """moto never creates a CodeDeploy rollback: this makes GetDeployment describe the given
    deployments as CodeDeploy's rollbacks (`creator`, `rollbackInfo`: as CodeDeploy sets them)."""

    of: dict[str, str] = field(default_factory=dict)  # rollback id -> the deployment it rolls back

    def attach(self, client: BaseClient) -> Rollbacks:
        client.meta.events.register("after-call.codedeploy.GetDeployment", self._describe)
        return self

    def _describe(self, parsed: dict[str, Any], **_: Any) -> None:
        info = parsed.get("deploymentInfo", {})
        rolled_back = self.of.get(info.get("deploymentId", ""))
        if rolled_back is not None:
            info["creator"] = "codeDeployRollback"
            info["rollbackInfo"] = {"rollbackTriggeringDeploymentId": rolled_back}
