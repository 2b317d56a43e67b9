"""The BeforeAllowTraffic / AfterAllowTraffic hook against moto's load balancer and alarms."""

from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import replace
from typing import Any

import pytest
from botocore.stub import Stubber
from codedeploy_hooks.clients import default_clients
from codedeploy_hooks.handlers import traffic_guard

from tests.support import load_event
from tests.unit.hooks.fakes import (
    ALARM_PREFIX,
    APPLICATION,
    FAST_SETTINGS,
    GROUP,
    RESTORE_PARAMETER,
    FakeContext,
    FixedAddresses,
    RecordingStatusClient,
    VirtualClock,
    World,
    budget_ms,
    client,
    invoke,
    put_alarm,
    set_alarm,
    shift_production_to_green,
)

ALARM_5XX = f"{ALARM_PREFIX}5xx"


def _invoke(world: World, **options: Any) -> tuple[dict[str, str], RecordingStatusClient]:
    return invoke(traffic_guard.handle, world, FixedAddresses(port=1), **options)


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


def _bake(world: World, **options: Any) -> tuple[dict[str, str], RecordingStatusClient]:
    """AfterAllowTraffic with a short bake: production already moved to green."""
    shift_production_to_green(world)
    settings = replace(FAST_SETTINGS, watch_seconds=0.05, watch_interval_seconds=0.01)
    return _invoke(world, **{"settings": settings, **options})


def _new_deployment(description: str = "") -> str:
    """Another deployment of the world's group, created now (after any alarm set before it)."""
    deployment_id: str = client("codedeploy").create_deployment(
        applicationName=APPLICATION,
        deploymentGroupName=GROUP,
        revision={"revisionType": "AppSpecContent", "appSpecContent": {"content": "{}"}},
        description=description,
    )["deploymentId"]
    return deployment_id


def test_before_allow_traffic_is_not_blocked_by_an_alarm_of_the_release_it_replaces(
    world: World,
) -> None:
    # GIVEN the service's 5XX alarm in ALARM while production still runs blue
    set_alarm(ALARM_5XX, "ALARM")
    # WHEN the guard runs before traffic moves
    response, status = _invoke(world)
    # THEN green (healthy) is judged by its own signals, not by blue's alarm
    assert status.statuses == ["Succeeded"]
    assert response["reason"].startswith("BeforeAllowTraffic:")


def test_the_bake_fails_when_an_alarm_of_the_environment_is_in_alarm(world: World) -> None:
    set_alarm(ALARM_5XX, "ALARM")
    response, status = _bake(world)
    assert status.statuses == ["Failed"]
    assert ALARM_5XX in response["reason"]


def test_insufficient_data_does_not_fail_the_bake(world: World) -> None:
    # GIVEN a freshly shifted target group whose alarm has no datapoints yet
    set_alarm(ALARM_5XX, "INSUFFICIENT_DATA")
    # WHEN / THEN
    _, status = _bake(world)
    assert status.statuses == ["Succeeded"]


def test_the_bake_fails_on_another_services_alarm_in_the_same_environment(world: World) -> None:
    # GIVEN auth-service's alarm in staging fires while api-service's release bakes: the bake is
    # the environment's (two releases can be fine alone and broken together)
    put_alarm("dev-staging-auth-service-5xx", "ALARM")
    response, status = _bake(world)
    assert status.statuses == ["Failed"]
    assert "dev-staging-auth-service-5xx" in response["reason"]


def test_an_alarm_in_alarm_since_before_the_deployment_must_clear_by_the_end_of_the_bake(
    world: World,
) -> None:
    # GIVEN an alarm of the environment in ALARM before the deployment was created (on a new
    # stack: the bootstrap that could not be pulled), and a release that does not clear it
    put_alarm(f"{ALARM_PREFIX}synthetic-flow", "ALARM")
    # moto stamps both with the wall clock, to the millisecond: made within the same one, the
    # alarm would not be older than the deployment
    time.sleep(0.005)
    later = _new_deployment()
    # WHEN its bake runs to the end
    response, status = _bake(replace(world, deployment_id=later))
    # THEN the checks along the way let it be, and the end of the bake fails on it: blue is still
    # there to take the traffic back
    assert status.statuses == ["Failed"]
    assert "at the end of the bake, still: alarms in ALARM: " in response["reason"]
    assert f"{ALARM_PREFIX}synthetic-flow" in response["reason"]


