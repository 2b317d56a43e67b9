"""The BeforeAllowTraffic / AfterAllowTraffic hook against moto's load balancer and alarms."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from botocore.stub import Stubber
from codedeploy_hooks.clients import default_clients
from codedeploy_hooks.deadline import Clock, SystemClock
from codedeploy_hooks.handlers import traffic_guard

from tests.support import load_event
from tests.unit.hooks.fakes import (
    ALARM_PREFIX,
    FAST_SETTINGS,
    FakeContext,
    FixedAddresses,
    RecordingStatusClient,
    VirtualClock,
    World,
    budget_ms,
    client,
    moto_dependencies,
    runtime,
    set_alarm,
    shift_production_to_green,
)

ALARM_5XX = f"{ALARM_PREFIX}5xx"


def _invoke(
    world: World,
    context: FakeContext | None = None,
    clock: Clock | None = None,
    **overrides: Any,
) -> Any:
    status = RecordingStatusClient()
    deps = moto_dependencies(FixedAddresses(port=1), **overrides)
    response = traffic_guard.handle(
        world.event(),
        context or FakeContext(),  # type: ignore[arg-type]
        runtime(status, deps, clock or SystemClock()),
    )
    return response, status


def test_before_allow_traffic_passes_with_quiet_alarms_and_healthy_green_targets(
    world: World,
) -> None:
    # GIVEN production still on blue, the test listener on green, alarms OK, green targets healthy
    # WHEN the guard runs
    response, status = _invoke(world)
    # THEN it recognised BeforeAllowTraffic and reported Succeeded once
    assert status.statuses == ["Succeeded"]
    assert response["reason"].startswith("BeforeAllowTraffic:")


def test_after_allow_traffic_checks_the_production_listeners_target_group(world: World) -> None:
    # GIVEN AllowTraffic moved production to green
    shift_production_to_green(world)
    # WHEN the guard runs
    response, status = _invoke(world)
    # THEN it recognised AfterAllowTraffic
    assert status.statuses == ["Succeeded"]
    assert response["reason"].startswith("AfterAllowTraffic:")


def test_an_alarm_in_alarm_fails_the_guard(world: World) -> None:
    set_alarm(ALARM_5XX, "ALARM")
    response, status = _invoke(world)
    assert status.statuses == ["Failed"]
    assert ALARM_5XX in response["reason"]


def test_insufficient_data_does_not_fail_the_guard(world: World) -> None:
    # GIVEN a new task set whose alarm has no datapoints yet
    set_alarm(ALARM_5XX, "INSUFFICIENT_DATA")
    # WHEN / THEN
    _, status = _invoke(world)
    assert status.statuses == ["Succeeded"]


def test_an_alarm_of_another_service_does_not_fail_the_guard(world: World) -> None:
    # GIVEN auth-service's alarm is firing
    cloudwatch = client("cloudwatch")
    cloudwatch.put_metric_alarm(
        AlarmName="dev-staging-auth-service-5xx",
        MetricName="5xx",
        Namespace="AWS/ApplicationELB",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanThreshold",
    )
    set_alarm("dev-staging-auth-service-5xx", "ALARM")
    # WHEN api-service's guard runs / THEN it only looks at api-service's alarms
    _, status = _invoke(world)
    assert status.statuses == ["Succeeded"]


def test_no_alarms_for_the_service_fails_the_guard(world: World) -> None:
    client("cloudwatch").delete_alarms(AlarmNames=[ALARM_5XX, f"{ALARM_PREFIX}latency"])
    response, status = _invoke(world)
    assert status.statuses == ["Failed"]
    assert "no alarms" in response["reason"]


class _ReportedTargetHealth:
    """moto's load balancer, except for target health: moto reports every target healthy."""

    def __init__(self, *answers: list[dict[str, Any]]) -> None:
        self._elbv2 = client("elbv2")
        self._answers = list(answers)
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._elbv2, name)

    def describe_target_health(self, **_: Any) -> dict[str, Any]:
        answer = self._answers[min(self.calls, len(self._answers) - 1)]
        self.calls += 1
        return {"TargetHealthDescriptions": answer}


def _target(address: str, state: str, reason: str | None = None) -> dict[str, Any]:
    health = {"State": state} | ({"Reason": reason} if reason else {})
    return {"Target": {"Id": address, "Port": 8080}, "TargetHealth": health}


def test_an_unhealthy_green_target_fails_the_guard(world: World) -> None:
    # GIVEN one healthy and one unhealthy green target
    elbv2 = _ReportedTargetHealth(
        [_target("10.0.1.10", "healthy"), _target("10.0.1.11", "unhealthy", "Target.Timeout")]
    )
    # WHEN the guard runs
    response, status = _invoke(world, elbv2=elbv2)
    # THEN it failed at once, naming the target
    assert status.statuses == ["Failed"]
    assert "10.0.1.11:8080 unhealthy (Target.Timeout)" in response["reason"]
    assert elbv2.calls == 1


def test_green_targets_in_initial_are_polled_until_healthy(world: World) -> None:
    # GIVEN a target still registering on the first look and healthy on the second
    elbv2 = _ReportedTargetHealth(
        [_target("10.0.1.10", "initial", "Elb.RegistrationInProgress")],
        [_target("10.0.1.10", "healthy")],
    )
    # WHEN the guard runs
    _, status = _invoke(world, elbv2=elbv2, clock=VirtualClock())
    # THEN it waited for the target instead of failing
    assert status.statuses == ["Succeeded"]
    assert elbv2.calls == 2


