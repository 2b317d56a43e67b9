"""Lambda entry point: one scheduled run against one environment."""

from __future__ import annotations

import os
import uuid
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from synthetic_client.aws import default_gateway
from synthetic_client.observability import logger, publish
from synthetic_client.params import parse_event
from synthetic_client.run import SERVICES, Outcome, run_checks
from synthetic_client.transport import UrllibHttp

REQUEST_TIMEOUT_SECONDS = float(os.environ.get("REQUEST_TIMEOUT_SECONDS", "5"))


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    params = parse_event(event)
    gateway = default_gateway()
    request_id = f"synthetic-{uuid.uuid4()}"
    logger.append_keys(environment=params.environment, request_id=request_id)
    results = run_checks(
        UrllibHttp(REQUEST_TIMEOUT_SECONDS),
        params.endpoints,
        gateway.smoke_paths(params.environment, SERVICES),
        lambda: gateway.credentials(params.client_secret_id),
        request_id,
        environment=params.environment,
    )
    publish(params.environment, results)
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
    return {"environment": params.environment, "results": summary}
