"""Lambda entry point: one scheduled run against the function's own environment."""

from __future__ import annotations

import os
import uuid
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from synthetic_client.aws import default_gateway
from synthetic_client.config import load_settings
from synthetic_client.observability import logger, publish
from synthetic_client.run import SERVICES, Outcome, run_checks
from synthetic_client.transport import UrllibHttp


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
    results = run_checks(
        UrllibHttp(settings.request_timeout_seconds),
        settings.endpoints,
        gateway.smoke_paths(settings.environment, SERVICES),
        lambda: gateway.credentials(settings.client_secret_id),
        request_id,
        environment=settings.environment,
    )
    publish(settings.environment, results)
    summary = {
        service: {
            "outcome": result.outcome.value,
            "failures": result.failures,
            "blocked": result.blocked,
            "slowest_seconds": result.slowest_seconds,
        }
        for service, result in results.items()
    }
    failed = [s for s, r in results.items() if r.outcome is Outcome.FAILED]
    if failed:
        logger.error("synthetic checks failed", extra={"failed": failed, "results": summary})
    else:
        logger.info("synthetic checks done", extra={"results": summary})
    return {"environment": settings.environment, "results": summary}
