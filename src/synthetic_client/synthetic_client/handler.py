"""Lambda entry point: one scheduled run against the function's own environment, through both
routes (the production listeners, then the test listeners)."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from synthetic_client.aws import default_gateway
from synthetic_client.config import load_settings
from synthetic_client.observability import logger, publish, publish_heartbeat
from synthetic_client.run import SERVICES, Outcome, Route, run_checks
from synthetic_client.transport import PinnedHttp


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: object, context: LambdaContext) -> dict[str, Any]:
    # The event is never read: the schedule's carries nothing the run needs, and a caller's
    # could name other endpoints or the other environment. Everything comes from the function's
    # own variables, read at each invocation (a handful, no state kept between runs).
    del event
    settings = load_settings(os.environ)
    gateway = default_gateway()
    request_id = f"synthetic-{uuid.uuid4()}"
    logger.append_keys(environment=settings.environment, request_id=request_id)
    # Read once per run, only when a route's flow may carry it; both routes share it.
    credentials = cache(lambda: gateway.credentials(settings.client_secret_id))
    http = PinnedHttp(
        settings.request_timeout_seconds,
        gateway.load_balancer_addresses(settings.load_balancer_arn),
        settings.public_host_name,
    )
    smoke_paths = gateway.smoke_paths(settings.environment, SERVICES)
    summary: dict[str, Any] = {}
    started = datetime.now(UTC)
    for route in Route:
        results = run_checks(
            http,
            settings.routes[route],
            smoke_paths,
            credentials,
            request_id,
            environment=settings.environment,
            route=route,
        )
        publish(settings.environment, route, results, started)
        summary[route.value] = {
            service: {
                "outcome": result.outcome.value,
                "failures": result.failures,
                "blocked": result.blocked,
                "slowest_seconds": result.slowest_seconds,
            }
            for service, result in results.items()
        }
    publish_heartbeat(settings.environment, started)
    failed = sorted(
        f"{service} ({route})"
        for route, results in summary.items()
        for service, result in results.items()
        if result["outcome"] == Outcome.FAILED.value
    )
    if failed:
        logger.error("synthetic checks failed", extra={"failed": failed, "results": summary})
    else:
        logger.info("synthetic checks done", extra={"results": summary})
    return {"environment": settings.environment, "results": summary}
