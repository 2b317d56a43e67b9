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
    # GIVEN the template's 5XX-rate alarm and a minute where green answered 90 of 300 with 5XX
    # (above production's request floor of 200)
    alarm = _alarm("5xx-rate")
    store = MetricStore(delay=60)
    _put(store, _query(alarm, "greenrequests"), minute=10, value=300)
    _put(store, _query(alarm, "green5xx"), minute=10, value=90)
    # WHEN it is evaluated once that minute's datapoint has arrived (end of minute 11 + delay)
    state, reason = next_state(AlarmState(alarm), store, now=12 * 60)
    # THEN one breaching datapoint of one is enough
    assert state == "ALARM", reason


def test_datapoint_is_not_seen_before_the_metric_delay_has_passed() -> None:
    alarm = _alarm("5xx-rate")
    store = MetricStore(delay=60)
    _put(store, _query(alarm, "greenrequests"), minute=10, value=300)
    _put(store, _query(alarm, "green5xx"), minute=10, value=90)
    state, _ = next_state(AlarmState(alarm), store, now=11 * 60 + 30)
    assert state != "ALARM"
    # and is, once it has
    assert next_state(AlarmState(alarm), store, now=12 * 60)[0] == "ALARM"


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


def _minute(alarm: AlarmSpec, **counts: float) -> MetricStore:
    """One minute (minute 10) of the given load-balancer counts, e.g. greenrequests=300."""
    store = MetricStore(delay=0)
    for query_id, value in counts.items():
        _put(store, _query(alarm, query_id), minute=10, value=value)
    return store


@pytest.mark.parametrize(
    ("canary", "baseline"), [("green", "blue"), ("blue", "green")], ids=["green-new", "blue-new"]
)
def test_canary_alarm_judges_the_smaller_group_against_the_larger_whichever_colour(
    canary: str, baseline: str
) -> None:
    # GIVEN a 10 % canary at 50 requests a second: 300 requests a minute on the new group
    # failing 2 % (+0.1 % background), 2700 on the one it replaces at the background
    alarm = _alarm("5xx-canary")
    store = _minute(
        alarm,
        **{f"{canary}requests": 300, f"{canary}5xx": 6.3},
        **{f"{baseline}requests": 2700, f"{baseline}5xx": 2.7},
    )
    # WHEN that minute is evaluated THEN the canary's 2 points above the baseline breach the margin
    state, reason = next_state(AlarmState(alarm), store, now=11 * 60)
    assert state == "ALARM", reason


def test_canary_alarm_ignores_a_canary_no_worse_than_what_it_replaces() -> None:
    # GIVEN both groups at a noisy 0.5 % background
    alarm = _alarm("5xx-canary")
    store = _minute(alarm, greenrequests=300, green5xx=1.5, bluerequests=2700, blue5xx=13.5)
    # THEN nothing breaches: the comparison is relative, not an absolute zero
    assert next_state(AlarmState(alarm), store, now=11 * 60)[0] == "OK"


def test_canary_alarm_reads_zero_when_one_group_is_below_the_floor() -> None:
    # GIVEN all traffic on green (after the shift), failing 3 %: blue has no requests
    alarm = _alarm("5xx-canary")
    store = _minute(alarm, greenrequests=3000, green5xx=90)
    # THEN there is no canary to compare (the 5xx-rate alarm and the traffic guard judge green)
    state, reason = next_state(AlarmState(alarm), store, now=11 * 60)
    assert (state, reason) == ("OK", "datapoints [0] within the threshold 1")


def test_5xx_rate_alarm_is_not_diluted_by_the_group_the_canary_shares_traffic_with() -> None:
    # GIVEN a 10 % canary failing 40 %: 4 % of blue's and green's requests added up, under 5 %
    alarm = _alarm("5xx-rate")
    store = _minute(alarm, greenrequests=300, green5xx=120, bluerequests=2700, blue5xx=0)
    # THEN green's own rate, 40 %, decides
    state, reason = next_state(AlarmState(alarm), store, now=11 * 60)
    assert state == "ALARM", reason
    assert "40" in reason
