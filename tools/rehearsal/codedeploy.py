"""CodeDeploy ECS blue/green deployments: lifecycle events in AWS's order, hooks waited on, traffic
shifting, alarm monitoring, automatic rollback and the blue termination wait.

Sources (docs/rehearsal.md has the quotes):
- Lifecycle events of an ECS deployment and the AppSpec hooks; a hook has one hour to report:
  https://docs.aws.amazon.com/codedeploy/latest/userguide/reference-appspec-file-structure-hooks.html
- Predefined ECS deployment configurations (all-at-once, canary, linear):
  https://docs.aws.amazon.com/codedeploy/latest/userguide/deployment-configurations.html
- Alarm monitoring ("if any of the specified alarms are activated, the deployment stops"), automatic
  rollback (ECS: traffic rerouted to the original task set):
  https://docs.aws.amazon.com/codedeploy/latest/userguide/monitoring-create-alarms.html
  https://docs.aws.amazon.com/codedeploy/latest/userguide/deployments-rollback-and-redeploy.html
- overrideAlarmConfiguration, one deployment per deployment group at a time:
  https://docs.aws.amazon.com/codedeploy/latest/APIReference/API_CreateDeployment.html
- Blue termination wait: https://docs.aws.amazon.com/codedeploy/latest/APIReference/API_BlueInstanceTerminationOption.html
- A rollback is a deployment of its own ("In all cases, the new or rolled-back deployment is
  assigned its own deployment ID"; for ECS, "CodeDeploy implements rollbacks by rerouting
  traffic from the replacement task set to the original task set"); GetDeployment names it by
  its creator
  (`codeDeployRollback`) and `rollbackInfo`:
  https://docs.aws.amazon.com/codedeploy/latest/userguide/deployment-steps-ecs.html#deployment-rollback-ecs
  https://docs.aws.amazon.com/codedeploy/latest/APIReference/API_DeploymentInfo.html
  https://docs.aws.amazon.com/codedeploy/latest/APIReference/API_RollbackInfo.html
- StopDeployment answers `Pending` (or `Succeeded`): the stop is asynchronous:
  https://docs.aws.amazon.com/codedeploy/latest/APIReference/API_StopDeployment.html
- A task definition deregistered (INACTIVE) cannot start new tasks:
  https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DeregisterTaskDefinition.html

Assumptions A7-A10 (docs/assumptions.md) are settings: alarm monitoring during the termination
wait, a rollback during the termination wait, whether a rollback runs the traffic hooks, and what
stopping a rollback deployment does.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import simpy

if TYPE_CHECKING:
    from tools.rehearsal.fleet import Fleet, TaskSet
    from tools.rehearsal.lambdas import LambdaService
    from tools.rehearsal.system import DeploymentGroupSpec
    from tools.rehearsal.world import World

LIFECYCLE = (
    "BeforeInstall",
    "Install",
    "AfterInstall",
    "AllowTestTraffic",
    "AfterAllowTestTraffic",
    "BeforeAllowTraffic",
    "AllowTraffic",
    "AfterAllowTraffic",
)
ACTIVE = ("Created", "Queued", "InProgress", "Baking", "Ready")
_ids = itertools.count(1)
_CANARY = re.compile(r"ECSCanary(\d+)Percent(\d+)Minutes?$")
_LINEAR = re.compile(r"ECSLinear(\d+)PercentEvery(\d+)Minutes?$")


class DeploymentLimitExceeded(Exception):
    """CodeDeploy runs one deployment per deployment group at a time."""


class LifecycleEventAlreadyCompleted(Exception):
    """A hook reported for a lifecycle event that already has a status."""


class DeploymentAlreadyCompleted(Exception):
    """StopDeployment on a deployment that can no longer be stopped."""


class StopRefused(Exception):
    """StopDeployment refused for a rollback deployment (assumption A10, `refused`)."""


# GetDeployment's `creator` (DeploymentInfo): the pipeline's and the health check's deployments
# are a user's; CodeDeploy's own rollbacks are `codeDeployRollback`.
CREATOR_USER = "user"
CREATOR_ROLLBACK = "codeDeployRollback"


@dataclass
class HookExecution:
    id: str
    event: str
    done: simpy.Event
    status: str = "Pending"


@dataclass
class Deployment:
    id: str
    group: DeploymentGroupSpec
    fleet: Fleet
    release: str
    task_definition: str
    creator: str
    created_at: float
    override_alarms: dict[str, Any] | None
    stop_event: simpy.Event
    status: str = "Created"
    completed_at: float | None = None
    error: str = ""
    stop_reason: str = ""
    stop_rollback: bool = True
    lifecycle: dict[str, str] = field(default_factory=dict)
    hooks: dict[str, HookExecution] = field(default_factory=dict)
    original: TaskSet | None = None
    replacement: TaskSet | None = None
    rolled_back: bool = False
    finished: simpy.Event | None = None
    description: str = ""
    config_name: str = ""
    # A rollback deployment: the id of the deployment whose failure or stop it undoes
    # (RollbackInfo.rollbackTriggeringDeploymentId); on that one, the rollback's id
    # (RollbackInfo.rollbackDeploymentId).
    rollback_of: str | None = None
    rollback_id: str | None = None
    # Traffic is on the replacement and the original task set waits out its termination.
    in_termination_wait: bool = False
    # The termination wait has started (GetDeployment's instanceTerminationWaitTimeStarted).
    termination_wait_started: bool = False
    # CodeDeploy failed it from outside its lifecycle (a scaling event it did not survive).
    forced_failure: str = ""

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    @property
    def aws_creator(self) -> str:
        return CREATOR_ROLLBACK if self.rollback_of else CREATOR_USER

    def rollback_info(self) -> dict[str, str]:
        info: dict[str, str] = {}
        if self.rollback_of:
            info["rollbackTriggeringDeploymentId"] = self.rollback_of
        if self.rollback_id:
            info["rollbackDeploymentId"] = self.rollback_id
        return info


class CodeDeploy:
    def __init__(self, world: World, lambdas: LambdaService) -> None:
        self.world = world
        self.lambdas = lambdas
        self.deployments: dict[str, Deployment] = {}

    # ------------------------------------------------------------ API
    def create(
        self,
        group_name: str,
        task_definition: str,
        *,
        creator: str,
        override_alarms: dict[str, Any] | None = None,
        description: str = "",
        config_name: str | None = None,
    ) -> Deployment:
        world = self.world
        spec = world.system.service_environment(group_name)
        if any(d.active for d in self.deployments.values() if d.group.name == group_name):
            raise DeploymentLimitExceeded(
                f"deployment group {group_name} already has an active deployment"
            )
        deployment = Deployment(
            id=f"d-{next(_ids):09d}",
            group=spec.deployment_group,
            fleet=world.fleet(spec.environment, spec.service),
            release=world.task_definition_releases[task_definition],
            task_definition=task_definition,
            creator=creator,
            created_at=world.t,
            override_alarms=override_alarms,
            stop_event=world.env.event(),
            description=description,
            config_name=config_name or spec.deployment_group.config_name,
        )
        deployment.finished = world.env.event()
        self.deployments[deployment.id] = deployment
        world.log(
            "CodeDeploy",
            f"{deployment.id} created by {creator}: {group_name} -> "
            f"{deployment.release}" + (" (alarm monitoring overridden)" if override_alarms else ""),
        )
        world.active_deployments += 1
        world.nudge()
        self._publish(deployment, "START")
        world.env.process(self._run(deployment))
        world.env.process(self._watch_alarms(deployment))
        return deployment

    def stop(self, deployment_id: str, *, rollback: bool, reason: str) -> Deployment:
        """StopDeployment: requested now, in effect `codedeploy_stop_seconds` later (AWS answers
        `Pending`). A rollback deployment is stopped or refused by assumption A10; during the
        termination wait, a stop is possible only under assumption A8."""
        deployment = self.deployments[deployment_id]
        assumptions = self.world.assumptions
        if not deployment.active:
            raise DeploymentAlreadyCompleted(f"deployment {deployment.id} is {deployment.status}")
        if deployment.rollback_of and assumptions["stop_rollback_deployment"] == "refused":
            raise StopRefused(f"deployment {deployment.id} is a rollback and cannot be stopped")
        if deployment.in_termination_wait and assumptions["termination_wait_rollback"] == "none":
            raise DeploymentAlreadyCompleted(
                f"deployment {deployment.id} has shifted all traffic: nothing left to stop"
            )
        self.world.env.process(self._stop_later(deployment, reason, rollback=rollback))
        return deployment

    def fail(self, deployment_id: str, reason: str) -> None:
        """CodeDeploy fails the deployment (not a stop): its DEPLOYMENT_FAILURE rollback applies."""
        deployment = self.deployments[deployment_id]
        if not deployment.active or deployment.stop_event.triggered:
            return
        deployment.forced_failure = reason
        deployment.stop_event.succeed(reason)

    def _stop_later(
        self, deployment: Deployment, reason: str, *, rollback: bool
    ) -> Generator[simpy.Event, Any, None]:
        yield self.world.env.timeout(float(self.world.assumptions["codedeploy_stop_seconds"]))
        self._request_stop(deployment, reason, rollback=rollback)

    def report_hook(self, deployment_id: str, execution_id: str, status: str) -> None:
        deployment = self.deployments[deployment_id]
        execution = deployment.hooks.get(execution_id)
        if execution is None:
            raise KeyError(execution_id)
        if execution.status != "Pending":
            raise LifecycleEventAlreadyCompleted(
                f"lifecycle event {execution.event} of {deployment_id} is already "
                f"{execution.status}"
            )
        execution.status = status
        execution.done.succeed(status)

    def active_in(self, group_name: str) -> list[Deployment]:
        return [d for d in self.deployments.values() if d.group.name == group_name and d.active]

    def _publish(self, d: Deployment, state: str) -> None:
        """The deployment's state-change event (START, SUCCESS, FAILURE, STOP) to EventBridge."""
        if self.world.bus is not None:
            self.world.bus.publish(
                "aws.codedeploy",
                "CodeDeploy Deployment State-change Notification",
                {
                    "application": self.world.system.application,
                    "deploymentGroup": d.group.name,
                    "deploymentId": d.id,
                    "state": state,
                },
            )

    # ------------------------------------------------------------ the deployment
    def _request_stop(self, deployment: Deployment, reason: str, *, rollback: bool) -> None:
        if not deployment.active or deployment.stop_event.triggered:
            return
        deployment.stop_reason, deployment.stop_rollback = reason, rollback
        deployment.stop_event.succeed(reason)

    def _run(self, d: Deployment) -> Generator[simpy.Event, Any, None]:  # noqa: PLR0912 - the lifecycle
        world = self.world
        step = float(world.assumptions["codedeploy_step_seconds"])
        d.status = "InProgress"
        fleet = d.fleet
        original_group = max(fleet.weights, key=lambda g: fleet.weights[g])
        replacement_group = next(g for g in fleet.groups if g != original_group)
        d.original = next((ts for ts in fleet.task_sets if ts.target_group == original_group), None)
        failure = ""
        for event in LIFECYCLE:
            if d.stop_event.triggered:
                break
            d.lifecycle[event] = "InProgress"
            if event == "Install":
                inactive = world.task_definition_inactive(d.task_definition)
                if inactive:
                    # ECS refuses a task set of an INACTIVE task definition (CreateTaskSet).
                    failure = f"ECS: task definition {d.task_definition} is INACTIVE"
                else:
                    d.replacement = fleet.create_task_set(d.release, replacement_group)
                    d.replacement.task_definition = d.task_definition
                    failure = yield from self._wait_for_tasks(d)
            elif event == "AllowTestTraffic":
                fleet.route_test(replacement_group)
            elif event == "AllowTraffic":
                failure = yield from self._shift(d, original_group, replacement_group)
            elif event in world.system.hooks:
                failure = yield from self._hook(d, event, world.system.hooks[event])
            if failure or d.stop_event.triggered:
                d.lifecycle[event] = "Failed"
                break
            d.lifecycle[event] = "Succeeded"
            yield world.env.timeout(step)
        if not failure and not d.stop_event.triggered:
            # Success: blue keeps running for the termination wait; whether the deployment can
            # still be stopped and rolled back meanwhile is assumption A8, whether its alarms
            # still stop it A7.
            wait = d.group.termination_wait_seconds
            world.log(
                "CodeDeploy",
                f"{d.id}: traffic on {d.release}; original task set terminates in {wait:g} s",
            )
            d.in_termination_wait = d.termination_wait_started = True
            yield d.stop_event | world.env.timeout(wait)
            d.in_termination_wait = False
        if d.forced_failure:
            failure = d.forced_failure
        if failure or d.stop_event.triggered:
            self._fail(d, failure or d.stop_reason, original_group)
        else:
            if d.original is not None:
                fleet.delete_task_set(d.original)
            if d.replacement is not None:
                d.replacement.status = "PRIMARY"
                fleet.primary = d.replacement
            d.status, d.completed_at = "Succeeded", world.t
            world.log("CodeDeploy", f"{d.id}: Succeeded ({d.group.name} serves {d.release})")
            self._publish(d, "SUCCESS")
        self._finish(d)

    def _finish(self, d: Deployment) -> None:
        self.world.active_deployments -= 1
        if d.finished is not None:
            d.finished.succeed(d.status)

    def _fail(self, d: Deployment, reason: str, original_group: str) -> None:
        """The deployment ends Stopped or Failed; with rollback, CodeDeploy then creates a
        rollback deployment of its own id that reroutes traffic to the original task set."""
        world = self.world
        stopped = d.stop_event.triggered and not d.forced_failure
        trigger = (
            "DEPLOYMENT_STOP_ON_ALARM"
            if d.stop_reason.startswith("alarm")
            else "DEPLOYMENT_FAILURE"
        )
        rollback = (
            d.stop_rollback
            if stopped and not d.stop_reason.startswith("alarm")
            else trigger in d.group.auto_rollback_events
        )
        d.error = reason
        world.log("CodeDeploy", f"{d.id}: {'stopped' if stopped else 'failed'}: {reason}")
        can_roll_back = d.original is not None and not d.original.deleted
        if not (rollback and can_roll_back) and d.replacement is not None and can_roll_back:
            world.log("CodeDeploy", f"{d.id}: no automatic rollback configured for {trigger}")
        d.status = "Stopped" if stopped else "Failed"
        d.completed_at = world.t
        self._publish(d, "STOP" if stopped else "FAILURE")
        if rollback and can_roll_back:
            # In the same instant the failed deployment ends: nothing else can take the group.
            self._create_rollback(d, original_group)

    def _create_rollback(self, failed: Deployment, original_group: str) -> Deployment:
        world = self.world
        rollback = Deployment(
            id=f"d-{next(_ids):09d}",
            group=failed.group,
            fleet=failed.fleet,
            release=failed.original.release if failed.original else failed.release,
            task_definition=failed.original.task_definition if failed.original else "",
            creator="CodeDeploy rollback",
            created_at=world.t,
            override_alarms=None,
            stop_event=world.env.event(),
            description=f"Rollback of {failed.id}",
            config_name=failed.config_name,
            rollback_of=failed.id,
            original=failed.original,
            replacement=failed.replacement,
        )
        rollback.finished = world.env.event()
        failed.rollback_id = rollback.id
        self.deployments[rollback.id] = rollback
        world.active_deployments += 1
        world.log(
            "CodeDeploy",
            f"{rollback.id} created by {CREATOR_ROLLBACK} (rollback of {failed.id}): "
            f"{failed.group.name} -> {rollback.release}",
        )
        self._publish(rollback, "START")
        world.env.process(self._run_rollback(rollback, original_group))
        return rollback

    def _run_rollback(
        self, r: Deployment, original_group: str
    ) -> Generator[simpy.Event, Any, None]:
        """Reroute production and test traffic to the original task set, then remove the
        replacement. Assumption A9: with `rollback_runs_hooks: yes` the traffic hooks run first
        and after, and a hook that fails fails the rollback (traffic stays where it is). Alarm
        monitoring does not watch a rollback: its alarms are in ALARM by definition."""
        world = self.world
        fleet = r.fleet
        r.status = "InProgress"
        hooks = world.assumptions["rollback_runs_hooks"] == "yes"
        failure = ""
        if hooks and "BeforeAllowTraffic" in world.system.hooks:
            failure = yield from self._hook(
                r, "BeforeAllowTraffic", world.system.hooks["BeforeAllowTraffic"]
            )
        if not failure and not r.stop_event.triggered:
            yield r.stop_event | world.env.timeout(
                float(world.assumptions["codedeploy_reroute_seconds"])
            )
        if (
            not failure
            and not r.stop_event.triggered
            and r.original is not None
            and not r.original.deleted
        ):
            fleet.route({original_group: 1}, who=f"CodeDeploy rollback {r.id}")
            fleet.route_test(original_group)
            world.acted("CodeDeploy automatic rollback")
            triggering = self.deployments.get(r.rollback_of or "")
            if triggering is not None:
                triggering.rolled_back = True
            if hooks and "AfterAllowTraffic" in world.system.hooks:
                failure = yield from self._hook(
                    r, "AfterAllowTraffic", world.system.hooks["AfterAllowTraffic"]
                )
            if r.replacement is not None and not failure:
                fleet.delete_task_set(r.replacement)
        if failure or r.stop_event.triggered:
            r.status = "Stopped" if r.stop_event.triggered else "Failed"
            r.error = failure or r.stop_reason
            world.log("CodeDeploy", f"{r.id} (rollback): {r.status}: {r.error}")
            self._publish(r, "STOP" if r.stop_event.triggered else "FAILURE")
        else:
            r.status = "Succeeded"
            world.log("CodeDeploy", f"{r.id} (rollback of {r.rollback_of}): Succeeded")
            self._publish(r, "SUCCESS")
        r.completed_at = world.t
        self._finish(r)

    def _wait_for_tasks(self, d: Deployment) -> Generator[simpy.Event, Any, str]:
        world = self.world
        timeout = float(world.assumptions["codedeploy_install_timeout_seconds"])
        started = world.now
        replacement = d.replacement
        if replacement is None:
            return "no replacement task set"
        while world.now - started < timeout:
            running = sum(1 for t in replacement.tasks if t.state == "RUNNING")
            if running >= replacement.desired:
                return ""
            yield d.stop_event | world.env.timeout(5)
            if d.stop_event.triggered:
                return ""
        return (
            f"replacement task set did not reach {replacement.desired} running tasks "
            f"in {timeout:g} s"
        )

    def _hook(self, d: Deployment, event: str, function: str) -> Generator[simpy.Event, Any, str]:
        world = self.world
        execution = HookExecution(id=f"hook-{next(_ids)}", event=event, done=world.env.event())
        d.hooks[execution.id] = execution
        world.log("CodeDeploy", f"{d.id}: {event} -> invoke {function}")
        # Assumption A1 (docs/assumptions.md): AWS does not say how CodeDeploy invokes a hook.
        # Asynchronously, Lambda retries an invocation that raised (its status call failed);
        # synchronously, nothing does, and the deployment waits for the hook timeout below.
        invoke = (
            self.lambdas.invoke_sync
            if world.assumptions["hook_invocation"] == "sync"
            else self.lambdas.invoke_async
        )
        invoke(
            function,
            {"DeploymentId": d.id, "LifecycleEventHookExecutionId": execution.id},
            caller=f"CodeDeploy {d.id} {event}",
        )
        timeout = float(world.assumptions["codedeploy_hook_timeout_seconds"])
        yield execution.done | d.stop_event | world.env.timeout(timeout)
        if execution.status == "Succeeded":
            world.log("CodeDeploy", f"{d.id}: {event} hook reported Succeeded")
            return ""
        if execution.status == "Failed":
            world.detected(f"{event} hook", f"{d.group.name} {d.release}")
            return f"{event} hook reported Failed"
        if d.stop_event.triggered:
            return ""
        return f"{event} hook did not report within {timeout:g} s"

    def _shift(
        self, d: Deployment, original: str, replacement: str
    ) -> Generator[simpy.Event, Any, str]:
        world = self.world
        config = (d.config_name or d.group.config_name).rsplit(".", 1)[-1]
        steps: list[tuple[int, float]]  # (percent on replacement, then wait seconds)
        if config == "ECSAllAtOnce":
            steps = [(100, 0)]
        elif match := _CANARY.match(config):
            percent, minutes = int(match[1]), int(match[2])
            steps = [(percent, minutes * 60.0), (100, 0)]
        elif match := _LINEAR.match(config):
            percent, minutes = int(match[1]), int(match[2])
            steps = [(min(100, p), minutes * 60.0) for p in range(percent, 100, percent)] + [
                (100, 0)
            ]
        else:
            return f"deployment configuration {d.group.config_name} is not modelled"
        for percent, wait in steps:
            d.fleet.route({replacement: percent, original: 100 - percent}, who=f"CodeDeploy {d.id}")
            if wait:
                yield d.stop_event | world.env.timeout(wait)
                if d.stop_event.triggered:
                    return ""
        return ""

    def _watched_in_termination_wait(self) -> bool:
        """Assumptions A7 and A8: alarms stop a deployment during its termination wait only if
        monitoring goes on then and a rollback is still possible."""
        assumptions = self.world.assumptions
        return bool(
            assumptions["termination_wait_alarm_monitoring"] == "stops"
            and assumptions["termination_wait_rollback"] == "possible"
        )

    def _watch_alarms(self, d: Deployment) -> Generator[simpy.Event, Any, None]:
        """Alarm monitoring: poll the configured alarms until the deployment completes."""
        world = self.world
        poll = float(world.assumptions["codedeploy_alarm_poll_seconds"])
        config = d.override_alarms
        enabled = d.group.alarms_enabled if config is None else bool(config.get("enabled"))
        names = (
            d.group.alarm_names
            if config is None or not config.get("alarms")
            else tuple(a["name"] for a in config["alarms"])
        )
        ignore_failure = (
            d.group.ignore_poll_alarm_failure
            if config is None
            else bool(config.get("ignorePollAlarmFailure"))
        )
        if not enabled or not names:
            return
        # Assumption A2 (docs/assumptions.md): AWS documents that an alarm "activated" stops the
        # deployment, not what INSUFFICIENT_DATA does; the design assumes it is ignored.
        stopping = (
            {"ALARM", "INSUFFICIENT_DATA"}
            if world.assumptions["alarm_monitoring_insufficient_data"] == "stops"
            else {"ALARM"}
        )
        while d.active:
            if d.in_termination_wait and not self._watched_in_termination_wait():
                yield world.env.timeout(poll)
                continue
            if world.scenario.faults.unavailable("cloudwatch", world.t):
                if not ignore_failure:
                    self._request_stop(
                        d, "alarm poll failed: CloudWatch unavailable", rollback=True
                    )
                    world.detected("CodeDeploy alarm monitoring", "alarm poll failure")
            else:
                firing = [
                    n for n in names if world.alarms.get(n) and world.alarms[n].state in stopping
                ]
                if firing:
                    states = sorted({world.alarms[n].state for n in firing})
                    self._request_stop(
                        d, f"alarm {', '.join(firing)} in {'/'.join(states)}", rollback=True
                    )
                    world.detected("CodeDeploy alarm monitoring", ", ".join(firing))
            yield world.env.timeout(poll)
