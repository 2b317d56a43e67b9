"""BeforeAllowTraffic / AfterAllowTraffic: the service's alarms are not in ALARM and every target in
the green target group is healthy; after AllowTraffic, keep watching the alarms for a while."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Literal

from codedeploy_hooks.checks import (
    TargetHealth,
    TrafficPhase,
    Verdict,
    alarm_verdict,
    combine,
    target_health,
    target_verdict,
    traffic_phase,
)
from codedeploy_hooks.errors import DeploymentShapeError
from codedeploy_hooks.load_balancing import describe_listener, target_group_arns, target_states
from codedeploy_hooks.observability import logger

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_cloudwatch.type_defs import DescribeAlarmsOutputTypeDef
    from mypy_boto3_elbv2 import ElasticLoadBalancingv2Client

    from codedeploy_hooks.deadline import Deadline
    from codedeploy_hooks.deployment import DeploymentTarget
    from codedeploy_hooks.settings import Settings

_ALARM_TYPES: list[Literal["CompositeAlarm", "MetricAlarm"]] = ["MetricAlarm", "CompositeAlarm"]
_NAMES_PER_CALL = 100  # DescribeAlarms accepts at most 100 AlarmNames


def alarm_states(
    cloudwatch: CloudWatchClient, target: DeploymentTarget
) -> tuple[set[str], dict[str, str]]:
    """The alarms to check (the deployment group's alarm configuration plus every alarm named with
    the service's contract prefix) and their current states."""
    states: dict[str, str] = {}
    pages = cloudwatch.get_paginator("describe_alarms").paginate(
        AlarmNamePrefix=target.alarm_prefix, AlarmTypes=_ALARM_TYPES
    )
    for page in pages:
        states.update(_states_of(page))
    expected = set(target.alarm_names) | set(states)
    unknown = sorted(set(target.alarm_names) - set(states))
    for start in range(0, len(unknown), _NAMES_PER_CALL):
        page = cloudwatch.describe_alarms(
            AlarmNames=unknown[start : start + _NAMES_PER_CALL], AlarmTypes=_ALARM_TYPES
        )
        states.update(_states_of(page))
    return expected, states


def _states_of(page: DescribeAlarmsOutputTypeDef) -> dict[str, str]:
    states: dict[str, str] = {
        alarm["AlarmName"]: alarm["StateValue"] for alarm in page.get("MetricAlarms", [])
    }
    states.update(
        {alarm["AlarmName"]: alarm["StateValue"] for alarm in page.get("CompositeAlarms", [])}
    )
    return states


def check_alarms(cloudwatch: CloudWatchClient, target: DeploymentTarget) -> Verdict:
    expected, states = alarm_states(cloudwatch, target)
    return alarm_verdict(expected, states)


def wait_for_targets(
    elbv2: ElasticLoadBalancingv2Client,
    target_group_arn: str,
    *,
    settings: Settings,
    deadline: Deadline,
    sleep: Callable[[float], None],
) -> Verdict:
    """Poll while targets are still registering; any other unhealthy state fails at once."""
    settle = deadline.within(settings.target_settle_seconds)
    while True:
        states = target_states(elbv2, target_group_arn)
        if target_health(states) is not TargetHealth.PENDING or settle.expired:
            return target_verdict(target_group_arn, states)
        sleep(settle.cap(settings.target_poll_seconds))
        settle.raise_if_cancelled()


def watch_alarms(
    cloudwatch: CloudWatchClient,
    target: DeploymentTarget,
    *,
    settings: Settings,
    deadline: Deadline,
    sleep: Callable[[float], None],
) -> Verdict:
    """Re-check the alarms every interval for `watch_seconds` (or until the budget ends)."""
    watch = deadline.within(settings.watch_seconds)
    if watch.remaining() < settings.watch_seconds:
        logger.warning(
            "time budget shorter than WATCH_SECONDS: watching less",
            extra={"watch_seconds": settings.watch_seconds, "budget": watch.remaining()},
        )
    checks = 0
    while not watch.expired:
        sleep(watch.cap(settings.watch_interval_seconds))
        watch.raise_if_cancelled()
        verdict = check_alarms(cloudwatch, target)
        checks += 1
        if not verdict.passed:
            return Verdict.fail(f"while watching after AllowTraffic: {verdict.reason}")
    return Verdict.ok(f"alarms stayed out of ALARM for {checks} re-check(s) after AllowTraffic")


def run_traffic_guard(
    target: DeploymentTarget,
    *,
    elbv2: ElasticLoadBalancingv2Client,
    cloudwatch: CloudWatchClient,
    settings: Settings,
    deadline: Deadline,
    sleep: Callable[[float], None],
) -> Verdict:
    if not target.test_listener_arns:
        return Verdict.fail(f"deployment group {target.deployment_group} has no test listener")
    prod = describe_listener(elbv2, target.prod_listener_arns[0]).target_group_arn
    test = describe_listener(elbv2, target.test_listener_arns[0]).target_group_arn
    phase = traffic_phase(prod, test)
    green = prod if phase is TrafficPhase.AFTER_ALLOW_TRAFFIC else test
    _require_member(green, target_group_arns(elbv2, target.target_group_names))
    logger.info("traffic guard", extra={"phase": phase.value, "green_target_group": green})

    verdicts = [check_alarms(cloudwatch, target)]
    if verdicts[-1].passed:
        verdicts.append(
            wait_for_targets(elbv2, green, settings=settings, deadline=deadline, sleep=sleep)
        )
    if verdicts[-1].passed and phase is TrafficPhase.AFTER_ALLOW_TRAFFIC and settings.watch_seconds:
        verdicts.append(
            watch_alarms(cloudwatch, target, settings=settings, deadline=deadline, sleep=sleep)
        )
    verdict = combine(verdicts)
    return Verdict(passed=verdict.passed, reason=f"{phase.value}: {verdict.reason}")


def _require_member(target_group_arn: str, pair: Iterable[str]) -> None:
    if target_group_arn not in set(pair):
        raise DeploymentShapeError(
            f"listener forwards to {target_group_arn}, outside the deployment group's pair"
        )