def test_an_alarm_of_the_other_environment_does_not_fail_the_bake(world: World) -> None:
    put_alarm("dev-production-api-service-5xx", "ALARM")
    _, status = _bake(world)
    assert status.statuses == ["Succeeded"]


def test_no_alarms_in_the_environment_fails_the_bake(world: World) -> None:
    client("cloudwatch").delete_alarms(AlarmNames=[ALARM_5XX, f"{ALARM_PREFIX}latency"])
    response, status = _bake(world)
    assert status.statuses == ["Failed"]
    assert "no alarms" in response["reason"]


def _record_restore(deployment_id: str) -> None:
    """What the health check writes once CodeDeploy created its restore (docs/contracts.md)."""
    record = {
        "requested_at": 1_800_000_000.0,
        "task_definition": "arn:aws:ecs:us-east-1:123456789012:task-definition/api-service:7",
        "deployment_id": deployment_id,
    }
    client("ssm").put_parameter(Name=RESTORE_PARAMETER, Type="String", Value=json.dumps(record))


def test_a_restore_bakes_on_greens_signals_while_the_environments_alarms_are_in_alarm(
    world: World,
) -> None:
    # GIVEN the bad release's alarm still in ALARM and a restore of the known-good one, recorded
    # by the health check that created it
    set_alarm(ALARM_5XX, "ALARM")
    restore_id = _new_deployment()
    _record_restore(restore_id)
    # WHEN its bake runs
    response, status = _bake(replace(world, deployment_id=restore_id))
    # THEN green's healthy targets and quiet 5XX rate let it through
    assert status.statuses == ["Succeeded"]
    assert "a restore" in response["reason"]


def test_a_deployment_only_described_as_a_restore_is_judged_by_the_environments_alarms(
    world: World,
) -> None:
    # GIVEN an alarm in ALARM and a deployment whose description claims to be a restore, which
    # anyone allowed to call CreateDeployment can write (no record names it)
    set_alarm(ALARM_5XX, "ALARM")
    forged = _new_deployment("Restore of the last known-good release of staging api-service")
    # WHEN its bake runs
    response, status = _bake(replace(world, deployment_id=forged))
    # THEN the alarm fails it as any release
    assert status.statuses == ["Failed"]
    assert ALARM_5XX in response["reason"]


def test_the_bake_fails_when_greens_own_5xx_rate_is_over_the_limit(world: World) -> None:
    # GIVEN green served 100 requests in the last minute, 30 of them with a 5XX
    clock = VirtualClock()
    minute = dt.datetime.fromtimestamp(clock.time() - 30, tz=dt.UTC)
    dimensions = [
        {"Name": "LoadBalancer", "Value": world.load_balancer_arn.split(":loadbalancer/")[1]},
        {
            "Name": "TargetGroup",
            "Value": "targetgroup/" + world.green_arn.split(":targetgroup/")[1],
        },
    ]
    client("cloudwatch").put_metric_data(
        Namespace="AWS/ApplicationELB",
        MetricData=[
            {"MetricName": name, "Dimensions": dimensions, "Timestamp": minute, "Value": value}
            for name, value in (("RequestCount", 100.0), ("HTTPCode_Target_5XX_Count", 30.0))
        ],
    )
    # WHEN the bake runs
    response, status = _bake(world, clock=clock)
    # THEN green's own errors fail it, whatever the alarms say
    assert status.statuses == ["Failed"]
    assert "30.0 % of 100 requests" in response["reason"]


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


def test_the_bake_fails_when_an_alarm_fires_during_it(world: World) -> None:
    # GIVEN production on green and an alarm that fires after the first check
    shift_production_to_green(world)
    settings = replace(FAST_SETTINGS, watch_seconds=5.0, watch_interval_seconds=0.01)

    def fire_alarm(_: float) -> None:
        set_alarm(ALARM_5XX, "ALARM")

    # WHEN the guard bakes (the first wait of the bake flips the alarm)
    response, status = _invoke(world, settings=settings, clock=VirtualClock(on_sleep=fire_alarm))
    # THEN the bake caught it
    assert status.statuses == ["Failed"]
    assert "during the bake" in response["reason"]


def test_the_bake_passes_when_green_and_the_environment_stay_healthy(world: World) -> None:
    response, status = _bake(world)
    assert status.statuses == ["Succeeded"]
    assert "stayed healthy" in response["reason"]


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
        stubber.add_client_error("get_metric_data", code)
        response, status = _bake(world, cloudwatch=cloudwatch)
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
