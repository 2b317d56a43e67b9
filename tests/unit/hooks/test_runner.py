"""run_hook: exactly one status report for every event with both ids, none otherwise."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.data_classes import CodeDeployLifecycleHookEvent
from botocore.exceptions import ClientError, ConnectTimeoutError
from botocore.stub import Stubber
from codedeploy_hooks.checks.deployment import DeploymentTarget
from codedeploy_hooks.checks.verdict import Verdict
from codedeploy_hooks.deadline import Deadline
from codedeploy_hooks.dependencies import Dependencies
from codedeploy_hooks.errors import (
    HookCheckError,
    InvalidHookEvent,
    StatusReportError,
    UnknownDeploymentError,
)
from codedeploy_hooks.runner import (
    CodeDeployStatusReporter,
    HookIds,
    Runtime,
    parse_event,
    run_hook,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.unit.hooks.fakes import (
    PLENTY_OF_TIME_MS,
    RESTORE_PARAMETER,
    CannedCodeDeploy,
    CannedSsm,
    RecordingReporter,
    RecordingStatusClient,
    budget_ms,
    canned_dependencies,
    client,
    passing_check,
    runtime,
)

EVENT = {"DeploymentId": "d-ABCDEF123", "LifecycleEventHookExecutionId": "exec-1"}
IDS = HookIds("d-ABCDEF123", "exec-1")


def _run(
    check: Any,
    reporter: Any,
    remaining_ms: int = PLENTY_OF_TIME_MS,
    event: Any = EVENT,
    dependencies: Dependencies | None = None,
) -> Any:
    return run_hook(
        CodeDeployLifecycleHookEvent(event),
        hook="Test",
        check=check,
        remaining_millis=lambda: remaining_ms,
        runtime=runtime(reporter, dependencies or canned_dependencies()),
    )


@dataclass
class _RecordingCheck:
    """A check that passes and remembers each target it was asked to judge."""

    targets: list[DeploymentTarget] = field(default_factory=list)

    def __call__(self, target: DeploymentTarget, deps: Dependencies, deadline: Deadline) -> Verdict:
        self.targets.append(target)
        return Verdict.ok("checked")


def test_a_passing_check_reports_succeeded_once_with_the_event_ids() -> None:
    # GIVEN a check that passes
    reporter = RecordingReporter()
    # WHEN the hook runs
    outcome = _run(passing_check, reporter)
    # THEN CodeDeploy hears Succeeded once, for exactly this lifecycle event
    assert reporter.reports == [(IDS, "Succeeded")]
    assert outcome.status == "Succeeded"


def test_a_failing_check_reports_failed_once_with_its_reason() -> None:
    reporter = RecordingReporter()
    outcome = _run(lambda target, deps, deadline: Verdict.fail("alarms in ALARM: x"), reporter)
    assert reporter.reports == [(IDS, "Failed")]
    assert outcome.reason == "alarms in ALARM: x"


@pytest.mark.parametrize(
    "error",
    [
        UnknownDeploymentError("no such deployment"),
        HookCheckError("cannot check"),
        ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "Op"),
        ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "Op"),
        ConnectTimeoutError(endpoint_url="https://codedeploy.us-east-1.amazonaws.com"),
        KeyError("surprise"),
        ZeroDivisionError("bug"),
    ],
)
def test_any_exception_in_the_check_reports_failed_once(error: Exception) -> None:
    # GIVEN a check that raises
    def check(target: DeploymentTarget, deps: Dependencies, deadline: Deadline) -> Verdict:
        raise error

    reporter = RecordingReporter()
    # WHEN the hook runs
    outcome = _run(check, reporter)
    # THEN the exception became one Failed report, not a crash
    assert reporter.reports == [(IDS, "Failed")]
    assert outcome.status == "Failed"


# What GetDeployment says of a deployment CodeDeploy created to roll another one back
# (API_DeploymentInfo, API_RollbackInfo); either field alone marks it.
ROLLBACK_MARKS = [
    {"creator": "codeDeployRollback"},
    {"rollbackInfo": {"rollbackTriggeringDeploymentId": "d-FAILED1"}},
]


@pytest.mark.parametrize("marks", ROLLBACK_MARKS, ids=["creator", "rollbackInfo"])
def test_a_codedeploy_rollback_is_approved_without_running_the_check(
    marks: dict[str, Any],
) -> None:
    # GIVEN a rollback deployment, and a check that would judge it
    check, reporter = _RecordingCheck(), RecordingReporter()
    dependencies = canned_dependencies(codedeploy=CannedCodeDeploy(**marks))
    # WHEN the hook runs
    outcome = _run(check, reporter, dependencies=dependencies)
    # THEN it reports Succeeded at once: users are being taken back to the original task set
    assert reporter.reports == [(IDS, "Succeeded")]
    assert "CodeDeploy rollback" in outcome.reason
    assert check.targets == []


def test_a_rollback_is_approved_even_when_the_restore_record_cannot_be_read() -> None:
    # GIVEN a rollback, and SSM refusing every read
    denied = ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "Op")
    ssm = CannedSsm(error=denied)
    dependencies = canned_dependencies(
        codedeploy=CannedCodeDeploy(creator="codeDeployRollback"), ssm=ssm
    )
    reporter = RecordingReporter()
    # WHEN the hook runs
    _run(_RecordingCheck(), reporter, dependencies=dependencies)
    # THEN nothing it does not need stood in the rollback's way
    assert reporter.reports == [(IDS, "Succeeded")]
    assert ssm.names == []


def test_a_deployment_whose_id_the_health_check_recorded_is_checked_as_a_restore() -> None:
    # GIVEN the health check's record naming this deployment as its restore
    record = json.dumps(
        {"requested_at": 1.0, "task_definition": "td:7", "deployment_id": IDS.deployment_id}
    )
    dependencies = canned_dependencies(ssm=CannedSsm({RESTORE_PARAMETER: record}))
    check = _RecordingCheck()
    # WHEN the hook runs
    _run(check, RecordingReporter(), dependencies=dependencies)
    # THEN the check judges it as a restore
    assert [target.restore for target in check.targets] == [True]


def test_a_deployment_the_record_does_not_name_is_not_a_restore() -> None:
    # GIVEN a record naming another deployment (the restore before this release)
    record = json.dumps({"requested_at": 1.0, "task_definition": "td:7", "deployment_id": "d-OLD"})
    dependencies = canned_dependencies(ssm=CannedSsm({RESTORE_PARAMETER: record}))
    check = _RecordingCheck()
    # WHEN the hook runs
    _run(check, RecordingReporter(), dependencies=dependencies)
    # THEN the check judges it as an ordinary release
    assert [target.restore for target in check.targets] == [False]


def test_a_check_still_running_at_the_deadline_is_reported_failed() -> None:
    # GIVEN a check that hangs, and a second of budget left after the safety margin
    release = threading.Event()

    def hanging(target: DeploymentTarget, deps: Dependencies, deadline: Deadline) -> Verdict:
        release.wait(timeout=30)
        return Verdict.ok("too late")

    reporter = RecordingReporter()
    # WHEN the hook runs
    outcome = _run(hanging, reporter, remaining_ms=budget_ms(1.0))
    release.set()
    # THEN it reports Failed itself instead of leaving CodeDeploy waiting for an hour
    assert reporter.reports == [(IDS, "Failed")]
    assert "time budget exhausted" in outcome.reason


def test_a_check_given_up_on_is_cancelled_and_its_thread_ends_once_it_notices() -> None:
    # GIVEN a check stuck in a call past the deadline, that then waits (as its retry loops do)
    release = threading.Event()
    given: list[Deadline] = []

    def stuck(target: DeploymentTarget, deps: Dependencies, deadline: Deadline) -> Verdict:
        given.append(deadline)
        release.wait(timeout=30)
        deadline.wait(60)
        return Verdict.ok("too late")

    reporter = RecordingReporter()
    event = {**EVENT, "LifecycleEventHookExecutionId": "exec-given-up"}
    # WHEN the hook gives up on it
    outcome = _run(stuck, reporter, remaining_ms=budget_ms(1.2), event=event)
    (worker,) = [t for t in threading.enumerate() if t.name == "hook-check-exec-given-up"]
    release.set()
    # THEN Failed was reported, the check's deadline is cancelled, and its wait ends at once
    assert outcome.reason.startswith("time budget exhausted")
    assert given[0].cancelled
    worker.join(timeout=10)
    assert not worker.is_alive()


def test_less_time_than_the_safety_margin_reports_failed_without_running_the_check() -> None:
    # GIVEN an invocation that starts with less time than the margin
    ran = []

    def check(target: DeploymentTarget, deps: Dependencies, deadline: Deadline) -> Verdict:
        ran.append(target)
        return Verdict.ok("fine")

    reporter = RecordingReporter()
    # WHEN the hook runs
    outcome = _run(check, reporter, remaining_ms=budget_ms(-5))
    # THEN Failed is reported at once
    assert reporter.reports == [(IDS, "Failed")]
    assert ran == []
    assert "not enough time" in outcome.reason


def test_the_check_gets_a_deadline_inside_the_lambda_budget() -> None:
    # GIVEN a check that records the time it was given
    given_seconds: list[float] = []

    def check(target: DeploymentTarget, deps: Dependencies, deadline: Deadline) -> Verdict:
        given_seconds.append(deadline.remaining())
        return Verdict.ok("fine")

    # WHEN the hook runs with 10 s beyond the safety margin
    _run(check, RecordingReporter(), remaining_ms=budget_ms(10))
    # THEN the check's deadline is within those 10 s (the margin is kept for the report)
    assert 0 < given_seconds[0] <= 10


@pytest.mark.parametrize(
    "event",
    [
        {},
        {"DeploymentId": "d-1"},
        {"LifecycleEventHookExecutionId": "exec-1"},
        {"DeploymentId": 1, "LifecycleEventHookExecutionId": "exec-1"},
        {"DeploymentId": "d-1", "LifecycleEventHookExecutionId": None},
        {"DeploymentId": "", "LifecycleEventHookExecutionId": "exec-1"},
        [],
        "d-1",
        None,
    ],
)
def test_an_event_without_both_string_ids_reports_nothing_and_raises(event: Any) -> None:
    reporter = RecordingReporter()
    with pytest.raises(InvalidHookEvent):
        _run(passing_check, reporter, event=event)
    assert reporter.reports == []


_ID_VALUES = st.one_of(
    st.text(max_size=12),
    st.integers(),
    st.none(),
    st.booleans(),
    st.lists(st.text(max_size=3), max_size=2),
    st.dictionaries(st.text(max_size=3), st.text(max_size=3), max_size=2),
)
_EVENTS = st.one_of(
    st.dictionaries(
        st.sampled_from(["DeploymentId", "LifecycleEventHookExecutionId", "Other"]),
        _ID_VALUES,
    ),
    _ID_VALUES,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(event=_EVENTS, passes=st.booleans())
def test_any_event_either_raises_without_a_report_or_reports_exactly_once(
    event: Any, passes: bool
) -> None:
    # GIVEN an arbitrary event and a check with an arbitrary verdict
    reporter = RecordingReporter()

    def check(target: DeploymentTarget, deps: Dependencies, deadline: Deadline) -> Verdict:
        return Verdict(passed=passes, reason="property")

    # WHEN the hook runs
    try:
        _run(check, reporter, event=event)
    except InvalidHookEvent:
        # THEN either the ids were unusable and nothing was reported ...
        assert reporter.reports == []
        return
    # ... or exactly one report went to the ids in the event, with the check's verdict
    assert reporter.reports == [
        (
            HookIds(event["DeploymentId"], event["LifecycleEventHookExecutionId"]),
            "Succeeded" if passes else "Failed",
        )
    ]


def test_parse_event_keeps_the_ids_as_given() -> None:
    assert parse_event(CodeDeployLifecycleHookEvent(EVENT)) == IDS


@pytest.mark.parametrize("key", ["DeploymentId", "LifecycleEventHookExecutionId"])
@pytest.mark.parametrize("blank", ["", "   ", "\t\n"])
def test_a_blank_id_is_rejected_like_an_empty_one(key: str, blank: str) -> None:
    with pytest.raises(InvalidHookEvent, match="must not be empty or blank"):
        parse_event(CodeDeployLifecycleHookEvent({**EVENT, key: blank}))


def test_status_reporter_sends_the_ids_and_status_to_codedeploy() -> None:
    # GIVEN a real CodeDeploy client whose status call is stubbed with exact parameters
    codedeploy = client("codedeploy")
    with Stubber(codedeploy) as stubber:
        stubber.add_response(
            "put_lifecycle_event_hook_execution_status",
            {"lifecycleEventHookExecutionId": "exec-1"},
            {
                "deploymentId": "d-ABCDEF123",
                "lifecycleEventHookExecutionId": "exec-1",
                "status": "Succeeded",
            },
        )
        # WHEN the hook reports
        _run(passing_check, CodeDeployStatusReporter(codedeploy))
        # THEN the one expected call was made
        stubber.assert_no_pending_responses()


@pytest.mark.parametrize(
    "error",
    [
        ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow"}}, "Put"),
        ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "Put"),
        ConnectTimeoutError(endpoint_url="https://codedeploy.us-east-1.amazonaws.com"),
    ],
)
def test_a_failed_status_call_is_attempted_once_and_raises_a_clear_error(error: Exception) -> None:
    # GIVEN the status call fails (after the SDK's own retries)
    status_client = RecordingStatusClient(error=error)
    # WHEN / THEN the invocation fails loudly, naming the deployment, without a second report
    with pytest.raises(StatusReportError, match="d-ABCDEF123"):
        _run(passing_check, CodeDeployStatusReporter(status_client))  # type: ignore[arg-type]
    assert status_client.statuses == ["Succeeded"]


def test_an_event_that_already_has_a_status_is_the_reports_success_not_an_error() -> None:
    # GIVEN CodeDeploy already holds a status for the lifecycle event (an earlier attempt of this
    # invocation reported before Lambda retried it)
    codedeploy = boto3.session.Session(region_name="us-east-1").client("codedeploy")
    with Stubber(codedeploy) as stubber:
        stubber.add_client_error(
            "put_lifecycle_event_hook_execution_status",
            service_error_code="LifecycleEventAlreadyCompletedException",
        )
        # WHEN the hook reports
        outcome = _run(passing_check, CodeDeployStatusReporter(codedeploy))
        # THEN the invocation ends normally (a raise would only make Lambda retry it again)
        stubber.assert_no_pending_responses()
    assert outcome.status == "Succeeded"


def test_a_context_that_cannot_tell_the_remaining_time_still_gets_one_failed_report() -> None:
    # GIVEN a broken context
    def broken() -> int:
        raise RuntimeError("no clock")

    reporter = RecordingReporter()
    # WHEN the hook runs
    outcome = run_hook(
        CodeDeployLifecycleHookEvent(EVENT),
        hook="Test",
        check=passing_check,
        remaining_millis=broken,
        runtime=Runtime(reporter=reporter, dependencies=canned_dependencies),
    )
    # THEN the failure became the one report
    assert reporter.reports == [(IDS, "Failed")]
    assert "no clock" in outcome.reason
