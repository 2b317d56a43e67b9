"""The deadline and its cancellation: waits end at once, AWS calls stop being sent."""

from __future__ import annotations

import threading

import pytest
from codedeploy_hooks.clients import AwsClients
from codedeploy_hooks.deadline import Deadline, SystemClock, governing
from codedeploy_hooks.errors import CheckCancelledError

from tests.unit.hooks.fakes import CONFIG_PARAMETER, VirtualClock, World


def test_a_wait_in_progress_ends_when_the_deadline_is_cancelled() -> None:
    # GIVEN a thread waiting up to a minute on a deadline
    deadline = Deadline.after(60, SystemClock())
    raised: list[BaseException] = []

    def waiter() -> None:
        try:
            deadline.wait(60)
        except CheckCancelledError as error:
            raised.append(error)

    thread = threading.Thread(target=waiter, daemon=True)
    thread.start()
    # WHEN the deadline is cancelled
    deadline.cancel()
    # THEN the wait ends (bounded join, no timing assertion) with a cancellation
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert [type(error) for error in raised] == [CheckCancelledError]


def test_derived_deadlines_share_the_cancellation() -> None:
    deadline = Deadline.after(60, SystemClock())
    derived = [deadline.earlier(1), deadline.within(5)]
    deadline.cancel()
    assert all(d.cancelled and d.expired and d.remaining() == 0 for d in derived)


def test_an_uncancelled_wait_sleeps_its_time_on_the_deadlines_clock() -> None:
    # GIVEN a deadline a minute away on a virtual clock
    clock = VirtualClock()
    deadline = Deadline.after(60, clock)
    # WHEN the check waits 2 s
    deadline.wait(2)
    # THEN 2 s passed on that clock, and nothing was raised
    assert clock.monotonic() == 2
    assert deadline.remaining() == 58


def test_a_wait_ends_at_the_deadline_when_that_comes_first() -> None:
    clock = VirtualClock()
    deadline = Deadline.after(3, clock)
    deadline.wait(60)
    assert clock.monotonic() == 3
    assert deadline.expired


def test_a_wait_cancelled_while_it_sleeps_raises_before_sleeping_again() -> None:
    # GIVEN a deadline that is cancelled while its wait sleeps
    clock = VirtualClock()
    deadline = Deadline.after(60, clock)
    clock.on_sleep = lambda _: deadline.cancel()
    # WHEN / THEN the wait stops with a cancellation after that one sleep
    with pytest.raises(CheckCancelledError):
        deadline.wait(30)
    assert len(clock.slept) == 1


@pytest.mark.parametrize("state", ["cancelled", "expired"])
def test_no_aws_call_is_sent_for_a_check_past_its_deadline(world: World, state: str) -> None:
    # GIVEN the hooks' own SSM client (moto behind it) and a check's deadline that is over
    ssm = AwsClients().ssm
    clock = SystemClock()
    deadline = Deadline.after(-1, clock) if state == "expired" else Deadline.after(60, clock)
    if state == "cancelled":
        deadline.cancel()
    # WHEN the check's thread calls AWS / THEN the call is refused before it is sent
    with governing(deadline), pytest.raises(CheckCancelledError):
        ssm.get_parameter(Name=CONFIG_PARAMETER)
    # AND the same client still serves a thread without such a deadline (the status report)
    assert ssm.get_parameter(Name=CONFIG_PARAMETER)["Parameter"]["Name"] == CONFIG_PARAMETER
