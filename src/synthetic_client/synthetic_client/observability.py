"""Logger and the run's metrics, built once for the whole package."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from datetime import datetime

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.base import SingleMetric

from synthetic_client.run import Outcome, Route, ServiceResult

SERVICE = "synthetic-client"
# The alarms in pipeline/service.yaml and template.yaml read exactly these names and dimensions.
NAMESPACE = "MicroservicesPipeline/Synthetics"

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", SERVICE))


def publish(
    environment: str, route: Route, results: Mapping[str, ServiceResult], at: datetime
) -> None:
    """Per judged service of one route: SyntheticSuccess (1/0) and SyntheticLatency (slowest
    request, s), with the route as a dimension: the listener says which task set answered
    (the test listener: the replacement one during a deployment), which a target group name
    would not say without reading the listeners, and the alarms stay the same whichever target
    group is green. Stamped `at`, the run's start, for both routes: the replacement alarm
    compares the two routes' verdicts minute by minute, and a run whose routes straddled a
    minute's end would otherwise set one run's live verdict against another's replacement."""
    for result in results.values():
        if result.outcome is not Outcome.UNJUDGED:
            _emit(
                "SyntheticSuccess",
                MetricUnit.Count,
                1 if result.outcome is Outcome.PASSED else 0,
                {"Environment": environment, "Service": result.service, "Route": route.value},
                at,
            )
        if result.slowest_seconds is not None and not result.bootstrap:
            _emit(
                "SyntheticLatency",
                MetricUnit.Seconds,
                result.slowest_seconds,
                {"Environment": environment, "Service": result.service, "Route": route.value},
                at,
            )


def publish_heartbeat(environment: str, at: datetime) -> None:
    """SyntheticRuns, the heartbeat that proves the environment had traffic this minute: once
    per completed run, after both routes, stamped with the run's start like its verdicts."""
    _emit("SyntheticRuns", MetricUnit.Count, 1, {"Environment": environment}, at)


def _emit(
    name: str, unit: MetricUnit, value: float, dimensions: Mapping[str, str], at: datetime
) -> None:
    """One EMF record per datapoint, with exactly the dimensions the alarms name. Not
    `single_metric`: it adds a `service` dimension from POWERTOOLS_SERVICE_NAME, which the
    function sets, and a metric with a dimension more is another metric to the alarms."""
    metric = SingleMetric(namespace=NAMESPACE, service="")
    metric.add_metric(name=name, unit=unit, value=value)
    for key, dimension in dimensions.items():
        metric.add_dimension(name=key, value=dimension)
    metric.set_timestamp(at)
    print(json.dumps(metric.serialize_metric_set(), separators=(",", ":")))
