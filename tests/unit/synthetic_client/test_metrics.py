"""What the run publishes: exactly the metric names and dimensions the alarms read."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from synthetic_client.observability import NAMESPACE, publish, publish_heartbeat
from synthetic_client.run import Route, ServiceResult

from tests.support import REPO_ROOT, load_template, resources_of_type

# A run's start: CloudWatch takes datapoints up to 14 days old and 2 hours ahead.
AT = datetime.now(UTC).replace(microsecond=0)


def emitted(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    """Each EMF record as {name, value, dimensions}."""
    records = []
    for line in capsys.readouterr().out.splitlines():
        record = json.loads(line)
        (directive,) = record["_aws"]["CloudWatchMetrics"]
        (metric,) = directive["Metrics"]
        (dimensions,) = directive["Dimensions"]
        assert directive["Namespace"] == NAMESPACE
        value = record[metric["Name"]]
        (value,) = value if isinstance(value, list) else [value]  # EMF may wrap it in a list
        records.append(
            {
                "name": metric["Name"],
                "value": value,
                "dimensions": {name: record[name] for name in dimensions},
            }
        )
    return records


def test_passed_failed_and_unjudged_services_publish_what_the_alarms_expect(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # GIVEN one passed, one failed and one bootstrap service
    passed = ServiceResult("api-service", slowest_seconds=0.2)
    failed = ServiceResult("auth-service", failures=["POST /token: HTTP 500"], slowest_seconds=0.1)
    bootstrap = ServiceResult("notification-service", bootstrap=True, slowest_seconds=0.01)

    # WHEN the results of the replacement route are published, then the run's heartbeat
    publish("staging", Route.REPLACEMENT, {r.service: r for r in (passed, failed, bootstrap)}, AT)
    publish_heartbeat("staging", AT)

    # THEN success and latency per judged service with its route, nothing for the bootstrap
    # one, one heartbeat (per environment only)
    def dims(service: str | None = None) -> dict[str, str]:
        if service is None:
            return {"Environment": "staging"}
        return {"Environment": "staging", "Service": service, "Route": "replacement"}

    assert emitted(capsys) == [
        {"name": "SyntheticSuccess", "value": 1, "dimensions": dims("api-service")},
        {"name": "SyntheticLatency", "value": 0.2, "dimensions": dims("api-service")},
        {"name": "SyntheticSuccess", "value": 0, "dimensions": dims("auth-service")},
        {"name": "SyntheticLatency", "value": 0.1, "dimensions": dims("auth-service")},
        {"name": "SyntheticRuns", "value": 1, "dimensions": dims()},
    ]


def synthetic_metrics_read(path: str) -> list[dict[str, Any]]:
    """Every synthetic metric an alarm of the template reads, plain or in metric math."""
    template = load_template(REPO_ROOT / path)
    found = []
    for alarm in resources_of_type(template, "AWS::CloudWatch::Alarm").values():
        props = alarm["Properties"]
        metrics = [props] + [
            q["MetricStat"]["Metric"] for q in props.get("Metrics", []) if "MetricStat" in q
        ]
        found += [m for m in metrics if m.get("Namespace") == NAMESPACE]
    return found


def alarm_metrics(path: str) -> set[tuple[str, str, tuple[str, ...]]]:
    return {
        (m["Namespace"], m["MetricName"], tuple(sorted(d["Name"] for d in m["Dimensions"])))
        for m in synthetic_metrics_read(path)
    }


def test_every_synthetic_alarm_reads_a_metric_the_client_publishes() -> None:
    published = {
        (NAMESPACE, "SyntheticSuccess", ("Environment", "Route", "Service")),
        (NAMESPACE, "SyntheticLatency", ("Environment", "Route", "Service")),
        (NAMESPACE, "SyntheticRuns", ("Environment",)),
    }
    read = alarm_metrics("pipeline/service.yaml") | alarm_metrics("template.yaml")
    assert read == published


def test_every_route_an_alarm_reads_is_one_the_client_publishes() -> None:
    read = {
        d["Value"]
        for path in ("pipeline/service.yaml", "template.yaml")
        for m in synthetic_metrics_read(path)
        for d in m["Dimensions"]
        if d["Name"] == "Route"
    }
    assert read == {route.value for route in Route}
