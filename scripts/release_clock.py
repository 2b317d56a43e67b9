"""Print how long each step of a release takes, read from the templates (`make release-clock`).

Every figure comes from template.yaml and pipeline/service.yaml as parsed by cfn-lint's
CloudFormation loader, beside the original design's value (the original design kept AWS's
defaults: target-group health checks every 30 s, 300 s deregistration delay, no ECS grace period,
and a "5XX count > 10" alarm). The script exits 1 when one of these timing goals is missed (or a
template it needs is missing), so it can gate a change:

- a newly registered task is healthy within 15 s of answering: the load balancer counts a new
  target healthy after it passes ONE health check, so this is one health-check interval (the
  healthy threshold applies only to a target returning to service after failing checks:
  https://docs.aws.amazon.com/elasticloadbalancing/latest/application/target-group-health-checks.html);
- the deregistration delay is at most 30 s;
- the ECS health-check grace period covers the service's start time;
- a bad release (5XX) is detected within 120 s.

Time back in service after failed checks (interval x healthy threshold), traffic-shift time and
blue termination wait are reported without a goal: they follow from the choices above.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cfnlint.decode import cfn_yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
ROOT_TEMPLATE = REPO_ROOT / "template.yaml"
SERVICE_TEMPLATE = REPO_ROOT / "pipeline" / "service.yaml"
DELIVERY_TEMPLATE = REPO_ROOT / "pipeline" / "delivery.yaml"

GOAL_TIME_TO_HEALTHY_S = 15
GOAL_DEREGISTRATION_S = 30
GOAL_5XX_DETECTION_S = 120
# The validator's bake starts at the first poll that sees traffic moved and ends at the first
# poll after bake_seconds: CodePipeline re-invokes a continuation about once a minute
# (assumption A5), so up to two intervals beyond the bake.
VALIDATION_POLL_SLACK_S = 120

# Seconds from process start to the first 200 on /health. benchmarks/load_bench.py measured
# 0.6 s for api-service on a 2-core development machine; a 0.25 vCPU Fargate task imports
# several times slower, so the budget is 5 s (process only: image pull and ENI attachment happen
# before the container starts and before the grace period counts).
SERVICE_START_S = 5.0
SERVICE_START_SOURCE = (
    "0.6 s measured on 2 cores (benchmarks/load_bench.py), budgeted 5 s for 0.25 vCPU"
)

# AWS defaults the original design kept: target group health checks every 30 s (a new target is
# healthy after its first passing check; 5 healthy checks bring a failed one back); 300 s
# deregistration delay; no ECS grace period; "5XX count > 10" alarm on the console's default
# 300 s period (assumed: the design names no period).
ORIGINAL_TIME_TO_HEALTHY_S = 30
ORIGINAL_BACK_IN_SERVICE_S = 30 * 5
ORIGINAL_DEREGISTRATION_S = 300
ORIGINAL_GRACE_PERIOD_S = 0
ORIGINAL_5XX_DETECTION_S = 300

# Time from the first shifted request to 100 % on green, per ECS predefined configuration.
TRAFFIC_SHIFT_S = {
    "CodeDeployDefault.ECSAllAtOnce": 0,
    "CodeDeployDefault.ECSCanary10Percent5Minutes": 5 * 60,
    "CodeDeployDefault.ECSCanary10Percent15Minutes": 15 * 60,
    # Ten 10 % steps: the last one lands nine intervals after the first.
    "CodeDeployDefault.ECSLinear10PercentEvery1Minutes": 9 * 60,
    "CodeDeployDefault.ECSLinear10PercentEvery3Minutes": 9 * 3 * 60,
}

# Defaults CloudFormation applies when a property is absent.
DEFAULT_INTERVAL_S = 30
DEFAULT_HEALTHY_THRESHOLD = 5
DEFAULT_GRACE_PERIOD_S = 0


@dataclass(frozen=True)
class Figure:
    """One line of the report: a value, the original design's, and whether a goal is met."""

    name: str
    value: str
    original: str
    ok: bool | None  # None: reported without a goal

    def render(self) -> str:
        verdict = {True: "ok", False: "MISSED", None: "-"}[self.ok]
        return f"{self.name:<56} {self.value:<24} {self.original:<28} {verdict}"


