"""ECS tasks, target groups and the listeners in front of them, for one service in one environment,
and the user traffic that flows through them into the load balancer's metrics.

Sources (docs/rehearsal.md has the quotes):
- A newly registered target must pass one health check to become healthy; the healthy threshold
  applies to targets returning to service; draining lasts the deregistration delay:
  https://docs.aws.amazon.com/elasticloadbalancing/latest/application/target-group-health-checks.html
  https://docs.aws.amazon.com/elasticloadbalancing/latest/application/edit-target-group-attributes.html
- Weighted forward actions: https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-listeners.html
- ALB metrics per 60 s, only when there are requests (RequestCount, HTTPCode_Target_5XX_Count):
  https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-cloudwatch-metrics.html
"""

from __future__ import annotations

import itertools
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import simpy

    from tools.rehearsal.behaviour import Behaviour
    from tools.rehearsal.system import ServiceEnvironment, System, TargetGroupSpec

_ids = itertools.count(1)


# `synthetic_random_errors: median_run`: a run fails when at least this share of runs would.
MOST_RUNS = 0.5


class FleetHost(Protocol):
    """The world as a fleet uses it: the world passes itself down; fleet never imports it up."""

    system: System
    assumptions: dict[str, Any]
    env: simpy.Environment
    task_definition_releases: dict[str, str]
    pulled_images: set[tuple[str, str]]

    @property
    def now(self) -> float: ...

    def log(self, actor: str, text: str) -> None: ...

    def fleet(self, environment: str, service: str) -> Fleet: ...

    def behaviour(self, service: str, release: str) -> Behaviour: ...

    def pull_error(self, release: str) -> str | None: ...

    def start_seconds(self, service: str, release: str) -> float: ...

    def put_metric(
        self, namespace: str, name: str, dimensions: dict[str, str], value: float
    ) -> None: ...

    def note_traffic(self, fleet: Fleet, release: str, share: float) -> None: ...

    def pause(self, seconds: float) -> simpy.Event: ...

    def nudge(self) -> None: ...


@dataclass
class Task:
    id: str
    ip: str
    release: str
    task_set: str
    state: str = "PROVISIONING"  # PROVISIONING -> RUNNING -> STOPPED


@dataclass
class Target:
    task: Task
    state: str = "initial"
    reason: str | None = "Elb.RegistrationInProgress"
    passes: int = 0
    failures: int = 0
    drained_at: float | None = None
    registered_at: float = 0.0


@dataclass
class TaskSet:
    id: str
    release: str
    task_definition: str
    target_group: str
    status: str  # PRIMARY (serving) or ACTIVE (the other one during a deployment)
    desired: int
    tasks: list[Task] = field(default_factory=list)
    deleted: bool = False
    stopped_tasks: int = 0  # tasks that stopped before they ran


