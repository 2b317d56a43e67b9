"""Parse a template, and resolve its intrinsic functions for given parameter values.

Enough of CloudFormation (Ref, Fn::Sub, Fn::Join, Fn::If, Fn::FindInMap, Fn::Select, Fn::Split,
Fn::GetAZs and the condition functions) to let template tests assert the values a stack would
really get, for example the SSM configuration JSON, rather than the shape of the YAML.
"""

from __future__ import annotations

import copy
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cfnlint.decode import cfn_yaml

# The last parse of each file, with its content's digest: the tests and the rehearsal read the
# same few templates hundreds of times in one process, and parsing was the larger part of many
# template tests.
_PARSED: dict[str, tuple[str, dict[str, Any]]] = {}


def load_template(path: Path) -> dict[str, Any]:
    """A template parsed with cfn-lint's loader (`!Ref x` becomes {"Ref": "x"}), as cfn-lint reads
    it. Each caller gets its own copy to change; a file is parsed again when its content changes
    (compared by content, not modification time, which a quick rewrite may leave unchanged)."""
    content = path.read_bytes()
    digest = hashlib.sha256(content).hexdigest()
    cached = _PARSED.get(str(path))
    if cached is None or cached[0] != digest:
        cached = (digest, cfn_yaml.loads(content.decode("utf-8"), str(path)))
        _PARSED[str(path)] = cached
    return copy.deepcopy(cached[1])


_SUB_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")


@dataclass
class Renderer:
    """Values of Ref and GetAtt for one imagined stack: parameters, pseudo parameters, resources.

    A Ref or GetAtt nobody gave a value renders as `<name>` (cfn-lint already checks that every
    reference exists), so a test only supplies the values it asserts on.
    """

    template: dict[str, Any]
    values: dict[str, Any]
    attributes: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        defaults = {
            name: spec["Default"]
            for name, spec in self.template.get("Parameters", {}).items()
            if "Default" in spec
        }
        pseudo = {
            "AWS::Partition": "aws",
            "AWS::Region": "eu-west-1",
            "AWS::AccountId": "123456789012",
            "AWS::URLSuffix": "amazonaws.com",
        }
        self.values = {**pseudo, **defaults, **self.values}
        for name, spec in self.template.get("Parameters", {}).items():
            value = self.values.get(name)
            if spec.get("Type") == "CommaDelimitedList" and isinstance(value, str):
                self.values[name] = value.split(",")

    def condition(self, name: str) -> bool:
        return bool(self._condition(self.template["Conditions"][name]))

    def failed_rules(self) -> list[str]:
        """Why CloudFormation would refuse these parameter values before creating anything: the
        AssertDescription of every failing assertion of every rule that applies (no
        RuleCondition, or one that holds). An assertion that does not evaluate to true or false
        is a template this renderer cannot judge, and raises rather than passing."""
        failed = []
        for name, rule in self.template.get("Rules", {}).items():
            if "RuleCondition" in rule and not self._judge(rule["RuleCondition"], name):
                continue
            for assertion in rule.get("Assertions", []):
                if not self._judge(assertion["Assert"], name):
                    failed.append(f"{name}: {assertion.get('AssertDescription', 'refused')}")
        return failed

    def _judge(self, node: Any, rule: str) -> bool:
        verdict = self._condition(node)
        if not isinstance(verdict, bool):
            raise TypeError(f"rule {rule} does not evaluate to true or false: {node!r}")
        return verdict

    def _condition(self, node: Any) -> Any:
        if isinstance(node, dict) and len(node) == 1:
            ((function, argument),) = node.items()
            if function == "Fn::Equals":
                return self.render(argument[0]) == self.render(argument[1])
            if function == "Fn::Not":
                return not self._condition(argument[0])
            if function == "Fn::And":
                return all(self._condition(item) for item in argument)
            if function == "Fn::Or":
                return any(self._condition(item) for item in argument)
            if function == "Condition":
                return self.condition(argument)
        return self.render(node)

    def render(self, node: Any) -> Any:  # noqa: PLR0911 - one branch per intrinsic function
        if isinstance(node, list):
            return [item for item in (self.render(item) for item in node) if item is not _NO_VALUE]
        if isinstance(node, dict):
            if len(node) == 1:
                ((function, argument),) = node.items()
                if function == "Ref":
                    return _NO_VALUE if argument == "AWS::NoValue" else self._lookup(argument)
                if function == "Fn::GetAtt":
                    return self._lookup(".".join(argument))
                if function == "Fn::Sub":
                    return self._sub(argument)
                if function == "Fn::Join":
                    return argument[0].join(_flatten(self.render(argument[1])))
                if function == "Fn::If":
                    branch = argument[1] if self.condition(argument[0]) else argument[2]
                    return self.render(branch)
                if function == "Fn::FindInMap":
                    name, key, attribute = (self.render(part) for part in argument)
                    return self.template["Mappings"][name][key][attribute]
                if function == "Fn::Select":
                    return self.render(argument[1])[int(self.render(argument[0]))]
                if function == "Fn::Split":
                    return self.render(argument[1]).split(argument[0])
                if function == "Fn::GetAZs":
                    return [f"{self.values['AWS::Region']}{zone}" for zone in "abc"]
            rendered = {key: self.render(value) for key, value in node.items()}
            return {key: value for key, value in rendered.items() if value is not _NO_VALUE}
        return node

    def _sub(self, argument: Any) -> str:
        text, local = (argument, {}) if isinstance(argument, str) else argument
        variables = {name: self.render(value) for name, value in local.items()}

        def lookup(match: re.Match[str]) -> str:
            name = match.group(1)
            return str(variables[name] if name in variables else self._lookup(name))

        return _SUB_VARIABLE.sub(lookup, text)

    def _lookup(self, name: str) -> Any:
        """A value given to the renderer, else a placeholder `<name>` the test can compare."""
        if name in self.values:
            return self.values[name]
        return self.attributes.get(name, f"<{name}>")


class _NoValue:
    def __repr__(self) -> str:
        return "AWS::NoValue"


_NO_VALUE = _NoValue()


def _flatten(items: list[Any]) -> list[str]:
    flat: list[str] = []
    for item in items:
        flat.extend(_flatten(item) if isinstance(item, list) else [str(item)])
    return flat
