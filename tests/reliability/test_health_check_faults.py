"""Fault injection across every AWS call the health-check function makes x throttling, 5xx,
access denied, connect timeout and read timeout.

Promises: a failed call never yields a success result (the environment is reported failed, or,
if the job result itself cannot be sent, the invocation fails and CodePipeline never sees a
success); exactly one job result is attempted; and the calls made, each costed at its worst under
the function's real client configuration, fit in the Lambda timeout, so the failure is
reported before the function would be killed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from health_check.clients import AwsClients
from health_check.errors import ReportError
from health_check.gateway import AwsGateway
from health_check.job import JobResult, Runtime, run_job
from health_check.verdict import Outcome

from tests.reliability.canned_aws import FAULT_KINDS, CannedAws, Fault
from tests.reliability.health_check_world import (
    ENVIRON,
    USER_PARAMETERS,
    FixedClock,
    accepted_success,
    arrange,
    attach,
    job_event,
    job_results,
)
from tests.support import REPO_ROOT, load_template

JOB_ID = "job-1"
NOW = 1_800_000_000.0
HEALTHY = [["OK", "OK"], ["OK"]]  # two pages of alarms, all quiet
BREACHED = [["OK", "OK"], ["ALARM"]]
LAMBDA_TIMEOUT_SECONDS = float(
    load_template(REPO_ROOT / "template.yaml")["Resources"]["HealthCheckFunction"]["Properties"][
        "Timeout"
    ]
)


@dataclass(frozen=True)
class FaultCase:
    operation: str
    from_call: int
    pages: list[list[str]]
    named: str  # what the report, the raised error or the notification must say
    # facts: the verdict's reads (a failure fails the job); record: the known-good record after a
    # passed check (a failure is a note, the release still passes); report: the job result;
    # after: the restore and notification that follow a reported failure.
    phase: str = "facts"

    def __str__(self) -> str:
        return f"{self.operation}-{self.from_call}"


# Every call, and the world in which the function reaches it: the facts in a healthy world (a
# fault must turn a would-be success into a failure), the restore calls in a breached one.
CALLS = [
    FaultCase("DescribeAlarms", 0, HEALTHY, "cloudwatch:DescribeAlarms failed"),
    FaultCase("DescribeAlarms", 1, HEALTHY, "cloudwatch:DescribeAlarms failed"),  # 2nd page
    FaultCase("DescribeServices", 0, HEALTHY, "ecs:DescribeServices failed"),
    FaultCase("DescribeServices", 1, HEALTHY, "known-good release not recorded", "record"),
    FaultCase("DescribeTaskDefinition", 0, HEALTHY, "known-good release not recorded", "record"),
    FaultCase("PutParameter", 0, HEALTHY, "known-good release not recorded", "record"),
    FaultCase("BatchGetImage", 0, HEALTHY, "known-good release recorded", "record"),
    FaultCase("PutImage", 0, HEALTHY, "known-good release recorded", "record"),
    FaultCase(
        "PutJobSuccessResult", 0, HEALTHY, "codepipeline:PutJobSuccessResult failed", "report"
    ),
    FaultCase(
        "PutJobFailureResult", 0, BREACHED, "codepipeline:PutJobFailureResult failed", "report"
    ),
    FaultCase("DescribeServices", 1, BREACHED, "restore not started", "after"),
    FaultCase("GetParameter", 0, BREACHED, "restore NOT started", "after"),
    FaultCase("ListDeploymentGroups", 0, BREACHED, "restore NOT started", "after"),
    FaultCase("ListDeployments", 0, BREACHED, "restore NOT started", "after"),
    FaultCase("GetDeployment", 0, BREACHED, "restore NOT started", "after"),
    FaultCase("StopDeployment", 0, BREACHED, "restore NOT started", "after"),
    FaultCase("CreateDeployment", 0, BREACHED, "restore NOT started", "after"),
    FaultCase("Publish", 0, BREACHED, "", "after"),
]


# One gateway for the module (creating botocore clients dominates otherwise); every test
# re-arranges the canned world, which also clears faults and recorded calls.
@pytest.fixture(scope="module")
def canned() -> CannedAws:
    return CannedAws()


@pytest.fixture(scope="module")
def gateway(canned: CannedAws) -> AwsGateway:
    session = boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )
    return attach(AwsGateway(AwsClients(session)), canned)


def run(gateway: AwsGateway) -> JobResult:
    # bake_seconds 0: a healthy world succeeds at once, so a fault has a success to spoil
    event = job_event(JOB_ID, {**USER_PARAMETERS, "bake_seconds": 0})
    return run_job(event, Runtime(gateway, FixedClock(NOW), ENVIRON), lambda: 300_000)


def test_the_fault_table_covers_every_call_the_function_makes(
    canned: CannedAws, gateway: AwsGateway
) -> None:
    # GIVEN a healthy and a breached world without faults
    made: set[tuple[str, int]] = set()
    for pages in (HEALTHY, BREACHED):
        arrange(canned, pages)
        run(gateway)
        made |= {(call.operation, index) for call, index in numbered(canned)}
    # THEN every call made is in the fault table, and nothing in the table is never made
    assert {operation for operation, _ in made} == {case.operation for case in CALLS}
    assert all((case.operation, case.from_call) in made for case in CALLS)


def numbered(canned: CannedAws) -> list[tuple[Any, int]]:
    """Each call with its number among the calls of its operation (0-based)."""
    seen: dict[str, int] = {}
    numbered_calls = []
    for call in canned.calls:
        numbered_calls.append((call, seen.get(call.operation, 0)))
        seen[call.operation] = seen.get(call.operation, 0) + 1
    return numbered_calls


@pytest.mark.parametrize("kind", FAULT_KINDS)
@pytest.mark.parametrize("case", CALLS, ids=str)
def test_a_failed_call_never_yields_a_wrong_result_and_fits_in_time(
    canned: CannedAws, gateway: AwsGateway, kind: str, case: FaultCase
) -> None:
    # GIVEN a world and one call failing (after the SDK's retries) with this fault
    arrange(canned, case.pages)
    canned.faults.append(Fault(kind, case.operation, case.from_call))
    # WHEN the job runs
    result: JobResult | None = None
    error: Exception | None = None
    try:
        result = run(gateway)
    except ReportError as raised:
        error = raised
    # THEN exactly one job result was attempted, for this job
    [(reported, params)] = job_results(canned)
    assert params["jobId"] == JOB_ID
    if case.phase == "report":
        # the result itself was refused: the invocation fails loudly (Lambda retries it, else
        # the action times out) rather than leaving the job silently unreported
        assert error is not None
        assert case.named in str(error)
        assert not accepted_success(canned)
    elif case.phase == "facts":
        # a fact that could not be read never passes: the job fails, naming the call
        assert result is not None
        assert (reported, result.outcome) == ("PutJobFailureResult", Outcome.FAILED_AWS_ERROR)
        assert case.named in params["failureDetails"]["message"]
        assert not accepted_success(canned)
    elif case.phase == "record":
        # the environment passed; a record that could not be made is said, the last one stays
        assert result is not None
        assert (reported, result.outcome) == ("PutJobSuccessResult", Outcome.SUCCEEDED)
        assert case.named in params["executionDetails"]["summary"]
    else:
        # the failure was reported first; the restore's trouble is in the notification
        assert result is not None
        assert (reported, result.outcome) == ("PutJobFailureResult", Outcome.FAILED_ALARM)
        assert [call.operation for call in canned.calls].index(reported) < len(canned.calls) - 1
        notifications = [c.params["Message"] for c in canned.named("Publish") if not c.failed]
        assert all(case.named in message for message in notifications)
    # AND every call, at its worst under the real client configuration, fits the Lambda timeout
    assert canned.unexpected == []
    assert canned.elapsed <= LAMBDA_TIMEOUT_SECONDS, canned.elapsed


@pytest.mark.parametrize("service", ["cloudwatch", "ecs", "ssm", "codedeploy"])
@pytest.mark.parametrize("kind", ["connect_timeout", "read_timeout"])
def test_a_service_that_never_answers_still_gets_the_job_reported_before_the_timeout(
    canned: CannedAws, gateway: AwsGateway, service: str, kind: str
) -> None:
    # GIVEN every call to one service times out for the whole invocation, in a breached world
    # (so the restore, after the report, calls it too), on a clock that follows the calls' cost
    arrange(canned, BREACHED)
    for operation in SERVICE_OPERATIONS[service]:
        canned.faults.append(Fault(kind, operation))
    clock = CallClock(canned)
    event = job_event(JOB_ID, {**USER_PARAMETERS, "bake_seconds": 0})
    # WHEN the job runs with the function's real timeout
    run_job(event, Runtime(gateway, clock, ENVIRON), lambda: int(LAMBDA_TIMEOUT_SECONDS * 1000))
    # THEN one result was reported, before the margin kept for it ran out, and no call was sent
    # after the function's own deadline
    [(_, params)] = job_results(canned)
    assert params["jobId"] == JOB_ID
    assert canned.elapsed <= LAMBDA_TIMEOUT_SECONDS, canned.elapsed


SERVICE_OPERATIONS = {
    "cloudwatch": ("DescribeAlarms",),
    "ecs": ("DescribeServices", "DescribeTaskDefinition"),
    "ssm": ("GetParameter", "PutParameter"),
    "codedeploy": (
        "ListDeploymentGroups",
        "ListDeployments",
        "GetDeployment",
        "StopDeployment",
        "CreateDeployment",
    ),
}


@dataclass
class CallClock:
    """Time as the calls spend it: monotonic time is what the canned calls have cost so far."""

    canned: CannedAws

    def time(self) -> float:
        return NOW + self.canned.elapsed

    def monotonic(self) -> float:
        return self.canned.elapsed
