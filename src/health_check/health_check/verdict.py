"""The decision: a pure function of alarm states, ECS service counts and the bake's timing."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum


class Outcome(StrEnum):
    """Every way a check ends; the value is the EMF metric dimension."""

    SUCCEEDED = "succeeded"  # healthy for the whole bake
    BAKING = "baking"  # healthy so far; invoke again
    WAITING = "waiting"  # not yet healthy (no data, unsteady); invoke again
    FAILED_ALARM = "failed_alarm"
    FAILED_UNHEALTHY = "failed_unhealthy"  # bake over and still not healthy: fail closed
    FAILED_MISCONFIGURED = "failed_misconfigured"  # nothing to validate, or a missing service
    FAILED_PARAMETERS = "failed_parameters"
    FAILED_CONTINUATION = "failed_continuation"  # unreadable continuation token
    FAILED_AWS_ERROR = "failed_aws_error"
    FAILED_INTERNAL = "failed_internal"

    @property
    def continues(self) -> bool:
        return self in (Outcome.BAKING, Outcome.WAITING)

    @property
    def succeeded(self) -> bool:
        return self is Outcome.SUCCEEDED or self.continues

    @property
    def environment_unhealthy(self) -> bool:
        """The environment itself failed: worth a notification and stopping its deployments."""
        return self in (Outcome.FAILED_ALARM, Outcome.FAILED_UNHEALTHY)


@dataclass(frozen=True)
class AlarmFact:
    name: str
    state: str  # OK | ALARM | INSUFFICIENT_DATA
    reason: str = ""


@dataclass(frozen=True)
class ServiceFact:
    name: str
    status: str  # ACTIVE | DRAINING | INACTIVE | MISSING (DescribeServices failure)
    running: int = 0
    desired: int = 0
    primary_deployments: int = 1
    other_deployments: int = 0
    failed_rollout: bool = False

    @property
    def exists(self) -> bool:
        return self.status == "ACTIVE"

    @property
    def steady(self) -> bool:
        return (
            self.exists
            and self.running == self.desired
            and self.primary_deployments == 1
            and self.other_deployments == 0
            and not self.failed_rollout
        )

    def describe(self) -> str:
        if not self.exists:
            return f"{self.name} is {self.status}"
        details = [f"{self.running}/{self.desired} running"]
        if self.primary_deployments != 1 or self.other_deployments:
            details.append(
                f"{self.primary_deployments} primary + {self.other_deployments} other deployments"
            )
        if self.failed_rollout:
            details.append("rollout FAILED")
        return f"{self.name} ({', '.join(details)})"


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    message: str
    breached_alarms: tuple[str, ...] = ()
    percent_complete: int = 0


def decide(
    alarms: list[AlarmFact],
    services: list[ServiceFact],
    bake_seconds: int,
    elapsed_seconds: float,
) -> Verdict:
    """One verdict from the facts; the bake is over once elapsed_seconds >= bake_seconds."""
    # A bake start a little in the future (tolerated clock skew) counts as just started.
    elapsed = max(0.0, elapsed_seconds)
    return _failure(alarms, services) or _bake(alarms, services, bake_seconds, elapsed)


def _failure(alarms: list[AlarmFact], services: list[ServiceFact]) -> Verdict | None:
    """The verdicts no amount of waiting can change."""
    breached = tuple(sorted(alarm.name for alarm in alarms if alarm.state == "ALARM"))
    if breached:
        return Verdict(
            Outcome.FAILED_ALARM,
            f"{len(breached)} alarm(s) in ALARM: {', '.join(breached)}",
            breached_alarms=breached,
        )
    if not alarms:
        return Verdict(
            Outcome.FAILED_MISCONFIGURED,
            "no CloudWatch alarm matches the prefix: nothing to validate",
        )
    absent = [service.describe() for service in services if not service.exists]
    if absent:
        # A deleted or misnamed service will not become steady by waiting.
        return Verdict(
            Outcome.FAILED_MISCONFIGURED, f"ECS service(s) not found: {', '.join(absent)}"
        )
    return None


def _bake(
    alarms: list[AlarmFact], services: list[ServiceFact], bake_seconds: int, elapsed: float
) -> Verdict:
    pending = [f"alarm {a.name} is {a.state}" for a in alarms if a.state != "OK"]
    pending += [f"service {s.describe()} is not steady" for s in services if not s.steady]
    bake_over = elapsed >= bake_seconds
    left = f"{_remaining(elapsed, bake_seconds)}s of bake left"
    after_bake = f" after a {bake_seconds}s bake" if bake_seconds else ""
    if pending and bake_over:
        return Verdict(Outcome.FAILED_UNHEALTHY, f"not healthy{after_bake}: {'; '.join(pending)}")
    if pending:
        return Verdict(
            Outcome.WAITING,
            f"waiting ({left}): {'; '.join(pending)}",
            percent_complete=_percent(elapsed, bake_seconds),
        )
    summary = f"{len(alarms)} alarm(s) OK, {len(services)} service(s) steady"
    if bake_over:
        return Verdict(
            Outcome.SUCCEEDED,
            f"healthy{after_bake}: {summary}",
            percent_complete=100,
        )
    return Verdict(
        Outcome.BAKING,
        f"healthy so far: {summary}; {left}",
        percent_complete=_percent(elapsed, bake_seconds),
    )


def _percent(elapsed: float, bake: int) -> int:
    """Only called while the bake lasts, so bake > 0."""
    return max(0, min(99, math.floor(100 * elapsed / bake)))


def _remaining(elapsed: float, bake: int) -> int:
    return max(0, math.ceil(bake - elapsed))
