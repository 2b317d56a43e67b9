"""Lambda entry point: CodePipeline job event in, exactly one job result out."""

from __future__ import annotations

import os
import time
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.typing import LambdaContext

from health_check.aws import default_gateway
from health_check.job import run_job
from health_check.observability import logger, metrics


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    started = time.perf_counter()
    result = run_job(event, default_gateway(), os.environ, time.time)
    metrics.add_metric(
        name="CheckDuration",
        unit=MetricUnit.Milliseconds,
        value=(time.perf_counter() - started) * 1000,
    )
    with single_metric(
        name="Verdicts", unit=MetricUnit.Count, value=1, namespace=metrics.namespace
    ) as verdicts:
        verdicts.add_dimension(name="Outcome", value=result.outcome.value)
    return result.as_dict()
