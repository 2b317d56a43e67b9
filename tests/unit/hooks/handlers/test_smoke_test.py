"""The AfterAllowTestTraffic hook against moto and a local server standing in for green tasks."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from botocore.exceptions import ReadTimeoutError
from botocore.stub import Stubber
from codedeploy_hooks.clients import default_clients
from codedeploy_hooks.deadline import Clock, SystemClock
from codedeploy_hooks.errors import InvalidHookEvent
from codedeploy_hooks.handlers import smoke_test, traffic_guard
from codedeploy_hooks.observability import logger
from codedeploy_hooks.settings import Settings

from tests.support import load_event
from tests.unit.hooks.fakes import (
    CONFIG_PARAMETER,
    FAST_SETTINGS,
    FakeContext,
    FixedAddresses,
    GreenTasks,
    Recording,
    RecordingStatusClient,
    StuckCodeDeploy,
    VirtualClock,
    World,
    budget_ms,
    client,
    moto_dependencies,
    runtime,
)


def _invoke(
    world: World,
    resolver: Any,
    *,
    context: FakeContext | None = None,
    settings: Settings = FAST_SETTINGS,
    clock: Clock | None = None,
    **overrides: Any,
) -> tuple[dict[str, str], RecordingStatusClient]:
    status = RecordingStatusClient()
    deps = moto_dependencies(resolver, settings, **overrides)
    response = smoke_test.handle(
        world.event(),
        context or FakeContext(),  # type: ignore[arg-type]
        runtime(status, deps, clock or SystemClock()),
    )
    return response, status


def test_healthy_green_tasks_pass_on_health_and_every_smoke_path(
    world: World, green_tasks: GreenTasks
) -> None:
    # GIVEN green tasks answering 200 and a config listing /v1/ping
    resolver = FixedAddresses(green_tasks.port)
    # WHEN the hook runs
    response, status = _invoke(world, resolver)
    # THEN both paths were requested with the ALB's host name, and Succeeded was reported once
    assert status.statuses == ["Succeeded"]
    assert status.calls[0]["deploymentId"] == world.deployment_id
    assert [path for path, _ in green_tasks.requests] == ["/health", "/v1/ping"]
    assert {host for _, host in green_tasks.requests} == {resolver.host_header}
    assert response["status"] == "Succeeded"


def test_smoke_requests_go_through_the_test_listener(world: World, green_tasks: GreenTasks) -> None:
    resolver = FixedAddresses(green_tasks.port)
    _invoke(world, resolver)
    assert [listener.arn for listener in resolver.listeners] == [world.test_listener_arn]
    assert resolver.listeners[0].port == 8080


def test_green_tasks_answering_500_are_retried_then_reported_failed(
    world: World, green_tasks: GreenTasks
) -> None:
    # GIVEN green tasks that answer 500
    green_tasks.mode = "failing"
    clock = VirtualClock()
    # WHEN the hook runs
    response, status = _invoke(world, FixedAddresses(green_tasks.port), clock=clock)
    # THEN /health was tried the configured number of times with growing backoff, then Failed
    assert status.statuses == ["Failed"]
    assert [path for path, _ in green_tasks.requests] == ["/health"] * 3
    assert clock.slept == [0.01, 0.02]
    assert "/health: HTTP 500 after 3 attempt(s)" in response["reason"]


def test_a_failing_smoke_path_fails_the_hook(world: World, green_tasks: GreenTasks) -> None:
    green_tasks.failing_paths = {"/v1/ping"}
    response, status = _invoke(world, FixedAddresses(green_tasks.port), clock=VirtualClock())
    assert status.statuses == ["Failed"]
    assert "/v1/ping: HTTP 500" in response["reason"]


def test_a_transient_failure_recovers_on_retry(world: World, green_tasks: GreenTasks) -> None:
    green_tasks.mode = "flaky"
    _, status = _invoke(world, FixedAddresses(green_tasks.port), clock=VirtualClock())
    assert status.statuses == ["Succeeded"]


def test_green_tasks_slower_than_the_request_timeout_are_reported_failed(
    world: World, green_tasks: GreenTasks
) -> None:
    # GIVEN green tasks that take longer than the per-request timeout
    green_tasks.mode = "slow"
    green_tasks.slow_seconds = 1.0
    settings = Settings(
        smoke_attempts=2, smoke_request_timeout_seconds=0.2, backoff_base_seconds=0.0
    )
    # WHEN the hook runs
    response, status = _invoke(
        world, FixedAddresses(green_tasks.port), settings=settings, clock=VirtualClock()
    )
    # THEN each request timed out and the hook reported Failed
    assert status.statuses == ["Failed"]
    assert "timed out" in response["reason"]


def test_refused_connections_are_reported_failed(world: World, refusing_port: int) -> None:
    response, status = _invoke(world, FixedAddresses(refusing_port), clock=VirtualClock())
    assert status.statuses == ["Failed"]
    assert "ConnectionRefusedError" in response["reason"]


def test_running_short_of_time_reports_failed_before_the_lambda_times_out(
    world: World, green_tasks: GreenTasks
) -> None:
    # GIVEN slow green tasks and a Lambda with 1.5 s left beyond the safety margin
    green_tasks.mode = "slow"
    green_tasks.slow_seconds = 3.0
    settings = Settings(smoke_attempts=5, smoke_request_timeout_seconds=5.0)
    # WHEN the hook runs
    response, status = _invoke(
        world,
        FixedAddresses(green_tasks.port),
        context=FakeContext(remaining_ms=budget_ms(1.5)),
        settings=settings,
    )
    # THEN it gave up inside its budget and reported Failed itself
    assert status.statuses == ["Failed"]
    assert "/health" in response["reason"]


def test_missing_service_configuration_reports_failed(
    world: World, green_tasks: GreenTasks
) -> None:
    client("ssm").delete_parameter(Name=CONFIG_PARAMETER)
    response, status = _invoke(world, FixedAddresses(green_tasks.port))
    assert status.statuses == ["Failed"]
    assert CONFIG_PARAMETER in response["reason"]
    assert green_tasks.requests == []


@pytest.mark.parametrize(
    "value",
    ["not json", json.dumps({"smoke_paths": "/v1/ping"}), json.dumps({"smoke_paths": ["v1"]})],
)
def test_malformed_service_configuration_reports_failed(
    world: World, green_tasks: GreenTasks, value: str
) -> None:
    client("ssm").put_parameter(Name=CONFIG_PARAMETER, Value=value, Overwrite=True)
    _, status = _invoke(world, FixedAddresses(green_tasks.port))
    assert status.statuses == ["Failed"]


def test_an_unknown_deployment_reports_failed_once(world: World, green_tasks: GreenTasks) -> None:
    # GIVEN an event for a deployment CodeDeploy does not know
    status = RecordingStatusClient()
    event = {"DeploymentId": "d-UNKNOWN", "LifecycleEventHookExecutionId": "exec-9"}
    deps = moto_dependencies(FixedAddresses(green_tasks.port))
    # WHEN the hook runs
    response = smoke_test.handle(
        event,
        FakeContext(),  # type: ignore[arg-type]
        runtime(status, deps),
    )
    # THEN Failed goes to the event's own ids
    assert status.calls == [
        {"deploymentId": "d-UNKNOWN", "lifecycleEventHookExecutionId": "exec-9", "status": "Failed"}
    ]
    assert "d-UNKNOWN" in response["reason"]


@pytest.mark.parametrize("code", ["ThrottlingException", "AccessDenied"])
def test_an_elbv2_error_reports_failed(world: World, green_tasks: GreenTasks, code: str) -> None:
    # GIVEN the load balancer API refuses
    elbv2 = client("elbv2")
    with Stubber(elbv2) as stubber:
        stubber.add_client_error("describe_listeners", code)
        # WHEN the hook runs
        response, status = _invoke(world, FixedAddresses(green_tasks.port), elbv2=elbv2)
    # THEN
    assert status.statuses == ["Failed"]
    assert code in response["reason"]


class _TimingOutSsm:
    @property
    def exceptions(self) -> Any:
        return client("ssm").exceptions  # the modeled errors the hook matches against

    def get_parameter(self, **_: Any) -> Any:
        raise ReadTimeoutError(endpoint_url="https://ssm.us-east-1.amazonaws.com")


def test_an_ssm_read_timeout_reports_failed(world: World, green_tasks: GreenTasks) -> None:
    response, status = _invoke(world, FixedAddresses(green_tasks.port), ssm=_TimingOutSsm())
    assert status.statuses == ["Failed"]
    assert "Read timeout" in response["reason"]


def test_an_event_without_ids_reports_nothing(world: World, green_tasks: GreenTasks) -> None:
    status = RecordingStatusClient()
    with pytest.raises(ValueError, match="DeploymentId"):
        smoke_test.handle(
            {"DeploymentId": "d-1"},
            FakeContext(),  # type: ignore[arg-type]
            runtime(status, lambda: moto_dependencies(FixedAddresses(green_tasks.port))),
        )
    assert status.calls == []


def test_the_sample_event_has_the_codedeploy_hook_shape() -> None:
    event = load_event("hook_after_allow_test_traffic.json")
    assert set(event) == {"DeploymentId", "LifecycleEventHookExecutionId"}
    assert event["DeploymentId"].startswith("d-")


class _ListenerSpeaking:
    """moto's load balancer, except for the protocol the test listener reports."""

    def __init__(self, protocol: str) -> None:
        self._elbv2 = client("elbv2")
        self._protocol = protocol

    def __getattr__(self, name: str) -> Any:
        return getattr(self._elbv2, name)

    def describe_listeners(self, **kwargs: Any) -> Any:
        answer = self._elbv2.describe_listeners(**kwargs)
        answer["Listeners"][0]["Protocol"] = self._protocol
        return answer