def test_an_empty_green_target_group_is_waited_for_then_failed(world: World) -> None:
    # GIVEN the green group has no registered targets
    client("elbv2").deregister_targets(
        TargetGroupArn=world.green_arn, Targets=[{"Id": "10.0.1.10", "Port": 8080}]
    )
    # WHEN the guard runs with a short settle time
    response, status = _invoke(world, clock=VirtualClock())
    # THEN it reports Failed, naming the target group
    assert status.statuses == ["Failed"]
    assert world.green_arn in response["reason"]


def test_a_listener_forwarding_outside_the_pair_fails_the_guard(world: World) -> None:
    # GIVEN the test listener was pointed at a stray target group
    elbv2 = client("elbv2")
    stray = elbv2.create_target_group(
        Name="stray", Protocol="HTTP", Port=8080, VpcId=_vpc_of(world), TargetType="ip"
    )["TargetGroups"][0]["TargetGroupArn"]
    elbv2.modify_listener(
        ListenerArn=world.test_listener_arn,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": stray}],
    )
    # WHEN / THEN
    response, status = _invoke(world)
    assert status.statuses == ["Failed"]
    assert "outside the deployment group's pair" in response["reason"]


def _vpc_of(world: World) -> str:
    groups = client("elbv2").describe_target_groups(TargetGroupArns=[world.green_arn])
    vpc: str = groups["TargetGroups"][0]["VpcId"]
    return vpc


def test_after_allow_traffic_watch_fails_when_an_alarm_fires_during_the_watch(
    world: World,
) -> None:
    # GIVEN production on green and an alarm that fires after the first check
    shift_production_to_green(world)
    settings = replace(FAST_SETTINGS, watch_seconds=5.0, watch_interval_seconds=0.01)

    def fire_alarm(_: float) -> None:
        set_alarm(ALARM_5XX, "ALARM")

    # WHEN the guard watches (the first sleep of the watch flips the alarm)
    response, status = _invoke(world, settings=settings, clock=VirtualClock(on_sleep=fire_alarm))
    # THEN the watch caught it
    assert status.statuses == ["Failed"]
    assert "while watching after AllowTraffic" in response["reason"]


def test_after_allow_traffic_watch_passes_when_alarms_stay_quiet(world: World) -> None:
    shift_production_to_green(world)
    settings = replace(FAST_SETTINGS, watch_seconds=0.05, watch_interval_seconds=0.01)
    response, status = _invoke(world, settings=settings)
    assert status.statuses == ["Succeeded"]
    assert "stayed out of ALARM" in response["reason"]


def test_before_allow_traffic_does_not_watch(world: World) -> None:
    settings = replace(FAST_SETTINGS, watch_seconds=60.0)
    clock = VirtualClock()
    _, status = _invoke(world, settings=settings, clock=clock)
    assert status.statuses == ["Succeeded"]
    assert clock.slept == []


def test_a_watch_longer_than_the_budget_ends_in_a_report_before_the_timeout(world: World) -> None:
    # GIVEN a one-hour watch but only 2 s of budget beyond the safety margin
    shift_production_to_green(world)
    settings = replace(FAST_SETTINGS, watch_seconds=3600.0, watch_interval_seconds=0.05)
    # WHEN the guard runs
    _, status = _invoke(world, context=FakeContext(remaining_ms=budget_ms(2.0)), settings=settings)
    # THEN it still reported exactly once, before the function's timeout
    assert len(status.statuses) == 1


@pytest.mark.parametrize("code", ["ThrottlingException", "AccessDeniedException"])
def test_a_cloudwatch_error_reports_failed(world: World, code: str) -> None:
    cloudwatch = client("cloudwatch")
    with Stubber(cloudwatch) as stubber:
        stubber.add_client_error("describe_alarms", code)
        response, status = _invoke(world, cloudwatch=cloudwatch)
    assert status.statuses == ["Failed"]
    assert code in response["reason"]


def test_lambda_handler_reports_through_the_real_status_client(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the deployed handler's own clients (moto for reads, a Stubber for the status call)
    monkeypatch.setenv("WATCH_SECONDS", "0")
    event = load_event("hook_before_allow_traffic.json") | {"DeploymentId": world.deployment_id}
    with Stubber(default_clients().codedeploy_status) as stubber:
        stubber.add_response(
            "put_lifecycle_event_hook_execution_status",
            {"lifecycleEventHookExecutionId": event["LifecycleEventHookExecutionId"]},
            {
                "deploymentId": world.deployment_id,
                "lifecycleEventHookExecutionId": event["LifecycleEventHookExecutionId"],
                "status": "Succeeded",
            },
        )
        # WHEN CodeDeploy invokes the function
        response = traffic_guard.lambda_handler(event, FakeContext())  # type: ignore[arg-type]
        # THEN exactly the one status call was made
        stubber.assert_no_pending_responses()
    assert response["status"] == "Succeeded"


def test_lambda_handler_reports_failed_for_an_invalid_watch_setting(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a misconfigured function
    monkeypatch.setenv("WATCH_SECONDS", "a minute")
    event = load_event("hook_after_allow_traffic.json")
    with Stubber(default_clients().codedeploy_status) as stubber:
        stubber.add_response(
            "put_lifecycle_event_hook_execution_status",
            {"lifecycleEventHookExecutionId": event["LifecycleEventHookExecutionId"]},
            {
                "deploymentId": event["DeploymentId"],
                "lifecycleEventHookExecutionId": event["LifecycleEventHookExecutionId"],
                "status": "Failed",
            },
        )
        # WHEN CodeDeploy invokes it / THEN it still reports (Failed) rather than crashing
        response = traffic_guard.lambda_handler(event, FakeContext())  # type: ignore[arg-type]
        stubber.assert_no_pending_responses()
    assert "WATCH_SECONDS" in response["reason"]
