"""BeforeAllowTraffic / AfterAllowTraffic: judge green by green's own signals.

BeforeAllowTraffic: every target in the green target group is healthy. Alarms are not read here:
before traffic moves they measure the release being replaced (CodeDeploy's own alarm monitoring
guards the deployment as a whole).

AfterAllowTraffic is the bake, while the original task set still runs: for WATCH_SECONDS green's
targets stay healthy, green's own 5XX rate stays under the limit, and no alarm of the environment
goes into ALARM. A failure here is a Failed report, and CodeDeploy moves traffic back to the
original task set within seconds. A restore of the last known-good release is judged by green's
signals only: the environment's alarms may still be in ALARM because of the release it replaces.
For the same reason an alarm already in ALARM when the deployment was created, and in ALARM ever
since, does not count against the release: on a new stack whose bootstrap image cannot be pulled
(VpcEndpoints mode) the running-tasks, healthy-hosts and synthetic-flow alarms stand in ALARM until
the first release runs, and a broken neighbour's alarms say nothing about this service. Green's own
signals still judge it, and the health check gates the environment on every alarm afterwards.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Literal

from codedeploy_hooks.checks.green_signals import (
    PERIOD_SECONDS,
    error_rate_verdict,
    read_minutes,
)
from codedeploy_hooks.checks.load_balancing import (
    TargetState,
    describe_listener,
    target_group_arns,
    target_states,
)
from codedeploy_hooks.checks.verdict import Verdict
from codedeploy_hooks.errors import DeploymentShapeError
from codedeploy_hooks.observability import logger

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_cloudwatch.type_defs import DescribeAlarmsOutputTypeDef
    from mypy_boto3_elbv2 import ElasticLoadBalancingv2Client

    from codedeploy_hooks.checks.deployment import DeploymentTarget
    from codedeploy_hooks.deadline import Deadline
    from codedeploy_hooks.dependencies import Dependencies
    from codedeploy_hooks.settings import Settings

_ALARM_TYPES: list[Literal["CompositeAlarm", "MetricAlarm"]] = ["MetricAlarm", "CompositeAlarm"]
_NAMES_PER_CALL = 100  # DescribeAlarms accepts at most 100 AlarmNames


class TrafficPhase(Enum):
    """CodeDeploy's hook event does not say which lifecycle event invoked us; the listeners do."""

    BEFORE_ALLOW_TRAFFIC = "BeforeAllowTraffic"
    AFTER_ALLOW_TRAFFIC = "AfterAllowTraffic"


class TargetHealth(Enum):
    HEALTHY = "healthy"
    PENDING = "pending"  # worth waiting for: registration is still in progress
    UNHEALTHY = "unhealthy"


def traffic_guard(target: DeploymentTarget, deps: Dependencies, deadline: Deadline) -> Verdict:
    """The check: green's targets, then (after AllowTraffic) the bake."""
    if not target.test_listener_arns:
        return Verdict.fail(f"deployment group {target.deployment_group} has no test listener")
    elbv2, settings = deps.elbv2, deps.settings
    prod_listener = describe_listener(elbv2, target.prod_listener_arns[0])
    prod = prod_listener.target_group_arn
    test = describe_listener(elbv2, target.test_listener_arns[0]).target_group_arn
    phase = traffic_phase(prod, test)
    green = prod if phase is TrafficPhase.AFTER_ALLOW_TRAFFIC else test
    _require_member(green, target_group_arns(elbv2, target.target_group_names))
    logger.info(
        "traffic guard",
        extra={"phase": phase.value, "green_target_group": green, "restore": target.restore},
    )

    verdicts = [wait_for_targets(elbv2, green, settings=settings, deadline=deadline)]
    if verdicts[-1].passed and phase is TrafficPhase.AFTER_ALLOW_TRAFFIC and settings.watch_seconds:
        verdicts.append(
            bake(
                target,
                deps,
                green=green,
                load_balancer_arn=prod_listener.load_balancer_arn,
                deadline=deadline,
            )
        )
    verdict = combine(verdicts)
    return Verdict(passed=verdict.passed, reason=f"{phase.value}: {verdict.reason}")


