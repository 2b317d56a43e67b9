"""The pure decisions: smoke results, alarm states, target health, listener weights, phases."""

from __future__ import annotations

import pytest
from codedeploy_hooks.checks import (
    PathResult,
    ProbeResult,
    TargetHealth,
    TargetState,
    TrafficPhase,
    Verdict,
    WeightedTargetGroup,
    alarm_verdict,
    backoff_seconds,
    combine,
    primary_target_group,
    smoke_paths,
    smoke_verdict,
    target_health,
    target_verdict,
    traffic_phase,
)
from hypothesis import given
from hypothesis import strategies as st

OK = ProbeResult(status=200)
ERROR = ProbeResult(status=500)
REFUSED = ProbeResult(status=None, error="ConnectionRefusedError")


def test_smoke_paths_put_health_first_and_drop_duplicates() -> None:
    assert smoke_paths(["/v1/ping", "/health", "/v1/ping"]) == ("/health", "/v1/ping")


def test_smoke_verdict_passes_when_every_path_answered_200_once() -> None:
    results = [PathResult("/health", (ERROR, OK)), PathResult("/v1/ping", (OK,))]
    assert smoke_verdict(results, ["/health", "/v1/ping"]).passed


def test_smoke_verdict_fails_on_a_path_that_never_answered_200() -> None:
    verdict = smoke_verdict([PathResult("/health", (ERROR, ERROR))], ["/health"])
    assert not verdict.passed
    assert "/health: HTTP 500 after 2 attempt(s)" in verdict.reason


def test_smoke_verdict_names_the_error_of_a_path_that_got_no_answer() -> None:
    verdict = smoke_verdict([PathResult("/health", (REFUSED,))], ["/health"])
    assert "ConnectionRefusedError" in verdict.reason


def test_smoke_verdict_fails_on_a_path_never_tried() -> None:
    verdict = smoke_verdict([PathResult("/health", (OK,))], ["/health", "/v1/ping"])
    assert not verdict.passed
    assert "/v1/ping: not tried" in verdict.reason


@pytest.mark.parametrize("state", ["OK", "INSUFFICIENT_DATA"])
def test_alarm_verdict_passes_alarms_not_in_alarm(state: str) -> None:
    assert alarm_verdict(["a", "b"], {"a": "OK", "b": state}).passed


def test_alarm_verdict_fails_naming_the_alarm_in_alarm() -> None:
    verdict = alarm_verdict(["a", "b"], {"a": "OK", "b": "ALARM"})
    assert not verdict.passed
    assert "alarms in ALARM: b" in verdict.reason


def test_alarm_verdict_fails_when_an_expected_alarm_does_not_exist() -> None:
    verdict = alarm_verdict(["a", "gone"], {"a": "OK"})
    assert not verdict.passed
    assert "gone" in verdict.reason


def test_alarm_verdict_fails_when_there_are_no_alarms_at_all() -> None:
    assert not alarm_verdict([], {}).passed


@given(st.dictionaries(st.text(min_size=1), st.sampled_from(["OK", "ALARM", "INSUFFICIENT_DATA"])))
def test_alarm_verdict_fails_exactly_when_some_alarm_is_in_alarm(states: dict[str, str]) -> None:
    verdict = alarm_verdict(states.keys(), states)
    assert verdict.passed == (bool(states) and "ALARM" not in states.values())


def _targets(*states: str) -> list[TargetState]:
    return [TargetState(f"10.0.1.{i}", 8080, state) for i, state in enumerate(states)]


@pytest.mark.parametrize(
    ("states", "expected"),
    [
        (("healthy", "healthy"), TargetHealth.HEALTHY),
        (("healthy", "initial"), TargetHealth.PENDING),
        ((), TargetHealth.PENDING),
        (("healthy", "unhealthy"), TargetHealth.UNHEALTHY),
        (("initial", "draining"), TargetHealth.UNHEALTHY),
        (("unavailable",), TargetHealth.UNHEALTHY),
        (("unused",), TargetHealth.UNHEALTHY),
    ],
)
def test_target_health_classifies_target_states(
    states: tuple[str, ...], expected: TargetHealth
) -> None:
    assert target_health(_targets(*states)) is expected


def test_target_verdict_names_each_unhealthy_target_and_its_reason() -> None:
    targets = [TargetState("10.0.1.9", 8080, "unhealthy", "Target.FailedHealthChecks")]
    verdict = target_verdict("tg-green", targets)
    assert not verdict.passed
    assert "10.0.1.9:8080 unhealthy (Target.FailedHealthChecks)" in verdict.reason


def test_target_verdict_fails_an_empty_target_group() -> None:
    verdict = target_verdict("tg-green", [])
    assert not verdict.passed
    assert "no registered targets" in verdict.reason


def test_primary_target_group_is_the_one_with_the_most_weight() -> None:
    forwards = [WeightedTargetGroup("blue", 10), WeightedTargetGroup("green", 90)]
    assert primary_target_group(forwards) == "green"
    assert primary_target_group([]) is None


def test_traffic_phase_is_after_allow_traffic_once_both_listeners_forward_to_green() -> None:
    assert traffic_phase("green", "green") is TrafficPhase.AFTER_ALLOW_TRAFFIC
    assert traffic_phase("blue", "green") is TrafficPhase.BEFORE_ALLOW_TRAFFIC


@given(st.integers(min_value=0, max_value=64))
def test_backoff_doubles_and_never_exceeds_its_cap(attempt: int) -> None:
    delay = backoff_seconds(attempt, base=0.5, cap=8.0)
    assert delay == min(8.0, 0.5 * 2**attempt)
    assert delay <= 8.0


def test_combine_fails_if_any_verdict_failed_and_keeps_its_reason() -> None:
    verdict = combine([Verdict.ok("alarms fine"), Verdict.fail("targets unhealthy")])
    assert not verdict.passed
    assert verdict.reason == "targets unhealthy"
