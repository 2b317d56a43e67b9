"""CodePipeline (V2, QUEUED mode) as modelled, on stages built for each test.

AWS: execution modes (QUEUED) (https://docs.aws.amazon.com/codepipeline/latest/userguide/concepts-how-it-works.html),
Lambda invoke action and its continuation token, 20-minute timeout
(https://docs.aws.amazon.com/codepipeline/latest/userguide/actions-invoke-lambda-function.html,
https://docs.aws.amazon.com/codepipeline/latest/userguide/limits.html),
manual approval (https://docs.aws.amazon.com/codepipeline/latest/userguide/approvals.html),
stage rollback (https://docs.aws.amazon.com/codepipeline/latest/userguide/stage-rollback.html).

The world holds the real system (fleets, functions) but only the stages a test gives it; no
actor but the pipeline runs, and the test answers the Lambda jobs itself (`FakeLambdas`).
Scenario time is simulation time here (origin 0).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from functools import cache
from typing import Any, cast

import pytest

from tests.rehearsal.conftest import scenario
from tools.rehearsal.codedeploy import CodeDeploy
from tools.rehearsal.lambdas import LambdaService
from tools.rehearsal.pipeline import CodePipeline, Execution, InvalidJobState, shorten
from tools.rehearsal.run import base_assumptions
from tools.rehearsal.scenario import RunScenario
from tools.rehearsal.system import ActionSpec, StageSpec, System, load_system
from tools.rehearsal.world import World

FUNCTION = "health-check-dev"
# The model's assumptions (tools/rehearsal/assumptions.yaml), read once so the times below stay
# tied to them.
SOURCE = float(base_assumptions()["source_seconds"])
BUILD = float(base_assumptions()["build_seconds"])
TRANSITION = float(base_assumptions()["codepipeline_transition_seconds"])
CONTINUATION_DELAY = float(base_assumptions()["codepipeline_continuation_delay_seconds"])
LAMBDA_TIMEOUT = float(base_assumptions()["codepipeline_lambda_action_timeout_seconds"])


@dataclass
class Invoked:
    at: float
    action: str
    job_id: str
    continuation_token: str | None


@dataclass
class FakeLambdas:
    """Records CodePipeline's asynchronous invocations; the test puts the job results."""

    world: World
    invocations: list[Invoked] = field(default_factory=list)

    def invoke_async(self, function_name: str, event: dict[str, Any], *, caller: str) -> None:
        job = event["CodePipeline.job"]
        self.invocations.append(
            Invoked(
                at=self.world.now,
                action=caller.rsplit(".", 1)[-1],
                job_id=job["id"],
                continuation_token=job["data"].get("continuationToken"),
            )
        )

    def of(self, action: str) -> list[Invoked]:
        return [i for i in self.invocations if i.action == action]


@cache
def _system() -> System:
    return load_system()


def _build(stages: tuple[StageSpec, ...], **fields: Any) -> tuple[World, CodePipeline, FakeLambdas]:
    world = World(
        system=dataclasses.replace(_system(), stages=stages),
        scenario=RunScenario(scenario(releases={"r1": {}, "r2": {}, "r3": {}}, **fields)),
        assumptions=dict(base_assumptions()),
    )
    lambdas = FakeLambdas(world)
    pipeline = CodePipeline(
        world,
        cast(CodeDeploy, None),  # no CodeDeployToECS action in these stages
        cast(LambdaService, lambdas),
    )
    return world, pipeline, lambdas


def _build_action(name: str, run_order: int = 1) -> ActionSpec:
    return ActionSpec(name, "Build", "CodeBuild", run_order, {})


def _invoke_action(name: str, run_order: int = 1) -> ActionSpec:
    return ActionSpec(name, "Invoke", "Lambda", run_order, {"FunctionName": FUNCTION})


def _approval_action(timeout_minutes: float | None = None) -> ActionSpec:
    return ActionSpec("Approve", "Approval", "Manual", 1, {}, timeout_minutes)


def _stage(name: str, *actions: ActionSpec, on_failure: str | None = None) -> StageSpec:
    return StageSpec(name=name, actions=actions, on_failure=on_failure)


def _run(world: World, until: float) -> None:
    world.env.run(until=until)


def _status_at(world: World, execution: Execution, t: float) -> str:
    _run(world, t)
    return execution.status


