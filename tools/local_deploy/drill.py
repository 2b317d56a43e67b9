"""The health verdict against the local stack, and the alarm drill (`make drill`).

The verdict is the validator's own command line (`python -m health_check.cli`), run as a
separate process exactly as an operator would. The drill breaches one production alarm and
then runs the validator's real job logic (`health_check.job.run_job`, what the Lambda handler
calls) against the emulator, so its real failure path publishes the real SNS notification; an
SQS queue subscribed to the topic catches it. Only the CodePipeline job report is replaced,
because moto implements no PutJobSuccessResult/PutJobFailureResult.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from typing import Any

from tools.local_deploy.clients import REGION, local_client, local_environment, local_session
from tools.local_deploy.emulator import REPO_ROOT

SERVICES = ("api-service", "auth-service", "notification-service")
ENVIRONMENT = "production"
QUEUE_PREFIX = "local-drill-notifications"
VERDICT_TIMEOUT_SECONDS = 120


class DrillError(RuntimeError):
    """The local stack lacks what the drill needs (an alarm, the topic)."""


@dataclass(frozen=True)
class VerdictRun:
    command: list[str]
    exit_code: int
    output: str

    @property
    def healthy(self) -> bool:
        return self.exit_code == 0


def verdict_command(endpoint_url: str, suffix: str, environment: str = ENVIRONMENT) -> list[str]:
    return [
        sys.executable,
        "-m",
        "health_check.cli",
        "--environment",
        environment,
        "--alarm-prefix",
        f"{suffix}-{environment}-",
        "--cluster",
        f"{environment}-cluster-{suffix}",
        "--services",
        ",".join(f"{service}-{suffix}" for service in SERVICES),
        "--endpoint-url",
        endpoint_url,
    ]


def run_verdict(endpoint_url: str, suffix: str, environment: str = ENVIRONMENT) -> VerdictRun:
    """The validator's CLI against the emulator; its SDK can reach nothing else."""
    command = verdict_command(endpoint_url, suffix, environment)
    environ = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    environ |= local_environment(endpoint_url)
    environ["PYTHONPATH"] = str(REPO_ROOT / "src" / "health_check")
    completed = subprocess.run(  # noqa: S603 - our own interpreter and module, no shell
        command,
        env=environ,
        capture_output=True,
        text=True,
        timeout=VERDICT_TIMEOUT_SECONDS,
        check=False,
    )
    return VerdictRun(command, completed.returncode, completed.stdout + completed.stderr)


def job_event(user_parameters: dict[str, Any]) -> dict[str, Any]:
    """A CodePipeline invoke-action job event, as the pipeline's health-check action sends it."""
    return {
        "CodePipeline.job": {
            "id": f"local-drill-{uuid.uuid4()}",
            "accountId": "123456789012",
            "data": {
                "actionConfiguration": {
                    "configuration": {
                        "FunctionName": "health-check-local",
                        "UserParameters": json.dumps(user_parameters),
                    }
                },
                "inputArtifacts": [],
                "outputArtifacts": [],
            },
        }
    }


@dataclass
class Drill:
    breached_alarm: str
    failing: VerdictRun
    job_outcome: str
    job_message: str
    reports: list[tuple[str, str]] = field(default_factory=list)
    notifications: list[dict[str, str]] = field(default_factory=list)
    recovered: VerdictRun | None = None


def _topic_arn(endpoint_url: str, suffix: str) -> str:
    sns = local_client("sns", endpoint_url)
    wanted = f"pipeline-notifications-{suffix}"
    for page in sns.get_paginator("list_topics").paginate():
        for topic in page.get("Topics", []):
            if topic["TopicArn"].rsplit(":", 1)[-1] == wanted:
                return str(topic["TopicArn"])
    raise DrillError(f"no SNS topic {wanted} in the emulator: deploy first")


@dataclass(frozen=True)
class _Listener:
    queue_url: str
    subscription_arn: str


def _subscribe_queue(endpoint_url: str, topic_arn: str) -> _Listener:
    """A new queue subscribed to the topic: it receives exactly this drill's messages."""
    sqs = local_client("sqs", endpoint_url)
    queue_url: str = sqs.create_queue(QueueName=f"{QUEUE_PREFIX}-{uuid.uuid4().hex[:8]}")[
        "QueueUrl"
    ]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    subscription = local_client("sns", endpoint_url).subscribe(
        TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn, ReturnSubscriptionArn=True
    )
    return _Listener(queue_url, subscription["SubscriptionArn"])


def _remove(endpoint_url: str, listener: _Listener) -> None:
    local_client("sns", endpoint_url).unsubscribe(SubscriptionArn=listener.subscription_arn)
    local_client("sqs", endpoint_url).delete_queue(QueueUrl=listener.queue_url)


def _received(endpoint_url: str, queue_url: str) -> list[dict[str, str]]:
    sqs = local_client("sqs", endpoint_url)
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
    notifications = []
    for message in messages:
        envelope = json.loads(message["Body"])  # SNS -> SQS wraps the notification in JSON
        notifications.append(
            {"subject": envelope.get("Subject", ""), "message": envelope.get("Message", "")}
        )
    return notifications


def _set_alarm(endpoint_url: str, alarm_name: str, state: str, reason: str) -> None:
    local_client("cloudwatch", endpoint_url).set_alarm_state(
        AlarmName=alarm_name, StateValue=state, StateReason=reason
    )


