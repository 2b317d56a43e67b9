"""Typed parsing of UserParameters and of the continuation token."""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, replace
from typing import Any, TypeGuard

from health_check.errors import ParameterError, TokenError
from health_check.targets import EnvironmentTarget, ReleaseTargets
from health_check.verdict import Outcome

# Five minutes healthy in a row: long enough for every alarm to evaluate at least one full
# period on new traffic after CodeDeploy shifts it, short enough that a release still flows.
DEFAULT_BAKE_SECONDS = 300
# One day: a bake longer than that is a typo, and CodePipeline actions give up long before.
MAX_BAKE_SECONDS = 86_400
# 2: the token carries the healthy streak's start as well as the first invocation's. A version 1
# token (first invocation only) is refused, not upgraded: mapping its start to a streak start
# would count time spent waiting (no data, unsteady services) as healthy, the very defect v2 fixed.
# 3: the token also carries the restore phase (when this check began restoring a failed
# environment, why and how it failed). Older tokens are refused like v1: retry the stage.
# 4: the token also carries when traffic was first seen fully on this stage's deployments (a
# check beside them, `beside_deployments`): its bake is measured from then.
TOKEN_VERSION = 4
# How much of the failure the token keeps for the final report, counted as the token's JSON
# writes it (a token is at most 2048 characters, and JSON writes a non-ASCII character as six).
TOKEN_CAUSE_CHARS = 600
# How an environment that is then restored can have failed; its final report says which.
RESTORED_FAILURES = (Outcome.FAILED_ALARM, Outcome.FAILED_UNHEALTHY)
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
_KNOWN_KEYS = frozenset(
    {
        "check",
        "environment",
        "alarm_prefix",
        "bake_seconds",
        "cluster",
        "services",
        "beside_deployments",
    }
)
# What a job checks: the environment's health (ValidateHealth), or (WaitForIdle, before a stage's
# deployments) that none of the environment's deployment groups is busy with a deployment, a
# CodeDeploy rollback or a restore, which a new deployment would collide with.
CHECKS = ("health", "idle")


@dataclass(frozen=True)
class CheckParameters:
    environment: str
    alarm_prefix: str = ""
    bake_seconds: int = DEFAULT_BAKE_SECONDS
    cluster: str | None = None
    services: tuple[str, ...] = ()
    check: str = "health"
    # The action runs beside the stage's deployment actions (same RunOrder): it waits until each
    # service's deployment of this stage has moved all traffic, bakes while the original task
    # sets wait out their termination, and passes once the deployments succeeded (rollout.py).
    beside_deployments: bool = False


@dataclass(frozen=True)
class BakeToken:
    """What one invocation hands the next, bound to the check it belongs to: when the first
    invocation ran, and when the current all-healthy streak began (None while not healthy)."""

    started_at: int
    environment: str
    bake_seconds: int
    healthy_since: int | None = None
    # Set once the environment failed: every later invocation only restores, then reports.
    restoring_since: int | None = None
    cause: str = ""
    # The verdict's outcome (one of RESTORED_FAILURES): what the job reports once restored.
    failed_as: str = ""
    # Beside the deployments: when traffic was first seen fully on all of them (None before).
    moved_at: int | None = None

    def restoring(self, since: float, cause: str, failed_as: Outcome) -> BakeToken:
        return replace(
            self,
            healthy_since=None,
            restoring_since=math.floor(since),
            cause=_bounded(cause),
            failed_as=failed_as.value,
        )

    def with_move(self, moved_at: float | None) -> BakeToken:
        """Rounded up, like the streak: the bake never counts time before traffic moved."""
        return replace(self, moved_at=None if moved_at is None else math.ceil(moved_at))

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
    check = data.get("check", "health")
    if check not in CHECKS:
        raise ParameterError(f"UserParameters.check must be {' or '.join(CHECKS)}, got {check!r}")
    if check == "idle":
        return CheckParameters(
            environment=environment,
            bake_seconds=_bake_seconds(data.get("bake_seconds", DEFAULT_BAKE_SECONDS)),
            check=check,
        )
    beside = data.get("beside_deployments", False)
    if not isinstance(beside, bool):
        raise ParameterError("UserParameters.beside_deployments must be true or false")
    target = _ecs_target(data)
    return CheckParameters(
        environment=environment,
        alarm_prefix=_optional_string(data, "alarm_prefix"),
        bake_seconds=_bake_seconds(data.get("bake_seconds", DEFAULT_BAKE_SECONDS)),
        beside_deployments=beside,
        **target,
    )


def configured(params: CheckParameters, targets: ReleaseTargets) -> CheckParameters:
    """The job's parameters as the function's configuration has them: the event only chooses
    which configured environment; its cluster, services and alarm prefix come from
    RELEASE_TARGETS. An event that names any of them differently (another environment's
    cluster, say) is refused, never followed: ParameterError names the disagreement."""
    if params.environment not in targets.environments:
        raise ParameterError(
            f"UserParameters.environment {params.environment!r} is not one this function is "
            f"configured for ({', '.join(sorted(targets.environments))})"
        )
    target = targets.of(params.environment)
    if params.check == "idle":
        return params
    _agrees(params, target)
    return replace(
        params,
        alarm_prefix=target.alarm_prefix,
        cluster=target.cluster,
        services=target.ecs_services,
    )


