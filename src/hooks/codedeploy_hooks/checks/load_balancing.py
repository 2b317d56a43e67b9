"""Reads of the load balancer: listeners, where they forward, and target health."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from codedeploy_hooks.errors import DeploymentShapeError

if TYPE_CHECKING:
    from mypy_boto3_elbv2 import ElasticLoadBalancingv2Client


@dataclass(frozen=True)
class WeightedTargetGroup:
    arn: str
    weight: int


def primary_target_group(forwards: Sequence[WeightedTargetGroup]) -> str | None:
    """The target group receiving most of a listener's traffic (CodeDeploy shifts weights)."""
    if not forwards:
        return None
    return max(forwards, key=lambda forward: forward.weight).arn


@dataclass(frozen=True)
class TargetState:
    target_id: str
    port: int | None
    state: str
    reason: str | None = None


@dataclass(frozen=True)
class Listener:
    arn: str
    port: int
    protocol: str
    load_balancer_arn: str
    forwards: tuple[WeightedTargetGroup, ...]

    @property
    def target_group_arn(self) -> str:
        arn = primary_target_group(self.forwards)
        if arn is None:
            raise DeploymentShapeError(f"listener {self.arn} forwards to no target group")
        return arn


def forwards_of(actions: list[Any]) -> tuple[WeightedTargetGroup, ...]:
    """Target groups of a listener's forward action: the plain form or the weighted one."""
    for action in actions:
        if action.get("Type") != "forward":
            continue
        groups = (action.get("ForwardConfig") or {}).get("TargetGroups") or []
        if groups:
            return tuple(
                WeightedTargetGroup(arn=group["TargetGroupArn"], weight=int(group.get("Weight", 1)))
                for group in groups
            )
        if action.get("TargetGroupArn"):
            return (WeightedTargetGroup(arn=action["TargetGroupArn"], weight=1),)
    return ()


def describe_listener(elbv2: ElasticLoadBalancingv2Client, listener_arn: str) -> Listener:
    listeners = elbv2.describe_listeners(ListenerArns=[listener_arn])["Listeners"]
    if not listeners:
        raise DeploymentShapeError(f"listener {listener_arn} not found")
    listener = listeners[0]
    return Listener(
        arn=listener_arn,
        port=int(listener.get("Port", 0)),
        protocol=str(listener.get("Protocol", "HTTP")),
        load_balancer_arn=listener["LoadBalancerArn"],
        forwards=forwards_of(list(listener.get("DefaultActions", []))),
    )


def target_group_arns(elbv2: ElasticLoadBalancingv2Client, names: tuple[str, ...]) -> set[str]:
    groups = elbv2.describe_target_groups(Names=list(names))["TargetGroups"]
    return {group["TargetGroupArn"] for group in groups}


def target_states(elbv2: ElasticLoadBalancingv2Client, target_group_arn: str) -> list[TargetState]:
    descriptions = elbv2.describe_target_health(TargetGroupArn=target_group_arn)
    states = []
    for description in descriptions["TargetHealthDescriptions"]:
        target = description.get("Target", {})
        health = description.get("TargetHealth", {})
        states.append(
            TargetState(
                target_id=str(target.get("Id", "?")),
                port=target.get("Port"),
                state=str(health.get("State", "unavailable")),
                reason=health.get("Reason"),
            )
        )
    return states
