"""Every target that talks to AWS checks ENV, the region and credentials first, in one line.

`make deploy ENV=`, `make destroy ENV=` and `make acceptance ENV=` refuse before any lint, build
or test when samconfig.toml lacks ENV or botocore resolves no region or no credentials; the
advice names what botocore really reads.
"""

from __future__ import annotations

import os
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest

from tests.support import REPO_ROOT
from tools.preflight import (
    PreflightError,
    Sdk,
    check,
    environments,
    read_sdk,
    region_variable,
)

SAMCONFIG: dict[str, Any] = tomllib.loads((REPO_ROOT / "samconfig.toml").read_text())
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


def _sdk(region: str | None, credentials: str | None = "env") -> Any:
    return lambda: Sdk(region, "AWS_DEFAULT_REGION", credentials)


_no_region = _sdk(None)


def _shell(tmp_path: Path, **variables: str) -> dict[str, str]:
    """A shell with no AWS configuration but `variables` (no profile files, no instance role),
    and without the flags of a `make test` this may run under, such as --jobs."""
    kept = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("AWS_") and name not in {"MAKEFLAGS", "MFLAGS", "MAKELEVEL"}
    }
    return kept | {
        "HOME": str(tmp_path),
        "AWS_CONFIG_FILE": str(tmp_path / "no-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",  # never ask an instance metadata service
        **variables,
    }


def _make(target: str, environ: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", *target.split()],
        cwd=REPO_ROOT,
        env=environ,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_the_repository_samconfig_names_its_three_environments() -> None:
    assert environments(SAMCONFIG) == ["default", "prod", "sandbox"]


def test_an_unknown_env_is_refused_naming_the_known_ones() -> None:
    # GIVEN ENV=nonexistent  WHEN checked  THEN the error lists what exists
    with pytest.raises(PreflightError, match="use one of default, prod, sandbox"):
        check(SAMCONFIG, "nonexistent", _sdk("eu-west-1"))


def test_no_region_anywhere_says_how_to_set_one() -> None:
    # GIVEN no region in samconfig, the environment or a profile  WHEN checked
    with pytest.raises(PreflightError) as refused:
        check(SAMCONFIG, "prod", _no_region, environ={})
    # THEN the message gives the fixes, naming the variable botocore reads
    assert "export AWS_DEFAULT_REGION=<region>" in str(refused.value)
    assert "[prod.deploy.parameters]" in str(refused.value)


def test_the_locked_botocore_reads_the_region_from_aws_default_region_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a shell with AWS_REGION alone (what the AWS CLI v2 reads)
    for name, value in _shell(tmp_path, AWS_REGION="eu-west-1", **CREDENTIALS).items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    # THEN botocore's session resolves no region: the advice must not be "export AWS_REGION"
    assert read_sdk().region is None
    assert region_variable() == "AWS_DEFAULT_REGION"
    # AND the variable the advice names is one it reads
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    assert read_sdk() == Sdk("eu-west-1", "AWS_DEFAULT_REGION", "env")


def test_aws_region_alone_is_named_as_ignored_with_the_variable_that_works() -> None:
    with pytest.raises(PreflightError) as refused:
        check(SAMCONFIG, "prod", _no_region, environ={"AWS_REGION": "eu-west-1"})
    message = str(refused.value)
    assert "AWS_REGION=eu-west-1 is set, but botocore" in message
    assert "export AWS_DEFAULT_REGION=eu-west-1" in message
    assert 'region = "eu-west-1" under [prod.deploy.parameters]' in message


def test_no_credentials_are_refused_saying_where_to_put_them() -> None:
    with pytest.raises(PreflightError) as refused:
        check(SAMCONFIG, "prod", _sdk("eu-west-1", credentials=None))
    assert str(refused.value).startswith("no AWS credentials for ENV=prod")
    assert "AWS_PROFILE=<profile>" in str(refused.value)


def test_a_missing_profile_is_one_line_not_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in _shell(tmp_path, AWS_PROFILE="nonexistent").items():
        monkeypatch.setenv(name, value)
    with pytest.raises(PreflightError, match=r"profile \(nonexistent\) could not be found"):
        read_sdk()


def test_the_sdk_region_is_used_when_samconfig_has_none() -> None:
    target = check(SAMCONFIG, "prod", _sdk("eu-west-1"))
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
    target = check(samconfig, "default", _sdk("us-west-2"))
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


def test_make_deploy_without_credentials_stops_first_in_one_line(tmp_path: Path) -> None:
    # GIVEN a fresh shell: a region, no credentials anywhere
    completed = _make("deploy ENV=prod", _shell(tmp_path, AWS_DEFAULT_REGION="eu-west-1"))
    # THEN one line says so, before any lint or build
    assert completed.returncode != 0
    [line] = [line for line in completed.stderr.splitlines() if not line.startswith("make")]
    assert line.startswith("error: no AWS credentials for ENV=prod")
    assert "cfn-lint" not in completed.stdout
    assert "sam build" not in completed.stdout


def test_make_destroy_with_aws_region_alone_names_aws_default_region(tmp_path: Path) -> None:
    completed = _make("destroy ENV=prod", _shell(tmp_path, AWS_REGION="eu-west-1", **CREDENTIALS))
    assert completed.returncode != 0
    [line] = [line for line in completed.stderr.splitlines() if not line.startswith("make")]
    assert "export AWS_DEFAULT_REGION=eu-west-1" in line
    assert "destroy_stack" not in completed.stdout


def test_make_acceptance_without_a_region_is_one_line_not_pytest_tracebacks(
    tmp_path: Path,
) -> None:
    completed = _make("acceptance ENV=sandbox", _shell(tmp_path, **CREDENTIALS))
    assert completed.returncode != 0
    [line] = [line for line in completed.stderr.splitlines() if not line.startswith("make:")]
    assert line.startswith("make acceptance: no AWS region for ENV=sandbox")
    assert "pytest" not in completed.stdout
    assert "NoRegionError" not in completed.stdout + completed.stderr
