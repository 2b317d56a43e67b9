"""Typed parsing of UserParameters and of the continuation token."""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, replace
from typing import Any, TypeGuard

from health_check.errors import ParameterError, TokenError

# Five minutes healthy in a row: long enough for every alarm to evaluate at least one full
# period on new traffic after CodeDeploy shifts it, short enough that a release still flows.
DEFAULT_BAKE_SECONDS = 300
# One day: a bake longer than that is a typo, and CodePipeline actions give up long before.
MAX_BAKE_SECONDS = 86_400
# 2: the token carries the healthy streak's start as well as the first invocation's. A version 1
# token (first invocation only) is refused, not upgraded: mapping its start to a streak start
# would count time spent waiting (no data, unsteady services) as healthy, the very defect v2 fixed.
TOKEN_VERSION = 2
# CodePipeline re-invokes a continuation about once a minute but promises no interval. A run lasts
# up to about twice the bake (waiting for health, then a healthy bake; longer if the streak
# restarts), so lateness is measured from the current phase's start (the streak's, or the first
# invocation's while waiting): a token whose phase ended this long ago belongs to no live job.
TOKEN_MAX_LATENESS_SECONDS = 3_600
# Clocks of two Lambda containers can disagree by a little; more than this is not drift.
TOKEN_CLOCK_SKEW_SECONDS = 60

# The contract's two environments: the deployment groups are `{environment}-{service}`, so any
# other name would match nothing and could only ever pass on alarms alone.
ENVIRONMENTS = ("staging", "production")
_KNOWN_KEYS = frozenset({"environment", "alarm_prefix", "bake_seconds", "cluster", "services"})


@dataclass(frozen=True)
class CheckParameters:
    environment: str
    alarm_prefix: str
    bake_seconds: int = DEFAULT_BAKE_SECONDS
    cluster: str | None = None
    services: tuple[str, ...] = ()


@dataclass(frozen=True)
class BakeToken:
    """What one invocation hands the next, bound to the check it belongs to: when the first
    invocation ran, and when the current all-healthy streak began (None while not healthy)."""

    started_at: int
    environment: str
    bake_seconds: int
    healthy_since: int | None = None

    def with_streak(self, healthy_since: float | None) -> BakeToken:
        """Rounded up, so the stored streak is never longer than the one observed."""
        since = None if healthy_since is None else math.ceil(healthy_since)
        return replace(self, healthy_since=since)


def parse_user_parameters(raw: object) -> CheckParameters:
    """UserParameters (a JSON string) -> parameters; ParameterError names the problem."""
    if not isinstance(raw, str) or not raw.strip():
        raise ParameterError("UserParameters are missing: expected a JSON object")
    try:
        data = json.loads(raw)
    # RecursionError: nesting deeper than the decoder goes is malformed input, not a bug.
    except (ValueError, RecursionError) as error:
        raise ParameterError(f"UserParameters are not valid JSON: {error}") from None
    if not isinstance(data, dict):
        raise ParameterError(f"UserParameters must be a JSON object, got {type(data).__name__}")
    unknown = sorted(set(data) - _KNOWN_KEYS)
    if unknown:
        # A misspelt optional key (say "bake_second") would otherwise silently use the default.
        raise ParameterError(f"UserParameters has unknown keys: {', '.join(unknown)}")
    environment = _required_string(data, "environment")
    if environment not in ENVIRONMENTS:
        raise ParameterError(
            f"UserParameters.environment must be {' or '.join(ENVIRONMENTS)}, got {environment!r}"
        )
    return CheckParameters(
        environment=environment,
        alarm_prefix=_required_string(data, "alarm_prefix"),
        bake_seconds=_bake_seconds(data.get("bake_seconds", DEFAULT_BAKE_SECONDS)),
        **_ecs_target(data),
    )


def _required_string(data: dict[str, Any], key: str) -> str:
    if key not in data:
        raise ParameterError(f"UserParameters.{key} is required")
    value = data[key]
    if not isinstance(value, str) or not value.strip():
        raise ParameterError(f"UserParameters.{key} must be a non-empty string")
    return value