def first_alarm(endpoint_url: str, suffix: str, environment: str = ENVIRONMENT) -> str:
    reply = local_client("cloudwatch", endpoint_url).describe_alarms(
        AlarmNamePrefix=f"{suffix}-{environment}-"
    )
    names = sorted(alarm["AlarmName"] for alarm in reply.get("MetricAlarms", []))
    if not names:
        raise DrillError(f"no alarm named {suffix}-{environment}-* in the emulator")
    return str(names[0])


def _release_targets(endpoint_url: str, suffix: str) -> str:
    """RELEASE_TARGETS as template.yaml builds it for the health check, from the service stacks'
    outputs in the emulator (the emulator runs no function, so has no configuration to read)."""
    cloudformation = local_client("cloudformation", endpoint_url)
    outputs = [
        {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}
        for stack in cloudformation.describe_stacks()["Stacks"]
    ]
    targets: dict[str, Any] = {}
    for environment in ("staging", "production"):
        prefix = environment.capitalize()
        services = {}
        for service in SERVICES:
            # Without the service's stack (the fixture template has none) nothing can match the
            # cross-checks: every known-good record is refused, which is failing closed.
            stack = next(
                (o for o in outputs if o.get("RepositoryUri", "").endswith(f"/{service}-{suffix}")),
                {},
            )
            services[service] = {
                "ecs_service": f"{service}-{suffix}",
                "family": stack.get(f"{prefix}TaskFamily", "no-such-family"),
                "repository": stack.get("RepositoryUri", "no-such-repository"),
                "task_role": stack.get(f"{prefix}TaskRoleArn", "no-such-role"),
                "execution_role": stack.get(f"{prefix}ExecutionRoleArn", "no-such-role"),
            }
        targets[environment] = {
            "cluster": f"{environment}-cluster-{suffix}",
            "alarm_prefix": f"{suffix}-{environment}-",
            "services": services,
        }
    return json.dumps(targets)


def _run_pipeline_job(endpoint_url: str, suffix: str, topic_arn: str) -> tuple[Any, list[Any]]:
    """The validator's job logic, as its Lambda runs it, with CodePipeline's report recorded."""
    # Imported here: health_check is the Lambda's package (src/health_check), not a dependency
    # of the tooling; the Makefile and pytest put it on the path.
    from health_check.clients import AwsClients  # noqa: PLC0415
    from health_check.gateway import AwsGateway  # noqa: PLC0415
    from health_check.job import Runtime, SystemClock, run_job  # noqa: PLC0415

    reports: list[tuple[str, str]] = []

    class RecordingGateway(AwsGateway):
        """Every call real (against the emulator) except the report to CodePipeline."""

        def put_job_success(
            self,
            job_id: str,
            summary: str,
            percent_complete: int,
            continuation_token: str | None,
        ) -> bool:
            reports.append(("PutJobSuccessResult", summary))
            return True

        def put_job_failure(self, job_id: str, message: str) -> bool:
            reports.append(("PutJobFailureResult", message))
            return True

    endpoint = local_environment(endpoint_url)["AWS_ENDPOINT_URL"]
    gateway = RecordingGateway(AwsClients(local_session(), endpoint))
    parameters = {
        "environment": ENVIRONMENT,
        "alarm_prefix": f"{suffix}-{ENVIRONMENT}-",
        "bake_seconds": 0,
        "cluster": f"{ENVIRONMENT}-cluster-{suffix}",
        "services": [f"{service}-{suffix}" for service in SERVICES],
    }
    functions = f"arn:aws:lambda:{REGION}:123456789012:function"
    settings = {
        "NOTIFICATION_TOPIC_ARN": topic_arn,
        "CODEDEPLOY_APPLICATION": f"microservices-{suffix}",
        "SMOKE_TEST_HOOK_ARN": f"{functions}:CodeDeployHook_SmokeTest-{suffix}",
        "TRAFFIC_GUARD_HOOK_ARN": f"{functions}:CodeDeployHook_TrafficGuard-{suffix}",
        # What each environment's release may be: the deployed function's own configuration.
        "RELEASE_TARGETS": _release_targets(endpoint_url, suffix),
    }
    # The job logs its verdict as the Lambda would (a JSON line on stdout); here the drill prints
    # the outcome itself, so the log line would only interleave with its report.
    logging.disable(logging.INFO)
    try:
        result = run_job(
            job_event(parameters), Runtime(gateway, SystemClock(), settings), lambda: 300_000
        )
    finally:
        logging.disable(logging.NOTSET)
    return result, reports


def drill(endpoint_url: str, suffix: str) -> Drill:
    """Breach one production alarm, show the verdict and notification, then restore it."""
    alarm = first_alarm(endpoint_url, suffix)
    topic_arn = _topic_arn(endpoint_url, suffix)
    listener = _subscribe_queue(endpoint_url, topic_arn)
    _set_alarm(endpoint_url, alarm, "ALARM", "Local drill: a failed release breached it")
    try:
        failing = run_verdict(endpoint_url, suffix)
        result, reports = _run_pipeline_job(endpoint_url, suffix, topic_arn)
        drilled = Drill(
            breached_alarm=alarm,
            failing=failing,
            job_outcome=result.outcome.value,
            job_message=result.message,
            reports=reports,
            notifications=_received(endpoint_url, listener.queue_url),
        )
    finally:
        _set_alarm(endpoint_url, alarm, "OK", "Local drill: restored")
        _remove(endpoint_url, listener)
    drilled.recovered = run_verdict(endpoint_url, suffix)
    return drilled