def bake(
    target: DeploymentTarget,
    deps: Dependencies,
    *,
    green: str,
    load_balancer_arn: str,
    deadline: Deadline,
) -> Verdict:
    """Every interval for `watch_seconds`: green's targets healthy, green's 5XX rate within the
    limit, and (unless a restore) no alarm of the environment gone into ALARM; at the end, no
    alarm of the environment in ALARM at all, standing ones included."""
    settings = deps.settings
    clock = deadline.clock
    watch = deadline.within(settings.watch_seconds)
    if watch.remaining() < settings.watch_seconds:
        logger.warning(
            "time budget shorter than WATCH_SECONDS: baking less",
            extra={"watch_seconds": settings.watch_seconds, "budget": watch.remaining()},
        )
    # Green's requests since traffic moved: a minute back covers the minute it moved in.
    since = _utc(clock.time() - PERIOD_SECONDS)
    checks = 0
    # At least one check, at the end of the first interval: a bake that looked at nothing must
    # not pass, however short its budget. The last check is the one that finds the watch over.
    while True:
        watch.wait(settings.watch_interval_seconds)
        checks += 1
        last = watch.expired
        targets = target_verdict(green, target_states(deps.elbv2, green))
        if not targets.passed:
            return Verdict.fail(f"during the bake: {targets.reason}")
        minutes = read_minutes(
            deps.cloudwatch,
            load_balancer_arn=load_balancer_arn,
            target_group_arn=green,
            start=since,
            end=_utc(clock.time()),
        )
        errors = error_rate_verdict(
            minutes,
            max_percent=settings.green_max_5xx_percent,
            min_requests=settings.green_min_requests_per_minute,
        )
        if not errors.passed:
            return Verdict.fail(f"during the bake: {errors.reason}")
        if not target.restore:
            # A standing alarm is given the bake to clear, not a pass: a release that makes the
            # environment healthy turns it OK within minutes (the rehearsal's first release:
            # under three); one that does not must not outlive its blue task set on that benefit
            # of the doubt, so the last check counts every alarm in ALARM.
            alarms = environment_alarms(deps.cloudwatch, target, allow_standing=not last)
            if not alarms.passed:
                when = "at the end of the bake, still" if last else "during the bake"
                return Verdict.fail(f"{when}: {alarms.reason}")
        if last:
            break
    scope = "green's signals (a restore)" if target.restore else "green and the environment"
    return Verdict.ok(f"{scope} stayed healthy for {checks} check(s) of the bake")


def _utc(epoch_seconds: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch_seconds, tz=dt.UTC)


def environment_alarms(
    cloudwatch: CloudWatchClient, target: DeploymentTarget, *, allow_standing: bool = True
) -> Verdict:
    """Every alarm of the environment (by the naming contract) and any other alarm the deployment
    group names: none missing, none gone into ALARM since the deployment was created (with
    `allow_standing=False`: none in ALARM at all)."""
    expected, readings = alarm_states(
        cloudwatch, target.environment_alarm_prefix, target.alarm_names
    )
    states = {name: reading.state for name, reading in readings.items()}
    standing = standing_alarms(readings, target.created_at) if allow_standing else frozenset()
    return alarm_verdict(expected, states, standing=standing)


@dataclass(frozen=True)
class AlarmReading:
    state: str
    # StateTransitionedTimestamp (epoch seconds): when StateValue last changed; where absent,
    # StateUpdatedTimestamp, which also moves with EvaluationState (later, so it errs towards
    # counting the alarm as new).
    changed_at: float | None


def standing_alarms(readings: Mapping[str, AlarmReading], since: float | None) -> frozenset[str]:
    """Alarms in ALARM since before `since` (the deployment's creation). Unknown times count as
    new: without both times nothing is set aside."""
    if since is None:
        return frozenset()
    return frozenset(
        name
        for name, reading in readings.items()
        if reading.state == "ALARM"
        and reading.changed_at is not None
        and reading.changed_at < since
    )


def alarm_states(
    cloudwatch: CloudWatchClient, prefix: str, names: Iterable[str]
) -> tuple[set[str], dict[str, AlarmReading]]:
    """The alarms to check (`names` plus every alarm whose name starts with `prefix`) and their
    current states."""
    readings: dict[str, AlarmReading] = {}
    pages = cloudwatch.get_paginator("describe_alarms").paginate(
        AlarmNamePrefix=prefix, AlarmTypes=_ALARM_TYPES
    )
    for page in pages:
        readings.update(_readings_of(page))
    expected = set(names) | set(readings)
    unknown = sorted(set(names) - set(readings))
    for start in range(0, len(unknown), _NAMES_PER_CALL):
        page = cloudwatch.describe_alarms(
            AlarmNames=unknown[start : start + _NAMES_PER_CALL], AlarmTypes=_ALARM_TYPES
        )
        readings.update(_readings_of(page))
    return expected, readings


