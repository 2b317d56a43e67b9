"""AfterAllowTestTraffic hook: smoke-test the green task set through the test listener."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.data_classes import CodeDeployLifecycleHookEvent
from aws_lambda_powertools.utilities.typing import LambdaContext

from codedeploy_hooks.checks.smoke_test import smoke_test
from codedeploy_hooks.observability import logger, metrics, tracer
from codedeploy_hooks.runner import Runtime, run_hook


def handle(event: dict[str, Any], context: LambdaContext, runtime: Runtime) -> dict[str, str]:
    outcome = run_hook(
        CodeDeployLifecycleHookEvent(event),
        hook="SmokeTest",
        check=smoke_test,
        remaining_millis=context.get_remaining_time_in_millis,
        runtime=runtime,
    )
    return outcome.as_response()


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, str]:
    return handle(event, context, Runtime.from_aws())
