"""Who may invoke the validator and who may write what it restores (issue 28, item 1), as the
templates grant it. The function itself trusts neither (tests/unit/health_check/test_attacks.py):
these tests keep the templates from widening what those checks have to stop."""

from __future__ import annotations

import fnmatch
import re
from typing import Any

from tests.security.templates import TRANSFORMED_ROOT, all_templates, as_list, every_statement

# What a known-good record's ARN looks like; any Resource pattern matching it can write one.
KNOWN_GOOD_ARN = (
    "arn:aws:ssm:eu-west-1:123456789012:parameter/pipeline/production/api-service/known-good"
)
WRITES = {"ssm:PutParameter", "ssm:*", "*", "ssm:Put*"}
INVOKES = {"lambda:InvokeFunction", "lambda:InvokeAsync", "lambda:*", "*", "lambda:Invoke*"}


def _pattern(resource: Any, template: dict[str, Any]) -> str:
    """A Resource as a glob: an Fn::Sub's variables as its list form binds them (a FindInMap
    read from the template's Mappings), any other ${...} or intrinsic matching anything."""
    if isinstance(resource, dict) and "Fn::Sub" in resource:
        sub = resource["Fn::Sub"]
        text, variables = (sub[0], sub[1]) if isinstance(sub, list) else (sub, {})

        def value(match: re.Match[str]) -> str:
            bound = variables.get(match.group(1))
            if isinstance(bound, str):
                return bound
            if isinstance(bound, dict) and "Fn::FindInMap" in bound:
                mapping, first, second = bound["Fn::FindInMap"]
                return str(template["Mappings"][mapping][first][second])
            return "*"

        return re.sub(r"\$\{([^}]*)\}", value, str(text))
    if isinstance(resource, str):
        return resource
    return "*"


def _names_health_check(resource: Any) -> bool:
    text = repr(resource)
    return "HealthCheckFunction" in text or resource == "*"


def test_only_the_restore_policy_may_write_known_good_records() -> None:
    # GIVEN every Allow statement of every template that can call ssm:PutParameter
    writers = [
        s
        for s in every_statement()
        if s.effect == "Allow"
        and s.kind == "identity"
        and WRITES & set(s.actions)
        and any(
            fnmatch.fnmatchcase(KNOWN_GOOD_ARN, _pattern(r, all_templates()[s.template]))
            for r in as_list(s.body.get("Resource", []))
        )
    ]
    # THEN only the restore policy (the health check's and the responder's, the same checked
    # code) may write a known-good record: no build, deploy, task or hook role can
    assert {(s.template, s.logical_id) for s in writers} == {
        ("template.yaml", "EnvironmentRestorePolicy"),
        (TRANSFORMED_ROOT, "EnvironmentRestorePolicy"),
    }


def test_the_health_checks_resource_policy_admits_this_pipeline_only() -> None:
    # GIVEN every Lambda permission of every template on the health check
    permissions = [
        (name, resource["Properties"])
        for name, template in all_templates().items()
        for resource in template.get("Resources", {}).values()
        if resource.get("Type") == "AWS::Lambda::Permission"
        and "HealthCheckFunction" in repr(resource["Properties"].get("FunctionName"))
    ]
    # THEN there is one: CodePipeline, for this pipeline in this account
    [(template, permission)] = permissions
    assert template == "pipeline/delivery.yaml"
    assert permission["Principal"] == "codepipeline.amazonaws.com"
    assert permission["Action"] == "lambda:InvokeFunction"
    assert "${Pipeline}" in permission["SourceArn"]["Fn::Sub"]
    assert permission["SourceAccount"] == {"Ref": "AWS::AccountId"}


def test_only_the_pipeline_role_and_the_responders_destination_may_invoke_the_health_check() -> (
    None
):
    # GIVEN every Allow statement that can invoke a function and names the health check
    invokers = {
        (s.template, s.logical_id)
        for s in every_statement()
        if s.effect == "Allow"
        and INVOKES & set(s.actions)
        and any(_names_health_check(r) for r in as_list(s.body.get("Resource", [])))
    }
    # THEN they are the pipeline role (the invoke action) and the release responder's role (its
    # on-failure destination), nobody else; same-account principals an administrator grants
    # outside these templates are what the function's own checks are for (docs/security.md)
    assert invokers == {
        ("pipeline/delivery.yaml", "PipelineRolePolicy"),
        (TRANSFORMED_ROOT, "ReleaseResponderFunctionRole"),
    }
