"""The pure verdict: every rule of the contract, without AWS."""

from __future__ import annotations

from health_check.verdict import AlarmFact, BakeClock, Outcome, ServiceFact, decide
from hypothesis import given
from hypothesis import strategies as st

OK = AlarmFact("dev-staging-api-5xx", "OK")
STEADY = ServiceFact("api-service-dev", "ACTIVE", running=2, desired=2)
START = 1_800_000_000.0


def after(seconds: float, healthy_since: float | None = None) -> BakeClock:
    """`seconds` after the first invocation, with the healthy streak the token carried."""
    return BakeClock(now=START + seconds, started_at=START, healthy_since=healthy_since)


def test_an_alarm_in_alarm_fails_at_once_even_during_the_bake() -> None:
    # GIVEN two breached alarms among healthy ones, at the very start of the bake
    alarms = [OK, AlarmFact("b-latency", "ALARM"), AlarmFact("a-5xx", "ALARM")]
    # WHEN
    verdict = decide(alarms, [STEADY], bake_seconds=300, clock=after(0))
    # THEN the failure names each breached alarm
    assert verdict.outcome is Outcome.FAILED_ALARM
    assert verdict.breached_alarms == ("a-5xx", "b-latency")
    assert "a-5xx" in verdict.message
    assert "b-latency" in verdict.message


def test_no_matching_alarm_is_a_misconfiguration() -> None:
    verdict = decide([], [STEADY], bake_seconds=300, clock=after(0))
    assert verdict.outcome is Outcome.FAILED_MISCONFIGURED
    assert "no CloudWatch alarm" in verdict.message


def test_a_missing_service_fails_without_waiting() -> None:
    verdict = decide([OK], [ServiceFact("ghost", "MISSING")], bake_seconds=300, clock=after(0))
    assert verdict.outcome is Outcome.FAILED_MISCONFIGURED
    assert "ghost" in verdict.message


def test_insufficient_data_waits_while_the_bake_lasts() -> None:
    alarms = [AlarmFact("dev-staging-new", "INSUFFICIENT_DATA")]
    verdict = decide(alarms, [], bake_seconds=300, clock=after(120))
    assert verdict.outcome is Outcome.WAITING
    assert verdict.percent_complete == 40


def test_insufficient_data_fails_closed_when_the_bake_is_over() -> None:
    alarms = [AlarmFact("dev-staging-new", "INSUFFICIENT_DATA")]
    verdict = decide(alarms, [], bake_seconds=300, clock=after(300))
    assert verdict.outcome is Outcome.FAILED_UNHEALTHY
    assert "dev-staging-new" in verdict.message


def test_an_unsteady_service_waits_then_fails_closed() -> None:
    scaling = ServiceFact("api-service-dev", "ACTIVE", running=1, desired=2)
    assert decide([OK], [scaling], 300, after(299.9)).outcome is Outcome.WAITING
    assert decide([OK], [scaling], 300, after(300)).outcome is Outcome.FAILED_UNHEALTHY


def test_healthy_during_the_bake_keeps_baking() -> None:
    verdict = decide([OK], [STEADY], bake_seconds=300, clock=after(60, healthy_since=START))
    assert verdict.outcome is Outcome.BAKING
    assert verdict.outcome.continues
    assert verdict.percent_complete == 20


def test_the_first_healthy_check_starts_the_streak_now() -> None:
    verdict = decide([OK], [STEADY], bake_seconds=300, clock=after(120))
    assert verdict.outcome is Outcome.BAKING
    assert verdict.healthy_since == START + 120
    assert verdict.percent_complete == 0


def test_time_spent_waiting_does_not_count_toward_the_bake() -> None:
    # GIVEN an environment that waited (INSUFFICIENT_DATA) for 240 s, then is healthy at 300 s
    waiting = [AlarmFact("dev-staging-new", "INSUFFICIENT_DATA")]
    assert decide(waiting, [STEADY], 300, after(240)).healthy_since is None
    # WHEN it is checked at 300 s, its first healthy check
    verdict = decide([OK], [STEADY], bake_seconds=300, clock=after(300))
    # THEN it has only started baking: 300 s healthy are still owed
    assert verdict.outcome is Outcome.BAKING
    assert "300s of bake left" in verdict.message


def test_an_alarm_that_changed_state_during_the_streak_restarts_it_then() -> None:
    # GIVEN a streak begun at the start, and an alarm OK again after a change 200 s in
    flapped = AlarmFact("dev-staging-api-5xx", "OK", updated_at=START + 200)
    # WHEN it is checked 300 s in
    verdict = decide([flapped], [STEADY], 300, after(300, healthy_since=START))
    # THEN the streak counts from the change, not from the start
    assert verdict.outcome is Outcome.BAKING
    assert verdict.healthy_since == START + 200
    assert decide([flapped], [STEADY], 300, after(500, START)).outcome is Outcome.SUCCEEDED


def test_an_alarm_change_before_the_streak_does_not_restart_it() -> None:
    settled = AlarmFact("dev-staging-api-5xx", "OK", updated_at=START - 3600)
    verdict = decide([settled], [STEADY], 300, after(300, healthy_since=START))
    assert verdict.outcome is Outcome.SUCCEEDED


def test_an_alarm_change_stamped_after_now_restarts_the_streak_now() -> None:
    # GIVEN CloudWatch's clock a little ahead of the function's
    ahead = AlarmFact("dev-staging-api-5xx", "OK", updated_at=START + 310)
    # WHEN / THEN the streak restarts now, never in the future
    verdict = decide([ahead], [STEADY], 300, after(300, healthy_since=START))
    assert verdict.healthy_since == START + 300
    assert decide([ahead], [], 0, after(300, START)).outcome is Outcome.SUCCEEDED


