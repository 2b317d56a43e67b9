"""What the run publishes: exactly the metric names and dimensions the alarms read."""

from __future__ import annotations

import json
from typing import Any

import pytest
from synthetic_client.observability import NAMESPACE, publish
from synthetic_client.run import ServiceResult

from tests.support import REPO_ROOT, load_template, resources_of_type


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

    # WHEN the results are published
    publish("staging", {r.service: r for r in (passed, failed, bootstrap)})

    # THEN success and latency per judged service, nothing for the bootstrap one, one heartbeat
    def dims(service: str | None = None) -> dict[str, str]:
        return {"Environment": "staging"} | ({"Service": service} if service else {})

    assert emitted(capsys) == [
        {"name": "SyntheticSuccess", "value": 1, "dimensions": dims("api-service")},
        {"name": "SyntheticLatency", "value": 0.2, "dimensions": dims("api-service")},
        {"name": "SyntheticSuccess", "value": 0, "dimensions": dims("auth-service")},
        {"name": "SyntheticLatency", "value": 0.1, "dimensions": dims("auth-service")},
        {"name": "SyntheticRuns", "value": 1, "dimensions": dims()},
    ]


def alarm_metrics(path: str) -> set[tuple[str, str, tuple[str, ...]]]:
    template = load_template(REPO_ROOT / path)
    found = set()
    for alarm in resources_of_type(template, "AWS::CloudWatch::Alarm").values():
        props = alarm["Properties"]
        if props.get("Namespace") == NAMESPACE:
            names = tuple(sorted(d["Name"] for d in props["Dimensions"]))
            found.add((props["Namespace"], props["MetricName"], names))
    return found


def test_every_synthetic_alarm_reads_a_metric_the_client_publishes() -> None:
    published = {
        (NAMESPACE, "SyntheticSuccess", ("Environment", "Service")),
        (NAMESPACE, "SyntheticLatency", ("Environment", "Service")),
        (NAMESPACE, "SyntheticRuns", ("Environment",)),
    }
    read = alarm_metrics("pipeline/service.yaml") | alarm_metrics("template.yaml")
    assert read == published
