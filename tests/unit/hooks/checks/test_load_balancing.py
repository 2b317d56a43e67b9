"""Reading where a listener forwards: the plain form and CodeDeploy's weighted form."""

from __future__ import annotations

from codedeploy_hooks.checks.load_balancing import (
    WeightedTargetGroup,
    describe_listener,
    forwards_of,
    primary_target_group,
)

from tests.unit.hooks.fakes import World, client, shift_production_to_green


def test_forwards_of_reads_the_weighted_form_codedeploy_writes_during_a_canary() -> None:
    actions = [
        {
            "Type": "forward",
            "ForwardConfig": {
                "TargetGroups": [
                    {"TargetGroupArn": "blue", "Weight": 90},
                    {"TargetGroupArn": "green", "Weight": 10},
                ]
            },
        }
    ]
    assert forwards_of(actions) == (
        WeightedTargetGroup("blue", 90),
        WeightedTargetGroup("green", 10),
    )


def test_forwards_of_reads_the_plain_form_and_skips_other_actions() -> None:
    actions = [
        {"Type": "authenticate-oidc"},
        {"Type": "forward", "TargetGroupArn": "green"},
    ]
    assert forwards_of(actions) == (WeightedTargetGroup("green", 1),)


def test_forwards_of_is_empty_without_a_forward_action() -> None:
    assert forwards_of([{"Type": "fixed-response"}]) == ()


def test_describe_listener_follows_modify_listener(world: World) -> None:
    # GIVEN CodeDeploy moved production to green
    shift_production_to_green(world)
    # WHEN the production listener is read
    listener = describe_listener(client("elbv2"), world.prod_listener_arn)
    # THEN it forwards to green, on its own port, from the shared ALB
    assert listener.target_group_arn == world.green_arn
    assert (listener.port, listener.protocol) == (80, "HTTP")
    assert listener.load_balancer_arn == world.load_balancer_arn


def test_primary_target_group_is_the_one_with_the_most_weight() -> None:
    forwards = [WeightedTargetGroup("blue", 10), WeightedTargetGroup("green", 90)]
    assert primary_target_group(forwards) == "green"
    assert primary_target_group([]) is None
