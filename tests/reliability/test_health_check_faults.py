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
    named: str  # what the report (or the raised error) must say

    def __str__(self) -> str:
        return f"{self.operation}-{self.from_call}"


# Every call, and the world in which the function reaches it: the facts in a healthy world (a
# fault must turn a would-be success into a failure), the rollback calls in a breached one.
CALLS = [
    FaultCase("DescribeAlarms", 0, HEALTHY, "cloudwatch:DescribeAlarms failed"),
    FaultCase("DescribeAlarms", 1, HEALTHY, "cloudwatch:DescribeAlarms failed"),  # 2nd page
    FaultCase("DescribeServices", 0, HEALTHY, "ecs:DescribeServices failed"),
    FaultCase("Publish", 0, BREACHED, "notification not sent"),
    FaultCase("ListDeploymentGroups", 0, BREACHED, "in-progress deployments not stopped"),
    FaultCase("ListDeployments", 0, BREACHED, "in-progress deployments not stopped"),
    FaultCase("StopDeployment", 0, BREACHED, "not stopped (codedeploy:StopDeployment failed"),
    FaultCase("PutJobSuccessResult", 0, HEALTHY, "codepipeline:PutJobSuccessResult failed"),
    FaultCase("PutJobFailureResult", 0, BREACHED, "codepipeline:PutJobFailureResult failed"),
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
    return run_job(event, Runtime(gateway, FixedClock(NOW), ENVIRON))


def test_the_fault_table_covers_every_call_the_function_makes(
    canned: CannedAws, gateway: AwsGateway
) -> None:
    # GIVEN a healthy and a breached world without faults
    made: set[str] = set()
    for pages in (HEALTHY, BREACHED):
        arrange(canned, pages)
        run(gateway)
        made |= {call.operation for call in canned.calls}
    # THEN every call made is in the fault table, and nothing in the table is never made
    assert made == {case.operation for case in CALLS}


@pytest.mark.parametrize("kind", FAULT_KINDS)
@pytest.mark.parametrize("case", CALLS, ids=str)
def test_a_failed_call_never_yields_success_and_is_reported_in_time(
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
    # THEN CodePipeline never receives a success, and one job result was attempted, last
    assert not accepted_success(canned)
    [(reported, params)] = job_results(canned)
    assert params["jobId"] == JOB_ID
    assert canned.calls[-1].operation == reported
    if case.operation.startswith("PutJob"):
        # the result itself was refused: the invocation fails loudly (Lambda retries it, else
        # the action times out) rather than leaving the job silently unreported
        assert error is not None
        assert case.named in str(error)
    else:
        assert result is not None
        assert reported == "PutJobFailureResult"
        assert not result.outcome.succeeded
        expected = Outcome.FAILED_AWS_ERROR if case.pages is HEALTHY else Outcome.FAILED_ALARM
        assert result.outcome is expected
        assert case.named in params["failureDetails"]["message"]
    # AND every call, at its worst under the real client configuration, fits the Lambda timeout
    assert canned.unexpected == []
    assert canned.elapsed <= LAMBDA_TIMEOUT_SECONDS, canned.elapsed


def test_a_breached_environment_is_rolled_back_even_when_one_stop_fails(
    canned: CannedAws, gateway: AwsGateway
) -> None:
    # GIVEN two staging deployments, the first of which cannot be stopped
    arrange(canned, BREACHED)
    canned.faults.append(Fault("server_error", "StopDeployment", until_call=1))
    # WHEN
    result = run(gateway)
    # THEN the other deployment was still stopped, and the failure report names both facts
    assert [call.failed for call in canned.named("StopDeployment")] == [True, False]
    assert result.outcome is Outcome.FAILED_ALARM
    assert "deployment d-staging-api-service not stopped" in result.message
    assert "stopped with rollback: d-staging-auth-service" in result.message