def load(path: Path) -> dict[str, Any]:
    template: dict[str, Any] = cfn_yaml.load(str(path))
    return template


def of_type(template: dict[str, Any], resource_type: str) -> list[dict[str, Any]]:
    return [
        resource.get("Properties", {})
        for resource in template.get("Resources", {}).values()
        if resource.get("Type") == resource_type
    ]


def as_number(value: Any) -> float:
    """A literal number from a template (strings such as "20" included); intrinsics are errors."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise TypeError(f"not a literal number: {value!r}")
    return float(value)


def parameter_default(template: dict[str, Any], name: str) -> Any:
    return template.get("Parameters", {}).get(name, {}).get("Default")


def time_to_healthy(target_group: dict[str, Any]) -> float:
    """A newly registered target: healthy after one passing check, at most one interval away."""
    return as_number(target_group.get("HealthCheckIntervalSeconds", DEFAULT_INTERVAL_S))


def time_back_in_service(target_group: dict[str, Any]) -> float:
    """A target that failed its checks: HealthyThresholdCount consecutive passes bring it back."""
    threshold = as_number(target_group.get("HealthyThresholdCount", DEFAULT_HEALTHY_THRESHOLD))
    return time_to_healthy(target_group) * threshold


def deregistration_delay(target_group: dict[str, Any]) -> float:
    for attribute in target_group.get("TargetGroupAttributes", []):
        if attribute.get("Key") == "deregistration_delay.timeout_seconds":
            return as_number(attribute["Value"])
    return ORIGINAL_DEREGISTRATION_S


def is_5xx_alarm(alarm: dict[str, Any]) -> bool:
    names = [alarm.get("MetricName")] + [
        query.get("MetricStat", {}).get("Metric", {}).get("MetricName")
        for query in alarm.get("Metrics", [])
    ]
    return any(isinstance(name, str) and "5XX" in name for name in names)


def detection_time(alarm: dict[str, Any]) -> float:
    """Seconds of sustained failure before the alarm fires: period x datapoints to alarm."""
    periods = [alarm["Period"]] if "Period" in alarm else []
    periods += [
        query["MetricStat"]["Period"]
        for query in alarm.get("Metrics", [])
        if "Period" in query.get("MetricStat", {})
    ]
    period = max(as_number(period) for period in periods)
    datapoints = alarm.get("DatapointsToAlarm", alarm.get("EvaluationPeriods", 1))
    return period * as_number(datapoints)


def service_figures(service: dict[str, Any]) -> list[Figure]:
    target_groups = of_type(service, "AWS::ElasticLoadBalancingV2::TargetGroup")
    ecs_services = of_type(service, "AWS::ECS::Service")
    alarms_5xx = [a for a in of_type(service, "AWS::CloudWatch::Alarm") if is_5xx_alarm(a)]
    if not (target_groups and ecs_services and alarms_5xx):
        raise ValueError("pipeline/service.yaml lacks target groups, ECS services or 5XX alarms")

    healthy = max(time_to_healthy(tg) for tg in target_groups)
    back_in_service = max(time_back_in_service(tg) for tg in target_groups)
    deregistration = max(deregistration_delay(tg) for tg in target_groups)
    grace = min(
        as_number(s.get("HealthCheckGracePeriodSeconds", DEFAULT_GRACE_PERIOD_S))
        for s in ecs_services
    )
    detection = max(detection_time(alarm) for alarm in alarms_5xx)
    return [
        Figure(
            f"time to healthy (goal <= {GOAL_TIME_TO_HEALTHY_S} s)",
            f"{healthy:.0f} s",
            f"{ORIGINAL_TIME_TO_HEALTHY_S} s (one 30 s check)",
            healthy <= GOAL_TIME_TO_HEALTHY_S,
        ),
        Figure(
            "back in service after failed checks",
            f"{back_in_service:.0f} s",
            f"{ORIGINAL_BACK_IN_SERVICE_S} s (30 s x 5)",
            None,
        ),
        Figure(
            f"deregistration delay (goal <= {GOAL_DEREGISTRATION_S} s)",
            f"{deregistration:.0f} s",
            f"{ORIGINAL_DEREGISTRATION_S} s (AWS default)",
            deregistration <= GOAL_DEREGISTRATION_S,
        ),
        Figure(
            "grace period (goal >= start time)",
            f"{grace:.0f} s vs start {SERVICE_START_S:.0f} s*",
            f"{ORIGINAL_GRACE_PERIOD_S} s (ECS default)",
            grace >= SERVICE_START_S,
        ),
        Figure(
            f"5XX detection (goal <= {GOAL_5XX_DETECTION_S} s)",
            f"{detection:.0f} s",
            f"{ORIGINAL_5XX_DETECTION_S} s (count > 10, 5 min)",
            detection <= GOAL_5XX_DETECTION_S,
        ),
    ]


def root_figures(root: dict[str, Any]) -> list[Figure]:
    figures = []
    for environment in ("Staging", "Production"):
        config = str(parameter_default(root, f"{environment}TrafficShift"))
        seconds = TRAFFIC_SHIFT_S.get(config)
        shown = f"{seconds} s" if seconds is not None else "unknown config"
        short = config.removeprefix("CodeDeployDefault.")
        figures.append(Figure(f"{environment.lower()} traffic shift ({short})", shown, "-", None))
    wait_minutes = as_number(parameter_default(root, "BlueTerminationWaitMinutes"))
    figures.append(
        Figure("staging blue termination wait", f"{wait_minutes * 60:.0f} s", "not specified", None)
    )
    return figures


def production_validation_figures(root: dict[str, Any], delivery: dict[str, Any]) -> list[Figure]:
    """Production's ValidateHealth bakes beside the deployments, while blue runs: the blue
    termination wait must cover the bake and its polling slack, or a failure found late in the
    bake is a redeploy instead of a traffic move."""
    wait_s = 60 * as_number(parameter_default(root, "ProductionBlueTerminationWaitMinutes"))
    bake_s = validation_bake(delivery, "Production")
    needed = bake_s + VALIDATION_POLL_SLACK_S
    return [
        Figure(
            "production blue termination wait (covers the bake)",
            f"{wait_s:.0f} s (needs {needed:.0f} s)",
            "not specified",
            wait_s >= needed,
        )
    ]


def validation_bake(delivery: dict[str, Any], stage: str) -> float:
    """bake_seconds of the stage's ValidateHealth, which must run beside its deployments."""
    stages = delivery["Resources"]["Pipeline"]["Properties"]["Stages"]
    [actions] = [s["Actions"] for s in stages if s["Name"] == stage]
    [validate] = [a for a in actions if a["Name"] == "ValidateHealth"]
    raw = validate["Configuration"]["UserParameters"]
    text = raw["Fn::Sub"] if isinstance(raw, dict) else raw
    parameters = json.loads(text)
    if parameters.get("beside_deployments") is not True:
        raise ValueError(f"{stage}.ValidateHealth does not run beside the deployments")
    return as_number(parameters.get("bake_seconds", 300))


def main() -> int:
    templates = (ROOT_TEMPLATE, SERVICE_TEMPLATE, DELIVERY_TEMPLATE)
    missing = [path for path in templates if not path.is_file()]
    if missing:
        print(f"cannot time a release: {', '.join(str(p) for p in missing)} missing")
        return 1
    try:
        root = load(ROOT_TEMPLATE)
        figures = (
            service_figures(load(SERVICE_TEMPLATE))
            + root_figures(root)
            + production_validation_figures(root, load(DELIVERY_TEMPLATE))
        )
    except (KeyError, TypeError, ValueError) as error:
        print(f"cannot time a release: {error}")
        return 1

    print(f"{'figure':<56} {'this template':<24} {'original design':<28} goal")
    for figure in figures:
        print(figure.render())
    print(f"* service start time: {SERVICE_START_S:.0f} s, {SERVICE_START_SOURCE}")
    missed = [figure.name for figure in figures if figure.ok is False]
    if missed:
        print(f"goals missed: {'; '.join(missed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
