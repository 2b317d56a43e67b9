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

    @property
    def active(self) -> bool:
        return self.status in ACTIVE


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
        world.env.process(self._run(deployment))
        world.env.process(self._watch_alarms(deployment))
        return deployment

    def stop(self, deployment_id: str, *, rollback: bool, reason: str) -> Deployment:
        deployment = self.deployments[deployment_id]
        self._request_stop(deployment, reason, rollback=rollback)
        return deployment

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
            # Success: blue keeps running for the termination wait, and can still take traffic back.
            wait = d.group.termination_wait_seconds
            world.log(
                "CodeDeploy",
                f"{d.id}: traffic on {d.release}; original task set terminates in {wait:g} s",
            )
            yield d.stop_event | world.env.timeout(wait)
        if failure or d.stop_event.triggered:
            yield from self._fail(d, failure or d.stop_reason, original_group)
        else:
            if d.original is not None:
                fleet.delete_task_set(d.original)
            if d.replacement is not None:
                d.replacement.status = "PRIMARY"
                fleet.primary = d.replacement
            d.status, d.completed_at = "Succeeded", world.t
            world.log("CodeDeploy", f"{d.id}: Succeeded ({d.group.name} serves {d.release})")
        world.active_deployments -= 1
        if d.finished is not None:
            d.finished.succeed(d.status)

    def _fail(
        self, d: Deployment, reason: str, original_group: str
    ) -> Generator[simpy.Event, Any, None]:
        world = self.world
        fleet = d.fleet
        stopped = d.stop_event.triggered
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
        if rollback and d.original is not None and not d.original.deleted:
            yield world.env.timeout(float(world.assumptions["codedeploy_reroute_seconds"]))
            fleet.route({original_group: 1}, who="CodeDeploy rollback")
            fleet.route_test(original_group)
            if d.replacement is not None:
                fleet.delete_task_set(d.replacement)
            d.rolled_back = True
            world.acted("CodeDeploy automatic rollback")
        elif d.replacement is not None and d.original is not None and not d.original.deleted:
            world.log("CodeDeploy", f"{d.id}: no automatic rollback configured for {trigger}")
        d.status = "Stopped" if stopped else "Failed"
        d.completed_at = world.t
        if world.bus is not None:
            world.bus.publish(
                "aws.codedeploy",
                "CodeDeploy Deployment State-change Notification",
                {
                    "application": world.system.application,
                    "deploymentGroup": d.group.name,
                    "deploymentId": d.id,
                    "state": "STOP" if stopped else "FAILURE",
                },
            )

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
