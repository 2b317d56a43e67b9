"""The job contract end to end against moto: one job result per job, fail closed, bake."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from health_check.deployments import RestoreRecord, restore_parameter
from health_check.errors import (
    AwsCallError,
    HealthCheckError,
    NotAJobEventError,
    ReportError,
)
from health_check.gateway import AwsGateway
from health_check.job import RESTORE_LIMIT_SECONDS, JobResult, Runtime, run_job
from health_check.params import encode_token, new_token, parse_user_parameters
from health_check.release import KNOWN_GOOD_PARAMETER, KnownGood
from health_check.verdict import AlarmFact, Outcome
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.unit.health_check.conftest import Aws
from tests.unit.health_check.fakes import (
    CLUSTER,
    JOB_ID,
    PLENTY_MS,
    PREFIX,
    Clock,
    inject_client_error,
    inject_timeout,
    job_event,
)

STAGING = {"environment": "staging", "alarm_prefix": PREFIX, "bake_seconds": 300}
REPORTS = ("PutJobSuccessResult", "PutJobFailureResult")


@pytest.fixture(autouse=True)
def _configured(aws: Aws) -> None:
    """The function configured for staging's api-service only: what these tests create."""
    aws.configure(staging=("api-service",))


@pytest.fixture
def steady(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    """staging's configured service, running every task it wants: a check of alarms."""
    aws.services(monkeypatch, ["api-service-dev"], running=2)


def run(aws: Aws, clock: Clock, event: dict[str, Any]) -> JobResult:
    return run_job(event, Runtime(aws.gateway, clock, aws.environ), lambda: PLENTY_MS)


def only_report(aws: Aws) -> tuple[str, dict[str, Any]]:
    """The single job result reported; fails the test if there were none or several."""
    (report,) = [(name, params) for name, params in aws.reports.calls if name in REPORTS]
    return report


def failure_message(aws: Aws) -> str:
    name, params = only_report(aws)
    assert name == "PutJobFailureResult"
    assert params["jobId"] == JOB_ID
    message: str = params["failureDetails"]["message"]
    return message


def test_a_breached_alarm_with_no_known_good_release_fails_the_job_then_notifies(
    aws: Aws, clock: Clock, steady: None
) -> None:
    # GIVEN one breached staging alarm, and no known-good release recorded to restore
    aws.alarm(f"{PREFIX}api-5xx", "ALARM")
    aws.alarm(f"{PREFIX}auth-5xx", "OK")
    # WHEN
    result = run(aws, clock, job_event(STAGING))
    # THEN the job fails at once, naming the alarm and why nothing was restored
    assert result.outcome is Outcome.FAILED_ALARM
    message = failure_message(aws)
    assert f"{PREFIX}api-5xx" in message
    assert f"{PREFIX}auth-5xx" not in message
    assert (
        "restore of the last known-good release: api-service: no known-good release recorded"
        in message
    )
    # AND the notification names the alarm, the environment, the pipeline job and the restore
    (notification,) = aws.notifications()
    assert f"{PREFIX}api-5xx" in notification["Message"]
    assert "staging" in notification["Message"]
    assert JOB_ID in notification["Message"]
    assert "Restore:" in notification["Message"]


def test_a_failed_notification_does_not_undo_the_reported_failure(
    aws: Aws, clock: Clock, steady: None
) -> None:
    # GIVEN a breached alarm and SNS refusing
    aws.alarm(f"{PREFIX}api-5xx", "ALARM")
    inject_client_error(aws.gateway.clients.sns, "Publish", "AuthorizationError")
    # WHEN
    result = run(aws, clock, job_event(STAGING))
    # THEN the failure was reported (once) and the invocation ends normally: raising would make
    # Lambda run it again and repeat the restore's calls
    assert result.outcome is Outcome.FAILED_ALARM
    assert len(aws.reports.calls) == 1
    assert "PutJobFailureResult" in str(aws.reports.calls[0])


def test_no_alarm_matching_the_prefix_fails_as_misconfigured(
    aws: Aws, clock: Clock, steady: None
) -> None:
    aws.alarm("dev-production-api-5xx", "OK")
    result = run(aws, clock, job_event(STAGING))
    assert result.outcome is Outcome.FAILED_MISCONFIGURED
    assert "nothing to validate" in failure_message(aws)


def test_healthy_first_invocation_succeeds_with_a_continuation_token(
    aws: Aws, clock: Clock, steady: None
) -> None:
    # GIVEN healthy alarms
    aws.alarm(f"{PREFIX}api-5xx", "OK")
    # WHEN the first invocation runs
    result = run(aws, clock, job_event(STAGING))
    # THEN success with a token recording the bake's start
    name, params = only_report(aws)
    assert (name, result.outcome) == ("PutJobSuccessResult", Outcome.BAKING)
    assert json.loads(params["continuationToken"])["started_at"] == int(clock.now)
    assert params["executionDetails"]["percentComplete"] == 0


def test_the_bake_ends_with_plain_success_once_its_time_has_passed(
    aws: Aws, clock: Clock, steady: None
) -> None:
    # GIVEN a first invocation that started the bake
    aws.alarm(f"{PREFIX}api-5xx", "OK")
    first = run(aws, clock, job_event(STAGING))
    # WHEN CodePipeline re-invokes with the token during and after the bake
    progress = []
    for _ in range(5):
        clock.advance(61)
        aws.reports.calls.clear()
        progress.append(run(aws, clock, job_event(STAGING, token=first.continuation_token)))
    # THEN it keeps baking until 300 s have passed, then succeeds without a token
    assert [r.outcome for r in progress] == [Outcome.BAKING] * 4 + [Outcome.SUCCEEDED]
    name, params = only_report(aws)
    assert name == "PutJobSuccessResult"
    assert "continuationToken" not in params
    # AND every continuation carried the same bake start
    assert {r.continuation_token for r in progress[:4]} == {first.continuation_token}


def test_a_long_wait_then_one_healthy_check_bakes_instead_of_succeeding(
    aws: Aws, clock: Clock, steady: None
) -> None:
    # GIVEN an alarm without data at the first invocation and 240 s later
    aws.alarm(f"{PREFIX}api-5xx", "INSUFFICIENT_DATA")
    token = run(aws, clock, job_event(STAGING)).continuation_token
    clock.advance(240)
    token = run(aws, clock, job_event(STAGING, token=token)).continuation_token
    # WHEN the environment is healthy for the first time 300 s after the first invocation
    aws.alarm(f"{PREFIX}api-5xx", "OK")
    clock.advance(60)
    healthy = run(aws, clock, job_event(STAGING, token=token))
    # THEN it only starts its bake: the waiting did not count as healthy
    assert healthy.outcome is Outcome.BAKING
    assert healthy.continuation_token is not None
    assert json.loads(healthy.continuation_token)["healthy_since"] == int(clock.now)
    # AND it succeeds once it has been healthy for the whole bake
    clock.advance(300)
    aws.reports.calls.clear()
    done = run(aws, clock, job_event(STAGING, token=healthy.continuation_token))
    assert done.outcome is Outcome.SUCCEEDED
    assert "continuationToken" not in only_report(aws)[1]


def test_an_alarm_that_changed_state_between_two_polls_restarts_the_bake(
    aws: Aws, clock: Clock, steady: None
) -> None:
    # GIVEN a healthy bake begun at the first invocation
    aws.alarm(f"{PREFIX}api-5xx", "OK")
    started = clock.now
    token = run(aws, clock, job_event(STAGING)).continuation_token
    # WHEN the alarm is OK at every poll but went to ALARM and back 200 s into the bake
    aws.alarm_timestamps.changed[f"{PREFIX}api-5xx"] = datetime.fromtimestamp(started + 200, UTC)
    clock.advance(300)
    result = run(aws, clock, job_event(STAGING, token=token))
    # THEN the bake counts from that change and is not over yet
    assert result.outcome is Outcome.BAKING
    assert result.continuation_token is not None
    assert json.loads(result.continuation_token)["healthy_since"] == int(started + 200)
    clock.advance(200)
    assert run(aws, clock, job_event(STAGING, token=result.continuation_token)).outcome is (
        Outcome.SUCCEEDED
    )


class _FailingGateway(AwsGateway):
    """The moto gateway, except that reading the alarms raises the given error."""

    def __init__(self, gateway: AwsGateway, error: HealthCheckError) -> None:
        super().__init__(gateway.clients)
        self._error = error

    def describe_alarms(self, prefix: str) -> list[AlarmFact]:
        raise self._error


class _ThrottledError(AwsCallError):
    """A more specific AWS failure, as a later change might add."""


class _UnmappedError(HealthCheckError):
    """A check error nobody mapped to an outcome."""


@pytest.mark.parametrize(
    ("error", "outcome"),
    [
        (_ThrottledError("cloudwatch:DescribeAlarms", "slow down"), Outcome.FAILED_AWS_ERROR),
        (_UnmappedError("surprise"), Outcome.FAILED_INTERNAL),
    ],
)
def test_a_subclass_of_a_check_error_is_mapped_and_reported_once(
    aws: Aws, clock: Clock, error: HealthCheckError, outcome: Outcome
) -> None:
    # GIVEN a gateway raising a subclass of the typed errors
    gateway = _FailingGateway(aws.gateway, error)
    # WHEN
    result = run_job(job_event(STAGING), Runtime(gateway, clock, aws.environ), lambda: PLENTY_MS)
    # THEN it maps like its nearest mapped parent (or as internal) and fails the job once
    assert result.outcome is outcome
    assert str(error) in failure_message(aws)


def test_insufficient_data_keeps_waiting_then_fails_closed_when_the_bake_ends(
    aws: Aws, clock: Clock, steady: None
) -> None:
    aws.alarm(f"{PREFIX}new-alarm", "INSUFFICIENT_DATA")
    first = run(aws, clock, job_event(STAGING))
    assert first.outcome is Outcome.WAITING
    clock.advance(300)
    aws.reports.calls.clear()
    last = run(aws, clock, job_event(STAGING, token=first.continuation_token))
    assert last.outcome is Outcome.FAILED_UNHEALTHY
    assert f"{PREFIX}new-alarm is INSUFFICIENT_DATA" in failure_message(aws)


def test_unsteady_services_wait_then_fail_closed(
    aws: Aws, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN healthy alarms but a service running 1 of 2 tasks
    aws.alarm(f"{PREFIX}api-5xx", "OK")
    aws.services(monkeypatch, ["api-service-dev"], running=1)
    params = {**STAGING, "cluster": CLUSTER, "services": ["api-service-dev"]}
    # WHEN / THEN it waits during the bake and fails once it is over
    first = run(aws, clock, job_event(params))
    assert first.outcome is Outcome.WAITING
    clock.advance(301)
    aws.reports.calls.clear()
    assert run(aws, clock, job_event(params, first.continuation_token)).outcome is (
        Outcome.FAILED_UNHEALTHY
    )
    assert "api-service-dev (1/2 running)" in failure_message(aws)


# ---------------------------------------------------------------- a failed environment's restore
SERVICE = "api-service-dev"
GROUP = "staging-api-service"
WITH_SERVICES = {**STAGING, "cluster": CLUSTER, "services": [SERVICE]}
KNOWN_GOOD_NAME = KNOWN_GOOD_PARAMETER.format(environment="staging", service="api-service")
CAUSE = f"1 alarm(s) in ALARM: {PREFIX}api-5xx (breached alarms: {PREFIX}api-5xx)"


def _running(aws: Aws) -> str:
    [service] = aws.gateway.clients.ecs.describe_services(cluster=CLUSTER, services=[SERVICE])[
        "services"
    ]
    return str(service["taskDefinition"])


def _known_good(aws: Aws, task_definition: str) -> None:
    record = KnownGood(task_definition, "app:1", "2026-11-29T10:00:00+00:00", "job-0")
    aws.gateway.write_parameter(KNOWN_GOOD_NAME, record.to_json(), "")


def _restorable(aws: Aws, monkeypatch: pytest.MonkeyPatch, *, on_known_good: bool) -> None:
    """staging's api-service, steady, its group idle; its known-good release recorded: the one
    it runs, or an earlier revision."""
    aws.services(monkeypatch, [SERVICE], running=2)
    aws.deployment_group(GROUP, SERVICE)
    known_good = _running(aws)
    if not on_known_good:
        known_good = aws.task_definition("staging", "api-service")
    _known_good(aws, known_good)


def _restoring_token(since: float, failed_as: Outcome = Outcome.FAILED_ALARM) -> str:
    """What the invocation that found the environment failed at `since` handed on."""
    params = parse_user_parameters(json.dumps(WITH_SERVICES))
    started = new_token(params, int(since) - 60)
    return encode_token(started.restoring(since, CAUSE, failed_as))


def test_a_failed_environment_is_answered_with_a_restoring_continuation_not_a_failure(
    aws: Aws, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a breached alarm, and a service to restore to an earlier release
    aws.alarm(f"{PREFIX}api-5xx", "ALARM")
    _restorable(aws, monkeypatch, on_known_good=False)
    # WHEN the check runs
    result = run(aws, clock, job_event(WITH_SERVICES))
    # THEN it keeps the stage with a continuation that carries the restore: the failure is
    # reported once the restore is over
    assert result.outcome is Outcome.RESTORING
    name, params = only_report(aws)
    assert name == "PutJobSuccessResult"
    token = json.loads(params["continuationToken"])
    assert (token["restoring_since"], token["failed_as"]) == (int(clock.now), "failed_alarm")


def test_a_failed_environment_is_not_notified_while_its_restore_runs(
    aws: Aws, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    aws.alarm(f"{PREFIX}api-5xx", "ALARM")
    _restorable(aws, monkeypatch, on_known_good=False)
    run(aws, clock, job_event(WITH_SERVICES))
    assert aws.notifications() == []


def test_a_restoring_continuation_reports_the_failure_once_every_service_is_restored(
    aws: Aws, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a restore begun two minutes ago, and the service back on its known-good release
    aws.alarm(f"{PREFIX}api-5xx", "ALARM")
    _restorable(aws, monkeypatch, on_known_good=True)
    token = _restoring_token(clock.now - 120)
    # WHEN CodePipeline invokes the continuation
    result = run(aws, clock, job_event(WITH_SERVICES, token))
    # THEN the job fails with the cause of the failure and what the restore did
    assert result.outcome is Outcome.FAILED_ALARM
    message = failure_message(aws)
    assert CAUSE in message
    assert f"api-service: on its known-good release {_running(aws)}" in message


def test_a_restoring_continuation_notifies_once_when_it_reports_the_failure(
    aws: Aws, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    aws.alarm(f"{PREFIX}api-5xx", "ALARM")
    _restorable(aws, monkeypatch, on_known_good=True)
    run(aws, clock, job_event(WITH_SERVICES, _restoring_token(clock.now - 120)))
    (notification,) = aws.notifications()
    assert CAUSE in notification["Message"]
    assert "Restore:" in notification["Message"]


def test_a_retried_continuation_whose_failure_was_reported_does_not_notify_again(
    aws: Aws, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN CodePipeline already holds the failure (an earlier attempt reported and notified)
    aws.alarm(f"{PREFIX}api-5xx", "ALARM")
    _restorable(aws, monkeypatch, on_known_good=True)
    aws.reports.errors["PutJobFailureResult"] = "InvalidJobStateException"
    # WHEN Lambda retries the invocation
    run(aws, clock, job_event(WITH_SERVICES, _restoring_token(clock.now - 120)))
    # THEN
    assert aws.notifications() == []


def test_an_unhealthy_environment_is_reported_unhealthy_once_restored(
    aws: Aws, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the restore of an environment that failed without a breached alarm (never healthy)
    _restorable(aws, monkeypatch, on_known_good=True)
    token = _restoring_token(clock.now - 120, Outcome.FAILED_UNHEALTHY)
    # WHEN it ends / THEN the outcome is the verdict's, not an alarm's
    result = run(aws, clock, job_event(WITH_SERVICES, token))
    assert result.outcome is Outcome.FAILED_UNHEALTHY


def test_a_restoring_continuation_never_passes_even_once_the_alarms_have_cleared(
    aws: Aws, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a recorded restore still running, and every alarm OK again
    aws.alarm(f"{PREFIX}api-5xx", "OK")
    _restorable(aws, monkeypatch, on_known_good=False)
    restore_id = aws.deployment(GROUP)
    record = RestoreRecord(clock.now - 120, "td", deployment_id=restore_id)
    aws.gateway.write_parameter(restore_parameter(GROUP), record.to_json(), "")
    token = _restoring_token(clock.now - 120)
    # WHEN the continuation runs
    result = run(aws, clock, job_event(WITH_SERVICES, token))
    # THEN the verdict is not taken again: the restore is waited for with the same token
    assert result.outcome is Outcome.RESTORING
    assert only_report(aws)[1]["continuationToken"] == token


def test_a_restore_still_running_at_its_limit_fails_naming_what_it_waits_for(
    aws: Aws, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a restore begun RESTORE_LIMIT_SECONDS ago, its group still busy with a deployment
    aws.alarm(f"{PREFIX}api-5xx", "ALARM")
    _restorable(aws, monkeypatch, on_known_good=False)
    busy = aws.deployment(GROUP)
    token = _restoring_token(clock.now - RESTORE_LIMIT_SECONDS)
    # WHEN the continuation runs
    result = run(aws, clock, job_event(WITH_SERVICES, token))
    # THEN the job fails, handing the restore to a human with what it still waits for
    assert result.outcome is Outcome.FAILED_ALARM
    message = failure_message(aws)
    assert f"restore NOT complete after {RESTORE_LIMIT_SECONDS} s" in message
    assert busy in message


def test_a_version_2_token_fails_the_job_naming_the_version(aws: Aws, clock: Clock) -> None:
    # GIVEN the token of a bake begun before this version (no restore phase)
    aws.alarm(f"{PREFIX}api-5xx", "OK")
    body = {
        "v": 2,
        "started_at": int(clock.now),
        "healthy_since": None,
        "environment": "staging",
        "bake_seconds": 300,
    }
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
    token = json.dumps({**body, "digest": hashlib.sha256(canonical.encode()).hexdigest()[:16]})
    # WHEN / THEN
    assert run(aws, clock, job_event(STAGING, token)).outcome is Outcome.FAILED_CONTINUATION
    assert "version 2" in failure_message(aws)


# ---------------------------------------------------------------- scaling after the check
def _suspended_service(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    """staging's api-service, steady, its group idle and its scaling still suspended (the
    responder missed the end of its deployment)."""
    aws.alarm(f"{PREFIX}api-5xx", "OK")
    aws.services(monkeypatch, [SERVICE], running=2)
    aws.deployment_group(GROUP, SERVICE)
    aws.scalable(SERVICE, suspended=True)


def test_a_final_result_resumes_the_scaling_of_the_environments_idle_services(
    aws: Aws, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    _suspended_service(aws, monkeypatch)
    result = run(aws, clock, job_event({**WITH_SERVICES, "bake_seconds": 0}))
    assert result.outcome is Outcome.SUCCEEDED
    assert set(aws.scaling_suspended(SERVICE).values()) == {False}


def test_a_continuing_result_leaves_scaling_as_it_is(
    aws: Aws, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    _suspended_service(aws, monkeypatch)
    result = run(aws, clock, job_event(WITH_SERVICES))
    assert result.outcome is Outcome.BAKING
    assert set(aws.scaling_suspended(SERVICE).values()) == {True}


def test_scaling_that_cannot_be_resumed_does_not_change_the_result(
    aws: Aws, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN Application Auto Scaling refusing every call
    _suspended_service(aws, monkeypatch)
    inject_client_error(
        aws.gateway.clients.autoscaling, "DescribeScalableTargets", "AccessDeniedException"
    )
    # WHEN / THEN the environment still passes
    result = run(aws, clock, job_event({**WITH_SERVICES, "bake_seconds": 0}))
    assert result.outcome is Outcome.SUCCEEDED
    assert only_report(aws)[0] == "PutJobSuccessResult"


def test_steady_services_and_ok_alarms_with_no_bake_succeed_at_once(
    aws: Aws, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    aws.configure(staging=("api-service", "auth-service"))
    aws.alarm(f"{PREFIX}api-5xx", "OK")
    aws.services(monkeypatch, ["api-service-dev", "auth-service-dev"], running=2)
    params = {
        **STAGING,
        "bake_seconds": 0,
        "cluster": CLUSTER,
        "services": ["api-service-dev", "auth-service-dev"],
    }
    assert run(aws, clock, job_event(params)).outcome is Outcome.SUCCEEDED
    name, params_sent = only_report(aws)
    assert name == "PutJobSuccessResult"
    assert "continuationToken" not in params_sent


@pytest.mark.parametrize("token", ["", "not json", '{"v": 1}', 42])
def test_an_unreadable_token_fails_and_never_restarts_the_bake(
    aws: Aws, clock: Clock, token: object
) -> None:
    aws.alarm(f"{PREFIX}api-5xx", "OK")
    result = run(aws, clock, job_event(STAGING, token=token))
    assert result.outcome is Outcome.FAILED_CONTINUATION
    assert "continuation token" in failure_message(aws)


def test_bad_user_parameters_fail_the_job_naming_the_problem(aws: Aws, clock: Clock) -> None:
    result = run(aws, clock, job_event({"environment": "staging", "bake_seconds": -5}))
    assert result.outcome is Outcome.FAILED_PARAMETERS
    assert "bake_seconds must not be negative" in failure_message(aws)


def test_missing_function_configuration_fails_the_job(aws: Aws, clock: Clock) -> None:
    aws.environ.pop("NOTIFICATION_TOPIC_ARN")
    assert run(aws, clock, job_event(STAGING)).outcome is Outcome.FAILED_MISCONFIGURED
    assert "NOTIFICATION_TOPIC_ARN" in failure_message(aws)


@pytest.mark.parametrize(
    ("client", "operation", "fault"),
    [
        ("cloudwatch", "DescribeAlarms", "ThrottlingException"),
        ("cloudwatch", "DescribeAlarms", "AccessDenied"),
        ("cloudwatch", "DescribeAlarms", "read-timeout"),
        ("cloudwatch", "DescribeAlarms", "connect-timeout"),
        ("ecs", "DescribeServices", "ThrottlingException"),
        ("ecs", "DescribeServices", "AccessDeniedException"),
        ("ecs", "DescribeServices", "read-timeout"),
    ],
)
def test_an_aws_fault_during_the_checks_never_yields_success(
    aws: Aws,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
    *,
    client: str,
    operation: str,
    fault: str,
) -> None:
    # GIVEN an otherwise healthy environment whose check hits a fault
    aws.alarm(f"{PREFIX}api-5xx", "OK")
    aws.services(monkeypatch, ["api-service-dev"], running=2)
    target = getattr(aws.gateway.clients, client)
    if fault.endswith("timeout"):
        inject_timeout(target, operation, fault.removesuffix("-timeout"))
    else:
        inject_client_error(target, operation, fault)
    params = {**STAGING, "bake_seconds": 0, "cluster": CLUSTER, "services": ["api-service-dev"]}
    # WHEN
    result = run(aws, clock, job_event(params))
    # THEN
    assert result.outcome is Outcome.FAILED_AWS_ERROR
    assert operation in failure_message(aws)


def test_a_fault_during_a_continuation_fails_rather_than_keeps_baking(
    aws: Aws, clock: Clock
) -> None:
    aws.alarm(f"{PREFIX}api-5xx", "OK")
    first = run(aws, clock, job_event(STAGING))
    inject_client_error(aws.gateway.clients.cloudwatch, "DescribeAlarms", "ThrottlingException")
    clock.advance(60)
    aws.reports.calls.clear()
    assert run(aws, clock, job_event(STAGING, first.continuation_token)).outcome is (
        Outcome.FAILED_AWS_ERROR
    )
    assert only_report(aws)[0] == "PutJobFailureResult"


class _NonsenseClock:
    def time(self) -> float:
        return "soon"  # type: ignore[return-value]

    def monotonic(self) -> float:
        return 0.0


def test_an_unexpected_bug_fails_the_job_instead_of_escaping(aws: Aws, clock: Clock) -> None:
    # GIVEN a clock that returns nonsense (a bug outside the typed errors)
    result = run_job(
        job_event(STAGING), Runtime(aws.gateway, _NonsenseClock(), aws.environ), lambda: PLENTY_MS
    )
    assert result.outcome is Outcome.FAILED_INTERNAL
    assert "internal error" in failure_message(aws)


def test_a_refused_job_result_is_raised_not_swallowed(aws: Aws, clock: Clock, steady: None) -> None:
    aws.alarm(f"{PREFIX}api-5xx", "OK")
    aws.reports.errors["PutJobSuccessResult"] = "JobNotFoundException"
    with pytest.raises(ReportError, match="JobNotFound"):
        run(aws, clock, job_event(STAGING))
    assert len(aws.reports.calls) == 1


def test_a_job_that_already_has_its_result_is_the_reports_success(
    aws: Aws, clock: Clock, steady: None
) -> None:
    # GIVEN CodePipeline already holds this job's result (an earlier attempt of this invocation
    # reported before Lambda retried it)
    aws.alarm(f"{PREFIX}api-5xx", "OK")
    aws.reports.errors["PutJobSuccessResult"] = "InvalidJobStateException"
    # WHEN / THEN the invocation ends normally, with one attempt and nothing sent twice
    result = run(aws, clock, job_event(STAGING))
    assert result.outcome.succeeded
    assert len(aws.reports.calls) == 1


@pytest.mark.parametrize(
    "event",
    [{}, {"Records": []}, {"CodePipeline.job": {}}, {"CodePipeline.job": {"id": ""}}, []],
)
def test_an_event_without_a_job_id_raises_and_reports_nothing(
    aws: Aws, clock: Clock, event: Any
) -> None:
    with pytest.raises(NotAJobEventError, match="not a CodePipeline job event"):
        run(aws, clock, event)
    assert aws.reports.calls == []


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=6,
)
job_ids = st.one_of(st.none(), st.integers(), st.just(""), st.text(min_size=1, max_size=12))
malformed_events = st.one_of(
    json_values,
    st.builds(lambda job_id: {"CodePipeline.job": {"id": job_id}}, job_ids),
    st.builds(
        lambda job_id, data: {"CodePipeline.job": {"id": job_id, "data": data}},
        job_ids,
        json_values,
    ),
    st.builds(
        job_event,
        st.one_of(st.text(max_size=20), json_values),
        st.one_of(st.none(), st.text(max_size=10), st.integers()),
    ),
    st.builds(
        lambda env, prefix, bake: job_event(
            {"environment": env, "alarm_prefix": prefix, "bake_seconds": bake}
        ),
        st.one_of(st.just("staging"), json_values),
        st.one_of(st.just(PREFIX), json_values),
        st.one_of(st.integers(-5, 5), json_values),
    ),
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(event=malformed_events)
def test_any_event_gets_exactly_one_result_with_a_job_id_and_none_without(
    aws: Aws, clock: Clock, event: Any
) -> None:
    # GIVEN any event, possibly a healthy-looking one (one OK alarm exists)
    aws.reports.calls.clear()
    if not aws.gateway.describe_alarms(PREFIX):
        aws.alarm(f"{PREFIX}api-5xx", "OK")
    job = event.get("CodePipeline.job") if isinstance(event, dict) else None
    job_id = job.get("id") if isinstance(job, dict) else None
    has_job_id = isinstance(job_id, str) and bool(job_id.strip())
    # WHEN
    try:
        result: JobResult | None = run(aws, clock, event)
    except NotAJobEventError:
        result = None
    # THEN
    if has_job_id:
        assert result is not None
        (name, params) = only_report(aws)
        assert params["jobId"] == job_id
        assert (name == "PutJobSuccessResult") == result.outcome.succeeded
    else:
        assert result is None
        assert aws.reports.calls == []