def _agrees(params: CheckParameters, target: EnvironmentTarget) -> None:
    where = f"the function's configuration for {target.environment}"
    if params.cluster is not None and params.cluster != target.cluster:
        raise ParameterError(
            f"UserParameters.cluster {params.cluster!r} is not {target.environment}'s cluster "
            f"{target.cluster!r} ({where}): refused"
        )
    if params.alarm_prefix and params.alarm_prefix != target.alarm_prefix:
        raise ParameterError(
            f"UserParameters.alarm_prefix {params.alarm_prefix!r} disagrees with {where} "
            f"({target.alarm_prefix!r}): refused"
        )
    if params.services and sorted(params.services) != sorted(target.ecs_services):
        raise ParameterError(
            f"UserParameters.services {list(params.services)} disagree with {where} "
            f"({list(target.ecs_services)}): refused"
        )


def _required_string(data: dict[str, Any], key: str) -> str:
    if key not in data:
        raise ParameterError(f"UserParameters.{key} is required")
    value = data[key]
    if not isinstance(value, str) or not value.strip():
        raise ParameterError(f"UserParameters.{key} must be a non-empty string")
    return value


def _optional_string(data: dict[str, Any], key: str) -> str:
    """Absent is empty; present, it must be a non-empty string like a required one."""
    return _required_string(data, key) if key in data else ""


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


_TOKEN_FIELDS = (
    "v",
    "started_at",
    "healthy_since",
    "environment",
    "bake_seconds",
    "restoring_since",
    "cause",
    "failed_as",
    "moved_at",
)


def encode_token(token: BakeToken) -> str:
    body = {
        "v": TOKEN_VERSION,
        "started_at": token.started_at,
        "healthy_since": token.healthy_since,
        "environment": token.environment,
        "bake_seconds": token.bake_seconds,
        "restoring_since": token.restoring_since,
        "cause": token.cause,
        "failed_as": token.failed_as,
        "moved_at": token.moved_at,
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
    if isinstance(data, dict) and data.get("v") in (1, 2, 3):
        raise TokenError(
            f"continuation token is version {data.get('v')}, written by an earlier version of "
            "this function: retry the stage"
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
    restoring_since, cause = _restore_phase(body, started_at)
    failed_as = body["failed_as"]
    if restoring_since is not None and failed_as not in RESTORED_FAILURES:
        raise TokenError("continuation token has a restore without the failure it follows")
    if not isinstance(failed_as, str):
        raise TokenError("continuation token has no readable failure")
    if body["environment"] != params.environment or body["bake_seconds"] != params.bake_seconds:
        raise TokenError("continuation token belongs to a different check")
    moved_at = _moved_at(body, started_at)
    # The current phase began at the latest of these that is set: the restore, the healthy
    # streak, the traffic move, the first invocation.
    phase_start = next(
        when for when in (restoring_since, healthy_since, moved_at, started_at) if when is not None
    )
    if phase_start > now + TOKEN_CLOCK_SKEW_SECONDS:
        raise TokenError("continuation token starts its bake in the future")
    if now - phase_start > params.bake_seconds + TOKEN_MAX_LATENESS_SECONDS:
        raise TokenError("continuation token is stale: its bake ended over an hour ago")
    return BakeToken(
        started_at,
        params.environment,
        params.bake_seconds,
        healthy_since,
        restoring_since,
        cause,
        failed_as,
        moved_at,
    )


def _bounded(cause: str) -> str:
    """The longest start of `cause` that JSON writes in at most TOKEN_CAUSE_CHARS characters
    (its quotes aside)."""
    kept = cause[:TOKEN_CAUSE_CHARS]
    while len(json.dumps(kept)) - 2 > TOKEN_CAUSE_CHARS:
        kept = kept[:-1]
    return kept


def _moved_at(body: dict[str, Any], started_at: int) -> int | None:
    moved_at = body["moved_at"]
    if moved_at is not None and not (_is_int(moved_at) and moved_at >= started_at):
        raise TokenError("continuation token has a traffic move that is not after its start")
    return moved_at


def _restore_phase(body: dict[str, Any], started_at: int) -> tuple[int | None, str]:
    restoring_since, cause = body["restoring_since"], body["cause"]
    if restoring_since is not None and not (
        _is_int(restoring_since) and restoring_since >= started_at
    ):
        raise TokenError("continuation token has a restore that is not after its start")
    if not isinstance(cause, str):
        raise TokenError("continuation token has no readable cause")
    return restoring_since, cause


def _is_int(value: object) -> TypeGuard[int]:
    # bool is an int subclass; `true` is no timestamp.
    return isinstance(value, int) and not isinstance(value, bool)


def _digest(body: dict[str, Any]) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]
