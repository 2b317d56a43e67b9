"""The project's templates as one deployed stack would hold them: nested stacks followed,
parameters resolved, every Ref and GetAtt given a physical value.

The rehearsal reads every timing and setting from here (target-group health checks, deregistration
delay, deployment groups, alarms, Lambda functions, pipeline stages), so a template edit changes
the rehearsal. Physical names follow AWS's formats closely enough that the Lambda code, which parses
some of them (an ALB ARN, a target group's full name), reads them as it would in an account.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from tools.cfn_render import Renderer, load_template

REGION = "eu-west-1"
ACCOUNT = "123456789012"


def _short_hash(*parts: str) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:16]


class _Physical(Mapping[str, Any]):
    """Ref and GetAtt values of one stack's resources and nested stacks, computed on demand."""

    def __init__(self, stack: RenderedStack) -> None:
        self._stack = stack
        self._cache: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        if name not in self._cache:
            self._cache[name] = self._stack.physical(name)
        return self._cache[name]

    def get(self, name: str, default: Any = None) -> Any:
        try:
            return self[name]
        except KeyError:
            return default

    def __iter__(self) -> Iterator[str]:
        return iter(self._stack.template.get("Resources", {}))

    def __len__(self) -> int:
        return len(self._stack.template.get("Resources", {}))


