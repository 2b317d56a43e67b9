"""CodePipeline V2 in QUEUED mode: stages in order, actions by RunOrder, stage locking, stage
rollback, Lambda invoke jobs with continuation tokens, manual approval, CodeDeployToECS.

Sources (docs/rehearsal.md has the quotes):
- Stage rollback ("to the most recent successful execution" of the stage; only after one succeeded
  in the current pipeline structure version): https://docs.aws.amazon.com/codepipeline/latest/userguide/stage-rollback.html
- Execution modes (QUEUED): https://docs.aws.amazon.com/codepipeline/latest/userguide/concepts-how-it-works.html
- Lambda invoke action (asynchronous; 20-minute timeout, restarted by a continuation token):
  https://docs.aws.amazon.com/codepipeline/latest/userguide/actions-invoke-lambda-function.html
  https://docs.aws.amazon.com/codepipeline/latest/userguide/limits.html
- Manual approval (7 days by default, 5 minutes to 60 days): https://docs.aws.amazon.com/codepipeline/latest/userguide/approvals.html
"""

from __future__ import annotations

import itertools
import json
import textwrap
import uuid
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import simpy

from tools.rehearsal.codedeploy import DeploymentLimitExceeded

if TYPE_CHECKING:
    from tools.rehearsal.codedeploy import CodeDeploy
    from tools.rehearsal.lambdas import LambdaService
    from tools.rehearsal.system import ActionSpec, StageSpec
    from tools.rehearsal.world import World

_ids = itertools.count(1)


class InvalidJobState(Exception):
    """A job result for a job that already has one."""


@dataclass
class Job:
    id: str
    execution: Execution
    action: str
    done: simpy.Event
    status: str = "InProgress"
    continuation_token: str | None = None
    message: str = ""


@dataclass
class Execution:
    id: str
    release: str
    kind: str  # "commit" or "rollback"
    started_at: float
    stages: dict[str, str] = field(default_factory=dict)
    approval_seconds: float = 0.0
    production_served_at: float | None = None
    status: str = "InProgress"


