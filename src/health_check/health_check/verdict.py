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
    # The environment failed; its last known-good release is being restored: invoke again, and
    # report the failure once every service is back on it (or a human must take over).
    RESTORING = "restoring"
    FAILED_ALARM = "failed_alarm"
    FAILED_UNHEALTHY = "failed_unhealthy"  # bake over and still not healthy: fail closed
    # WaitForIdle: the environment's deployment groups stayed busy past the limit.
    FAILED_BUSY = "failed_busy"
    FAILED_MISCONFIGURED = "failed_misconfigured"  # nothing to validate, or a missing service
    FAILED_PARAMETERS = "failed_parameters"
    FAILED_CONTINUATION = "failed_continuation"  # unreadable continuation token
    FAILED_AWS_ERROR = "failed_aws_error"
    FAILED_INTERNAL = "failed_internal"
    # CodePipeline refused a result for the job (InvalidJobState, JobNotFound): a forged or
    # replayed event, or a retry after the result went out. Nothing is restored, recorded or
    # reported.
    JOB_NOT_LIVE = "job_not_live"

    @property
    def continues(self) -> bool:
        return self in (Outcome.BAKING, Outcome.WAITING, Outcome.RESTORING)

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
    # StateUpdatedTimestamp (epoch seconds): when the state last changed. An OK alarm updated
    # after the healthy streak began was not OK for a while between two polls.
    updated_at: float | None = None


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
    # Start of the current all-healthy streak (BAKING, SUCCEEDED); None while not yet healthy.
    healthy_since: float | None = None


@dataclass(frozen=True)
class BakeClock:
    """The bake's timing, in epoch seconds: the first invocation, the current healthy streak."""

    now: float
    started_at: float
    healthy_since: float | None = None

    @property
    def waited(self) -> float:
        # A start a little in the future (tolerated clock skew) counts as just started.
        return max(0.0, self.now - self.started_at)


def decide(
    alarms: list[AlarmFact],
    services: list[ServiceFact],
    bake_seconds: int,
    clock: BakeClock,
) -> Verdict:
    """One verdict from the facts.

    Not yet healthy: wait while `bake_seconds` since the first invocation have not passed, then
    fail closed. Healthy: succeed once healthy without a break for `bake_seconds`, which must
    happen within twice `bake_seconds` of the first invocation.
    """
    return _failure(alarms, services) or _bake(alarms, services, bake_seconds, clock)


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
    alarms: list[AlarmFact], services: list[ServiceFact], bake_seconds: int, clock: BakeClock
) -> Verdict:
    pending = [f"alarm {a.name} is {a.state}" for a in alarms if a.state != "OK"]
    pending += [f"service {s.describe()} is not steady" for s in services if not s.steady]
    after_bake = f" after a {bake_seconds}s bake" if bake_seconds else ""
    if pending:
        if clock.waited >= bake_seconds:
            within = f" within {bake_seconds}s of the first check" if bake_seconds else ""
            return Verdict(Outcome.FAILED_UNHEALTHY, f"not healthy{within}: {'; '.join(pending)}")
        left = _remaining(clock.waited, bake_seconds)
        return Verdict(
            Outcome.WAITING,
            f"waiting ({left}s left to become healthy): {'; '.join(pending)}",
            percent_complete=_percent(clock.waited, bake_seconds),
        )
    healthy_since = _streak_start(alarms, clock)
    healthy_for = max(0.0, clock.now - healthy_since)
    summary = f"{len(alarms)} alarm(s) OK, {len(services)} service(s) steady"
    if healthy_for >= bake_seconds:
        return Verdict(
            Outcome.SUCCEEDED,
            f"healthy{after_bake}: {summary}",
            percent_complete=100,
            healthy_since=healthy_since,
        )
    if clock.waited >= 2 * bake_seconds:
        # Alarms that keep changing state between polls restart the streak forever; an
        # environment that could not stay healthy for one bake within two is not healthy.
        return Verdict(
            Outcome.FAILED_UNHEALTHY,
            f"not healthy for {bake_seconds}s without a break within {2 * bake_seconds}s of the "
            f"first check: alarm states kept changing ({summary} now)",
        )
    return Verdict(
        Outcome.BAKING,
        f"healthy so far: {summary}; {_remaining(healthy_for, bake_seconds)}s of bake left",
        percent_complete=_percent(healthy_for, bake_seconds),
        healthy_since=healthy_since,
    )


def _streak_start(alarms: list[AlarmFact], clock: BakeClock) -> float:
    """The streak continues, or starts now; an alarm whose state changed after it began (say to
    ALARM and back between two polls) restarts it then. Never later than now: CloudWatch's clock
    may run a little ahead of ours."""
    since = clock.now if clock.healthy_since is None else clock.healthy_since
    changes = [alarm.updated_at for alarm in alarms if alarm.updated_at is not None]
    return min(clock.now, max([since, *changes]))


def _percent(elapsed: float, bake: int) -> int:
    """Only called while the bake lasts, so bake > 0."""
    return max(0, min(99, math.floor(100 * elapsed / bake)))


def _remaining(elapsed: float, bake: int) -> int:
    return max(0, math.ceil(bake - elapsed))
