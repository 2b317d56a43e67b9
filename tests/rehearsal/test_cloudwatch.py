"""CloudWatch as modelled: datapoints per period that arrive late, metric math, M of N.

AWS: "Evaluating an alarm" and "Configuring how CloudWatch alarms treat missing data",
https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarms-and-missing-data.html;
metric math, https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/using-metric-math.html.
"""

from __future__ import annotations

import dataclasses

import pytest

from tools.rehearsal.cloudwatch import (
    AlarmState,
    MathError,
    MetricStore,
    evaluate,
    metric_key,
    next_state,
)
from tools.rehearsal.system import AlarmSpec, MetricQuery, load_system

SYSTEM = load_system()
PRODUCTION_API = SYSTEM.environments["production"]["api-service"]


def _alarm(check: str) -> AlarmSpec:
    return next(a for a in PRODUCTION_API.alarms if a.name.endswith(check))


def _put(store: MetricStore, query: MetricQuery, minute: int, value: float) -> None:
    store.put(metric_key(query.namespace, query.metric_name, query.dimensions), minute * 60, value)


def _query(alarm: AlarmSpec, query_id: str) -> MetricQuery:
    return next(q for q in alarm.queries if q.id == query_id)


def test_5xx_rate_alarm_fires_on_one_bad_minute_of_the_templates_metric_math() -> None:
    # GIVEN the template's 5XX-rate alarm and a minute where green answered 30 of 100 with 5XX
    alarm = _alarm("5xx-rate")
    store = MetricStore(delay=60)
    _put(store, _query(alarm, "greenrequests"), minute=10, value=100)
    _put(store, _query(alarm, "green5xx"), minute=10, value=30)
    # WHEN it is evaluated once that minute's datapoint has arrived (end of minute 11 + delay)
    state, reason = next_state(AlarmState(alarm), store, now=12 * 60)
    # THEN one breaching datapoint of one is enough
    assert state == "ALARM", reason


def test_datapoint_is_not_seen_before_the_metric_delay_has_passed() -> None:
    alarm = _alarm("5xx-rate")
    store = MetricStore(delay=60)
    _put(store, _query(alarm, "greenrequests"), minute=10, value=100)
    _put(store, _query(alarm, "green5xx"), minute=10, value=30)
    state, _ = next_state(AlarmState(alarm), store, now=11 * 60 + 30)
    assert state != "ALARM"


def test_volume_floor_keeps_a_few_failed_requests_from_alarming() -> None:
    alarm = _alarm("5xx-rate")
    store = MetricStore(delay=0)
    _put(store, _query(alarm, "greenrequests"), minute=10, value=5)
    _put(store, _query(alarm, "green5xx"), minute=10, value=5)
    state, _ = next_state(AlarmState(alarm), store, now=11 * 60)
    assert state == "OK"


def test_missing_data_breaches_where_the_template_says_breaching() -> None:
    # healthy-hosts: TreatMissingData breaching; nothing published means nothing is serving.
    alarm = _alarm("healthy-hosts")
    assert alarm.treat_missing_data == "breaching"
    state, _ = next_state(AlarmState(alarm), MetricStore(delay=0), now=600)
    assert state == "ALARM"


def test_missing_data_is_insufficient_data_under_treat_missing_data_missing() -> None:
    alarm = dataclasses.replace(_alarm("healthy-hosts"), treat_missing_data="missing")
    state, _ = next_state(AlarmState(alarm), MetricStore(delay=0), now=600)
    assert state == "INSUFFICIENT_DATA"


def test_datapoints_to_alarm_m_of_n() -> None:
    # GIVEN 2 of 3 periods must breach
    base = _alarm("running-tasks")
    alarm = dataclasses.replace(base, evaluation_periods=3, datapoints_to_alarm=2)
    query = alarm.queries[0]
    store = MetricStore(delay=0)
    for minute, running in ((7, 0), (8, 2), (9, 2)):
        _put(store, query, minute, running)
    # WHEN only one of the three breaches THEN OK; with a second, ALARM
    assert next_state(AlarmState(alarm), store, now=10 * 60)[0] == "OK"
    _put(store, query, 9, -10)  # minimum of minute 9 now below the threshold of 1
    assert next_state(AlarmState(alarm), store, now=10 * 60)[0] == "ALARM"


def test_fill_does_not_invent_a_series_that_has_no_data_at_all() -> None:
    assert evaluate("FILL(a, 0) + FILL(b, 0)", {"a": None, "b": None}, present=False) is None
    assert evaluate("FILL(a, 0) + FILL(b, 0)", {"a": None, "b": 3.0}, present=True) == 3.0


def test_if_evaluates_only_the_branch_it_takes() -> None:
    # 100 * e / r would divide by zero; IF's condition keeps it from being evaluated.
    assert evaluate("IF(r >= 10, 100 * e / r, 0)", {"r": 0.0, "e": 0.0}, present=True) == 0.0


def test_unmodelled_metric_math_is_an_error_not_a_guess() -> None:
    with pytest.raises(MathError, match="not modelled"):
        evaluate("ANOMALY_DETECTION_BAND(a)", {"a": 1.0}, present=True)
