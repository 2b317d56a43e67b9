"""CodeDeploy ECS blue/green as modelled.

AWS: lifecycle events and hooks (https://docs.aws.amazon.com/codedeploy/latest/userguide/reference-appspec-file-structure-hooks.html),
deployment configurations (https://docs.aws.amazon.com/codedeploy/latest/userguide/deployment-configurations.html),
alarm monitoring and rollback (https://docs.aws.amazon.com/codedeploy/latest/userguide/monitoring-create-alarms.html,
https://docs.aws.amazon.com/codedeploy/latest/userguide/deployments-rollback-and-redeploy.html),
CreateDeployment's overrideAlarmConfiguration and one deployment per group
(https://docs.aws.amazon.com/codedeploy/latest/APIReference/API_CreateDeployment.html,
https://docs.aws.amazon.com/codedeploy/latest/userguide/limits.html).
"""

from __future__ import annotations

import pytest

from tests.rehearsal.conftest import advance, model
from tools.rehearsal.codedeploy import DeploymentLimitExceeded
from tools.rehearsal.run import Rehearsal
from tools.rehearsal.world import World


def _deploy(rehearsal: Rehearsal, group: str, release: str = "r1", **kwargs: object):  # type: ignore[no-untyped-def]
    world = rehearsal.world
    spec = world.system.service_environment(group)
    fleet = world.fleet(spec.environment, spec.service)
    task_definition = fleet.register_task_definition(release)
    world.task_definition_releases[task_definition] = release
    return rehearsal.codedeploy.create(group, task_definition, creator="test", **kwargs)  # type: ignore[arg-type]


def _finish(world: World, deployment) -> None:  # type: ignore[no-untyped-def]
    world.env.run(until=deployment.finished)


def test_lifecycle_events_run_in_aws_order_with_their_hooks() -> None:
    with model() as (rehearsal, world):
        deployment = _deploy(rehearsal, "staging-api-service")
        _finish(world, deployment)
        texts = [e.text for e in world.events if deployment.id in e.text or "staging/api" in e.text]
        order = [
            "AfterAllowTestTraffic -> invoke",
            "BeforeAllowTraffic -> invoke",
            "production listener -> r1 100%",
            "AfterAllowTraffic -> invoke",
            "original task set terminates",
            ": Succeeded (",
        ]
        positions = [next(i for i, text in enumerate(texts) if step in text) for step in order]
        assert positions == sorted(positions)
        assert list(deployment.lifecycle) == [
            "BeforeInstall",
            "Install",
            "AfterInstall",
            "AllowTestTraffic",
            "AfterAllowTestTraffic",
            "BeforeAllowTraffic",
            "AllowTraffic",
            "AfterAllowTraffic",
        ]


def test_canary_shifts_ten_percent_then_everything_after_five_minutes() -> None:
    with model() as (rehearsal, world):
        deployment = _deploy(rehearsal, "production-api-service")
        _finish(world, deployment)
        shares = [
            s.shares.get("r1", 0.0)
            for s in world.samples
            if s.environment == "production" and s.service == "api-service"
        ]
        tick = world.assumptions["traffic_tick_seconds"]
        canary_ticks = sum(1 for share in shares if share == pytest.approx(0.1))
        assert canary_ticks * tick == pytest.approx(300, abs=2 * tick)
        assert shares[-1] == 1.0


def test_alarm_in_alarm_stops_the_deployment_and_moves_traffic_back_to_blue() -> None:
    with model() as (rehearsal, world):
        deployment = _deploy(rehearsal, "production-api-service")
        world.env.run(until=world.env.timeout(0))
        while not any(s.shares.get("r1") for s in world.samples[-6:]):
            advance(world, 5)
        world.alarms["dev-production-api-service-5xx-rate"].state = "ALARM"
        _finish(world, deployment)
        assert deployment.status == "Stopped"
        # The traffic moves back in a rollback deployment of its own (test_rollbacks.py).
        _finish(world, rehearsal.codedeploy.deployments[deployment.rollback_id or ""])
        assert deployment.rolled_back
        assert world.fleet("production", "api-service").shares() == {
            world.fleet("production", "api-service").spec.blue.arn: 1.0
        }


def test_override_alarm_configuration_lets_a_deployment_run_under_alarm() -> None:
    with model() as (rehearsal, world):
        world.alarms["dev-staging-api-service-5xx-rate"].state = "ALARM"
        deployment = _deploy(rehearsal, "staging-api-service", override_alarms={"enabled": False})
        _finish(world, deployment)
        assert deployment.status == "Succeeded"


def test_configured_alarm_already_in_alarm_stops_a_new_deployment() -> None:
    with model() as (rehearsal, world):
        world.alarms["dev-staging-api-service-5xx-rate"].state = "ALARM"
        deployment = _deploy(rehearsal, "staging-api-service")
        _finish(world, deployment)
        assert deployment.status == "Stopped"


def test_one_deployment_per_deployment_group_at_a_time() -> None:
    with model() as (rehearsal, _):
        _deploy(rehearsal, "staging-auth-service")
        with pytest.raises(DeploymentLimitExceeded):
            _deploy(rehearsal, "staging-auth-service", release="r0")


def test_hook_that_never_reports_fails_the_deployment_after_one_hour() -> None:
    throttled = [{"kind": "throttle", "function": "CodeDeployHook_SmokeTest", "until": 99999}]
    with model(faults=throttled) as (rehearsal, world):
        deployment = _deploy(rehearsal, "staging-api-service")
        _finish(world, deployment)
        assert deployment.status == "Failed"
        assert "did not report within 3600 s" in deployment.error


def test_blue_keeps_running_through_the_termination_wait() -> None:
    with model() as (rehearsal, world):
        deployment = _deploy(rehearsal, "staging-notification-service")
        fleet = world.fleet("staging", "notification-service")
        original = fleet.primary
        while not any("terminates in" in e.text for e in world.events):
            advance(world, 5)
        advance(world, deployment.group.termination_wait_seconds - 10)
        assert not original.deleted
        _finish(world, deployment)
        assert original.deleted
