"""The deadline and its cancellation: waits end at once, AWS calls stop being sent."""

from __future__ import annotations

import threading

import pytest
from codedeploy_hooks import aws
from codedeploy_hooks.deadline import Deadline, governing
from codedeploy_hooks.errors import CheckCancelledError

from tests.unit.hooks.fakes import CONFIG_PARAMETER, World


def test_a_wait_in_progress_ends_when_the_deadline_is_cancelled() -> None:
    # GIVEN a thread waiting up to a minute on a deadline
    deadline = Deadline.after(60)
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
    deadline = Deadline.after(60)
    derived = [deadline.earlier(1), deadline.within(5)]
    deadline.cancel()
    assert all(d.cancelled and d.expired and d.remaining() == 0 for d in derived)


def test_an_uncancelled_wait_returns_after_its_time() -> None:
    Deadline.after(60).wait(0)  # nothing raised: not cancelled


@pytest.mark.parametrize("state", ["cancelled", "expired"])
def test_no_aws_call_is_sent_for_a_check_past_its_deadline(world: World, state: str) -> None:
    # GIVEN the hooks' own SSM client (moto behind it) and a check's deadline that is over
    deadline = Deadline.after(-1) if state == "expired" else Deadline.after(60)
    if state == "cancelled":
        deadline.cancel()
    # WHEN the check's thread calls AWS / THEN the call is refused before it is sent
    with governing(deadline), pytest.raises(CheckCancelledError):
        aws.ssm().get_parameter(Name=CONFIG_PARAMETER)
    # AND the same client still serves a thread without such a deadline (the status report)
    assert aws.ssm().get_parameter(Name=CONFIG_PARAMETER)["Parameter"]["Name"] == CONFIG_PARAMETER
