"""The smoke test's parts: which paths, what their answers mean, and the retry loop."""

from __future__ import annotations

import pytest
from codedeploy_hooks.checks.http_probe import ProbeResult, probe
from codedeploy_hooks.checks.network import Endpoint
from codedeploy_hooks.checks.smoke_test import (
    PathResult,
    backoff_seconds,
    probe_path,
    smoke_paths,
    smoke_verdict,
)
from codedeploy_hooks.deadline import Deadline
from codedeploy_hooks.errors import CheckCancelledError
from hypothesis import given
from hypothesis import strategies as st

from tests.unit.hooks.fakes import FAST_SETTINGS, GreenTasks, VirtualClock

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


@given(st.integers(min_value=0, max_value=64))
def test_backoff_doubles_and_never_exceeds_its_cap(attempt: int) -> None:
    delay = backoff_seconds(attempt, base=0.5, cap=8.0)
    assert delay == min(8.0, 0.5 * 2**attempt)
    assert delay <= 8.0


def test_a_smoke_retry_loop_cancelled_while_waiting_sends_no_further_request(
    green_tasks: GreenTasks,
) -> None:
    # GIVEN failing green tasks, and a deadline cancelled during the first backoff
    green_tasks.mode = "failing"
    clock = VirtualClock()
    deadline = Deadline.after(60, clock)
    clock.on_sleep = lambda _: deadline.cancel()
    endpoint = Endpoint("127.0.0.1", green_tasks.port, "alb.example")
    # WHEN / THEN the retry loop stops at once, after the one request
    with pytest.raises(CheckCancelledError):
        probe_path("/health", [endpoint], settings=FAST_SETTINGS, deadline=deadline, probe=probe)
    assert len(green_tasks.requests) == 1
