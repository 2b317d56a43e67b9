"""The Lambda entry point with the events/ files `sam local invoke` uses: logs, metrics, reply."""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from health_check.errors import NotAJobEventError
from health_check.gateway import default_gateway
from health_check.job import Runtime
from health_check.observability import logger
from health_check.verdict import Outcome
from moto import mock_aws

from health_check import handler
from tests.support import load_event, put_alarm
from tests.unit.health_check.fakes import (
    APPLICATION,
    REGION,
    SMOKE_TEST_HOOK_ARN,
    TRAFFIC_GUARD_HOOK_ARN,
    AlarmTimestamps,
    CallRecorder,
    Clock,
    release_targets,
)


@dataclass
class FakeContext:
    function_name: str = "health-check-dev"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:health-check-dev"
    aws_request_id: str = "req-1"

    def get_remaining_time_in_millis(self) -> int:
        return 300_000


@pytest.fixture
def reports(monkeypatch: pytest.MonkeyPatch) -> Iterator[CallRecorder]:
    """The real Lambda wiring (default gateway, os.environ) against moto."""
    with mock_aws():
        default_gateway.cache_clear()
        gateway = default_gateway()
        AlarmTimestamps().attach(gateway.clients.cloudwatch)
        topic = gateway.clients.sns.create_topic(Name="pipeline-notifications-dev")["TopicArn"]
        monkeypatch.setenv("NOTIFICATION_TOPIC_ARN", topic)
        monkeypatch.setenv("CODEDEPLOY_APPLICATION", APPLICATION)
        monkeypatch.setenv("SMOKE_TEST_HOOK_ARN", SMOKE_TEST_HOOK_ARN)
        monkeypatch.setenv("TRAFFIC_GUARD_HOOK_ARN", TRAFFIC_GUARD_HOOK_ARN)
        monkeypatch.setenv("RELEASE_TARGETS", release_targets())
        monkeypatch.setenv("MOTO_ECS_SERVICE_RUNNING", "1")
        ecs = boto3.client("ecs", region_name=REGION)
        ecs.create_cluster(clusterName="staging-cluster-dev")
        task = ecs.register_task_definition(
            family="app", containerDefinitions=[{"name": "app", "image": "app:1", "memory": 512}]
        )["taskDefinition"]["taskDefinitionArn"]
        for name in ("api-service-dev", "auth-service-dev", "notification-service-dev"):
            ecs.create_service(
                cluster="staging-cluster-dev", serviceName=name, taskDefinition=task, desiredCount=1
            )
        put_alarm(gateway.clients.cloudwatch, "dev-staging-api-service-5xx", reason="quiet")
        yield CallRecorder().attach(
            gateway.clients.codepipeline, "PutJobSuccessResult", "PutJobFailureResult"
        )
        default_gateway.cache_clear()


def json_lines(captured: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in captured.splitlines() if line.startswith("{")]


def test_the_staging_event_starts_a_bake_and_logs_and_measures_it(
    reports: CallRecorder, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the first-invocation event, and the JSON log lines captured
    event = load_event("health_check_staging.json")
    log = io.StringIO()
    monkeypatch.setattr(logger.registered_handler, "stream", log)
    # WHEN
    reply = handler.lambda_handler(event, FakeContext())
    # THEN the job succeeded with a token
    assert reply["outcome"] == "baking"
    (name, params) = reports.calls[0]
    assert (name, len(reports.calls)) == ("PutJobSuccessResult", 1)
    assert params["jobId"] == "11111111-abcd-1111-abcd-111111111111"
    assert "continuationToken" in params
    # AND the verdict log line carries the job id
    verdict_log = next(
        line for line in json_lines(log.getvalue()) if line.get("message") == "verdict"
    )
    assert verdict_log["job_id"] == "11111111-abcd-1111-abcd-111111111111"
    assert verdict_log["environment"] == "staging"
    # AND EMF metrics count the verdict by outcome and record the check's duration
    emf = [line for line in json_lines(capsys.readouterr().out) if "_aws" in line]
    verdicts = next(line for line in emf if "Verdicts" in line)
    assert verdicts["Outcome"] == "baking"
    assert any("CheckDuration" in line for line in emf)


def test_the_malformed_parameters_event_fails_its_job(reports: CallRecorder) -> None:
    reply = handler.lambda_handler(
        load_event("health_check_malformed_parameters.json"), FakeContext()
    )
    assert reply["outcome"] == "failed_parameters"
    (name, params) = reports.calls[0]
    assert name == "PutJobFailureResult"
    assert "bake_seconds must not be negative" in params["failureDetails"]["message"]


def test_the_continuation_event_resumes_the_bake_it_carries(reports: CallRecorder) -> None:
    # GIVEN the continuation event and a clock 120 s into the bake its token records
    event = load_event("health_check_continuation.json")
    raw_token = event["CodePipeline.job"]["data"]["continuationToken"]
    clock = Clock(json.loads(raw_token)["started_at"] + 120.0)
    # WHEN the handler runs it on that clock
    reply = handler.handle(event, FakeContext(), Runtime(default_gateway(), clock, os.environ))  # type: ignore[arg-type]
    # THEN it keeps baking with the same token
    assert reply["outcome"] == Outcome.BAKING.value
    assert reports.calls[0][1]["continuationToken"] == raw_token


@pytest.mark.filterwarnings("ignore:No application metrics to publish")
def test_a_non_pipeline_event_raises_a_clear_error_and_reports_nothing(
    reports: CallRecorder,
) -> None:
    with pytest.raises(NotAJobEventError, match="not a CodePipeline job event"):
        handler.lambda_handler({"detail-type": "Scheduled Event"}, FakeContext())
    assert reports.calls == []
