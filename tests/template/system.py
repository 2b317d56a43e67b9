"""The root template and its nested stacks rendered together, as one deployment would resolve them.

`cfn_render.Renderer` resolves one template. A value assembled across stacks (an environment's
dashboard is joined from every service stack's outputs) needs each nested stack rendered with
the parameters the root passes it, and the root rendered with the nested stacks' outputs. Values
only AWS knows (ARNs, generated names) get stand-ins shaped like the real ones and derived from
the resource that owns them, so a test can map a value back to the resource it came from.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support import load_template
from tools.cfn_render import Renderer

STACK_TYPE = "AWS::CloudFormation::Stack"
# Enough passes for the deepest chain of nested-stack outputs feeding other stacks' parameters
# (network -> services -> delivery -> root); rendering stops earlier once nothing changes.
MAX_PASSES = 6


@dataclass(frozen=True)
class Stack:
    """One rendered stack: "" is the root, otherwise the root's logical id of the nested stack."""

    name: str
    template: dict[str, Any]
    renderer: Renderer

    def resources(self, resource_type: str) -> Iterator[tuple[str, dict[str, Any]]]:
        for logical_id, resource in self.template.get("Resources", {}).items():
            if resource.get("Type") == resource_type:
                yield logical_id, resource

    def property_value(self, logical_id: str, name: str) -> Any:
        return self.renderer.render(self.template["Resources"][logical_id]["Properties"][name])


@dataclass(frozen=True)
class System:
    root: Stack
    nested: dict[str, Stack]

    @property
    def stacks(self) -> list[Stack]:
        return [self.root, *self.nested.values()]

    def resources(self, resource_type: str) -> Iterator[tuple[Stack, str, dict[str, Any]]]:
        for stack in self.stacks:
            for logical_id, resource in stack.resources(resource_type):
                yield stack, logical_id, resource


def _stand_in(stack_name: str, logical_id: str) -> str:
    """A stable 16-hex-digit id, like the suffix AWS gives generated names."""
    return hashlib.sha256(f"{stack_name}/{logical_id}".encode()).hexdigest()[:16]


def _resource_values(
    stack_name: str, template: dict[str, Any], renderer: Renderer
) -> dict[str, Any]:
    """What Ref and Fn::GetAtt return for the resource types the tests follow across stacks."""
    region, account = renderer.values["AWS::Region"], renderer.values["AWS::AccountId"]
    values: dict[str, Any] = {}
    for logical_id, resource in template.get("Resources", {}).items():
        properties = resource.get("Properties", {})
        resource_type = resource.get("Type")
        generated = f"{stack_name or 'root'}-{logical_id}-{_stand_in(stack_name, logical_id)}"

        def rendered(name: str, properties: dict[str, Any] = properties) -> Any:
            return renderer.render(properties[name])

        if resource_type == "AWS::CloudWatch::Alarm":
            name = rendered("AlarmName")
            values[logical_id] = name
            values[f"{logical_id}.Arn"] = f"arn:aws:cloudwatch:{region}:{account}:alarm:{name}"
        elif resource_type == "AWS::ElasticLoadBalancingV2::TargetGroup":
            full_name = f"targetgroup/{logical_id[:20]}/{_stand_in(stack_name, logical_id)}"
            values[logical_id] = f"arn:aws:elasticloadbalancing:{region}:{account}:{full_name}"
            values[f"{logical_id}.TargetGroupFullName"] = full_name
            values[f"{logical_id}.TargetGroupName"] = full_name.split("/")[1]
        elif resource_type == "AWS::ElasticLoadBalancingV2::LoadBalancer":
            full_name = f"app/{logical_id}/{_stand_in(stack_name, logical_id)}"
            values[logical_id] = f"arn:aws:elasticloadbalancing:{region}:{account}:{full_name}"
            values[f"{logical_id}.LoadBalancerFullName"] = full_name
        elif resource_type == "AWS::ECS::Service":
            values[f"{logical_id}.Name"] = rendered("ServiceName")
        elif resource_type == "AWS::ECS::Cluster":
            values[logical_id] = rendered("ClusterName")
        elif resource_type in ("AWS::CodeBuild::Project", "AWS::CodePipeline::Pipeline"):
            values[logical_id] = rendered("Name")
        elif resource_type == "AWS::CodeDeploy::Application":
            values[logical_id] = rendered("ApplicationName")
        elif resource_type == "AWS::Serverless::Function":
            values[logical_id] = rendered("FunctionName")
        elif resource_type == "AWS::CloudWatch::Dashboard":
            values[logical_id] = rendered("DashboardName")
        elif resource_type == "AWS::Events::Rule":
            # No Name in the templates: CloudFormation generates one.
            values[logical_id] = rendered("Name") if "Name" in properties else generated
    return values


def _render_stack(
    name: str, template: dict[str, Any], parameters: dict[str, Any], nested_outputs: dict[str, Any]
) -> tuple[Stack, dict[str, Any]]:
    """The stack rendered with its own resources' values; returns it and its rendered outputs."""
    first = Renderer(template, dict(parameters), dict(nested_outputs))
    attributes = {**nested_outputs, **_resource_values(name, template, first)}
    renderer = Renderer(template, dict(parameters), attributes)
    outputs = {
        output: renderer.render(spec["Value"])
        for output, spec in template.get("Outputs", {}).items()
    }
    return Stack(name, template, renderer), outputs


def render_system(root_path: Path, parameters: dict[str, Any]) -> System:
    """Root and nested stacks rendered until every stack output the others use has its value."""
    root_template = load_template(root_path)
    nested_templates = {
        logical_id: load_template(root_path.parent / resource["Properties"]["TemplateURL"])
        for logical_id, resource in root_template["Resources"].items()
        if resource.get("Type") == STACK_TYPE
    }
    outputs: dict[str, Any] = {}
    for _ in range(MAX_PASSES):
        root, _ = _render_stack("", root_template, parameters, outputs)
        nested: dict[str, Stack] = {}
        new_outputs: dict[str, Any] = {}
        for logical_id, template in nested_templates.items():
            stack_parameters = root.renderer.render(
                root_template["Resources"][logical_id]["Properties"].get("Parameters", {})
            )
            nested[logical_id], stack_outputs = _render_stack(
                logical_id, template, stack_parameters, {}
            )
            new_outputs.update(
                {f"{logical_id}.Outputs.{name}": value for name, value in stack_outputs.items()}
            )
        if new_outputs == outputs:
            return System(root, nested)
        outputs = new_outputs
    raise AssertionError(f"nested stack outputs still changing after {MAX_PASSES} passes")
