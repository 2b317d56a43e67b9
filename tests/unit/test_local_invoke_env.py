"""events/env.json gives `sam local invoke` every variable the template resolves at deploy time.

`sam local invoke --env-vars` only overrides variables the function declares, and a variable
declared as `!Ref`/`!Sub` has no value locally unless the file gives one.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support import EVENTS_DIR, REPO_ROOT, load_template, resources_of_type

ENV_FILE = EVENTS_DIR / "env.json"
FUNCTIONS = resources_of_type(
    load_template(REPO_ROOT / "template.yaml"), "AWS::Serverless::Function"
)


def _variables(function: dict[str, Any]) -> dict[str, Any]:
    variables: dict[str, Any] = (
        function.get("Properties", {}).get("Environment", {}).get("Variables", {})
    )
    return variables


def test_each_entry_names_a_function_and_only_its_declared_variables() -> None:
    env = json.loads(ENV_FILE.read_text())
    for name, variables in env.items():
        assert name in FUNCTIONS, f"{name} is no function of template.yaml"
        assert set(variables) <= set(_variables(FUNCTIONS[name])), name


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_every_variable_resolved_at_deploy_time_has_a_local_value(name: str) -> None:
    # GIVEN the function's variables whose values are intrinsics (no value outside a stack)
    env = json.loads(ENV_FILE.read_text()).get(name, {})
    resolved_at_deploy = [k for k, v in _variables(FUNCTIONS[name]).items() if isinstance(v, dict)]
    # THEN the env file gives each one a plain string
    assert [k for k in resolved_at_deploy if not isinstance(env.get(k), str)] == []
