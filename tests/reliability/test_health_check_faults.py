"""Fault injection across every AWS call the health-check function makes x throttling, 5xx,
access denied, connect timeout and read timeout.

Promises: a failed call never yields a wrong result (a check whose facts could not be read fails;
a failed environment is never passed, only restored step by step, and a step that could not be
taken is taken again at the next continuation; if the job result itself cannot be sent, the
invocation fails and CodePipeline never sees a success); nothing in an environment changes before
CodePipeline accepted the job's continuation, and the known-good release is recorded only after it
accepted the success; a restore is never created before its intent is recorded; exactly one job
result is attempted; and the calls made, each costed at its
worst under the function's real client configuration, fit in the Lambda timeout, so the result
is reported before the function would be killed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from health_check.clients import AwsClients
from health_check.deployments import restore_parameter
from health_check.errors import ReportError
from health_check.gateway import AwsGateway
from health_check.job import JobResult, Runtime, run_job
from health_check.verdict import Outcome

from tests.reliability.canned_aws import FAULT_KINDS, CannedAws, Fault
from tests.reliability.health_check_world import (
    ENVIRON,
    USER_PARAMETERS,
    FixedClock,
    World,
    accepted_success,
    arrange,
    attach,
    job_event,
    job_results,
    restoring_token,
)
from tests.support import REPO_ROOT, load_template

JOB_ID = "job-1"
NOW = 1_800_000_000.0
# bake_seconds 0: a healthy world succeeds at once, so a fault has a success to spoil
PARAMETERS = {**USER_PARAMETERS, "bake_seconds": 0}
HEALTHY = [["OK", "OK"], ["OK"]]  # two pages of alarms, all quiet
BREACHED = [["OK", "OK"], ["ALARM"]]
LAMBDA_TIMEOUT_SECONDS = float(
    load_template(REPO_ROOT / "template.yaml")["Resources"]["HealthCheckFunction"]["Properties"][
        "Timeout"
    ]
)


@dataclass(frozen=True)
class Scene:
    """A world and the invocation that meets it, with what it ends in when nothing fails."""

    name: str
    pages: list[list[str]]
    world: World
    outcome: Outcome
    # Invoked as the continuation of a restore begun two minutes before.
    restoring: bool = False

    def event(self) -> dict[str, Any]:
        token = restoring_token(NOW - 120, PARAMETERS) if self.restoring else None
        return job_event(JOB_ID, PARAMETERS, token)


# Passes: the known-good release is recorded, the idle groups' scaling resumed.
PASSED = Scene("passed", HEALTHY, World(busy=False), Outcome.SUCCEEDED)
# Fails while the pipeline's deployments run: the first restore step stops them.
STOPPING = Scene("stopping", BREACHED, World(), Outcome.RESTORING)
# Fails with every group idle: the first restore step creates the restores.
CREATING = Scene("creating", BREACHED, World(busy=False), Outcome.RESTORING)
# The same, the known-good task definitions deregistered: registered again first.
REREGISTERING = Scene(
    "reregistering",
    BREACHED,
    World(busy=False, task_definition_status="INACTIVE"),
    Outcome.RESTORING,
)
# A continuation finding every service restored: the failure is reported, then notified.
RESTORED = Scene(
    "restored", BREACHED, World(busy=False, on_known_good=True), Outcome.FAILED_ALARM, True
)
SCENES = (PASSED, STOPPING, CREATING, REREGISTERING, RESTORED)


@dataclass(frozen=True)
class FaultCase:
    operation: str
    from_call: int
    scene: Scene
    named: str  # what the result, the raised error or the continuation must say
    # facts: the verdict's reads (a failure fails the job); record: the known-good record after a
    # passed check (a failure is a note, the release still passes); scaling: resuming the idle
    # groups' scaling (a failure changes nothing); restoring: a restore step (a failure is
    # waited out: the job continues); report: the job result; after: the notification that
    # follows a reported failure.
    phase: str
    # What the continuation reported says, when it went out before the failed call (the step's
    # confirmation names the action it is about to take); None: `named`.
    confirmed: str | None = None

    def __str__(self) -> str:
        return f"{self.scene.name}-{self.operation}-{self.from_call}"


NOT_READ = "known-good release not recorded"
# What a restore step's confirmation says it is about to do (its continuation's summary).
STOPPED = "stop deployment d-staging-api-service of staging-api-service"
RESTORED_1 = (
    "restore arn:aws:ecs:us-east-1:123456789012:task-definition/api-service-staging-dev:1 "
    "in staging-api-service"
)
# The calls that change an environment: none before CodePipeline accepted the job.
CHANGES = (
    "StopDeployment",
    "CreateDeployment",
    "RegisterTaskDefinition",
    "PutParameter",
    "PutImage",
)
CALLS = [
    FaultCase("DescribeAlarms", 0, PASSED, "cloudwatch:DescribeAlarms failed", "facts"),
    FaultCase("DescribeAlarms", 1, PASSED, "cloudwatch:DescribeAlarms failed", "facts"),  # page 2
    FaultCase("DescribeServices", 0, PASSED, "ecs:DescribeServices failed", "facts"),
    FaultCase("DescribeServices", 1, PASSED, NOT_READ, "record"),
    FaultCase("DescribeTaskDefinition", 0, PASSED, NOT_READ, "record"),
    FaultCase("PutParameter", 0, PASSED, NOT_READ, "record"),
    FaultCase("BatchGetImage", 0, PASSED, "known-good release recorded", "record"),
    FaultCase("PutImage", 0, PASSED, "known-good release recorded", "record"),
    FaultCase("ListDeploymentGroups", 0, PASSED, "", "scaling"),
    FaultCase("ListDeployments", 0, PASSED, "", "scaling"),
    FaultCase("GetDeploymentGroup", 0, PASSED, "", "scaling"),
    FaultCase("DescribeScalableTargets", 0, PASSED, "", "scaling"),
    FaultCase("RegisterScalableTarget", 0, PASSED, "", "scaling"),
    FaultCase(
        "PutJobSuccessResult", 0, PASSED, "codepipeline:PutJobSuccessResult failed", "report"
    ),
    FaultCase("DescribeServices", 1, STOPPING, "ecs:DescribeServices failed", "restoring"),
    FaultCase("GetParameter", 0, STOPPING, "ssm:GetParameter failed", "restoring"),  # known-good
    FaultCase("GetParameter", 1, STOPPING, "ssm:GetParameter failed", "restoring"),  # restore
    FaultCase("ListDeployments", 0, STOPPING, "codedeploy:ListDeployments failed", "restoring"),
    FaultCase("GetDeployment", 0, STOPPING, "codedeploy:GetDeployment failed", "restoring"),
    FaultCase(
        "StopDeployment", 0, STOPPING, "codedeploy:StopDeployment failed", "restoring", STOPPED
    ),
    # The continuation that carries the restore on, refused.
    FaultCase(
        "PutJobSuccessResult", 0, STOPPING, "codepipeline:PutJobSuccessResult failed", "report"
    ),
    FaultCase(
        "DescribeTaskDefinition", 0, CREATING, "ecs:DescribeTaskDefinition failed", "restoring"
    ),
    FaultCase("PutParameter", 0, CREATING, "ssm:PutParameter failed", "restoring", RESTORED_1),
    FaultCase(
        "CreateDeployment",
        0,
        CREATING,
        "codedeploy:CreateDeployment failed",
        "restoring",
        RESTORED_1,
    ),
    FaultCase("PutParameter", 1, CREATING, "ssm:PutParameter failed", "restoring", RESTORED_1),
    FaultCase(
        "RegisterTaskDefinition",
        0,
        REREGISTERING,
        "ecs:RegisterTaskDefinition failed",
        "restoring",
        RESTORED_1,
    ),
    # The known-good record rewritten with the new revision.
    FaultCase("PutParameter", 0, REREGISTERING, "ssm:PutParameter failed", "restoring", RESTORED_1),
    FaultCase("DescribeServices", 0, RESTORED, "ecs:DescribeServices failed", "restoring"),
    FaultCase("ListDeploymentGroups", 0, RESTORED, "", "scaling"),
    FaultCase("RegisterScalableTarget", 0, RESTORED, "", "scaling"),
    FaultCase(
        "PutJobFailureResult", 0, RESTORED, "codepipeline:PutJobFailureResult failed", "report"
    ),
    FaultCase("Publish", 0, RESTORED, "", "after"),
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


def run(gateway: AwsGateway, scene: Scene) -> JobResult:
    return run_job(scene.event(), Runtime(gateway, FixedClock(NOW), ENVIRON), lambda: 300_000)


def numbered(canned: CannedAws) -> list[tuple[Any, int]]:
    """Each call with its number among the calls of its operation (0-based)."""
    seen: dict[str, int] = {}
    numbered_calls = []
    for call in canned.calls:
        numbered_calls.append((call, seen.get(call.operation, 0)))
        seen[call.operation] = seen.get(call.operation, 0) + 1
    return numbered_calls


@pytest.mark.parametrize("scene", SCENES, ids=lambda scene: scene.name)
def test_each_scene_ends_as_it_should_without_faults(
    canned: CannedAws, gateway: AwsGateway, scene: Scene
) -> None:
    arrange(canned, scene.pages, world=scene.world)
    assert run(gateway, scene).outcome is scene.outcome
    assert canned.unexpected == []


def test_the_fault_table_covers_every_call_the_function_makes(
    canned: CannedAws, gateway: AwsGateway
) -> None:
    # GIVEN every scene without faults
    made: dict[str, set[tuple[str, int]]] = {}
    for scene in SCENES:
        arrange(canned, scene.pages, world=scene.world)
        run(gateway, scene)
        made[scene.name] = {(call.operation, index) for call, index in numbered(canned)}
    # THEN every call made is in the fault table, and nothing in the table is never made
    every_call = {operation for calls in made.values() for operation, _ in calls}
    assert every_call == {case.operation for case in CALLS}
    assert all((case.operation, case.from_call) in made[case.scene.name] for case in CALLS)


def calls_before_the_report(canned: CannedAws, operations: set[str]) -> list[str]:
    """Calls of `operations` sent before the invocation's job result (or continuation)."""
    sent = [call.operation for call in canned.calls]
    reported = next(
        (n for n, operation in enumerate(sent) if operation in ("PutJobSuccessResult",)), len(sent)
    )
    return [operation for operation in sent[:reported] if operation in operations]


