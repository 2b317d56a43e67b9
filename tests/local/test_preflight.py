"""`make deploy ENV=...` checks ENV and the region against samconfig.toml before it builds."""

from __future__ import annotations

import os
import subprocess
import tomllib
from typing import Any

import pytest

from tests.support import REPO_ROOT
from tools.preflight import PreflightError, check, environments

SAMCONFIG: dict[str, Any] = tomllib.loads((REPO_ROOT / "samconfig.toml").read_text())


def _no_region() -> str | None:
    return None


def test_the_repository_samconfig_names_its_three_environments() -> None:
    assert environments(SAMCONFIG) == ["default", "prod", "sandbox"]


def test_an_unknown_env_is_refused_naming_the_known_ones() -> None:
    # GIVEN ENV=nonexistent  WHEN checked  THEN the error lists what exists
    with pytest.raises(PreflightError, match="use one of default, prod, sandbox"):
        check(SAMCONFIG, "nonexistent", lambda: "eu-west-1")


def test_no_region_anywhere_says_how_to_set_one() -> None:
    # GIVEN no region in samconfig, the environment or a profile  WHEN checked
    with pytest.raises(PreflightError) as refused:
        check(SAMCONFIG, "prod", _no_region)
    # THEN the message gives the fixes
    assert "export AWS_REGION=" in str(refused.value)
    assert "[prod.deploy.parameters]" in str(refused.value)


def test_the_sdk_region_is_used_when_samconfig_has_none() -> None:
    target = check(SAMCONFIG, "prod", lambda: "eu-west-1")
    assert (target.stack_name, target.region) == ("microservices-pipeline-prod", "eu-west-1")


def test_samconfig_region_wins_and_global_parameters_count() -> None:
    # GIVEN the stack name among the global parameters and a region for deploy (as `default` has)
    samconfig = {
        "version": 0.1,
        "default": {
            "global": {"parameters": {"stack_name": "s"}},
            "deploy": {"parameters": {"region": "eu-central-1"}},
        },
    }
    target = check(samconfig, "default", lambda: "us-west-2")
    assert (target.stack_name, target.region, target.region_source) == (
        "s",
        "eu-central-1",
        "samconfig.toml",
    )


def test_make_deploy_with_an_unknown_env_stops_before_building() -> None:
    # GIVEN ENV naming no samconfig environment  WHEN `make deploy` runs
    # (without the flags of a `make test` this may run under, such as --jobs)
    environ = {k: v for k, v in os.environ.items() if k not in {"MAKEFLAGS", "MFLAGS", "MAKELEVEL"}}
    completed = subprocess.run(
        ["make", "--no-print-directory", "deploy", "ENV=nonexistent"],
        cwd=REPO_ROOT,
        env=environ,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    # THEN it fails with the one line that says what to do, and nothing was built
    assert completed.returncode != 0
    assert "ENV=nonexistent is not an environment of samconfig.toml" in completed.stderr
    assert "sam build" not in completed.stdout
    assert "Traceback" not in completed.stderr
