"""`python -m tools.preflight ENV`: can `sam deploy --config-env ENV` run? Answered before a build.

Without this, a misspelt ENV costs a full `sam build` and ends in SAM's "Missing option
'--stack-name'", and a missing region in "Unable to resolve a region"; neither says what to do.
Nothing here calls AWS: the region is what SAM itself would use (samconfig's `region`, else the
SDK's environment and profile), read without a request.
"""

from __future__ import annotations

import sys
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

SAMCONFIG = Path(__file__).resolve().parents[1] / "samconfig.toml"
# Sections of samconfig.toml that are not environments.
_NOT_ENVIRONMENTS = frozenset({"version"})


class PreflightError(ValueError):
    """The deploy cannot work as asked; the message says how to fix it."""


@dataclass(frozen=True)
class Target:
    environment: str
    stack_name: str
    region: str
    region_source: str


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


def check(
    samconfig: Mapping[str, Any], environment: str, sdk_region: Callable[[], str | None]
) -> Target:
    """The stack and region `sam deploy --config-env <environment>` would use, or why none."""
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
    region = _setting(samconfig, environment, "region")
    if region:
        return Target(environment, stack_name, region, "samconfig.toml")
    region = sdk_region()
    if region:
        return Target(environment, stack_name, region, "AWS_REGION or the AWS profile")
    raise PreflightError(
        f"no AWS region for ENV={environment}: export AWS_REGION=<region> (for example "
        f'eu-west-1), set one in your AWS profile, or add region = "<region>" under '
        f"[{environment}.deploy.parameters] in samconfig.toml"
    )


def _sdk_region() -> str | None:
    # Creating a session reads the environment and ~/.aws/config; it sends nothing.
    return boto3.session.Session().region_name


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: python -m tools.preflight <samconfig environment>", file=sys.stderr)
        return 2
    try:
        samconfig = tomllib.loads(SAMCONFIG.read_text(encoding="utf-8"))
        target = check(samconfig, args[0], _sdk_region)
    except PreflightError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(
        f"==> ENV={target.environment}: stack {target.stack_name} in {target.region} "
        f"(region from {target.region_source})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