def restores_created_before_their_intent(canned: CannedAws) -> list[str]:
    """Groups whose CreateDeployment was sent before a restore record of theirs was written."""
    recorded: set[str] = set()
    unrecorded = []
    for call in canned.calls:
        if call.operation == "PutParameter" and not call.failed:
            recorded.add(call.params["Name"])
        if call.operation == "CreateDeployment":
            group = call.params["deploymentGroupName"]
            if restore_parameter(group) not in recorded:
                unrecorded.append(group)
    return unrecorded


@pytest.mark.parametrize("kind", FAULT_KINDS)
@pytest.mark.parametrize("case", CALLS, ids=str)
def test_a_failed_call_never_yields_a_wrong_result_and_fits_in_time(
    canned: CannedAws, gateway: AwsGateway, kind: str, case: FaultCase
) -> None:
    # GIVEN a scene and one call failing (after the SDK's retries) with this fault
    arrange(canned, case.scene.pages, world=case.scene.world)
    canned.faults.append(Fault(kind, case.operation, case.from_call))
    # WHEN the job runs
    result: JobResult | None = None
    error: Exception | None = None
    try:
        result = run(gateway, case.scene)
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
        # the environment passed and was reported first; only then is the known-good release
        # recorded, and a record that could not be made is said (logged), the last one stays
        assert result is not None
        assert (reported, result.outcome) == ("PutJobSuccessResult", Outcome.SUCCEEDED)
        assert case.named in result.message
        assert calls_before_the_report(canned, set(CHANGES)) == []
        failed = [
            call
            for call, n in numbered(canned)
            if (call.operation, n) == (case.operation, case.from_call)
        ]
        operations = [call.operation for call in canned.calls]
        assert canned.calls.index(failed[0]) > operations.index("PutJobSuccessResult")
    elif case.phase == "scaling":
        # scaling that could not be resumed is logged: the result is the one without the fault
        assert result is not None
        assert result.outcome is case.scene.outcome
    elif case.phase == "restoring":
        # a step that could not be taken is waited out: the job keeps the stage with the restore
        # (never a final success); the continuation says what failed, or, when it confirmed the
        # job before the step acted, the action the step was taking; the result names the failure
        assert result is not None
        assert (reported, result.outcome) == ("PutJobSuccessResult", Outcome.RESTORING)
        assert json.loads(params["continuationToken"])["restoring_since"] is not None
        assert (case.confirmed or case.named) in params["executionDetails"]["summary"]
        assert case.named in result.message
        # AND nothing changed in the environment before CodePipeline accepted the continuation
        assert calls_before_the_report(canned, set(CHANGES)) == []
    else:
        # the failure was reported first; a notification that could not be sent is logged
        assert result is not None
        assert (reported, result.outcome) == ("PutJobFailureResult", Outcome.FAILED_ALARM)
        operations = [call.operation for call in canned.calls]
        assert operations.index(reported) < operations.index("Publish")
    # AND no restore was created without its intent recorded first
    assert restores_created_before_their_intent(canned) == []
    # AND every call, at its worst under the real client configuration, fits the Lambda timeout
    assert canned.unexpected == []
    assert canned.elapsed <= LAMBDA_TIMEOUT_SECONDS, canned.elapsed


