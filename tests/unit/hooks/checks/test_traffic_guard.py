"""The traffic guard's parts: alarm states, target health, traffic phase, and its waits."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest
from codedeploy_hooks.checks import deployment
from codedeploy_hooks.checks.load_balancing import TargetState
from codedeploy_hooks.checks.traffic_guard import (
    AlarmReading,
    TargetHealth,
    TrafficPhase,
    alarm_verdict,
    bake,
    combine,
    environment_alarms,
    standing_alarms,
    target_health,
    target_verdict,
    traffic_guard,
    traffic_phase,
    wait_for_targets,
)
from codedeploy_hooks.checks.verdict import Verdict
from codedeploy_hooks.deadline import Deadline
from codedeploy_hooks.errors import CheckCancelledError
from hypothesis import given
from hypothesis import strategies as st

from tests.unit.hooks.fakes import (
    FAST_SETTINGS,
    FixedAddresses,
    Recording,
    VirtualClock,
    World,
    client,
    moto_dependencies,
    put_alarm,
)


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


def test_alarm_verdict_names_a_standing_alarm_without_failing_on_it() -> None:
    # GIVEN one alarm in ALARM since before the deployment, the rest fine
    verdict = alarm_verdict(["a", "b"], {"a": "OK", "b": "ALARM"}, standing={"b"})
    # THEN it passes and says which alarm it set aside, and why
    assert verdict.passed
    assert "in ALARM since before it began, not counted against it: b" in verdict.reason


def test_alarm_verdict_still_fails_on_an_alarm_gone_into_alarm_beside_a_standing_one() -> None:
    verdict = alarm_verdict(["a", "b"], {"a": "ALARM", "b": "ALARM"}, standing={"b"})
    assert not verdict.passed
    assert verdict.reason == "alarms in ALARM: a"


def test_a_standing_alarm_that_no_longer_exists_still_fails() -> None:
    verdict = alarm_verdict(["a", "gone"], {"a": "OK"}, standing={"gone"})
    assert not verdict.passed
    assert "alarms not found: gone" in verdict.reason


@given(
    st.dictionaries(st.text(min_size=1), st.sampled_from(["OK", "ALARM", "INSUFFICIENT_DATA"])),
    st.sets(st.text(min_size=1)),
)
def test_alarm_verdict_fails_exactly_when_an_alarm_not_standing_is_in_alarm(
    states: dict[str, str], standing: set[str]
) -> None:
    verdict = alarm_verdict(states.keys(), states, standing=standing)
    new = [name for name, state in states.items() if state == "ALARM" and name not in standing]
    assert verdict.passed == (bool(states) and not new)


CREATED = 1_000.0


@pytest.mark.parametrize(
    ("reading", "standing"),
    [
        (AlarmReading("ALARM", CREATED - 1), True),  # in ALARM before the deployment
        (AlarmReading("ALARM", CREATED), False),  # went into ALARM as it was created
        (AlarmReading("ALARM", CREATED + 60), False),  # went into ALARM during it
        (AlarmReading("ALARM", None), False),  # no time: counted, failing closed
        (AlarmReading("OK", CREATED - 1), False),
        (AlarmReading("INSUFFICIENT_DATA", CREATED - 1), False),
    ],
)
def test_standing_alarms_are_those_in_alarm_since_before_the_deployment(
    reading: AlarmReading, standing: bool
) -> None:
    assert (standing_alarms({"a": reading}, CREATED) == {"a"}) is standing


def test_without_the_deployments_creation_time_no_alarm_is_standing() -> None:
    assert standing_alarms({"a": AlarmReading("ALARM", CREATED - 600)}, None) == frozenset()


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


def test_traffic_phase_is_after_allow_traffic_once_both_listeners_forward_to_green() -> None:
    assert traffic_phase("green", "green") is TrafficPhase.AFTER_ALLOW_TRAFFIC
    assert traffic_phase("blue", "green") is TrafficPhase.BEFORE_ALLOW_TRAFFIC


def test_combine_fails_if_any_verdict_failed_and_keeps_its_reason() -> None:
    verdict = combine([Verdict.ok("alarms fine"), Verdict.fail("targets unhealthy")])
    assert not verdict.passed
    assert verdict.reason == "targets unhealthy"


def test_alarms_named_in_the_deployment_group_are_checked_even_outside_the_prefix(
    world: World,
) -> None:
    # GIVEN the deployment group also lists an alarm named outside the contract prefix, in ALARM
    # (moto does not return alarm configurations, so the target is built from the resolved one)
    put_alarm("custom-latency", "ALARM")
    resolved = deployment.resolve(client("codedeploy"), world.deployment_id)
    target = replace(resolved, alarm_names=("custom-latency",))
    # WHEN the alarms are checked
    verdict = environment_alarms(client("cloudwatch"), target)
    # THEN the group's alarm counts alongside the prefixed ones
    assert not verdict.passed
    assert "custom-latency" in verdict.reason


def test_an_alarm_in_alarm_before_the_deployment_was_created_does_not_fail_the_check(
    world: World,
) -> None:
    # GIVEN an alarm of the environment in ALARM, and a deployment CodeDeploy says it created a
    # minute after that (moto's createTime is the moment the fixture created it)
    put_alarm("dev-staging-api-service-running-tasks", "ALARM")
    resolved = deployment.resolve(client("codedeploy"), world.deployment_id)
    assert resolved.created_at is not None
    standing = replace(resolved, created_at=time.time() + 60)
    # WHEN the alarms are checked for that deployment, and for one created before the alarm
    verdict = environment_alarms(client("cloudwatch"), standing)
    earlier = environment_alarms(client("cloudwatch"), resolved)
    # THEN the standing alarm is named but does not fail the first; it fails the second
    assert verdict.passed, verdict.reason
    assert "dev-staging-api-service-running-tasks" in verdict.reason
    assert not earlier.passed
    assert "alarms in ALARM: dev-staging-api-service-running-tasks" in earlier.reason
    # AND asked for no standing alarm (the end of the bake), it fails the first too
    strict = environment_alarms(client("cloudwatch"), standing, allow_standing=False)
    assert not strict.passed


def test_an_alarm_in_the_deployment_group_that_does_not_exist_fails_the_check(
    world: World,
) -> None:
    resolved = deployment.resolve(client("codedeploy"), world.deployment_id)
    target = replace(resolved, alarm_names=("deleted-alarm",))
    verdict = environment_alarms(client("cloudwatch"), target)
    assert not verdict.passed
    assert "alarms not found: deleted-alarm" in verdict.reason


def test_a_deployment_group_without_a_test_listener_fails_the_guard(world: World) -> None:
    resolved = deployment.resolve(client("codedeploy"), world.deployment_id)
    target = replace(resolved, test_listener_arns=())
    verdict = traffic_guard(
        target, moto_dependencies(FixedAddresses(port=1)), Deadline.after(10, VirtualClock())
    )
    assert not verdict.passed
    assert "no test listener" in verdict.reason


def test_a_target_poll_cancelled_while_waiting_polls_no_more(world: World) -> None:
    # GIVEN an empty green target group (worth waiting for) and a deadline cancelled in the wait
    client("elbv2").deregister_targets(
        TargetGroupArn=world.green_arn, Targets=[{"Id": "10.0.1.10", "Port": 8080}]
    )
    clock = VirtualClock()
    deadline = Deadline.after(60, clock)
    clock.on_sleep = lambda _: deadline.cancel()
    elbv2 = Recording("elbv2")
    settings = replace(FAST_SETTINGS, target_settle_seconds=60.0)
    # WHEN / THEN the poll stops after its first look
    with pytest.raises(CheckCancelledError):
        wait_for_targets(
            elbv2,  # type: ignore[arg-type]
            world.green_arn,
            settings=settings,
            deadline=deadline,
        )
    assert elbv2.calls == ["describe_target_health"]


def test_a_bake_cancelled_while_waiting_reads_no_more(world: World) -> None:
    # GIVEN a bake whose deadline is cancelled during its first wait
    target = deployment.resolve(client("codedeploy"), world.deployment_id)
    clock = VirtualClock()
    deadline = Deadline.after(60, clock)
    clock.on_sleep = lambda _: deadline.cancel()
    cloudwatch, elbv2 = Recording("cloudwatch"), Recording("elbv2")
    deps = replace(
        moto_dependencies(FixedAddresses(port=1)),
        cloudwatch=cloudwatch,  # type: ignore[arg-type]
        elbv2=elbv2,  # type: ignore[arg-type]
        settings=replace(FAST_SETTINGS, watch_seconds=60.0, watch_interval_seconds=10.0),
    )
    # WHEN / THEN it stops without reading anything
    with pytest.raises(CheckCancelledError):
        bake(
            target,
            deps,
            green=world.green_arn,
            load_balancer_arn=world.load_balancer_arn,
            deadline=deadline,
        )
    assert cloudwatch.calls == []
    assert elbv2.calls == []