# ---------------------------------------------------------------- run order
def test_actions_with_the_same_run_order_run_in_parallel_and_the_next_run_order_after() -> None:
    # Given a stage with two builds at RunOrder 1 and one at RunOrder 2
    world, pipeline, _ = _build(
        (_stage("Build", _build_action("A"), _build_action("B"), _build_action("C", 2)),)
    )
    # When an execution starts at 0
    execution = pipeline.start("r1")
    # Then it takes two builds' time, not three (A and B together, then C), plus the transition
    end = 2 * BUILD + TRANSITION
    assert _status_at(world, execution, end - 1) == "InProgress"
    assert _status_at(world, execution, end + 0.001) == "Succeeded"
    assert execution.stages == {"Build": "Succeeded"}


def test_next_run_order_is_invoked_only_when_every_action_of_the_previous_one_succeeded() -> None:
    # Given a stage with two Lambda actions at RunOrder 1 and one at RunOrder 2
    world, pipeline, lambdas = _build(
        (_stage("Validate", _invoke_action("A"), _invoke_action("B"), _invoke_action("C", 2)),)
    )
    # When an execution starts at 0
    execution = pipeline.start("r1")
    _run(world, 1)
    # Then A and B are both invoked at 0, C not yet
    assert [(i.action, i.at) for i in lambdas.invocations] == [("A", 0.0), ("B", 0.0)]
    # When A succeeds at 100, C still waits for B
    _run(world, 100)
    pipeline.put_job_result(lambdas.of("A")[0].job_id, success=True, message="ok", token=None)
    _run(world, 200)
    assert lambdas.of("C") == []
    # When B succeeds at 200, C is invoked at that instant
    pipeline.put_job_result(lambdas.of("B")[0].job_id, success=True, message="ok", token=None)
    _run(world, 201)
    assert [i.at for i in lambdas.of("C")] == [200.0]
    assert execution.stages == {"Validate": "InProgress"}
    # When C succeeds at 300, the stage and (after the transition) the execution succeed
    _run(world, 300)
    pipeline.put_job_result(lambdas.of("C")[0].job_id, success=True, message="ok", token=None)
    assert _status_at(world, execution, 300 + TRANSITION + 0.001) == "Succeeded"
    assert execution.stages == {"Validate": "Succeeded"}


# ---------------------------------------------------------------- QUEUED mode
def test_a_second_execution_waits_for_the_busy_stage_and_keeps_its_place() -> None:
    # Given Source (30 s) then Build (240 s), in QUEUED mode
    # (concepts-how-it-works.html: executions queue for a locked stage, in order)
    world, pipeline, _ = _build(
        (
            _stage("Source", ActionSpec("Source", "Source", "CodeCommit", 1, {})),
            _stage("Build", _build_action("Build")),
        )
    )
    # When three executions start at 0, in order
    first, second, third = pipeline.start("r1"), pipeline.start("r2"), pipeline.start("r3")
    # Then the first leaves Source after 30 s + the transition and holds Build until it ends
    first_end = SOURCE + TRANSITION + BUILD + TRANSITION
    _run(world, SOURCE + TRANSITION + SOURCE + 1)
    assert first.stages == {"Source": "Succeeded", "Build": "InProgress"}
    # And the second ran Source once the first left it, then waits there for Build
    assert second.stages == {"Source": "Succeeded"}
    # And the third waits for Source, which the waiting second still holds
    assert third.stages == {}
    _run(world, first_end - 1)
    assert (second.stages, third.stages) == ({"Source": "Succeeded"}, {})
    # When the first execution succeeds, the second enters Build and the third Source at once
    _run(world, first_end + 0.001)
    assert first.status == "Succeeded"
    assert second.stages == {"Source": "Succeeded", "Build": "InProgress"}
    assert third.stages == {"Source": "InProgress"}
    # Then the second succeeds one Build (and transition) after the first
    second_end = first_end + BUILD + TRANSITION
    assert _status_at(world, second, second_end - 0.001) == "InProgress"
    assert _status_at(world, second, second_end + 0.001) == "Succeeded"