def test_a_test_listener_not_speaking_http_fails_without_requests(
    world: World, green_tasks: GreenTasks
) -> None:
    response, status = _invoke(
        world, FixedAddresses(green_tasks.port), elbv2=_ListenerSpeaking("HTTPS")
    )
    assert status.statuses == ["Failed"]
    assert "speaks HTTPS" in response["reason"]
    assert green_tasks.requests == []


def test_lambda_handler_raises_for_an_event_without_ids_and_calls_nothing() -> None:
    # GIVEN the deployed handler, with a status client that accepts no call at all
    with Stubber(default_clients().codedeploy_status) as stubber:
        # WHEN it is invoked with an event lacking the execution id / THEN it raises clearly
        with pytest.raises(InvalidHookEvent, match="LifecycleEventHookExecutionId"):
            smoke_test.lambda_handler({"DeploymentId": "d-1"}, FakeContext())  # type: ignore[arg-type]
        stubber.assert_no_pending_responses()


@pytest.mark.parametrize("hook", [smoke_test, traffic_guard], ids=["smoke", "traffic"])
def test_a_check_abandoned_at_the_deadline_stops_without_touching_the_next_invocation(
    world: World, green_tasks: GreenTasks, hook: Any
) -> None:
    # GIVEN a check stuck in its first AWS call past the deadline (1.5 s left beyond the margin)
    release = threading.Event()
    elbv2, ssm = Recording("elbv2"), Recording("ssm")
    deps = moto_dependencies(
        FixedAddresses(green_tasks.port),
        codedeploy=StuckCodeDeploy(release),
        elbv2=elbv2,
        ssm=ssm,
    )
    status = RecordingStatusClient()
    event = {"DeploymentId": world.deployment_id, "LifecycleEventHookExecutionId": "exec-stuck"}
    try:
        # WHEN the hook gives up on it and reports
        response = hook.handle(
            event,
            FakeContext(remaining_ms=budget_ms(1.5)),
            runtime(status, deps),
        )
        (worker,) = [t for t in threading.enumerate() if t.name == "hook-check-exec-stuck"]
        # AND the container's next invocation starts with its own log keys
        logger.clear_state()
        service = logger.get_current_keys()["service"]
        logger.append_keys(environment="production")
    finally:
        # AND the stuck call then returns (Lambda thawed the frozen thread)
        release.set()
    try:
        worker.join(timeout=10)
        # THEN Failed was reported, and the abandoned check ended without another call
        assert status.statuses == ["Failed"]
        assert "time budget exhausted" in response["reason"]
        assert not worker.is_alive()
        assert (elbv2.calls, ssm.calls) == ([], [])
        # AND it left the next invocation's log keys alone
        keys = logger.get_current_keys()
        assert (keys["environment"], keys["service"]) == ("production", service)
    finally:
        logger.clear_state()