def _state_changed_at(alarm: Mapping[str, object]) -> float | None:
    for field in ("StateTransitionedTimestamp", "StateUpdatedTimestamp"):
        value = alarm.get(field)
        if isinstance(value, dt.datetime):
            return value.timestamp()
    return None


def _readings_of(page: DescribeAlarmsOutputTypeDef) -> dict[str, AlarmReading]:
    alarms = [*page.get("MetricAlarms", []), *page.get("CompositeAlarms", [])]
    return {
        alarm["AlarmName"]: AlarmReading(
            state=alarm["StateValue"], changed_at=_state_changed_at(alarm)
        )
        for alarm in alarms
    }


def wait_for_targets(
    elbv2: ElasticLoadBalancingv2Client,
    target_group_arn: str,
    *,
    settings: Settings,
    deadline: Deadline,
) -> Verdict:
    """Poll while targets are still registering; any other unhealthy state fails at once."""
    settle = deadline.within(settings.target_settle_seconds)
    while True:
        states = target_states(elbv2, target_group_arn)
        if target_health(states) is not TargetHealth.PENDING or settle.expired:
            return target_verdict(target_group_arn, states)
        settle.wait(settings.target_poll_seconds)


def _require_member(target_group_arn: str, pair: Iterable[str]) -> None:
    if target_group_arn not in set(pair):
        raise DeploymentShapeError(
            f"listener forwards to {target_group_arn}, outside the deployment group's pair"
        )


def traffic_phase(prod_target_group: str, test_target_group: str) -> TrafficPhase:
    """The test listener forwards to green from AfterAllowTestTraffic on; once the production
    listener forwards to the same group, AllowTraffic has happened."""
    if prod_target_group == test_target_group:
        return TrafficPhase.AFTER_ALLOW_TRAFFIC
    return TrafficPhase.BEFORE_ALLOW_TRAFFIC


def alarm_verdict(
    expected: Iterable[str], states: Mapping[str, str], *, standing: Collection[str] = ()
) -> Verdict:
    """Only ALARM fails. INSUFFICIENT_DATA passes: a new task set or a freshly shifted target group
    has no datapoints yet, and CodeDeploy's own alarm monitoring draws the line at ALARM too. An
    alarm that should exist but does not fails: a gate that cannot see its signal must not open.
    `standing` alarms (in ALARM since before the deployment) are named, not counted.
    """
    names = sorted(set(expected))
    if not names:
        return Verdict.fail("no alarms to check: the service's alarms were not found")
    missing = [name for name in names if name not in states]
    in_alarm = [name for name in names if states.get(name) == "ALARM"]
    if missing:
        return Verdict.fail(f"alarms not found: {', '.join(missing)}")
    new = [name for name in in_alarm if name not in standing]
    if new:
        return Verdict.fail(f"alarms in ALARM: {', '.join(new)}")
    if in_alarm:
        return Verdict.ok(
            f"{len(names)} alarm(s), none gone into ALARM during the deployment; in ALARM since "
            f"before it began, not counted against it: {', '.join(in_alarm)}"
        )
    return Verdict.ok(f"{len(names)} alarm(s) not in ALARM")


def target_health(targets: Sequence[TargetState]) -> TargetHealth:
    """An empty target group is not healthy: there would be nothing to send traffic to."""
    if not targets:
        return TargetHealth.PENDING
    if any(target.state not in {"healthy", "initial"} for target in targets):
        return TargetHealth.UNHEALTHY
    if any(target.state == "initial" for target in targets):
        return TargetHealth.PENDING
    return TargetHealth.HEALTHY


def target_verdict(target_group: str, targets: Sequence[TargetState]) -> Verdict:
    health = target_health(targets)
    if health is TargetHealth.HEALTHY:
        return Verdict.ok(f"{len(targets)} target(s) healthy in {target_group}")
    if not targets:
        return Verdict.fail(f"no registered targets in {target_group}")
    described = ", ".join(
        f"{t.target_id}:{t.port} {t.state}" + (f" ({t.reason})" if t.reason else "")
        for t in targets
        if t.state != "healthy"
    )
    return Verdict.fail(f"targets not healthy in {target_group}: {described}")


def combine(verdicts: Sequence[Verdict]) -> Verdict:
    failed = [verdict.reason for verdict in verdicts if not verdict.passed]
    if failed:
        return Verdict.fail("; ".join(failed))
    return Verdict.ok("; ".join(verdict.reason for verdict in verdicts))