SERVICE_OPERATIONS = {
    "cloudwatch": ("DescribeAlarms",),
    "ecs": ("DescribeServices", "DescribeTaskDefinition", "RegisterTaskDefinition"),
    "ssm": ("GetParameter", "PutParameter"),
    "codedeploy": (
        "ListDeploymentGroups",
        "ListDeployments",
        "GetDeployment",
        "GetDeploymentGroup",
        "StopDeployment",
        "CreateDeployment",
    ),
    "application-autoscaling": ("DescribeScalableTargets", "RegisterScalableTarget"),
}


def test_the_services_that_never_answer_cover_every_call() -> None:
    covered = {operation for operations in SERVICE_OPERATIONS.values() for operation in operations}
    reports = {"PutJobSuccessResult", "PutJobFailureResult", "Publish"}
    images = {"BatchGetImage", "PutImage"}  # the record's last calls: after them only scaling
    assert covered == {case.operation for case in CALLS} - reports - images


@pytest.mark.parametrize("scene", SCENES, ids=lambda scene: scene.name)
@pytest.mark.parametrize("service", sorted(SERVICE_OPERATIONS))
@pytest.mark.parametrize("kind", ["connect_timeout", "read_timeout"])
def test_a_service_that_never_answers_still_gets_the_job_reported_before_the_timeout(
    canned: CannedAws, gateway: AwsGateway, service: str, kind: str, scene: Scene
) -> None:
    # GIVEN every call to one service times out for the whole invocation, on a clock that
    # follows the calls' cost
    arrange(canned, scene.pages, world=scene.world)
    for operation in SERVICE_OPERATIONS[service]:
        canned.faults.append(Fault(kind, operation))
    clock = CallClock(canned)
    # WHEN the job runs with the function's real timeout
    run_job(
        scene.event(),
        Runtime(gateway, clock, ENVIRON),
        lambda: int(LAMBDA_TIMEOUT_SECONDS * 1000),
    )
    # THEN one result was reported, before the margin kept for it ran out, and no call was sent
    # after the function's own deadline
    [(_, params)] = job_results(canned)
    assert params["jobId"] == JOB_ID
    assert canned.elapsed <= LAMBDA_TIMEOUT_SECONDS, canned.elapsed


@dataclass
class CallClock:
    """Time as the calls spend it: monotonic time is what the canned calls have cost so far."""

    canned: CannedAws

    def time(self) -> float:
        return NOW + self.canned.elapsed

    def monotonic(self) -> float:
        return self.canned.elapsed
