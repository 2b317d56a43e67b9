"""`python -m tools.preflight ENV`: can a target that talks to AWS run for ENV? Answered first.

`make deploy ENV=`, `make destroy ENV=` and `make acceptance ENV=` run this before anything else
(no lint, no build, no test collection). Without it a misspelt ENV cost a full `sam build` and
ended in SAM's "Missing option '--stack-name'", missing credentials surfaced as "Unable to locate
credentials" after 19 s of linting and building, and a missing region as a thousand lines of
NoRegionError tracebacks. Each refusal here is one line that says what to do.

Nothing here sends a request to AWS: the region and the credentials are what botocore (the SDK
under `sam`, the destroy script and the acceptance kit) resolves from this shell, read the way
it reads them. Which variables it reads is taken from botocore itself, not from memory: the
AWS CLI v2 reads `AWS_REGION`, botocore (1.43 in uv.lock) reads only `AWS_DEFAULT_REGION`.
Credentials that botocore fetches lazily (SSO, assume-role) are found, not proven valid; on a
machine with no credentials at all botocore's last resort asks the EC2 instance metadata
service, which takes up to about 2 s off EC2.
"""

from __future__ import annotations

import os
import sys
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import botocore
import botocore.session
from botocore.exceptions import BotoCoreError

SAMCONFIG = Path(__file__).resolve().parents[1] / "samconfig.toml"
# Sections of samconfig.toml that are not environments.
_NOT_ENVIRONMENTS = frozenset({"version"})
# Read by the AWS CLI v2 and most other SDKs, not by botocore 1.43 (see sdk_reads_aws_region).
AWS_REGION = "AWS_REGION"


class PreflightError(ValueError):
    """The target cannot work as asked; the message says how to fix it."""


@dataclass(frozen=True)
class Sdk:
    """What botocore resolves in this shell, read without sending anything."""

    region: str | None
    region_source: str
    credentials: str | None  # botocore's name for where they came from ("env", "sso", ...)


@dataclass(frozen=True)
class Target:
    environment: str
    stack_name: str
    region: str
    region_source: str
    credentials: str


def region_variable() -> str:
    """The environment variable botocore's session reads the region from (AWS_DEFAULT_REGION)."""
    variable = botocore.session.Session.SESSION_VARIABLES["region"][1]
    return variable if isinstance(variable, str) else variable[0]


def sdk_reads_aws_region() -> bool:
    """Whether the installed botocore takes the region from AWS_REGION (1.43 does not)."""
    variable = botocore.session.Session.SESSION_VARIABLES["region"][1]
    return AWS_REGION in ([variable] if isinstance(variable, str) else list(variable))


def read_sdk(environ: Mapping[str, str] | None = None) -> Sdk:
    """The region and credentials a botocore session made in this shell would use."""
    environ = os.environ if environ is None else environ
    session = botocore.session.Session()
    try:
        region = session.get_config_variable("region")
        credentials = session.get_credentials()
    except BotoCoreError as error:  # a missing profile, an unreadable config file
        raise PreflightError(f"the AWS SDK cannot read your configuration: {error}") from None
    if environ.get(region_variable()) == region:
        source = region_variable()
    else:
        source = f"AWS profile {session.profile or 'default'}"
    return Sdk(region, source, credentials.method if credentials else None)


def environments(samconfig: Mapping[str, Any]) -> list[str]:
    return sorted(
        name
        for name, section in samconfig.items()
        if name not in _NOT_ENVIRONMENTS and isinstance(section, dict)
    )


def _setting(samconfig: Mapping[str, Any], environment: str, key: str) -> str | None:
    """SAM's lookup for `sam deploy`: the deploy command's parameters, then the global ones."""
    section = samconfig.get(environment, {})
    for command in ("deploy", "global"):
        value = section.get(command, {}).get("parameters", {}).get(key)
        if isinstance(value, str) and value:
            return value
    return None


def _no_region(environment: str, environ: Mapping[str, str]) -> PreflightError:
    variable = region_variable()
    ignored = environ.get(AWS_REGION)
    samconfig_fix = (
        f'add region = "{ignored or "<region>"}" under [{environment}.deploy.parameters] '
        "in samconfig.toml"
    )
    if ignored and not sdk_reads_aws_region():
        return PreflightError(
            f"no AWS region for ENV={environment}: {AWS_REGION}={ignored} is set, but botocore "
            f"{botocore.__version__} (under sam and these tools) does not read it: "
            f"export {variable}={ignored}, or {samconfig_fix}"
        )
    return PreflightError(
        f"no AWS region for ENV={environment}: export {variable}=<region> (for example "
        f"eu-west-1), set region in your AWS profile (aws configure set region <region>), "
        f"or {samconfig_fix}"
    )


def check(
    samconfig: Mapping[str, Any],
    environment: str,
    sdk: Callable[[], Sdk],
    environ: Mapping[str, str] | None = None,
) -> Target:
    """The stack, region and credentials ENV's targets would use, or why they cannot run.

    `sdk` is only called once ENV names a usable environment: a typo costs no SDK lookup.
    """
    environ = os.environ if environ is None else environ
    known = environments(samconfig)
    if environment not in known:
        raise PreflightError(
            f"ENV={environment} is not an environment of samconfig.toml: use one of "
            f"{', '.join(known)} (or no ENV for the local emulator)"
        )
    stack_name = _setting(samconfig, environment, "stack_name")
    if stack_name is None:
        raise PreflightError(
            f"samconfig.toml's [{environment}.deploy.parameters] has no stack_name: add one"
        )
    found = sdk()
    region, region_source = _setting(samconfig, environment, "region"), "samconfig.toml"
    if not region:
        region, region_source = found.region, found.region_source
    if not region:
        raise _no_region(environment, environ)
    if not found.credentials:
        raise PreflightError(
            f"no AWS credentials for ENV={environment}: botocore found none in the environment, "
            "~/.aws/credentials, ~/.aws/config or a container or instance role: "
            "export AWS_PROFILE=<profile> (after `aws configure` or `aws sso login`) or "
            "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
        )
    return Target(environment, stack_name, region, region_source, found.credentials)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1 or not args[0].strip():
        print(
            "error: name a samconfig.toml environment: ENV=<environment> "
            "(python -m tools.preflight <environment>)",
            file=sys.stderr,
        )
        return 2
    try:
        samconfig = tomllib.loads(SAMCONFIG.read_text(encoding="utf-8"))
        target = check(samconfig, args[0].strip(), read_sdk)
    except PreflightError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(describe(target))
    return 0


def describe(target: Target) -> str:
    return (
        f"==> ENV={target.environment}: stack {target.stack_name} in {target.region} "
        f"(region from {target.region_source}), credentials from {target.credentials} "
        "(found, not yet used)"
    )


if __name__ == "__main__":
    sys.exit(main())
