"""Pure decisions of the hooks: facts in, verdict out. No AWS, no clock."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum

HEALTH_PATH = "/health"
HTTP_OK = 200


@dataclass(frozen=True)
class Verdict:
    passed: bool
    reason: str

    @classmethod
    def ok(cls, reason: str) -> Verdict:
        return cls(passed=True, reason=reason)

    @classmethod
    def fail(cls, reason: str) -> Verdict:
        return cls(passed=False, reason=reason)


# ---------------------------------------------------------------- smoke test
@dataclass(frozen=True)
class ProbeResult:
    """One HTTP request: the status code, or why there was none (refused, timed out, ...)."""

    status: int | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == HTTP_OK


@dataclass(frozen=True)
class PathResult:
    path: str
    attempts: tuple[ProbeResult, ...]

    @property
    def ok(self) -> bool:
        return any(attempt.ok for attempt in self.attempts)


def smoke_paths(configured: Iterable[str]) -> tuple[str, ...]:
    """`/health` first, then the configured paths in order, without duplicates."""
    paths = [HEALTH_PATH]
    for path in configured:
        if path not in paths:
            paths.append(path)
    return tuple(paths)


def smoke_verdict(results: Sequence[PathResult], expected: Sequence[str]) -> Verdict:
    """Every expected path answered 200 at least once; a path never tried (an earlier one failed
    or time ran out) counts as failed."""
    by_path = {result.path: result for result in results}
    failures = []
    for path in expected:
        result = by_path.get(path)
        if result is None or not result.attempts:
            failures.append(f"{path}: not tried")
        elif not result.ok:
            last = result.attempts[-1]
            seen = f"HTTP {last.status}" if last.status is not None else last.error
            failures.append(f"{path}: {seen} after {len(result.attempts)} attempt(s)")
    if failures:
        return Verdict.fail("smoke test failed: " + "; ".join(failures))
    return Verdict.ok(f"smoke test passed: {', '.join(expected)} answered 200")


# ---------------------------------------------------------------- alarms
def alarm_verdict(expected: Iterable[str], states: Mapping[str, str]) -> Verdict:
    """Only ALARM fails. INSUFFICIENT_DATA passes: a new task set or a freshly shifted target group
    has no datapoints yet, and CodeDeploy's own alarm monitoring draws the line at ALARM too. An
    alarm that should exist but does not fails: a gate that cannot see its signal must not open.
    """
    names = sorted(set(expected))
    if not names:
        return Verdict.fail("no alarms to check: the service's alarms were not found")
    missing = [name for name in names if name not in states]
    in_alarm = [name for name in names if states.get(name) == "ALARM"]
    if missing:
        return Verdict.fail(f"alarms not found: {', '.join(missing)}")
    if in_alarm:
        return Verdict.fail(f"alarms in ALARM: {', '.join(in_alarm)}")
    return Verdict.ok(f"{len(names)} alarm(s) not in ALARM")


# ---------------------------------------------------------------- target health
class TargetHealth(Enum):
    HEALTHY = "healthy"
    PENDING = "pending"  # worth waiting for: registration is still in progress
    UNHEALTHY = "unhealthy"


@dataclass(frozen=True)
class TargetState:
    target_id: str
    port: int | None
    state: str
    reason: str | None = None


def target_health(targets: Sequence[TargetState]) -> TargetHealth:
    """An empty target group is not healthy: there would be nothing to send traffic to."""
    if not targets:
        return TargetHealth.PENDING
    if any(target.state not in {"healthy", "initial"} for target in targets):
        return TargetHealth.UNHEALTHY
    if any(target.state == "initial" for target in targets):
        return TargetHealth.PENDING
    return TargetHealth.HEALTHY


def target_verdict(target_group: str, targets: Sequence[TargetState]) -> Verdict:
    health = target_health(targets)
    if health is TargetHealth.HEALTHY:
        return Verdict.ok(f"{len(targets)} target(s) healthy in {target_group}")
    if not targets:
        return Verdict.fail(f"no registered targets in {target_group}")
    described = ", ".join(
        f"{t.target_id}:{t.port} {t.state}" + (f" ({t.reason})" if t.reason else "")
        for t in targets
        if t.state != "healthy"
    )
    return Verdict.fail(f"targets not healthy in {target_group}: {described}")


# ---------------------------------------------------------------- listeners
@dataclass(frozen=True)
class WeightedTargetGroup:
    arn: str
    weight: int


def primary_target_group(forwards: Sequence[WeightedTargetGroup]) -> str | None:
    """The target group receiving most of a listener's traffic (CodeDeploy shifts weights)."""
    if not forwards:
        return None
    return max(forwards, key=lambda forward: forward.weight).arn


def combine(verdicts: Sequence[Verdict]) -> Verdict:
    failed = [verdict.reason for verdict in verdicts if not verdict.passed]
    if failed:
        return Verdict.fail("; ".join(failed))
    return Verdict.ok("; ".join(verdict.reason for verdict in verdicts))


def backoff_seconds(attempt: int, base: float, cap: float) -> float:
    """Exponential backoff before retry number `attempt + 1` (attempt counts from 0)."""
    return float(min(cap, base * 2**attempt))


# ---------------------------------------------------------------- traffic phase
class TrafficPhase(Enum):
    """CodeDeploy's hook event does not say which lifecycle event invoked us; the listeners do."""

    BEFORE_ALLOW_TRAFFIC = "BeforeAllowTraffic"
    AFTER_ALLOW_TRAFFIC = "AfterAllowTraffic"


def traffic_phase(prod_target_group: str, test_target_group: str) -> TrafficPhase:
    """The test listener forwards to green from AfterAllowTestTraffic on; once the production
    listener forwards to the same group, AllowTraffic has happened."""
    if prod_target_group == test_target_group:
        return TrafficPhase.AFTER_ALLOW_TRAFFIC
    return TrafficPhase.BEFORE_ALLOW_TRAFFIC
