"""What a stack update with one changed root parameter sends to each resource.

CloudFormation calls a resource's update API only when its properties, resolved for the new
parameter values, differ from the ones it resolved last time (it never compares with the live
resource). So rendering the templates for two sets of root parameters and comparing each
resource's properties tells exactly which resources an update touches, down through the nested
stacks: the root's parameters become NetworkStack's and each service stack's parameters, and
NetworkStack's outputs become service-stack parameters.

A Ref or GetAtt of a resource renders as a placeholder that is the same in both renderings: a
resource updated in place keeps its id. Replacements are the one thing this does not follow;
test_drift_safety.py checks separately that the resources whose replacement would matter (the
target groups, the ECS services) are never replaced.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from tests.support import PIPELINE_DIR, REPO_ROOT, load_template
from tools.cfn_render import Renderer

ROOT = load_template(REPO_ROOT / "template.yaml")
NETWORK = load_template(PIPELINE_DIR / "network.yaml")
SERVICE = load_template(PIPELINE_DIR / "service.yaml")
DELIVERY = load_template(PIPELINE_DIR / "delivery.yaml")
SERVICE_STACKS = ("ApiServiceStack", "AuthServiceStack", "NotificationServiceStack")


@dataclass(frozen=True)
class Deployment:
    """Every nested stack's resources, rendered for one set of root parameter values."""

    root: dict[str, Any]
    network: dict[str, Any]
    services: dict[str, dict[str, Any]]
    delivery: dict[str, Any]

    @classmethod
    def of(cls, root_values: dict[str, Any]) -> Deployment:
        root = Renderer(ROOT, root_values)
        network_parameters = root.render(
            ROOT["Resources"]["NetworkStack"]["Properties"]["Parameters"]
        )
        network = Renderer(NETWORK, network_parameters)
        for name, output in NETWORK["Outputs"].items():
            root.attributes[f"NetworkStack.Outputs.{name}"] = network.render(output["Value"])
        return cls(
            root=resolved_resources(root, skip_type="AWS::CloudFormation::Stack"),
            network=resolved_resources(network),
            services={
                stack: resolved_resources(Renderer(SERVICE, nested_parameters(root, stack)))
                for stack in SERVICE_STACKS
            },
            delivery=resolved_resources(
                Renderer(DELIVERY, nested_parameters(root, "DeliveryStack"))
            ),
        )

    def resources(self) -> dict[str, Any]:
        """`Stack/LogicalId` -> resolved resource (its properties, None where it does not exist)."""
        stacks = {"Root": self.root, "NetworkStack": self.network, "DeliveryStack": self.delivery}
        flat: dict[str, Any] = {}
        for stack, resources in {**stacks, **self.services}.items():
            flat.update({f"{stack}/{logical_id}": value for logical_id, value in resources.items()})
        return flat


def nested_parameters(root: Renderer, stack: str) -> dict[str, Any]:
    parameters: dict[str, Any] = root.render(ROOT["Resources"][stack]["Properties"]["Parameters"])
    return parameters


def resolved_resources(stack: Renderer, skip_type: str = "") -> dict[str, Any]:
    """Each resource's properties for these parameters, or None where its condition is false.

    The root's nested-stack resources are skipped: what they pass on is compared inside them.
    """
    return {
        logical_id: (
            stack.render(resource.get("Properties", {}))
            if "Condition" not in resource or stack.condition(resource["Condition"])
            else None
        )
        for logical_id, resource in stack.template["Resources"].items()
        if resource["Type"] != skip_type
    }


def changed_by(change: dict[str, Any], base: dict[str, Any] | None = None) -> set[str]:
    """`Stack/LogicalId` of every resource that an update applying `change` to a stack created
    with `base` (root parameter values; defaults for the rest) creates, deletes or updates."""
    before = _resources(tuple(sorted((base or {}).items())))
    after = _resources(tuple(sorted({**(base or {}), **change}.items())))
    return {name for name in before if before[name] != after[name]}


@cache
def _resources(root_values: tuple[tuple[str, Any], ...]) -> dict[str, Any]:
    """Rendered once per set of values: the walk compares many updates with the same base."""
    return Deployment.of(dict(root_values)).resources()