def _bake_seconds(value: object) -> int:
    # bool is an int subclass: `true` is a typo, not one second.
    if isinstance(value, bool) or not isinstance(value, int):
        raise ParameterError("UserParameters.bake_seconds must be a non-negative integer")
    if value < 0:
        raise ParameterError(f"UserParameters.bake_seconds must not be negative, got {value}")
    if value > MAX_BAKE_SECONDS:
        raise ParameterError(f"UserParameters.bake_seconds must be at most {MAX_BAKE_SECONDS}")
    return value


def _ecs_target(data: dict[str, Any]) -> dict[str, Any]:
    cluster, services = data.get("cluster"), data.get("services")
    if cluster is None and services is None:
        return {}
    if cluster is None or services is None:
        raise ParameterError("UserParameters.cluster and .services must be given together")
    if not isinstance(cluster, str) or not cluster.strip():
        raise ParameterError("UserParameters.cluster must be a non-empty string")
    if (
        not isinstance(services, list)
        or not services
        or not all(isinstance(name, str) and name.strip() for name in services)
    ):
        raise ParameterError("UserParameters.services must be a non-empty list of service names")
    if len(set(services)) != len(services):
        raise ParameterError("UserParameters.services lists a service twice")
    return {"cluster": cluster, "services": tuple(services)}


def new_token(
    params: CheckParameters, started_at: int, healthy_since: int | None = None
) -> BakeToken:
    return BakeToken(started_at, params.environment, params.bake_seconds, healthy_since)


_TOKEN_FIELDS = ("v", "started_at", "healthy_since", "environment", "bake_seconds")


def encode_token(token: BakeToken) -> str:
    body = {
        "v": TOKEN_VERSION,
        "started_at": token.started_at,
        "healthy_since": token.healthy_since,
        "environment": token.environment,
        "bake_seconds": token.bake_seconds,
    }
    return json.dumps({**body, "digest": _digest(body)}, sort_keys=True, separators=(",", ":"))


def decode_token(raw: str, params: CheckParameters, now: float) -> BakeToken:
    """Read a token this function wrote for this check; anything else is a TokenError.

    The digest catches truncation and hand edits, not a determined forger: whoever can
    write a token can call PutJobSuccessResult directly, so a secret would add nothing.
    """
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        raise TokenError("continuation token is not JSON") from None
    if isinstance(data, dict) and data.get("v") == 1:
        raise TokenError(
            "continuation token is version 1, written before the bake measured a healthy "
            "streak; it cannot say how long the environment has been healthy: retry the stage"
        )
    if not isinstance(data, dict) or data.get("v") != TOKEN_VERSION:
        raise TokenError("continuation token has an unknown format or version")
    body = {key: data.get(key) for key in _TOKEN_FIELDS}
    if set(data) != {*body, "digest"} or data.get("digest") != _digest(body):
        raise TokenError("continuation token failed its integrity check")
    started_at, healthy_since = body["started_at"], body["healthy_since"]
    if not _is_int(started_at):
        raise TokenError("continuation token has no bake start")
    if healthy_since is not None and not (_is_int(healthy_since) and healthy_since >= started_at):
        raise TokenError("continuation token has a healthy streak that is not after its start")
    if body["environment"] != params.environment or body["bake_seconds"] != params.bake_seconds:
        raise TokenError("continuation token belongs to a different check")
    phase_start = started_at if healthy_since is None else healthy_since
    if phase_start > now + TOKEN_CLOCK_SKEW_SECONDS:
        raise TokenError("continuation token starts its bake in the future")
    if now - phase_start > params.bake_seconds + TOKEN_MAX_LATENESS_SECONDS:
        raise TokenError("continuation token is stale: its bake ended over an hour ago")
    return BakeToken(started_at, params.environment, params.bake_seconds, healthy_since)


def _is_int(value: object) -> TypeGuard[int]:
    # bool is an int subclass; `true` is no timestamp.
    return isinstance(value, int) and not isinstance(value, bool)


def _digest(body: dict[str, Any]) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]