# ---------------------------------------------------------------- failure
def test_a_failed_action_fails_its_stage_and_the_execution_and_later_actions_never_run() -> None:
    # Given a Validate stage (Lambda, then a build at RunOrder 2) and a Build stage after it
    world, pipeline, lambdas = _build(
        (
            _stage("Validate", _invoke_action("Check"), _build_action("After", 2)),
            _stage("Build", _build_action("Build")),
        )
    )
    execution = pipeline.start("r1")
    _run(world, 50)
    # When the Lambda reports failure at 50
    pipeline.put_job_result(
        lambdas.of("Check")[0].job_id, success=False, message="unhealthy", token=None
    )
    _run(world, 50 + BUILD + 10 * TRANSITION)
    # Then the stage and the execution fail at once, and Build is never entered
    assert execution.status == "Failed"
    assert execution.stages == {"Validate": "Failed"}
    assert (50.0, "Validate ValidateHealth", "unhealthy") in world.detections
    assert any(e.at == 50.0 and "failed in Validate" in e.text for e in world.events)
    # And a second result for the same job is refused (the job already has one)
    with pytest.raises(InvalidJobState):
        pipeline.put_job_result(lambdas.of("Check")[0].job_id, success=True, message="", token=None)


def test_a_failed_execution_releases_the_stage_to_the_queued_one() -> None:
    # Given a Validate stage and two executions queued at 0
    world, pipeline, lambdas = _build((_stage("Validate", _invoke_action("Check")),))
    first, second = pipeline.start("r1"), pipeline.start("r2")
    _run(world, 10)
    assert len(lambdas.invocations) == 1
    # When the first execution's job fails at 10
    pipeline.put_job_result(lambdas.invocations[0].job_id, success=False, message="no", token=None)
    _run(world, 10.001)
    # Then the second enters the stage at that instant
    assert first.status == "Failed"
    assert [i.at for i in lambdas.invocations] == [0.0, 10.0]
    assert second.stages == {"Validate": "InProgress"}


def test_a_lambda_action_without_a_job_result_times_out_after_twenty_minutes() -> None:
    # Given a Lambda action whose function never reports (limits.html: 20 minutes)
    world, pipeline, _ = _build((_stage("Validate", _invoke_action("Check")),))
    # When an execution starts at 0
    execution = pipeline.start("r1")
    # Then it is still running just before the timeout and has failed at it
    assert _status_at(world, execution, LAMBDA_TIMEOUT - 1) == "InProgress"
    assert _status_at(world, execution, LAMBDA_TIMEOUT + 0.001) == "Failed"
    assert execution.stages == {"Validate": "Failed"}


# ---------------------------------------------------------------- continuation tokens
def test_a_job_returning_a_continuation_token_is_invoked_again_with_that_token() -> None:
    # Given a Lambda action (actions-invoke-lambda-function.html: a continuation token makes
    # CodePipeline invoke the function again, as a new job, with the token)
    world, pipeline, lambdas = _build((_stage("Validate", _invoke_action("Check")),))
    execution = pipeline.start("r1")
    _run(world, 100)
    # When the first job succeeds at 100 with a continuation token
    first = lambdas.of("Check")[0]
    pipeline.put_job_result(first.job_id, success=True, message="wait", token="step-1")
    # Then the action is invoked again after the continuation delay, with the token, new job id
    _run(world, 100 + CONTINUATION_DELAY - 0.001)
    assert len(lambdas.of("Check")) == 1
    _run(world, 100 + CONTINUATION_DELAY + 0.001)
    again = lambdas.of("Check")[1]
    assert (first.continuation_token, again.continuation_token) == (None, "step-1")
    assert again.at == 100 + CONTINUATION_DELAY
    assert again.job_id != first.job_id
    assert execution.status == "InProgress"
    # When the second job succeeds without a token, the action and the execution succeed
    done_at = again.at + 60
    _run(world, done_at)
    pipeline.put_job_result(again.job_id, success=True, message="healthy", token=None)
    assert _status_at(world, execution, done_at + TRANSITION + 0.001) == "Succeeded"
    assert len(lambdas.of("Check")) == 2


def test_each_continuation_job_gets_its_own_twenty_minute_timeout() -> None:
    # Given a job that answers with a continuation token just before its timeout
    world, pipeline, lambdas = _build((_stage("Validate", _invoke_action("Check")),))
    execution = pipeline.start("r1")
    _run(world, LAMBDA_TIMEOUT - 1)
    token_at = LAMBDA_TIMEOUT - 1
    pipeline.put_job_result(
        lambdas.of("Check")[0].job_id, success=True, message="wait", token="step-1"
    )
    # When the second job never answers
    second_at = token_at + CONTINUATION_DELAY
    # Then the execution outlives the first job's 20 minutes and fails 20 minutes after the second
    assert _status_at(world, execution, second_at + LAMBDA_TIMEOUT - 1) == "InProgress"
    assert _status_at(world, execution, second_at + LAMBDA_TIMEOUT + 0.001) == "Failed"


