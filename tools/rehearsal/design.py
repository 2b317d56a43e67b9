"""Design variants applied on top of the templates' settings.

`current` is the templates as they are. `original` is the design this project started from, for
comparison in the same run: target-group health checks every 30 s with 5 checks to healthy, a
300 s deregistration delay, one 5XX alarm of "count > 10 over 2 x 300 s" (no canary comparison),
no lifecycle hooks, and no alarm on the synthetic client's replacement route (issue 25: the
client's checks through the test listeners, whose results are then published but read by no
alarm). Everything else (the pipeline with its validator, deployment groups, traffic shifting) is
the templates'.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from tools.rehearsal.synthetic import NAMESPACE as SYNTHETICS_NAMESPACE
from tools.rehearsal.synthetic import REPLACEMENT
from tools.rehearsal.system import (
    AlarmSpec,
    HealthCheck,
    MetricQuery,
    ServiceEnvironment,
    System,
    TargetGroupSpec,
)

DESIGNS = ("current", "original")

ORIGINAL_HEALTH_CHECK_INTERVAL = 30
ORIGINAL_HEALTHY_THRESHOLD = 5
ORIGINAL_DEREGISTRATION_DELAY = 300
ORIGINAL_5XX_PERIOD = 300
ORIGINAL_5XX_EVALUATION_PERIODS = 2
ORIGINAL_5XX_THRESHOLD = 10
FIVE_XX = "HTTPCode_Target_5XX_Count"


def apply(design: str, system: System) -> System:
    if design == "current":
        return system
    if design != "original":
        raise ValueError(f"unknown design {design!r}; known: {', '.join(DESIGNS)}")
    return dataclasses.replace(
        system,
        hooks={},
        environments={
            env: {name: _original_service(spec) for name, spec in services.items()}
            for env, services in system.environments.items()
        },
    )


def assumptions(design: str, settings: dict[str, Any]) -> dict[str, Any]:
    """The settings a design is played under. The original design's 5XX alarm, a count over
    300 s periods (more than 10 in each of two), stands in ALARM under any background error rate
    above 10 / (300 s x 50 requests a second), about 0.07 %, so with A11's 0.1 % it would stop
    every deployment, healthy ones included: it was tuned to a perfect zero. Its column plays it
    there, where it can work at all (docs/assumptions.md, A11)."""
    if design == "original":
        return {**settings, "background_error_rate": 0.0}
    return settings


def without_synthetic_client(system: System) -> System:
    """The templates without the synthetic client: its function, and every alarm on what it
    publishes (removing the function alone would leave its heartbeat alarm breaching)."""

    def watched(alarm: AlarmSpec) -> bool:
        return all(query.namespace != SYNTHETICS_NAMESPACE for query in alarm.queries)

    def service(spec: ServiceEnvironment) -> ServiceEnvironment:
        alarms = tuple(alarm for alarm in spec.alarms if watched(alarm))
        kept = {alarm.name for alarm in alarms}
        dropped = {alarm.name for alarm in spec.alarms} - kept
        group = dataclasses.replace(
            spec.deployment_group,
            alarm_names=tuple(n for n in spec.deployment_group.alarm_names if n not in dropped),
        )
        return dataclasses.replace(spec, alarms=alarms, deployment_group=group)

    return dataclasses.replace(
        system,
        functions={
            name: function
            for name, function in system.functions.items()
            if not function.handler.startswith("synthetic_client.")
        },
        environments={
            env: {name: service(spec) for name, spec in services.items()}
            for env, services in system.environments.items()
        },
        environment_alarms={
            env: tuple(alarm for alarm in alarms if watched(alarm))
            for env, alarms in system.environment_alarms.items()
        },
    )


def _original_service(spec: ServiceEnvironment) -> ServiceEnvironment:
    alarms = _one_5xx_alarm(tuple(a for a in spec.alarms if not _reads_replacement_route(a)))
    kept = {alarm.name for alarm in alarms}
    group = dataclasses.replace(
        spec.deployment_group,
        alarm_names=tuple(n for n in spec.deployment_group.alarm_names if n in kept),
    )
    return dataclasses.replace(
        spec,
        blue=_original_target_group(spec.blue),
        green=_original_target_group(spec.green),
        alarms=tuple(_original_alarm(alarm) for alarm in alarms),
        deployment_group=group,
    )


def _reads_replacement_route(alarm: AlarmSpec) -> bool:
    return any(
        query.namespace == SYNTHETICS_NAMESPACE and ("Route", REPLACEMENT) in query.dimensions
        for query in alarm.queries
    )


def _one_5xx_alarm(alarms: tuple[AlarmSpec, ...]) -> tuple[AlarmSpec, ...]:
    """The original design had one 5XX alarm: the first of the templates' stands for it, the
    others (the canary comparison) did not exist then."""
    five_xx = [a for a in alarms if any(q.metric_name == FIVE_XX for q in a.queries)]
    return tuple(a for a in alarms if a not in five_xx[1:])


def _original_target_group(group: TargetGroupSpec) -> TargetGroupSpec:
    return dataclasses.replace(
        group,
        health_check=HealthCheck(
            interval=ORIGINAL_HEALTH_CHECK_INTERVAL,
            healthy_threshold=ORIGINAL_HEALTHY_THRESHOLD,
            unhealthy_threshold=group.health_check.unhealthy_threshold,
            path=group.health_check.path,
        ),
        deregistration_delay=ORIGINAL_DEREGISTRATION_DELAY,
    )


def _original_alarm(alarm: AlarmSpec) -> AlarmSpec:
    """The 5XX alarm becomes a count over 300 s periods; the others stay as templated."""
    five_xx = [q for q in alarm.queries if q.metric_name == FIVE_XX]
    if not five_xx:
        return alarm
    raw = tuple(
        dataclasses.replace(q, period=ORIGINAL_5XX_PERIOD, return_data=False) for q in five_xx
    )
    total = MetricQuery(
        id="errors",
        return_data=True,
        expression=" + ".join(f"FILL({q.id}, 0)" for q in raw),
    )
    return dataclasses.replace(
        alarm,
        queries=(total, *raw),
        period=ORIGINAL_5XX_PERIOD,
        evaluation_periods=ORIGINAL_5XX_EVALUATION_PERIODS,
        datapoints_to_alarm=ORIGINAL_5XX_EVALUATION_PERIODS,
        threshold=ORIGINAL_5XX_THRESHOLD,
        comparison="GreaterThanThreshold",
        treat_missing_data="notBreaching",
    )