class CodePipeline:
    def __init__(self, world: World, codedeploy: CodeDeploy, lambdas: LambdaService) -> None:
        self.world = world
        self.codedeploy = codedeploy
        self.lambdas = lambdas
        self.stages = world.system.stages
        self.locks = {
            stage.name: simpy.PriorityResource(world.env, capacity=1) for stage in self.stages
        }
        self.last_succeeded: dict[str, str] = {}
        self.executions: list[Execution] = []
        self.jobs: dict[str, Job] = {}

    def start(self, release: str) -> Execution:
        execution = Execution(
            id=str(uuid.UUID(int=next(_ids))),
            release=release,
            kind="commit",
            started_at=self.world.t,
        )
        self.executions.append(execution)
        self.world.log("CodePipeline", f"execution {execution.id[-4:]} started for {release}")
        self.world.env.process(self._run(execution))
        return execution

    # ------------------------------------------------------------ executions and stages
    def _run(self, execution: Execution) -> Generator[simpy.Event, Any, None]:
        world = self.world
        held: Any = None
        for stage in self.stages:
            request = self.locks[stage.name].request(priority=1)
            yield request
            if held is not None:
                held[0].release(held[1])
            held = (self.locks[stage.name], request)
            ok = yield from self._stage(execution, stage)
            if not ok:
                execution.status = "Failed"
                held[0].release(held[1])
                world.log(
                    "CodePipeline",
                    f"execution {execution.id[-4:]} ({execution.release}) failed in {stage.name}",
                )
                if stage.on_failure == "ROLLBACK":
                    world.env.process(self._roll_back(stage, failed=execution))
                return
            yield world.env.timeout(float(world.assumptions["codepipeline_transition_seconds"]))
        held[0].release(held[1])
        execution.status = "Succeeded"
        world.log("CodePipeline", f"execution {execution.id[-4:]} ({execution.release}) succeeded")

    def _roll_back(self, stage: StageSpec, failed: Execution) -> Generator[simpy.Event, Any, None]:
        world = self.world
        release = self.last_succeeded.get(stage.name)
        if release is None:
            world.log(
                "CodePipeline",
                f"{stage.name}: no earlier execution succeeded in the stage: no rollback",
            )
            return
        rollback = Execution(
            id=str(uuid.UUID(int=next(_ids))), release=release, kind="rollback", started_at=world.t
        )
        self.executions.append(rollback)
        world.log(
            "CodePipeline",
            f"{stage.name}: rolling back to {release} (execution {rollback.id[-4:]})",
        )
        world.acted("stage rollback")
        # Assumption A4 (docs/assumptions.md): AWS does not say how a rollback and executions
        # already queued for the stage interleave. `never`: the rollback goes ahead of them;
        # `possible`: it queues behind them like any execution (the lock serves equal priorities
        # in order of request).
        overtaken = world.assumptions["queued_overtakes_rollback"] == "possible"
        with self.locks[stage.name].request(priority=1 if overtaken else 0) as request:
            yield request
            ok = yield from self._stage(rollback, stage)
        rollback.status = "Succeeded" if ok else "Failed"
        failed.stages[stage.name] = "RolledBack" if ok else "RollbackFailed"

    def _stage(self, execution: Execution, stage: StageSpec) -> Generator[simpy.Event, Any, bool]:
        world = self.world
        execution.stages[stage.name] = "InProgress"
        for run_order in sorted({action.run_order for action in stage.actions}):
            group = [a for a in stage.actions if a.run_order == run_order]
            processes = [world.env.process(self._action(execution, stage, a)) for a in group]
            results = yield simpy.AllOf(world.env, processes)
            if not all(results.values()):
                execution.stages[stage.name] = "Failed"
                return False
        execution.stages[stage.name] = "Succeeded"
        if execution.kind == "commit":
            self.last_succeeded[stage.name] = execution.release
        return True

    # ------------------------------------------------------------ actions
    def _action(
        self, execution: Execution, stage: StageSpec, action: ActionSpec
    ) -> Generator[simpy.Event, Any, bool]:
        world = self.world
        assumptions = world.assumptions
        if action.category == "Source":
            yield world.env.timeout(float(assumptions["source_seconds"]))
            return True
        if action.category in {"Build", "Test"}:
            seconds = (
                assumptions["test_seconds"]
                if stage.name == "Test"
                else assumptions["build_seconds"]
            )
            yield world.env.timeout(float(seconds))
            return True
        if action.provider == "CodeDeployToECS":
            return (yield from self._deploy(execution, stage, action))
        if action.provider == "Lambda":
            return (yield from self._invoke(execution, stage, action))
        if action.provider == "Manual":
            return (yield from self._approval(execution, action))
        world.log("CodePipeline", f"{stage.name}.{action.name}: {action.provider} not modelled")
        return False

    def _deploy(
        self, execution: Execution, stage: StageSpec, action: ActionSpec
    ) -> Generator[simpy.Event, Any, bool]:
        world = self.world
        group = action.configuration["DeploymentGroupName"]
        spec = world.system.service_environment(group)
        fleet = world.fleet(spec.environment, spec.service)
        task_definition = fleet.register_task_definition(execution.release)
        world.task_definition_releases[task_definition] = execution.release
        try:
            deployment = self.codedeploy.create(
                group, task_definition, creator=f"CodePipeline {stage.name}.{action.name}"
            )
        except DeploymentLimitExceeded as error:
            world.log("CodePipeline", f"{stage.name}.{action.name}: {error}")
            return False
        if deployment.finished is None:
            return False
        status = yield deployment.finished
        return bool(status == "Succeeded")

    def _invoke(
        self, execution: Execution, stage: StageSpec, action: ActionSpec
    ) -> Generator[simpy.Event, Any, bool]:
        world = self.world
        timeout = float(world.assumptions["codepipeline_lambda_action_timeout_seconds"])
        token: str | None = None
        while True:
            job = Job(
                id=str(uuid.uuid4()),
                execution=execution,
                action=action.name,
                done=world.env.event(),
            )
            self.jobs[job.id] = job
            data: dict[str, Any] = {
                "actionConfiguration": {"configuration": dict(action.configuration)},
                "inputArtifacts": [],
                "outputArtifacts": [],
            }
            if token is not None:
                data["continuationToken"] = token
            self.lambdas.invoke_async(
                action.configuration["FunctionName"],
                {"CodePipeline.job": {"id": job.id, "accountId": "123456789012", "data": data}},
                caller=f"CodePipeline {stage.name}.{action.name}",
            )
            yield job.done | world.env.timeout(timeout)
            if job.status == "InProgress":
                job.status = "Failed"
                world.log(
                    "CodePipeline",
                    f"{stage.name}.{action.name}: no job result in "
                    f"{timeout:g} s: the action times out",
                )
                return False
            if job.status == "Failed":
                world.detected(f"{stage.name} ValidateHealth", shorten(job.message, 80))
                world.log(
                    "CodePipeline",
                    f"{stage.name}.{action.name} failed: {shorten(job.message, 160)}",
                )
                return False
            if job.continuation_token is None:
                world.log(
                    "CodePipeline",
                    f"{stage.name}.{action.name} succeeded: {shorten(job.message, 120)}",
                )
                return True
            token = job.continuation_token
            yield world.env.timeout(
                float(world.assumptions["codepipeline_continuation_delay_seconds"])
            )

    def _approval(
        self, execution: Execution, action: ActionSpec
    ) -> Generator[simpy.Event, Any, bool]:
        world = self.world
        decision = world.scenario.approval_for(execution.release)
        world.log("CodePipeline", f"{action.name}: waiting for a human ({execution.release})")
        started = world.now
        timeout = (
            60.0 * action.timeout_minutes
            if action.timeout_minutes
            else float(world.assumptions["approval_timeout_seconds"])
        )
        # A decision scripted after the action's timeout comes too late: the approval has expired.
        if decision.decision == "expire" or decision.after_seconds >= timeout:
            yield world.env.timeout(timeout)
            execution.approval_seconds += world.now - started
            world.log("human", f"nobody approved {execution.release}: the approval expired")
            return False
        yield world.env.timeout(decision.after_seconds)
        execution.approval_seconds += world.now - started
        world.acted("human approval")
        world.log("human", f"{decision.decision}s {execution.release}")
        return decision.decision == "approve"

    # ------------------------------------------------------------ job results (the API)
    def put_job_result(
        self, job_id: str, *, success: bool, message: str, token: str | None
    ) -> None:
        job = self.jobs.get(job_id)
        if job is None:
            raise KeyError(job_id)
        if job.status != "InProgress":
            raise InvalidJobState(f"job {job_id} is {job.status}")
        job.status = "Succeeded" if success else "Failed"
        job.message = message
        job.continuation_token = token if success else None
        job.done.succeed(job.status)


def shorten(message: str, width: int) -> str:
    """A job message for the timeline: whole words, " ..." where it was cut."""
    return textwrap.shorten(message, width=width, placeholder=" ...")


def user_parameters(action: ActionSpec) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(action.configuration.get("UserParameters", "{}"))
    return parsed
