"""BeforeAllowTraffic and AfterAllowTraffic hook: alarms quiet and green targets healthy."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from codedeploy_hooks import aws
from codedeploy_hooks.checks import Verdict
from codedeploy_hooks.deadline import Deadline
from codedeploy_hooks.dependencies import Dependencies
from codedeploy_hooks.deployment import DeploymentTarget
from codedeploy_hooks.entrypoint import handle_hook
from codedeploy_hooks.guard import run_traffic_guard
from codedeploy_hooks.observability import logger, metrics
from codedeploy_hooks.reporting import CodeDeployStatusReporter, StatusReporter

HOOK = "TrafficGuard"


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, str]:
    return handle(
        event,
        context,
        reporter=CodeDeployStatusReporter(aws.codedeploy_status()),
        dependencies=Dependencies.from_aws,
    )


def handle(
    event: object,
    context: LambdaContext,
    *,
    reporter: StatusReporter,
    dependencies: Callable[[], Dependencies],
) -> dict[str, str]:
    return handle_hook(
        event,
        context,
        hook=HOOK,
        run_check=_traffic_guard,
        reporter=reporter,
        dependencies=dependencies,
    )


def _traffic_guard(target: DeploymentTarget, deps: Dependencies, deadline: Deadline) -> Verdict:
    return run_traffic_guard(
        target,
        elbv2=deps.elbv2,
        cloudwatch=deps.cloudwatch,
        settings=deps.settings,
        deadline=deadline,
        sleep=deps.sleep or deadline.wait,
    )