def test_waiting_past_the_bake_fails_even_after_a_healthy_streak_began() -> None:
    # GIVEN a streak that began, then a service that became unsteady after the bake's time
    scaling = ServiceFact("api-service-dev", "ACTIVE", running=1, desired=2)
    verdict = decide([OK], [scaling], 300, after(320, healthy_since=START + 100))
    # THEN it fails closed instead of waiting again
    assert verdict.outcome is Outcome.FAILED_UNHEALTHY


def test_a_streak_restarted_by_flapping_alarms_fails_at_twice_the_bake() -> None:
    # GIVEN an alarm that went away and came back 50 s before the check, 600 s in
    flapping = AlarmFact("dev-staging-api-5xx", "OK", updated_at=START + 550)
    # WHEN the environment has not been healthy for a whole bake within two bakes
    verdict = decide([flapping], [STEADY], 300, after(600, healthy_since=START + 400))
    # THEN it fails closed instead of baking again
    assert verdict.outcome is Outcome.FAILED_UNHEALTHY
    assert "within 600s" in verdict.message


def test_a_streak_that_completes_just_before_twice_the_bake_succeeds() -> None:
    verdict = decide([OK], [STEADY], 300, after(599, healthy_since=START + 299))
    assert verdict.outcome is Outcome.SUCCEEDED


def test_healthy_for_the_whole_bake_succeeds() -> None:
    verdict = decide([OK], [STEADY], bake_seconds=300, clock=after(300, healthy_since=START))
    assert verdict.outcome is Outcome.SUCCEEDED
    assert verdict.percent_complete == 100


def test_zero_bake_succeeds_on_the_first_healthy_check() -> None:
    assert decide([OK], [], bake_seconds=0, clock=after(0)).outcome is Outcome.SUCCEEDED


def test_a_bake_start_slightly_in_the_future_counts_as_just_started() -> None:
    assert decide([OK], [], bake_seconds=0, clock=after(-30)).outcome is Outcome.SUCCEEDED
    assert decide([OK], [], bake_seconds=300, clock=after(-30)).percent_complete == 0


def test_service_steadiness_needs_one_primary_deployment_and_no_failed_rollout() -> None:
    two_deployments = ServiceFact("s", "ACTIVE", 2, 2, primary_deployments=1, other_deployments=1)
    no_primary = ServiceFact("s", "ACTIVE", 2, 2, primary_deployments=0)
    failed = ServiceFact("s", "ACTIVE", 2, 2, failed_rollout=True)
    draining = ServiceFact("s", "DRAINING", 2, 2)
    assert STEADY.steady
    assert not any(fact.steady for fact in (two_deployments, no_primary, failed, draining))


alarm_states = st.sampled_from(["OK", "ALARM", "INSUFFICIENT_DATA"])
alarm_facts = st.lists(
    st.builds(
        AlarmFact,
        name=st.text(min_size=1, max_size=8),
        state=alarm_states,
        updated_at=st.none() | st.floats(START - 7200, START + 7200),
    ),
    max_size=6,
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
clocks = st.builds(after, st.floats(-60, 7200), st.none() | st.floats(START - 60, START + 7200))


@given(alarm_facts, service_facts, st.integers(0, 3600), clocks)
def test_a_job_never_succeeds_unless_healthy_without_a_break_for_the_whole_bake(
    alarms: list[AlarmFact], services: list[ServiceFact], bake: int, clock: BakeClock
) -> None:
    verdict = decide(alarms, services, bake, clock)
    if verdict.outcome is Outcome.SUCCEEDED:
        assert alarms
        assert all(alarm.state == "OK" for alarm in alarms)
        assert all(service.steady for service in services)
        assert verdict.healthy_since is not None
        assert clock.now - verdict.healthy_since >= bake
        # no alarm changed state during the streak that made the bake
        assert all(
            alarm.updated_at is None or alarm.updated_at <= verdict.healthy_since
            for alarm in alarms
            if alarm.updated_at is None or alarm.updated_at <= clock.now
        )


@given(alarm_facts, service_facts, st.integers(0, 3600), clocks)
def test_a_breached_alarm_always_fails_whatever_else_holds(
    alarms: list[AlarmFact], services: list[ServiceFact], bake: int, clock: BakeClock
) -> None:
    verdict = decide([*alarms, AlarmFact("breached", "ALARM")], services, bake, clock)
    assert verdict.outcome is Outcome.FAILED_ALARM
    assert "breached" in verdict.breached_alarms


@given(alarm_facts, service_facts, st.integers(0, 3600), clocks)
def test_nothing_waits_once_the_bake_has_passed_since_the_first_check(
    alarms: list[AlarmFact], services: list[ServiceFact], bake: int, clock: BakeClock
) -> None:
    late = BakeClock(clock.started_at + bake + abs(clock.now - clock.started_at), START)
    assert decide(alarms, services, bake, late).outcome is not Outcome.WAITING


@given(alarm_facts, service_facts, st.integers(0, 3600), clocks)
def test_a_healthy_streak_never_starts_after_now_or_before_the_one_carried(
    alarms: list[AlarmFact], services: list[ServiceFact], bake: int, clock: BakeClock
) -> None:
    verdict = decide(alarms, services, bake, clock)
    if verdict.healthy_since is not None:
        assert verdict.healthy_since <= clock.now
        carried = clock.healthy_since
        assert carried is None or verdict.healthy_since >= min(carried, clock.now)
