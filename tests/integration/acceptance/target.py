"""Which stack `make acceptance` may touch: a named samconfig environment, never production."""

from __future__ import annotations

import shlex
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PRODUCTION_SUFFIX = "prod"


class AcceptanceRefused(Exception):
    """The kit will not run against this target; the message says why and what to do instead."""


@dataclass(frozen=True)
class Target:
    env: str
    stack_name: str
    suffix: str
    region: str | None


def parameter_overrides(text: str) -> dict[str, str]:
    """samconfig's `parameter_overrides = "A=b C='d e'"` as a mapping."""
    pairs = (item.partition("=") for item in shlex.split(text))
    return {key: value for key, sep, value in pairs if sep}


def refuse_production(stack_name: str, suffix: str) -> None:
    if suffix == PRODUCTION_SUFFIX or stack_name.endswith(f"-{PRODUCTION_SUFFIX}"):
        raise AcceptanceRefused(
            f"refusing {stack_name} (suffix {suffix!r}): the acceptance checks force alarms, "
            "redeploy services and fail pipeline stages; run them on a sandbox copy "
            "(make acceptance ENV=sandbox)"
        )


def resolve_target(env: str | None, samconfig: Path, default_suffix: str) -> Target:
    """The stack of samconfig environment `env`; refuses a missing ENV and any production stack.

    `default_suffix` is template.yaml's EnvironmentSuffix default, which applies when the
    environment does not override it.
    """
    if env is None or not env.strip():
        raise AcceptanceRefused(
            "ENV is required: name a samconfig.toml environment, for example ENV=sandbox "
            "(the kit never picks a stack by itself)"
        )
    env = env.strip()
    config: dict[str, Any] = tomllib.loads(samconfig.read_text())
    environments = sorted(name for name, value in config.items() if isinstance(value, dict))
    if env not in environments:
        raise AcceptanceRefused(
            f"ENV={env} is not an environment of {samconfig.name} "
            f"(it has {', '.join(environments)})"
        )
    section: dict[str, Any] = config[env]
    deploy = section.get("deploy", {}).get("parameters", {})
    shared = section.get("global", {}).get("parameters", {})
    stack_name = deploy.get("stack_name") or shared.get("stack_name")
    if not stack_name:
        raise AcceptanceRefused(f"samconfig environment {env} names no stack_name")
    overrides = parameter_overrides(deploy.get("parameter_overrides", ""))
    suffix = overrides.get("EnvironmentSuffix", default_suffix)
    refuse_production(stack_name, suffix)
    region = deploy.get("region") or shared.get("region")
    return Target(env=env, stack_name=stack_name, suffix=suffix, region=region)
