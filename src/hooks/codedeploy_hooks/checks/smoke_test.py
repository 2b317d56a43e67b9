"""AfterAllowTestTraffic: the green task set answers 200 on /health and every smoke path, through
the test listener, before any user traffic reaches it."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from codedeploy_hooks.checks.http_probe import ProbeResult
from codedeploy_hooks.checks.load_balancing import describe_listener
from codedeploy_hooks.checks.verdict import Verdict
from codedeploy_hooks.errors import ServiceConfigError
from codedeploy_hooks.observability import logger

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient

    from codedeploy_hooks.checks.deployment import DeploymentTarget
    from codedeploy_hooks.checks.network import Endpoint
    from codedeploy_hooks.deadline import Deadline
    from codedeploy_hooks.dependencies import Dependencies, Probe
    from codedeploy_hooks.settings import Settings

HEALTH_PATH = "/health"


def smoke_test(target: DeploymentTarget, deps: Dependencies, deadline: Deadline) -> Verdict:
    """The check: every path in turn, stopping at the first that never answers 200."""
    if not target.test_listener_arns:
        return Verdict.fail(f"deployment group {target.deployment_group} has no test listener")
    listener = describe_listener(deps.elbv2, target.test_listener_arns[0])
    if listener.protocol != "HTTP":
        return Verdict.fail(
            f"test listener {listener.arn} speaks {listener.protocol}; the smoke test expects HTTP"
        )
    paths = smoke_paths(configured_smoke_paths(deps.ssm, target.config_parameter))
    endpoints = deps.resolver.resolve(listener)
    results = []
    for path in paths:
        if deadline.expired:
            break
        result = probe_path(
            path, endpoints, settings=deps.settings, deadline=deadline, probe=deps.probe
        )
        results.append(result)
        if not result.ok:
            break  # one failed path fails the hook: do not spend the budget on the rest
    return smoke_verdict(results, paths)


def configured_smoke_paths(ssm: SSMClient, parameter: str) -> list[str]:
    try:
        raw = ssm.get_parameter(Name=parameter)["Parameter"].get("Value", "")
    except ssm.exceptions.ParameterNotFound as error:
        raise ServiceConfigError(f"service configuration {parameter} not found") from error
    try:
        config = json.loads(raw)
    except json.JSONDecodeError as error:
        raise ServiceConfigError(f"{parameter} is not JSON: {error}") from error
    paths = config.get("smoke_paths", []) if isinstance(config, dict) else None
    if not isinstance(paths, list) or not all(
        isinstance(path, str) and path.startswith("/") for path in paths
    ):
        raise ServiceConfigError(f"{parameter}: smoke_paths must be a list of paths starting '/'")
    return paths


def probe_path(
    path: str,
    endpoints: Sequence[Endpoint],
    *,
    settings: Settings,
    deadline: Deadline,
    probe: Probe,
) -> PathResult:
    """Up to `smoke_attempts` requests, rotating over the ALB's addresses, until one answers 200."""
    attempts: list[ProbeResult] = []
    for attempt in range(settings.smoke_attempts):
        timeout = deadline.cap(settings.smoke_request_timeout_seconds)
        if timeout <= 0:
            break
        endpoint = endpoints[attempt % len(endpoints)]
        result = probe(endpoint, path, timeout)
        attempts.append(result)
        logger.info(
            "smoke request",
            extra={
                "path": path,
                "address": endpoint.host,
                "status": result.status,
                "error": result.error,
                "attempt": attempt + 1,
            },
        )
        if result.ok:
            break
        if attempt + 1 < settings.smoke_attempts:
            base, cap = settings.backoff_base_seconds, settings.backoff_max_seconds
            deadline.wait(backoff_seconds(attempt, base, cap))
    return PathResult(path=path, attempts=tuple(attempts))


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


def backoff_seconds(attempt: int, base: float, cap: float) -> float:
    """Exponential backoff before retry number `attempt + 1` (attempt counts from 0)."""
    return float(min(cap, base * 2**attempt))