# ---------------------------------------------------------------- manual approval
def test_an_approval_holds_the_execution_until_the_human_approves() -> None:
    # Given an Approval stage and a human who approves r1 after 900 s (approvals.html)
    world, pipeline, _ = _build(
        (_stage("Approval", _approval_action(60)), _stage("Build", _build_action("Build"))),
        approvals={"r1": {"decision": "approve", "after_seconds": 900}},
    )
    execution = pipeline.start("r1")
    # When 899 s have passed, it still waits
    _run(world, 899)
    assert execution.stages == {"Approval": "InProgress"}
    # Then at 900 it is approved, and Build starts after the transition
    _run(world, 900 + TRANSITION + 0.001)
    assert execution.stages == {"Approval": "Succeeded", "Build": "InProgress"}
    assert execution.approval_seconds == 900.0
    end = 900 + TRANSITION + BUILD + TRANSITION
    assert _status_at(world, execution, end + 0.001) == "Succeeded"


def test_a_rejected_approval_fails_the_execution_when_the_human_rejects() -> None:
    # Given a human who rejects r1 after 120 s
    world, pipeline, _ = _build(
        (_stage("Approval", _approval_action(60)), _stage("Build", _build_action("Build"))),
        approvals={"r1": {"decision": "reject", "after_seconds": 120}},
    )
    execution = pipeline.start("r1")
    # Then the execution runs until 120 and fails there, Build never entered
    assert _status_at(world, execution, 119) == "InProgress"
    assert _status_at(world, execution, 120.001) == "Failed"
    assert execution.stages == {"Approval": "Failed"}
    assert execution.approval_seconds == 120.0


def test_an_unanswered_approval_expires_after_the_actions_timeout_in_minutes() -> None:
    # Given an approval with TimeoutInMinutes 60 that nobody answers
    world, pipeline, _ = _build(
        (_stage("Approval", _approval_action(60)),),
        approvals={"r1": {"decision": "expire"}},
    )
    execution = pipeline.start("r1")
    # Then it fails at 60 minutes, not before
    assert _status_at(world, execution, 3600 - 1) == "InProgress"
    assert _status_at(world, execution, 3600 + 0.001) == "Failed"
    assert execution.approval_seconds == 3600.0
    assert any("approval expired" in e.text and e.at == 3600.0 for e in world.events)


def test_an_approval_given_after_the_timeout_is_too_late_and_the_approval_expires() -> None:
    # Given an approval with TimeoutInMinutes 60 and a human who approves after 90 minutes
    world, pipeline, _ = _build(
        (_stage("Approval", _approval_action(60)),),
        approvals={"r1": {"decision": "approve", "after_seconds": 5400}},
    )
    execution = pipeline.start("r1")
    # Then the approval expires at 60 minutes and the late approval changes nothing
    assert _status_at(world, execution, 3600 + 0.001) == "Failed"
    assert _status_at(world, execution, 5400 + 1) == "Failed"
    assert any("approval expired" in e.text and e.at == 3600.0 for e in world.events)


def test_an_unanswered_approval_without_a_timeout_expires_after_seven_days() -> None:
    # Given an approval without TimeoutInMinutes that nobody answers (approvals.html: 7 days)
    world, pipeline, _ = _build(
        (_stage("Approval", _approval_action()),),
        approvals={"r1": {"decision": "expire"}},
    )
    execution = pipeline.start("r1")
    seven_days = 7 * 24 * 3600.0
    # Then it waits the full seven days and fails at them
    assert _status_at(world, execution, seven_days - 1) == "InProgress"
    assert _status_at(world, execution, seven_days + 0.001) == "Failed"


