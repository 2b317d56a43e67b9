"""Expand a template's transforms locally with SAM's own libraries, as CloudFormation would.

moto's CloudFormation knows neither `AWS::Serverless-2016-10-31` nor `AWS::LanguageExtensions`,
so the template it receives must already be plain CloudFormation. The expansion is SAM CLI's
(language extensions: Fn::ForEach, Fn::Length, ...) and samtranslator's (the SAM transform), so a
template that deploys here expands the same way it will in an account.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from samcli.lib.cfn_language_extensions.sam_integration import expand_language_extensions
from samcli.yamlhelper import yaml_parse
from samtranslator.internal.managed_policies import get_bundled_managed_policy_map
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator

from tools.local_deploy.clients import ACCOUNT_ID, REGION, local_session

SERVERLESS_TRANSFORM = "AWS::Serverless-2016-10-31"
LANGUAGE_EXTENSIONS = "AWS::LanguageExtensions"

Template = dict[str, Any]


class BundledManagedPolicies:
    """samtranslator's managed-policy loader, answered from the map bundled with samtranslator.

    The stock loader lists policies through IAM (an AWS call); the bundled map covers every AWS
    managed policy a template can name by its short name, and an unknown name fails the
    transform instead of reaching out.
    """

    def load(self) -> dict[str, str]:
        return dict(get_bundled_managed_policy_map("aws") or {})


def load_template(path: Path) -> Template:
    """A template file as a dict, short-form intrinsics (`!Ref`) in long form, as SAM reads it."""
    template: Template = yaml_parse(path.read_text(encoding="utf-8"))
    return template


def transforms_of(template: Template) -> list[str]:
    declared = template.get("Transform", [])
    return [declared] if isinstance(declared, str) else list(declared)


def _without_transform(template: Template, name: str) -> Template:
    remaining = [t for t in transforms_of(template) if t != name]
    if remaining:
        template["Transform"] = remaining
    else:
        template.pop("Transform", None)
    return template


def pseudo_parameters(stack_name: str) -> dict[str, str]:
    return {
        "AWS::Region": REGION,
        "AWS::AccountId": ACCOUNT_ID,
        "AWS::Partition": "aws",
        "AWS::StackName": stack_name,
        "AWS::URLSuffix": "amazonaws.com",
    }


def expand_language_extensions_of(template: Template, parameters: dict[str, Any]) -> Template:
    """Fn::ForEach and friends, expanded by SAM CLI's implementation of the transform."""
    if LANGUAGE_EXTENSIONS not in transforms_of(template):
        return template
    result = expand_language_extensions(copy.deepcopy(template), parameters, enabled=True)
    return _without_transform(copy.deepcopy(result.expanded_template), LANGUAGE_EXTENSIONS)


def expand_serverless(template: Template, parameters: dict[str, Any]) -> Template:
    """The SAM transform, by samtranslator, with no call to AWS (see BundledManagedPolicies)."""
    if SERVERLESS_TRANSFORM not in transforms_of(template):
        return template
    # An explicit session pins the region samtranslator puts in ARNs; creating one calls nothing.
    translator = Translator(None, Parser(), boto_session=local_session())
    policies = BundledManagedPolicies()
    expanded: Template = translator.translate(
        copy.deepcopy(template),
        parameter_values=dict(parameters),
        get_managed_policy_map=policies.load,
    )
    return _without_transform(expanded, SERVERLESS_TRANSFORM)


def expand_template(template: Template, parameters: dict[str, str], stack_name: str) -> Template:
    """Both transforms, in CloudFormation's order, with the values the stack is created with.

    SAM CLI's language-extension resolver also resolves ordinary intrinsics (a `!Sub` of a
    parameter becomes a plain string), which is only right when every parameter has its real
    value: that is why nested templates are expanded when their stack is created (see
    `cfn_models.NestedStack`), not before.
    """
    values: dict[str, Any] = {**pseudo_parameters(stack_name), **parameters}
    return expand_serverless(expand_language_extensions_of(template, values), values)
