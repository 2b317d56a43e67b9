"""Every template the system deploys, as CloudFormation will see it, and the policies inside them.

The root template is read twice: as written, and after the SAM transform (scripts/
transform_template.py, the same expansion `make lint` hands to checkov), because the transform
is what creates the functions' roles, their inline policies and SAM's managed-policy attachments.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

from scripts.transform_template import transformed_root
from tests.support import PIPELINE_DIR, REPO_ROOT, load_template

ROOT = "template.yaml"
TRANSFORMED_ROOT = "template.yaml (SAM-transformed)"
NESTED = ("pipeline/network.yaml", "pipeline/service.yaml", "pipeline/delivery.yaml")

# Resource types whose policy is attached to a resource rather than to a principal.
RESOURCE_POLICY_TYPES = frozenset(
    {
        "AWS::S3::BucketPolicy",
        "AWS::SNS::TopicPolicy",
        "AWS::SQS::QueuePolicy",
        "AWS::ECR::Repository",
        "AWS::SecretsManager::ResourcePolicy",
    }
)


@cache
def all_templates() -> dict[str, dict[str, Any]]:
    """Name -> parsed template, for every template of the system (read once per session)."""
    templates = {ROOT: load_template(REPO_ROOT / ROOT), TRANSFORMED_ROOT: transformed_root()}
    for name in NESTED:
        templates[name] = load_template(PIPELINE_DIR / name.removeprefix("pipeline/"))
    return templates


@dataclass(frozen=True)
class PolicyStatement:
    """One statement, with where it sits and what kind of policy holds it."""

    template: str
    logical_id: str
    path: str  # property path of the document inside the resource
    index: int
    kind: str  # identity | resource | key | trust
    body: dict[str, Any]

    @property
    def where(self) -> str:
        sid = self.body.get("Sid", "no Sid")
        return f"{self.template}: {self.logical_id}.{self.path} statement {self.index} ({sid})"

    @property
    def effect(self) -> str:
        return str(self.body.get("Effect", ""))

    @property
    def actions(self) -> list[str]:
        return [str(action) for action in as_list(self.body.get("Action", []))]

    @property
    def resource_is_wildcard(self) -> bool:
        return "*" in as_list(self.body.get("Resource", []))


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _kind(resource_type: str, path: str) -> str:
    if path.endswith("AssumeRolePolicyDocument"):
        return "trust"
    if resource_type == "AWS::KMS::Key":
        return "key"
    if resource_type in RESOURCE_POLICY_TYPES:
        return "resource"
    return "identity"


def _branches(node: Any) -> Iterator[Any]:
    """Both branches of a Fn::If (a statement or a document may be conditional); AWS::NoValue,
    the "nothing here" branch, yields nothing."""
    if isinstance(node, dict) and set(node) == {"Fn::If"}:
        for branch in node["Fn::If"][1:]:
            yield from _branches(branch)
    elif node != {"Ref": "AWS::NoValue"}:
        yield node


def _documents(node: Any, path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every policy document (a mapping with a Statement) anywhere under `node`.

    Searching the whole resource rather than known property names means a policy in a property
    nobody thought of (a new resource type, a SAM policy template) is still checked.
    """
    if isinstance(node, dict):
        if "Statement" in node:
            yield path, node
            return
        for key, value in node.items():
            yield from _documents(value, f"{path}.{key}" if path else key)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _documents(value, f"{path}[{index}]")


def statements_of(template_name: str, template: dict[str, Any]) -> Iterator[PolicyStatement]:
    for logical_id, resource in template.get("Resources", {}).items():
        resource_type = str(resource.get("Type", ""))
        for path, document in _documents(resource.get("Properties", {}), ""):
            kind = _kind(resource_type, path)
            for document_branch in _branches(document):
                for index, item in enumerate(as_list(document_branch.get("Statement", []))):
                    for statement in _branches(item):
                        yield PolicyStatement(
                            template_name, logical_id, path, index, kind, statement
                        )


def every_statement() -> list[PolicyStatement]:
    return [
        statement
        for name, template in all_templates().items()
        for statement in statements_of(name, template)
    ]
