"""WaitForIdle ({"check": "idle"}): before a stage's deployments, wait until none of the
environment's deployment groups is busy and no alarm they watch is in ALARM, against moto."""

from __future__ import annotations

import json
from typing import Any

import pytest
from health_check.errors import ParameterError
from health_check.job import IDLE_LIMIT_SECONDS, JobResult, Runtime, run_job
from health_check.params import decode_token, parse_user_parameters
from health_check.verdict import Outcome

from tests.unit.health_check.conftest import Aws
from tests.unit.health_check.fakes import APPLICATION, PLENTY_MS, PREFIX, Clock, job_event

IDLE = {"check": "idle", "environment": "staging"}


def run(aws: Aws, clock: Clock, event: dict[str, Any]) -> JobResult:
    return run_job(event, Runtime(aws.gateway, clock, aws.environ), lambda: PLENTY_MS)


def reported(aws: Aws) -> tuple[str, dict[str, Any]]:
    (report,) = [
        (name, params)
        for name, params in aws.reports.calls
        if name in {"PutJobSuccessResult", "PutJobFailureResult"}
    ]
    return report


def watching(aws: Aws, group: str, alarm: str) -> None:
    """A deployment group whose alarm monitoring watches `alarm`. moto keeps no
    alarmConfiguration, so GetDeploymentGroup's answer gets it as AWS would give it."""
    codedeploy = aws.gateway.clients.codedeploy
    codedeploy.create_deployment_group(
        applicationName=APPLICATION,
        deploymentGroupName=group,
        serviceRoleArn="arn:aws:iam::123456789012:role/codedeploy",
    )

    def with_alarms(parsed: dict[str, Any], **_: object) -> None:
        info = parsed.get("deploymentGroupInfo", {})
        if info.get("deploymentGroupName") == group:
            info["alarmConfiguration"] = {"enabled": True, "alarms": [{"name": alarm}]}

    codedeploy.meta.events.register("after-call.codedeploy.GetDeploymentGroup", with_alarms)


def test_an_idle_environment_lets_the_deployments_go_at_once(aws: Aws, clock: Clock) -> None:
    # GIVEN a staging group with nothing in progress and its watched alarm OK
    watching(aws, "staging-api-service", f"{PREFIX}api-5xx")
    aws.alarm(f"{PREFIX}api-5xx", "OK")
    # WHEN the gate runs
    result = run(aws, clock, job_event(IDLE))
    # THEN it succeeds without a continuation
    assert result.outcome is Outcome.SUCCEEDED
    name, params = reported(aws)
    assert name == "PutJobSuccessResult"
    assert "continuationToken" not in params


def test_a_deployment_in_progress_is_waited_for_and_named(aws: Aws, clock: Clock) -> None:
    # GIVEN a deployment still in progress in a staging group (a rollback, a restore, ...)
    deployment = aws.deployment("staging-api-service")
    # WHEN the gate runs
    result = run(aws, clock, job_event(IDLE))
    # THEN it asks to be invoked again, saying what it waits for
    assert result.outcome is Outcome.WAITING
    assert deployment in result.message
    name, params = reported(aws)
    assert name == "PutJobSuccessResult"
    assert params["continuationToken"]


def test_another_environments_deployment_is_not_waited_for(aws: Aws, clock: Clock) -> None:
    # GIVEN a deployment in progress in production only
    aws.deployment("production-api-service")
    # WHEN staging's gate runs  THEN staging is idle
    assert run(aws, clock, job_event(IDLE)).outcome is Outcome.SUCCEEDED


def test_a_watched_alarm_in_alarm_is_waited_for(aws: Aws, clock: Clock) -> None:
    # GIVEN the release before left an alarm its group watches in ALARM: a deployment created now
    # would be stopped by the group's alarm monitoring at once
    watching(aws, "staging-api-service", f"{PREFIX}api-5xx")
    aws.alarm(f"{PREFIX}api-5xx", "ALARM")
    # WHEN the gate runs  THEN it waits, naming the alarm
    result = run(aws, clock, job_event(IDLE))
    assert result.outcome is Outcome.WAITING
    assert f"alarm {PREFIX}api-5xx in ALARM" in result.message


def test_an_alarm_no_group_watches_does_not_hold_the_release(aws: Aws, clock: Clock) -> None:
    # GIVEN an environment alarm in ALARM that no deployment group lists (a standing one)
    watching(aws, "staging-api-service", f"{PREFIX}api-5xx")
    aws.alarm(f"{PREFIX}api-5xx", "OK")
    aws.alarm(f"{PREFIX}running-tasks", "ALARM")
    # WHEN the gate runs  THEN it is not held by it (the health check judges alarms, not the gate)
    assert run(aws, clock, job_event(IDLE)).outcome is Outcome.SUCCEEDED


def test_a_busy_environment_fails_the_stage_after_the_limit_naming_what_it_waited_for(
    aws: Aws, clock: Clock
) -> None:
    # GIVEN a deployment that never ends, and the gate's first invocation
    deployment = aws.deployment("staging-api-service")
    first = run(aws, clock, job_event(IDLE))
    token = first.continuation_token
    # WHEN it is invoked again past the limit
    clock.now += IDLE_LIMIT_SECONDS
    aws.reports.calls.clear()
    result = run(aws, clock, job_event(IDLE, token=token))
    # THEN the stage fails, saying what was still busy and not deploying into it
    assert result.outcome is Outcome.FAILED_BUSY
    name, params = reported(aws)
    assert name == "PutJobFailureResult"
    assert deployment in params["failureDetails"]["message"]


def test_the_gate_keeps_its_start_across_continuations(aws: Aws, clock: Clock) -> None:
    # GIVEN a first invocation that had to wait
    aws.deployment("staging-api-service")
    started = clock.now
    token = run(aws, clock, job_event(IDLE)).continuation_token
    assert token is not None
    # WHEN the token is read back a minute later  THEN it still counts from the first invocation
    clock.now += 60
    read = decode_token(token, parse_user_parameters(json.dumps(IDLE)), clock.now)
    assert read.started_at == int(started)


def test_idle_parameters_need_no_alarm_prefix() -> None:
    parsed = parse_user_parameters(json.dumps(IDLE))
    assert (parsed.check, parsed.environment) == ("idle", "staging")


def test_an_unknown_check_is_refused_naming_the_choices() -> None:
    with pytest.raises(ParameterError, match="health or idle"):
        parse_user_parameters(json.dumps({**IDLE, "check": "idel"}))
