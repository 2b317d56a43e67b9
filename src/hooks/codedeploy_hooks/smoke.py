"""AfterAllowTestTraffic: the green task set answers 200 on /health and every smoke path."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from codedeploy_hooks.checks import (
    PathResult,
    ProbeResult,
    Verdict,
    backoff_seconds,
    smoke_paths,
    smoke_verdict,
)
from codedeploy_hooks.errors import ServiceConfigError
from codedeploy_hooks.http_probe import probe
from codedeploy_hooks.load_balancing import describe_listener
from codedeploy_hooks.observability import logger

if TYPE_CHECKING:
    from mypy_boto3_elbv2 import ElasticLoadBalancingv2Client
    from mypy_boto3_ssm import SSMClient

    from codedeploy_hooks.deadline import Deadline
    from codedeploy_hooks.deployment import DeploymentTarget
    from codedeploy_hooks.network import Endpoint, EndpointResolver
    from codedeploy_hooks.settings import Settings


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
    sleep: Callable[[float], None],
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
            sleep(
                deadline.cap(
                    backoff_seconds(
                        attempt, settings.backoff_base_seconds, settings.backoff_max_seconds
                    )
                )
            )
            deadline.raise_if_cancelled()
    return PathResult(path=path, attempts=tuple(attempts))


def run_smoke_test(
    target: DeploymentTarget,
    *,
    elbv2: ElasticLoadBalancingv2Client,
    ssm: SSMClient,
    resolver: EndpointResolver,
    settings: Settings,
    deadline: Deadline,
    sleep: Callable[[float], None],
) -> Verdict:
    if not target.test_listener_arns:
        return Verdict.fail(f"deployment group {target.deployment_group} has no test listener")
    listener = describe_listener(elbv2, target.test_listener_arns[0])
    if listener.protocol != "HTTP":
        return Verdict.fail(
            f"test listener {listener.arn} speaks {listener.protocol}; the smoke test expects HTTP"
        )
    paths = smoke_paths(configured_smoke_paths(ssm, target.config_parameter))
    endpoints = resolver.resolve(listener)
    results = []
    for path in paths:
        if deadline.expired:
            break
        result = probe_path(path, endpoints, settings=settings, deadline=deadline, sleep=sleep)
        results.append(result)
        if not result.ok:
            break  # one failed path fails the hook: do not spend the budget on the rest
    return smoke_verdict(results, paths)
