"""Targets, health checks and listeners as modelled.

AWS: "After your target is registered, it must pass one health check to be considered healthy"
(https://docs.aws.amazon.com/elasticloadbalancing/latest/application/target-group-health-checks.html);
deregistration delay (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/edit-target-group-attributes.html);
weighted forward actions (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-listeners.html).
"""

from __future__ import annotations

from tests.rehearsal.conftest import advance, model


def test_new_target_is_healthy_after_one_passing_health_check() -> None:
    with model() as (_, world):
        fleet = world.fleet("staging", "api-service")
        green = fleet.spec.green
        fleet.create_task_set("r1", green.arn)
        while not fleet.targets[green.arn]:
            advance(world, 0.5)  # until the first task runs and is registered
        target = fleet.targets[green.arn][0]
        assert target.state == "initial"
        # Within one interval it has passed exactly one check, and that is enough.
        advance(world, green.health_check.interval)
        assert (target.state, target.passes) == ("healthy", 1)
        assert green.health_check.healthy_threshold > 1


def test_stopped_target_turns_unhealthy_after_the_unhealthy_threshold() -> None:
    with model() as (_, world):
        fleet = world.fleet("production", "api-service")
        blue = fleet.spec.blue
        target = fleet.targets[blue.arn][0]
        advance(world, blue.health_check.interval * 2)
        assert target.state == "healthy"
        target.task.state = "STOPPED"
        world.nudge()  # a change the model's actors would have announced
        advance(world, blue.health_check.interval * (blue.health_check.unhealthy_threshold - 1))
        assert target.state == "healthy"
        advance(world, blue.health_check.interval)
        assert target.state == "unhealthy"


def test_deregistered_target_drains_for_the_deregistration_delay() -> None:
    with model() as (_, world):
        fleet = world.fleet("production", "api-service")
        blue = fleet.spec.blue
        advance(world, blue.health_check.interval * 2)
        fleet.delete_task_set(fleet.primary)
        assert {t.state for t in fleet.targets[blue.arn]} == {"draining"}
        advance(world, blue.deregistration_delay - blue.health_check.interval)
        assert fleet.targets[blue.arn]
        advance(world, 2 * blue.health_check.interval)
        assert not fleet.targets[blue.arn]


def test_user_traffic_follows_the_listener_weights() -> None:
    with model() as (_, world):
        fleet = world.fleet("production", "auth-service")
        fleet.create_task_set("r1", fleet.spec.green.arn)
        advance(world, 120)
        fleet.route({fleet.spec.blue.arn: 90, fleet.spec.green.arn: 10}, who="test")
        advance(world, 30)
        latest = [
            s
            for s in world.samples
            if s.service == "auth-service" and s.environment == "production"
        ][-1]
        assert latest.shares == {"r0": 0.9, "r1": 0.1}
