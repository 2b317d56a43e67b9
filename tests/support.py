"""Helpers shared by the test suites (import as `from tests.support import ...`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cfnlint.decode import cfn_yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
EVENTS_DIR = REPO_ROOT / "events"
PIPELINE_DIR = REPO_ROOT / "pipeline"


def load_event(name: str) -> dict[str, Any]:
    """An event from events/, the same file `sam local invoke -e events/<name>` uses."""
    event: dict[str, Any] = json.loads((EVENTS_DIR / name).read_text())
    return event


def load_template(path: Path) -> dict[str, Any]:
    """Parse a CloudFormation template with cfn-lint's loader: `!Ref x` becomes {"Ref": "x"}."""
    template: dict[str, Any] = cfn_yaml.load(str(path))
    return template


def resources_of_type(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    """Logical id -> resource, for every resource of one type."""
    return {
        logical_id: resource
        for logical_id, resource in template.get("Resources", {}).items()
        if resource.get("Type") == resource_type
    }
