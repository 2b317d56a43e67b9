"""Lambda entry point: CodePipeline job event in, exactly one job result out; or the release
responder's event it could not act on (its on-failure destination), acted on here."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.typing import LambdaContext

from health_check import responder
from health_check.job import Runtime, run_job
from health_check.observability import logger, metrics, tracer


def handle(event: dict[str, Any], context: LambdaContext, runtime: Runtime) -> dict[str, Any]:
    if responder.is_invocation_record(event):
        return responder.take_over(event, context, runtime)
    started = runtime.clock.monotonic()
    result = run_job(event, runtime, context.get_remaining_time_in_millis)
    metrics.add_metric(
        name="CheckDuration",
        unit=MetricUnit.Milliseconds,
        value=(runtime.clock.monotonic() - started) * 1000,
    )
    with single_metric(
        name="Verdicts", unit=MetricUnit.Count, value=1, namespace=metrics.namespace
    ) as verdicts:
        verdicts.add_dimension(name="Outcome", value=result.outcome.value)
    return result.as_dict()


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(event, context, Runtime.from_aws())