@dataclass
class RenderedStack:
    """One template with its parameter values; nested stacks are rendered when first read."""

    path: Path
    name: str
    parameters: dict[str, Any]
    template: dict[str, Any] = field(init=False)
    _nested: dict[str, RenderedStack] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.template = load_template(self.path)
        unknown = set(self.parameters) - set(self.template.get("Parameters", {}))
        if unknown:
            raise ValueError(f"{self.path.name} has no parameter(s) {sorted(unknown)}")

    @cached_property
    def renderer(self) -> Renderer:
        values = {"AWS::StackName": self.name, **self.parameters}
        values["AWS::Region"] = REGION
        values["AWS::AccountId"] = ACCOUNT
        return Renderer(self.template, values, attributes=_Physical(self))

    def condition(self, name: str) -> bool:
        return self.renderer.condition(name)

    def resources(self, resource_type: str | None = None) -> dict[str, dict[str, Any]]:
        """Resources that exist (their Condition holds), optionally of one type, as given."""
        chosen = {}
        for logical_id, resource in self.template.get("Resources", {}).items():
            if resource_type and resource.get("Type") != resource_type:
                continue
            condition = resource.get("Condition")
            if condition and not self.condition(condition):
                continue
            chosen[logical_id] = resource
        return chosen

    def properties(self, logical_id: str) -> dict[str, Any]:
        resource = self.template["Resources"][logical_id]
        rendered: dict[str, Any] = self.renderer.render(resource.get("Properties", {}))
        return rendered

    def nested(self, logical_id: str) -> RenderedStack:
        """A nested stack, rendered on first use (one nested stack's parameters may read
        another's outputs, so they cannot all be rendered at once)."""
        if logical_id not in self._nested:
            props = self.properties(logical_id)
            self._nested[logical_id] = RenderedStack(
                path=self.path.parent / props["TemplateURL"],
                name=f"{self.name}-{logical_id}",
                parameters={k: _parameter_value(v) for k, v in props.get("Parameters", {}).items()},
            )
        return self._nested[logical_id]

    def nested_stacks(self) -> dict[str, RenderedStack]:
        return {name: self.nested(name) for name in self.resources("AWS::CloudFormation::Stack")}

    def output(self, name: str) -> Any:
        return self.renderer.render(self.template["Outputs"][name]["Value"])

    # ------------------------------------------------------------ physical values
    def physical(self, name: str) -> Any:
        logical_id, _, attribute = name.partition(".")
        resources = self.template.get("Resources", {})
        if logical_id not in resources:
            raise KeyError(name)
        if resources[logical_id]["Type"] == "AWS::CloudFormation::Stack":
            output = attribute.removeprefix("Outputs.")
            return self.nested(logical_id).output(output)
        return self._attribute(logical_id, resources[logical_id]["Type"], attribute or "Ref")

    def _attribute(self, logical_id: str, resource_type: str, attribute: str) -> Any:  # noqa: PLR0911

        def props() -> dict[str, Any]:  # rendered only for the types that need it
            return self.properties(logical_id)

        unique = _short_hash(self.name, logical_id)
        arn = f"arn:aws:{{service}}:{REGION}:{ACCOUNT}:{{resource}}"
        if resource_type == "AWS::ElasticLoadBalancingV2::TargetGroup":
            group_name = f"{logical_id[:23]}-{unique[:8]}"
            full_name = f"targetgroup/{group_name}/{unique}"
            return {
                "Ref": arn.format(service="elasticloadbalancing", resource=full_name),
                "TargetGroupArn": arn.format(service="elasticloadbalancing", resource=full_name),
                "TargetGroupName": group_name,
                "TargetGroupFullName": full_name,
            }[attribute]
        if resource_type == "AWS::ElasticLoadBalancingV2::LoadBalancer":
            balancer = props().get("Name") or f"{logical_id}-{unique[:6]}"
            full_name = f"app/{balancer}/{unique}"
            return {
                "Ref": arn.format(
                    service="elasticloadbalancing", resource=f"loadbalancer/{full_name}"
                ),
                "LoadBalancerFullName": full_name,
                "DNSName": f"{balancer}-{unique[:10]}.{REGION}.elb.amazonaws.com",
                "LoadBalancerName": balancer,
                "CanonicalHostedZoneID": "Z32O12XQLNTSW2",
                "SecurityGroups": [],
            }[attribute]
        if resource_type == "AWS::ElasticLoadBalancingV2::Listener":
            balancer_arn = props()["LoadBalancerArn"]
            return f"{balancer_arn.replace(':loadbalancer/', ':listener/')}/{unique}"
        if resource_type == "AWS::CloudWatch::Alarm":
            return (
                props()["AlarmName"]
                if attribute == "Ref"
                else arn.format(service="cloudwatch", resource=f"alarm:{props()['AlarmName']}")
            )
        if resource_type == "AWS::ECS::Service":
            name = props()["ServiceName"]
            return (
                name
                if attribute == "Name"
                else arn.format(service="ecs", resource=f"service/{props()['Cluster']}/{name}")
            )
        if resource_type == "AWS::ECS::Cluster":
            return props()["ClusterName"]
        if resource_type == "AWS::CodeDeploy::Application":
            return props()["ApplicationName"]
        if resource_type == "AWS::SSM::Parameter":
            return props().get("Name", f"/{logical_id}")
        if resource_type == "AWS::SNS::Topic":
            topic = props().get("TopicName", f"{logical_id}-{unique[:8]}")
            return (
                arn.format(service="sns", resource=topic)
                if attribute in {"Ref", "TopicArn"}
                else topic
            )
        if resource_type == "AWS::Serverless::Function":
            function = props().get("FunctionName", logical_id)
            return (
                function
                if attribute == "Ref"
                else arn.format(service="lambda", resource=f"function:{function}")
            )
        if resource_type == "AWS::ECR::Repository":
            name = props()["RepositoryName"]
            uri = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{name}"
            return {
                "Ref": name,
                "RepositoryUri": uri,
                "Arn": arn.format(service="ecr", resource=f"repository/{name}"),
            }[attribute]
        if resource_type == "AWS::IAM::Role":
            return arn.replace(REGION, "").format(service="iam", resource=f"role/{logical_id}")
        return f"{logical_id}-{unique[:8]}" if attribute == "Ref" else f"{logical_id}.{attribute}"


def _parameter_value(value: Any) -> Any:
    """Nested-stack parameters are strings (lists joined with commas), as CloudFormation passes."""
    if isinstance(value, list):
        return ",".join(str(item) for item in value)
    return value
