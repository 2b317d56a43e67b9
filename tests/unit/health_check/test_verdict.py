"""The pure verdict: every rule of the contract, without AWS."""

from __future__ import annotations

from health_check.verdict import AlarmFact, Outcome, ServiceFact, decide
from hypothesis import given
from hypothesis import strategies as st

OK = AlarmFact("dev-staging-api-5xx", "OK")
STEADY = ServiceFact("api-service-dev", "ACTIVE", running=2, desired=2)


def test_an_alarm_in_alarm_fails_at_once_even_during_the_bake() -> None:
    # GIVEN two breached alarms among healthy ones, at the very start of the bake
    alarms = [OK, AlarmFact("b-latency", "ALARM"), AlarmFact("a-5xx", "ALARM")]
    # WHEN
    verdict = decide(alarms, [STEADY], bake_seconds=300, elapsed_seconds=0)
    # THEN the failure names each breached alarm
    assert verdict.outcome is Outcome.FAILED_ALARM
    assert verdict.breached_alarms == ("a-5xx", "b-latency")
    assert "a-5xx" in verdict.message
    assert "b-latency" in verdict.message


def test_no_matching_alarm_is_a_misconfiguration() -> None:
    verdict = decide([], [STEADY], bake_seconds=300, elapsed_seconds=0)
    assert verdict.outcome is Outcome.FAILED_MISCONFIGURED
    assert "no CloudWatch alarm" in verdict.message


def test_a_missing_service_fails_without_waiting() -> None:
    verdict = decide([OK], [ServiceFact("ghost", "MISSING")], bake_seconds=300, elapsed_seconds=0)
    assert verdict.outcome is Outcome.FAILED_MISCONFIGURED
    assert "ghost" in verdict.message


def test_insufficient_data_waits_while_the_bake_lasts() -> None:
    alarms = [AlarmFact("dev-staging-new", "INSUFFICIENT_DATA")]
    verdict = decide(alarms, [], bake_seconds=300, elapsed_seconds=120)
    assert verdict.outcome is Outcome.WAITING
    assert verdict.percent_complete == 40


def test_insufficient_data_fails_closed_when_the_bake_is_over() -> None:
    alarms = [AlarmFact("dev-staging-new", "INSUFFICIENT_DATA")]
    verdict = decide(alarms, [], bake_seconds=300, elapsed_seconds=300)
    assert verdict.outcome is Outcome.FAILED_UNHEALTHY
    assert "dev-staging-new" in verdict.message


def test_an_unsteady_service_waits_then_fails_closed() -> None:
    scaling = ServiceFact("api-service-dev", "ACTIVE", running=1, desired=2)
    assert decide([OK], [scaling], 300, 299.9).outcome is Outcome.WAITING
    assert decide([OK], [scaling], 300, 300).outcome is Outcome.FAILED_UNHEALTHY


def test_healthy_during_the_bake_keeps_baking() -> None:
    verdict = decide([OK], [STEADY], bake_seconds=300, elapsed_seconds=60)
    assert verdict.outcome is Outcome.BAKING
    assert verdict.outcome.continues


def test_healthy_after_the_bake_succeeds() -> None:
    verdict = decide([OK], [STEADY], bake_seconds=300, elapsed_seconds=300)
    assert verdict.outcome is Outcome.SUCCEEDED
    assert verdict.percent_complete == 100


def test_zero_bake_succeeds_on_the_first_healthy_check() -> None:
    assert decide([OK], [], bake_seconds=0, elapsed_seconds=0).outcome is Outcome.SUCCEEDED


def test_a_bake_start_slightly_in_the_future_counts_as_just_started() -> None:
    assert decide([OK], [], bake_seconds=0, elapsed_seconds=-30).outcome is Outcome.SUCCEEDED
    assert decide([OK], [], bake_seconds=300, elapsed_seconds=-30).percent_complete == 0


def test_service_steadiness_needs_one_primary_deployment_and_no_failed_rollout() -> None:
    two_deployments = ServiceFact("s", "ACTIVE", 2, 2, primary_deployments=1, other_deployments=1)
    no_primary = ServiceFact("s", "ACTIVE", 2, 2, primary_deployments=0)
    failed = ServiceFact("s", "ACTIVE", 2, 2, failed_rollout=True)
    draining = ServiceFact("s", "DRAINING", 2, 2)
    assert STEADY.steady
    assert not any(fact.steady for fact in (two_deployments, no_primary, failed, draining))


alarm_states = st.sampled_from(["OK", "ALARM", "INSUFFICIENT_DATA"])
alarm_facts = st.lists(
    st.builds(AlarmFact, name=st.text(min_size=1, max_size=8), state=alarm_states), max_size=6
)
service_facts = st.lists(
    st.builds(
        ServiceFact,
        name=st.text(min_size=1, max_size=8),
        status=st.sampled_from(["ACTIVE", "DRAINING", "MISSING"]),
        running=st.integers(0, 3),
        desired=st.integers(0, 3),
        primary_deployments=st.integers(0, 2),
        other_deployments=st.integers(0, 1),
        failed_rollout=st.booleans(),
    ),
    max_size=4,
)


@given(alarm_facts, service_facts, st.integers(0, 3600), st.floats(-60, 7200))
def test_a_job_never_succeeds_unless_every_alarm_is_ok_and_every_service_steady(
    alarms: list[AlarmFact], services: list[ServiceFact], bake: int, elapsed: float
) -> None:
    verdict = decide(alarms, services, bake, elapsed)
    if verdict.outcome.succeeded and not verdict.outcome.continues:
        assert alarms
        assert all(alarm.state == "OK" for alarm in alarms)
        assert all(service.steady for service in services)
        assert max(elapsed, 0) >= bake


@given(alarm_facts, service_facts, st.integers(0, 3600), st.floats(0, 7200))
def test_a_breached_alarm_always_fails_whatever_else_holds(
    alarms: list[AlarmFact], services: list[ServiceFact], bake: int, elapsed: float
) -> None:
    verdict = decide([*alarms, AlarmFact("breached", "ALARM")], services, bake, elapsed)
    assert verdict.outcome is Outcome.FAILED_ALARM
    assert "breached" in verdict.breached_alarms


@given(alarm_facts, service_facts, st.integers(0, 3600), st.floats(0, 7200))
def test_nothing_continues_once_the_bake_is_over(
    alarms: list[AlarmFact], services: list[ServiceFact], bake: int, elapsed: float
) -> None:
    verdict = decide(alarms, services, bake, bake + elapsed)
    assert not verdict.outcome.continues
