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


# ---------------------------------------------------------------- on-failure destinations
# AWS: "When an event fails all processing attempts or stays in the asynchronous invocation queue
# for too long, Lambda" sends an invocation record to the on-failure destination
# (https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html).
RESPONDER = "release-responder-dev"
ALARM_EVENT = {"source": "aws.cloudwatch", "detail": {"alarmName": "x", "state": {"value": "OK"}}}


def _destination_records(rehearsal, world):  # type: ignore[no-untyped-def]
    sent: list[tuple[str, dict]] = []  # type: ignore[type-arg]
    invoke = rehearsal.lambdas.invoke_async

    def spy(function_name, event, *, caller):  # type: ignore[no-untyped-def]
        sent.append((function_name, event))
        invoke(function_name, event, caller=caller)

    rehearsal.lambdas.invoke_async = spy
    rehearsal.lambdas.invoke_async(RESPONDER, ALARM_EVENT, caller="test")
    advance(world, 900)
    return [(name, event) for name, event in sent if "requestPayload" in event]


def test_the_responders_destination_is_the_health_check_function_from_the_template() -> None:
    with model() as (_, world):
        responder = world.system.functions[RESPONDER]
        assert responder.on_failure is not None
        destination = world.system.function_by_arn_or_name(responder.on_failure)
        assert destination.handler == "health_check.handler.lambda_handler"


def test_an_event_whose_retries_failed_goes_to_the_destination_with_its_payload() -> None:
    crashes = [{"kind": "crash", "function": "release-responder", "count": 5}]
    with model(faults=crashes) as (rehearsal, world):
        [(name, record)] = _destination_records(rehearsal, world)
        assert name == world.system.functions[RESPONDER].on_failure
        assert record["requestPayload"] == ALARM_EVENT
        assert record["requestContext"]["condition"] == "RetriesExhausted"
        assert RESPONDER in record["requestContext"]["functionArn"]


def test_an_event_that_waited_too_long_goes_to_the_destination() -> None:
    throttled = [{"kind": "throttle", "function": "release-responder", "until": 600}]
    with model(faults=throttled) as (rehearsal, world):
        [(_, record)] = _destination_records(rehearsal, world)
        assert record["requestContext"]["condition"] == "EventAgeExceeded"


def test_an_event_handled_goes_nowhere_else() -> None:
    with model() as (rehearsal, world):
        assert _destination_records(rehearsal, world) == []