# ---------------------------------------------------------------- stage rollback
def test_a_failed_stage_with_rollback_runs_again_with_the_last_release_that_succeeded_there() -> (
    None
):
    # Given a Validate stage with OnFailure ROLLBACK where r1 already succeeded
    # (stage-rollback.html: rollback to the most recent successful execution of the stage)
    world, pipeline, lambdas = _build(
        (_stage("Validate", _invoke_action("Check"), on_failure="ROLLBACK"),)
    )
    good = pipeline.start("r1")
    _run(world, 10)
    pipeline.put_job_result(lambdas.invocations[0].job_id, success=True, message="", token=None)
    _run(world, 100)
    assert good.status == "Succeeded"
    # When r2's execution fails in that stage at 200
    bad = pipeline.start("r2")
    _run(world, 200)
    pipeline.put_job_result(lambdas.invocations[1].job_id, success=False, message="x", token=None)
    _run(world, 200.001)
    # Then a rollback execution of r1 runs the stage at once
    rollback = pipeline.executions[-1]
    assert (rollback.kind, rollback.release, rollback.started_at) == ("rollback", "r1", 200.0)
    assert [i.at for i in lambdas.invocations] == [0.0, 100.0, 200.0]
    # And when it succeeds, the failed execution's stage shows RolledBack
    pipeline.put_job_result(lambdas.invocations[2].job_id, success=True, message="", token=None)
    _run(world, 201)
    assert rollback.status == "Succeeded"
    assert (bad.status, bad.stages) == ("Failed", {"Validate": "RolledBack"})


def test_no_rollback_when_no_execution_has_succeeded_in_the_stage() -> None:
    # Given a Validate stage with OnFailure ROLLBACK and no earlier success
    world, pipeline, lambdas = _build(
        (_stage("Validate", _invoke_action("Check"), on_failure="ROLLBACK"),)
    )
    execution = pipeline.start("r1")
    _run(world, 10)
    # When it fails
    pipeline.put_job_result(lambdas.invocations[0].job_id, success=False, message="x", token=None)
    _run(world, 3600)
    # Then nothing is rolled back
    assert [e.kind for e in pipeline.executions] == ["commit"]
    assert execution.stages == {"Validate": "Failed"}
    assert len(lambdas.invocations) == 1


@pytest.mark.parametrize(("setting", "next_in_stage"), [("never", "rollback"), ("possible", "r3")])
def test_a_queued_execution_overtakes_a_rollback_only_when_set_to(
    setting: str, next_in_stage: str
) -> None:
    # Given a Validate stage with OnFailure ROLLBACK where r1 already succeeded, and r3 queued
    # behind r2 (assumption A4 in docs/assumptions.md: queued_overtakes_rollback)
    world, pipeline, lambdas = _build(
        (_stage("Validate", _invoke_action("Check"), on_failure="ROLLBACK"),)
    )
    world.assumptions["queued_overtakes_rollback"] = setting
    pipeline.start("r1")
    _run(world, 10)
    pipeline.put_job_result(lambdas.invocations[0].job_id, success=True, message="", token=None)
    _run(world, 100)
    bad, queued = pipeline.start("r2"), pipeline.start("r3")
    _run(world, 200)
    # When r2 fails there at 200
    pipeline.put_job_result(lambdas.invocations[1].job_id, success=False, message="x", token=None)
    _run(world, 200.001)
    # Then the stage's next run is the rollback's (never) or the queued r3's (possible)
    assert bad.status == "Failed"
    rollback = next(e for e in pipeline.executions if e.kind == "rollback")
    in_stage = [e for e in (rollback, queued) if e.stages.get("Validate") == "InProgress"]
    assert [e.release if e.kind == "commit" else e.kind for e in in_stage] == [next_in_stage]


@pytest.mark.parametrize("delay", [30.0, 90.0])
def test_the_continuation_delay_is_the_models_setting(delay: float) -> None:
    # Assumption A5 (docs/assumptions.md): codepipeline_continuation_delay_seconds
    world, pipeline, lambdas = _build((_stage("Validate", _invoke_action("Check")),))
    world.assumptions["codepipeline_continuation_delay_seconds"] = delay
    pipeline.start("r1")
    _run(world, 100)
    pipeline.put_job_result(lambdas.of("Check")[0].job_id, success=True, message="", token="t")
    _run(world, 100 + delay + 0.001)
    assert [i.at for i in lambdas.of("Check")] == [0.0, 100 + delay]


def test_a_long_job_message_is_cut_between_words_and_says_so() -> None:
    # GIVEN a validator message longer than the timeline keeps
    message = "healthy after a 300s bake: 18 alarm(s) OK, 3 service(s) steady; " * 4
    # WHEN it is shortened for the timeline
    short = shorten(message, 120)
    # THEN it fits, ends on a whole word and marks the cut
    assert len(short) <= 120
    assert short.endswith(" ...")
    assert message.startswith(short.removesuffix(" ..."))
