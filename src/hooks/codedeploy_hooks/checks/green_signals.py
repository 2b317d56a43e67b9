"""Green's own signals after it takes traffic: the 5XX rate of the requests its target group
served, minute by minute, from the load balancer's metrics.

These judge the release being deployed and nothing else, so they hold for a restore as much as
for a new release: alarms of the environment may still be in ALARM because of the release a
restore replaces, green's own target group cannot be.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from codedeploy_hooks.checks.verdict import Verdict
from codedeploy_hooks.errors import DeploymentShapeError

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient

PERIOD_SECONDS = 60


@dataclass(frozen=True)
class MinuteOfTraffic:
    start: dt.datetime
    requests: float
    errors: float


def load_balancer_dimension(arn: str) -> str:
    """`app/<name>/<id>`: the LoadBalancer dimension of the load balancer's metrics."""
    return _after(arn, ":loadbalancer/")


def target_group_dimension(arn: str) -> str:
    """`targetgroup/<name>/<id>`: the TargetGroup dimension of the load balancer's metrics."""
    return "targetgroup/" + _after(arn, ":targetgroup/")


def _after(arn: str, marker: str) -> str:
    _, found, rest = arn.partition(marker)
    if not found or not rest:
        raise DeploymentShapeError(f"{arn!r} is not an ARN with {marker!r}")
    return rest


def read_minutes(
    cloudwatch: CloudWatchClient,
    *,
    load_balancer_arn: str,
    target_group_arn: str,
    start: dt.datetime,
    end: dt.datetime,
) -> list[MinuteOfTraffic]:
    """Requests and 5XX answers of the target group, per minute that has any."""
    dimensions = [
        {"Name": "LoadBalancer", "Value": load_balancer_dimension(load_balancer_arn)},
        {"Name": "TargetGroup", "Value": target_group_dimension(target_group_arn)},
    ]
    queries = [
        {
            "Id": query_id,
            "MetricStat": {
                "Metric": {
                    "Namespace": "AWS/ApplicationELB",
                    "MetricName": metric,
                    "Dimensions": dimensions,
                },
                "Period": PERIOD_SECONDS,
                "Stat": "Sum",
            },
            "ReturnData": True,
        }
        for query_id, metric in (
            ("requests", "RequestCount"),
            ("errors", "HTTPCode_Target_5XX_Count"),
        )
    ]
    series: dict[str, dict[dt.datetime, float]] = {"requests": {}, "errors": {}}
    for page in cloudwatch.get_paginator("get_metric_data").paginate(
        MetricDataQueries=queries,  # type: ignore[arg-type]
        StartTime=start,
        EndTime=end,
    ):
        for result in page.get("MetricDataResults", []):
            values = series[result["Id"]]
            values.update(zip(result.get("Timestamps", []), result.get("Values", []), strict=False))
    return [
        MinuteOfTraffic(start=minute, requests=requests, errors=series["errors"].get(minute, 0.0))
        for minute, requests in sorted(series["requests"].items())
    ]


def error_rate_verdict(
    minutes: Sequence[MinuteOfTraffic], *, max_percent: float, min_requests: float
) -> Verdict:
    """Fail on the first minute above `max_percent` 5XX among at least `min_requests` requests
    (the same floor as the service's 5XX alarm: one failed request is not a rate)."""
    for minute in minutes:
        if minute.requests >= min_requests:
            percent = 100 * minute.errors / minute.requests
            if percent > max_percent:
                return Verdict.fail(
                    f"green answered {percent:.1f} % of {minute.requests:.0f} requests with a 5XX "
                    f"in the minute from {minute.start:%H:%M} (limit {max_percent:g} %)"
                )
    judged = sum(1 for minute in minutes if minute.requests >= min_requests)
    return Verdict.ok(f"green's 5XX rate within {max_percent:g} % in {judged} minute(s) of traffic")