class Fleet:
    """One service in one environment: its task sets, both target groups and both listeners."""

    def __init__(self, world: FleetHost, spec: ServiceEnvironment, release: str) -> None:
        self.world = world
        self.spec = spec
        self.groups: dict[str, TargetGroupSpec] = {
            spec.blue.arn: spec.blue,
            spec.green.arn: spec.green,
        }
        self.targets: dict[str, list[Target]] = {spec.blue.arn: [], spec.green.arn: []}
        # The production listener's forward action (weights) and the test listener's target.
        self.weights: dict[str, int] = {spec.blue.arn: 1}
        self.test_target_group = spec.blue.arn
        # Whether CodeDeploy has rewritten the listeners' forward actions (until then they are
        # the template's: forward to blue); what a rewritten one looks like is assumption A3.
        self.listeners_rewritten = False
        self.task_sets: list[TaskSet] = []
        self.task_definition_revision = 0
        # When each release first served users here, and first served all of them.
        self.first_traffic: dict[str, float] = {}
        self.full_traffic: dict[str, float] = {}
        initial = self.create_task_set(release, spec.blue.arn, status="PRIMARY", start_now=True)
        # It ran before the rehearsal began: its image was pulled then, so a restore to it (or a
        # replacement task) is not a first pull.
        world.pulled_images.add((spec.service, release))
        self.primary = initial

    # ------------------------------------------------------------ ECS
    def register_task_definition(self, release: str) -> str:
        self.task_definition_revision += 1
        return (
            f"arn:aws:ecs:eu-west-1:123456789012:task-definition/{self.spec.task_family}:"
            f"{self.task_definition_revision}"
        )

    def release_of_task_definition(self, arn: str) -> str:
        return self.world.task_definition_releases[arn]

    def create_task_set(
        self, release: str, target_group: str, *, status: str = "ACTIVE", start_now: bool = False
    ) -> TaskSet:
        task_definition = self.register_task_definition(release)
        self.world.task_definition_releases[task_definition] = release
        task_set = TaskSet(
            id=f"ecs-svc/{next(_ids):019d}",
            release=release,
            task_definition=task_definition,
            target_group=target_group,
            status=status,
            desired=self.spec.desired_count,
        )
        self.task_sets.append(task_set)
        self.world.nudge()
        for _ in range(task_set.desired):
            self.world.env.process(self._run_task(task_set, immediately=start_now))
        return task_set

    def delete_task_set(self, task_set: TaskSet) -> None:
        """Tasks stop; their targets drain for the deregistration delay."""
        task_set.deleted = True
        self.world.nudge()
        for task in task_set.tasks:
            self._deregister(task)
            task.state = "STOPPED"
        if task_set in self.task_sets:
            self.task_sets.remove(task_set)

    def _run_task(
        self, task_set: TaskSet, *, immediately: bool
    ) -> Generator[simpy.Event, Any, None]:
        """One task slot: start (image pull and start-up), run, and be replaced if it stops."""
        world = self.world
        while not task_set.deleted:
            number = next(_ids)
            task = Task(
                id=f"task-{number}",
                ip=f"10.0.{(number // 250) % 250}.{number % 250 + 2}",
                release=task_set.release,
                task_set=task_set.id,
            )
            task_set.tasks.append(task)
            if not immediately:
                yield world.env.timeout(world.start_seconds(self.spec.service, task_set.release))
            immediately = False
            if _deleted(task_set):  # while the task was starting
                return
            behaviour = world.behaviour(self.spec.service, task_set.release)
            pull_error = world.pull_error(task_set.release)
            if pull_error or not behaviour.starts:
                task.state = "STOPPED"
                task_set.tasks.remove(task)
                why = pull_error or "exited during start-up"
                if not task_set.stopped_tasks:  # the first one tells; the rest repeat it
                    world.log("ECS", f"{self.label}: task of {task_set.release} stopped: {why}")
                task_set.stopped_tasks += 1
                yield world.env.timeout(world.assumptions["ecs_task_replacement_seconds"])
                continue
            task.state = "RUNNING"
            self.targets[task_set.target_group].append(Target(task=task, registered_at=world.now))
            return

    def _deregister(self, task: Task) -> None:
        for group, targets in self.targets.items():
            for target in targets:
                if target.task is task and target.state != "draining":
                    target.state, target.reason = "draining", "Target.DeregistrationInProgress"
                    target.drained_at = self.world.now + self.groups[group].deregistration_delay

    # ------------------------------------------------------------ load balancer
    @property
    def label(self) -> str:
        return f"{self.spec.environment}/{self.spec.service}"

    def health_checks(self, group: str) -> Generator[simpy.Event, Any, None]:
        """The target group's health checker: one request per target every interval."""
        spec = self.groups[group].health_check
        while True:
            yield self.world.pause(spec.interval)
            kept = []
            for target in self.targets[group]:
                if target.state == "draining":
                    if target.drained_at is not None and self.world.now >= target.drained_at:
                        continue
                    kept.append(target)
                    continue
                kept.append(target)
                if target.registered_at >= self.world.now:
                    continue  # registered this instant: its first check is the next one
                passing = target.task.state == "RUNNING"
                if passing:
                    target.passes, target.failures = target.passes + 1, 0
                    # A new target needs one passing check; a recovering one the threshold.
                    if target.state == "initial" or (
                        target.state == "unhealthy" and target.passes >= spec.healthy_threshold
                    ):
                        target.state, target.reason = "healthy", None
                else:
                    target.failures, target.passes = target.failures + 1, 0
                    if target.failures >= spec.unhealthy_threshold:
                        target.state, target.reason = "unhealthy", "Target.FailedHealthChecks"
            self.targets[group] = kept

    def healthy(self, group: str) -> list[Target]:
        return [t for t in self.targets[group] if t.state == "healthy"]

    def release_on(self, group: str) -> str | None:
        """The release a target group serves (its registered, non-draining targets)."""
        for target in self.targets[group]:
            if target.state in {"healthy", "initial", "unhealthy"}:
                return target.task.release
        return None

    def shares(self) -> dict[str, float]:
        total = sum(self.weights.values())
        return {group: weight / total for group, weight in self.weights.items() if weight and total}

    def route(self, weights: dict[str, int], *, who: str) -> None:
        self.weights = {group: weight for group, weight in weights.items() if weight}
        self.listeners_rewritten = True
        self.world.nudge()
        shown = ", ".join(
            f"{self.release_on(g) or 'nothing'} {100 * s:.0f}%" for g, s in self.shares().items()
        )
        self.world.log(who, f"{self.label}: production listener -> {shown}")

    def route_test(self, group: str) -> None:
        """The test listener forwards to `group` (CodeDeploy's AllowTestTraffic, or rollback)."""
        self.test_target_group = group
        self.listeners_rewritten = True

    def forward_action(self, live: dict[str, int]) -> list[dict[str, Any]]:
        """A listener's forward action as DescribeListeners shows it, `live` its non-zero weights.

        Assumption A3 (docs/assumptions.md): once CodeDeploy has rewritten it, it forwards to
        both target groups with the idle one at weight 0 (`both_groups_idle_at_zero`), or to the
        live group only (`live_group_only`). The model routes by the non-zero weights either way.
        """
        shape = self.world.assumptions["listener_forward_after_deploy"]
        if self.listeners_rewritten and shape == "both_groups_idle_at_zero":
            return [{"TargetGroupArn": g, "Weight": live.get(g, 0)} for g in self.groups]
        return [{"TargetGroupArn": g, "Weight": w} for g, w in live.items()]

    def running_tasks(self) -> int:
        return sum(1 for ts in self.task_sets for t in ts.tasks if t.state == "RUNNING")

    # ------------------------------------------------------------ requests
    def serve(self, seconds: float, requests_per_second: float) -> dict[str, Any]:
        """User traffic for `seconds`: metrics by target group, and which release served whom."""
        world = self.world
        served: dict[str, float] = {}
        error_rates: dict[str, float] = {}
        bad_share = 0.0
        # The share of all the service's requests that failed because of the release serving
        # them: only a release's own error rate counts. Were a background error rate (healthy
        # releases fail a few requests too) ever folded into `rate`, subtract it here, or every
        # release would be charged the background as its exposure.
        failed_share = 0.0
        for group, share in self.shares().items():
            release = self.release_on(group)
            requests = requests_per_second * seconds * share
            if release is None:
                continue
            if share > 0:
                world.note_traffic(self, release, share)
            behaviour = world.behaviour(self.spec.service, release)
            rate = self.error_rate(release, behaviour)
            served[release] = served.get(release, 0.0) + share
            if requests > 0:
                error_rates[group] = rate
            if rate > 0:
                bad_share += share
                failed_share += share * rate
            if requests > 0 and self.healthy(group):
                dimensions = {
                    "LoadBalancer": world.system.load_balancer.full_name,
                    "TargetGroup": self.groups[group].full_name,
                }
                world.put_metric("AWS/ApplicationELB", "RequestCount", dimensions, requests)
                answered_5xx = with_background(rate, world.assumptions["background_error_rate"])
                if answered_5xx > 0:
                    world.put_metric(
                        "AWS/ApplicationELB",
                        "HTTPCode_Target_5XX_Count",
                        dimensions,
                        requests * answered_5xx,
                    )
                world.put_metric(
                    "AWS/ApplicationELB",
                    "TargetResponseTime",
                    dimensions,
                    behaviour.latency_in(self.spec.environment) / 1000,
                )
        return {
            "served": served,
            "bad_share": bad_share,
            "failed_share": failed_share,
            "error_rates": error_rates,
        }

    def error_rate(self, release: str, behaviour: Behaviour) -> float:
        trigger = (
            self.full_traffic if behaviour.errors_after == "full_traffic" else self.first_traffic
        ).get(release)
        partner_serves = False
        if behaviour.broken_with is not None:
            partner = self.world.fleet(self.spec.environment, behaviour.broken_with.service)
            partner_serves = any(
                partner.release_on(g) == behaviour.broken_with.release for g in partner.shares()
            )
        return behaviour.user_error_rate(
            environment=self.spec.environment,
            seconds_since_trigger=None if trigger is None else self.world.now - trigger,
            partner_serves=partner_serves,
        )

    def synthetic_check_fails(self, release: str) -> bool:
        """Whether the synthetic client's checks of `release` fail here: its failing paths, or
        errors that do not wait for user traffic to build up, as often as a run would see them
        (assumption `synthetic_random_errors`)."""
        behaviour = self.world.behaviour(self.spec.service, release)
        if behaviour.environments and self.spec.environment not in behaviour.environments:
            return False
        if behaviour.failing_paths:
            return True
        if behaviour.error_rate and not behaviour.errors_after_seconds:
            if behaviour.broken_with is None:
                return self._run_sees(behaviour.error_rate)
            return self._run_sees(self.error_rate(release, behaviour))
        return self._run_sees(self.error_rate(release, behaviour))

    def _run_sees(self, rate: float) -> bool:
        """A run of a few requests meets a random failure of `rate`: under `median_run` only
        when most runs would (1 - (1 - rate)^n >= 0.5), under `every_run` whenever rate > 0."""
        if rate <= 0:
            return False
        assumptions = self.world.assumptions
        if assumptions["synthetic_random_errors"] == "every_run":
            return True
        requests: int = assumptions["synthetic_requests_per_service"]
        return bool(1 - (1 - rate) ** requests >= MOST_RUNS)

    def sample(self) -> None:
        """Gauges the load balancer and Container Insights publish every minute."""
        world = self.world
        for group, spec in self.groups.items():
            world.put_metric(
                "AWS/ApplicationELB",
                "HealthyHostCount",
                {
                    "LoadBalancer": world.system.load_balancer.full_name,
                    "TargetGroup": spec.full_name,
                },
                float(len(self.healthy(group))),
            )
        world.put_metric(
            "ECS/ContainerInsights",
            "RunningTaskCount",
            {"ClusterName": self.spec.cluster, "ServiceName": self.spec.ecs_service},
            float(self.running_tasks()),
        )


def with_background(release_rate: float, background_rate: float) -> float:
    """Share of a group's requests answered 5XX: the release's own failures, and, among the
    requests it answers, the background every service has (a timed-out dependency, a deploy of
    a neighbour). Assumption A11 (docs/assumptions.md): a healthy release is not a perfect zero,
    so no threshold may be tuned to one. Only the release's own rate makes users "bad" in the
    figures; the background is in the metrics the alarms read."""
    return release_rate + (1 - release_rate) * background_rate


def _deleted(task_set: TaskSet) -> bool:
    """Read after a wait: another actor may have deleted the task set meanwhile."""
    return task_set.deleted
