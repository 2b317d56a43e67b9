"""EventBridge as modelled: event-pattern matching and delivery to the functions whose rules match.

AWS: event patterns (value lists, nested fields, prefix matching)
(https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns.html),
alarm state change events (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch-and-eventbridge.html),
CodeDeploy deployment state-change events (https://docs.aws.amazon.com/codedeploy/latest/userguide/monitoring-cloudwatch-events.html).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Any, cast

import pytest

from tests.rehearsal.conftest import scenario
from tools.rehearsal.eventbridge import EventBus, matches
from tools.rehearsal.lambdas import LambdaService
from tools.rehearsal.run import base_assumptions
from tools.rehearsal.scenario import RunScenario
from tools.rehearsal.system import FunctionSpec, System, load_system
from tools.rehearsal.world import World

RESPONDER = "ReleaseResponderFunction"


@cache
def _system() -> System:
    return load_system()


def _function(logical_id: str) -> FunctionSpec:
    return next(f for f in _system().functions.values() if f.logical_id == logical_id)


def _alarm_event(alarm_name: str, state: str, source: str = "aws.cloudwatch") -> dict[str, Any]:
    """An alarm state change event as CloudWatch sends it (cloudwatch-and-eventbridge.html)."""
    return {
        "version": "0",
        "id": "c4c1c1c9-6542-e61b-6ef0-8c4d36933a92",
        "detail-type": "CloudWatch Alarm State Change",
        "source": source,
        "account": "123456789012",
        "time": "2026-01-01T00:05:00Z",
        "region": "eu-west-1",
        "resources": [f"arn:aws:cloudwatch:eu-west-1:123456789012:alarm:{alarm_name}"],
        "detail": {
            "alarmName": alarm_name,
            "state": {
                "value": state,
                "reason": "Threshold Crossed: 1 out of the last 1 datapoints",
                "timestamp": "2026-01-01T00:05:00.000+0000",
            },
            "previousState": {"value": "OK", "reason": "", "timestamp": ""},
            "configuration": {"metrics": []},
        },
    }


def _deployment_event(application: str, state: str) -> dict[str, Any]:
    """A deployment state-change event as CodeDeploy sends it
    (monitoring-cloudwatch-events.html)."""
    return {
        "version": "0",
        "id": "1b1b2b3e-3ec0-5e2c-f3a3-2b2c3c1b5e0e",
        "detail-type": "CodeDeploy Deployment State-change Notification",
        "source": "aws.codedeploy",
        "account": "123456789012",
        "time": "2026-01-01T00:10:00Z",
        "region": "eu-west-1",
        "resources": [
            f"arn:aws:codedeploy:eu-west-1:123456789012:application:{application}",
            f"arn:aws:codedeploy:eu-west-1:123456789012:deploymentgroup:{application}/g",
        ],
        "detail": {
            "region": "eu-west-1",
            "deploymentId": "d-ABCDEF123",
            "instanceGroupId": "0e6a2e2c-7e8f-4c4c-9b55-2d1f2c0e3b1a",
            "deploymentGroup": "production-api-service",
            "state": state,
            "application": application,
        },
    }


# ---------------------------------------------------------------- matching, pattern by pattern
def test_exact_value_matches_only_that_value() -> None:
    # Given a pattern on one field's exact value
    pattern = {"source": "aws.codedeploy"}
    # Then the same value matches, any other value or a missing field does not
    assert matches(pattern, {"source": "aws.codedeploy", "other": 1})
    assert not matches(pattern, {"source": "aws.cloudwatch"})
    assert not matches(pattern, {"detail-type": "x"})


def test_a_list_of_values_matches_any_one_of_them() -> None:
    # Given a list of allowed values (eb-event-patterns.html: a match on any value in the array)
    pattern = {"detail": {"state": ["FAILURE", "STOP"]}}
    # Then each listed value matches and an unlisted one does not
    assert matches(pattern, {"detail": {"state": "FAILURE"}})
    assert matches(pattern, {"detail": {"state": "STOP"}})
    assert not matches(pattern, {"detail": {"state": "SUCCESS"}})


def test_nested_fields_must_all_match_at_their_depth() -> None:
    # Given a pattern two levels deep with two fields
    pattern = {"detail": {"alarmName": ["a"], "state": {"value": ["ALARM"]}}}
    # Then the event matches only when every nested field matches
    assert matches(pattern, {"detail": {"alarmName": "a", "state": {"value": "ALARM", "x": 1}}})
    assert not matches(pattern, {"detail": {"alarmName": "a", "state": {"value": "OK"}}})
    assert not matches(pattern, {"detail": {"alarmName": "b", "state": {"value": "ALARM"}}})
    # And a field that is a value where the pattern expects an object, or is absent, does not
    assert not matches(pattern, {"detail": {"alarmName": "a", "state": "ALARM"}})
    assert not matches(pattern, {"detail": {"alarmName": "a"}})


def test_prefix_matches_strings_that_start_with_it() -> None:
    # Given a prefix pattern (eb-event-patterns.html: prefix matching)
    pattern = {"detail": {"alarmName": [{"prefix": "dev-"}]}}
    # Then names starting with it match; others, and non-strings, do not
    assert matches(pattern, {"detail": {"alarmName": "dev-staging-api-service-5xx-rate"}})
    assert not matches(pattern, {"detail": {"alarmName": "prod-staging-api-service-5xx-rate"}})
    assert not matches(pattern, {"detail": {"alarmName": "xdev-a"}})
    assert not matches(pattern, {"detail": {"alarmName": 7}})


# ---------------------------------------------------------------- the template's rules
def test_the_responders_rule_matches_an_alarm_of_this_stack_going_into_alarm() -> None:
    # Given the release responder's rules from the templates
    patterns = _function(RESPONDER).event_patterns
    alarm = _system().all_alarms()[0].name
    # When one of the stack's alarms goes into ALARM
    event = _alarm_event(alarm, "ALARM")
    # Then a rule matches it
    assert any(matches(p, event) for p in patterns)


@pytest.mark.parametrize(
    "event",
    [
        pytest.param(_alarm_event("dev-staging-api-service-5xx-rate", "OK"), id="back-to-ok"),
        pytest.param(
            _alarm_event("dev-staging-api-service-5xx-rate", "INSUFFICIENT_DATA"),
            id="insufficient-data",
        ),
        pytest.param(_alarm_event("other-stack-5xx-rate", "ALARM"), id="another-stacks-alarm"),
        pytest.param(
            _alarm_event("dev-staging-api-service-5xx-rate", "ALARM", source="custom.app"),
            id="not-from-cloudwatch",
        ),
    ],
)
def test_the_responders_rule_ignores_other_alarm_events(event: dict[str, Any]) -> None:
    # Given the release responder's rules from the templates
    patterns = _function(RESPONDER).event_patterns
    # Then an alarm event of another state, stack or source matches none of them
    assert not any(matches(p, event) for p in patterns)


@pytest.mark.parametrize("state", ["FAILURE", "STOP"])
def test_the_responders_rule_matches_a_failed_or_stopped_deployment_of_this_application(
    state: str,
) -> None:
    # Given the release responder's rules and this stack's CodeDeploy application
    patterns = _function(RESPONDER).event_patterns
    # When a deployment of the application fails or is stopped
    event = _deployment_event(_system().application, state)
    # Then a rule matches it
    assert any(matches(p, event) for p in patterns)


@pytest.mark.parametrize("state", ["START", "SUCCESS"])
def test_the_responders_rule_takes_starts_and_successes_to_hold_and_resume_scaling(
    state: str,
) -> None:
    # Given the release responder's rules from the templates
    patterns = _function(RESPONDER).event_patterns
    # Then a starting or successful deployment of this copy reaches it (scaling.py)
    assert any(matches(p, _deployment_event("microservices-dev", state)) for p in patterns)


@pytest.mark.parametrize("state", ["START", "SUCCESS", "FAILURE", "STOP"])
def test_the_responders_rule_ignores_other_applications_deployments(state: str) -> None:
    # Given the release responder's rules from the templates
    patterns = _function(RESPONDER).event_patterns
    assert _system().application == "microservices-dev"
    # Then another application's deployment events match none
    event = _deployment_event("other-app", state)
    assert not any(matches(p, event) for p in patterns)


# ---------------------------------------------------------------- delivery
@dataclass
class FakeLambdas:
    world: World
    invoked: list[tuple[float, str, str]] = field(default_factory=list)

    def invoke_async(self, function_name: str, event: dict[str, Any], *, caller: str) -> None:
        self.invoked.append((self.world.now, function_name, event["detail"].get("state")))


def _bus() -> tuple[World, EventBus, FakeLambdas]:
    world = World(
        system=_system(),
        scenario=RunScenario(scenario()),
        assumptions=dict(base_assumptions()),
    )
    lambdas = FakeLambdas(world)
    return world, EventBus(world, cast(LambdaService, lambdas)), lambdas


def test_a_matching_event_is_delivered_to_the_rules_function_after_the_delivery_delay() -> None:
    # Given the bus and the responder's function from the templates
    world, bus, lambdas = _bus()
    delay = float(world.assumptions["eventbridge_delivery_seconds"])
    responder = _function(RESPONDER).name
    # When CodeDeploy publishes a failed deployment at 0
    bus.publish(
        "aws.codedeploy",
        "CodeDeploy Deployment State-change Notification",
        {"application": world.system.application, "deploymentGroup": "g", "state": "FAILURE"},
    )
    # Then only the responder is invoked, once, after the delivery delay
    world.env.run(until=delay - 0.001)
    assert lambdas.invoked == []
    world.env.run(until=delay + 0.001)
    assert lambdas.invoked == [(delay, responder, "FAILURE")]


def test_a_non_matching_event_is_delivered_to_nobody() -> None:
    # Given the bus
    world, bus, lambdas = _bus()
    # When CloudWatch publishes an alarm going back to OK, and CodeDeploy another application's
    # successful deployment
    bus.publish(
        "aws.cloudwatch",
        "CloudWatch Alarm State Change",
        {"alarmName": _system().all_alarms()[0].name, "state": {"value": "OK", "reason": ""}},
    )
    bus.publish(
        "aws.codedeploy",
        "CodeDeploy Deployment State-change Notification",
        {"application": "other-app", "state": "SUCCESS"},
    )
    # Then no function is invoked
    world.env.run(until=3600)
    assert lambdas.invoked == []
