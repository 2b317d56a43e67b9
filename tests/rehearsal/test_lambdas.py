"""Lambda as modelled: asynchronous invocation, retries, throttling, timeouts.

AWS: https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html (two retries,
one and two minutes apart; throttles retried for up to six hours; MaximumRetryAttempts,
MaximumEventAgeInSeconds); https://docs.aws.amazon.com/lambda/latest/dg/configuration-timeout.html.
"""

from __future__ import annotations

import pytest
import simpy

from tests.rehearsal.conftest import advance, model
from tools.rehearsal.clock import Invocation, LambdaKilled, VirtualClock

HOOK = "CodeDeployHook_SmokeTest-dev"
EVENT = {"DeploymentId": "d-unknown", "LifecycleEventHookExecutionId": "x"}


def _attempt_times(world, function: str) -> list[float]:  # type: ignore[no-untyped-def]
    return [e.at for e in world.events if e.actor == "Lambda" and function in e.text]


def test_failed_async_invocation_is_retried_as_configured_one_then_two_minutes_later() -> None:
    crashes = [{"kind": "crash", "function": "CodeDeployHook_SmokeTest", "count": 5}]
    with model(faults=crashes) as (rehearsal, world):
        start = world.t
        rehearsal.lambdas.invoke_async(HOOK, EVENT, caller="test")
        advance(world, 600)
        times = [round(at - start) for at in _attempt_times(world, HOOK)]
        texts = [e.text for e in world.events if e.actor == "Lambda"]
        # Lambda's schedule (one, then two minutes), cut at the template's MaximumRetryAttempts
        retries = world.system.functions[HOOK].max_retry_attempts
        assert times == [0, 60, 180][: 1 + retries]
        assert "no retries left" in texts[-1]


def test_without_an_event_invoke_config_lambda_retries_twice() -> None:
    crashes = [{"kind": "crash", "function": "synthetic-client", "count": 5}]
    with model(faults=crashes) as (rehearsal, world):
        function = next(f for f in world.system.functions.values() if "synthetic" in f.name)
        assert function.max_retry_attempts == 2  # the template sets none: Lambda's default
        start = world.t
        rehearsal.lambdas.invoke_async(function.name, {}, caller="test")
        advance(world, 600)
        times = [round(at - start) for at in _attempt_times(world, function.name)]
        assert times == [0, 60, 180]


def test_retry_attempts_follow_the_functions_event_invoke_config() -> None:
    with model() as (rehearsal, world):
        function = world.system.functions[HOOK]
        assert rehearsal.world.system.function_by_arn_or_name(HOOK) is function
        assert function.max_retry_attempts in {0, 1, 2}


def test_throttled_event_waits_in_the_queue_until_the_throttle_ends() -> None:
    throttled = [{"kind": "throttle", "function": "CodeDeployHook_SmokeTest", "until": 300}]
    with model(faults=throttled) as (rehearsal, world):
        rehearsal.lambdas.invoke_async(HOOK, EVENT, caller="test")
        advance(world, 450)
        first_run = min(at for at, name in rehearsal.lambdas.invocations if name == HOOK)
        throttle_retry = world.assumptions["lambda_throttle_retry_seconds"]
        assert 300 <= first_run < 300 + throttle_retry


def test_function_past_its_timeout_is_killed_and_makes_no_further_call() -> None:
    env = simpy.Environment()
    clock = VirtualClock(env)
    invocation = Invocation(clock, "slow", timeout=10)
    calls: list[float] = []

    def slow() -> None:
        clock.sleep(5)
        calls.append(clock.now)
        clock.sleep(100)  # past the timeout: killed here
        calls.append(clock.now)

    process = env.process(invocation.process(slow))
    env.run(until=process)
    assert invocation.killed
    assert isinstance(process.value.error, LambdaKilled)
    assert calls == [5.0]
    assert env.now == pytest.approx(10.0)
