"""BeforeAllowTraffic and AfterAllowTraffic hook: alarms quiet and green targets healthy."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from codedeploy_hooks import aws, deployment
from codedeploy_hooks.checks import Verdict
from codedeploy_hooks.deadline import Deadline
from codedeploy_hooks.dependencies import Dependencies
from codedeploy_hooks.guard import run_traffic_guard
from codedeploy_hooks.observability import logger, metrics
from codedeploy_hooks.reporting import (
    CodeDeployStatusReporter,
    HookIds,
    StatusReporter,
    run_hook,
)

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
    def check(ids: HookIds, deadline: Deadline) -> Verdict:
        deps = dependencies()
        target = deployment.resolve(deps.codedeploy, ids.deployment_id)
        deadline.raise_if_cancelled()
        # This thread's keys only: the logger is shared with the handler thread, and a check
        # the watchdog gave up on may still be running during the next invocation.
        logger.thread_safe_append_keys(environment=target.environment, service=target.service)
        return run_traffic_guard(
            target,
            elbv2=deps.elbv2,
            cloudwatch=deps.cloudwatch,
            settings=deps.settings,
            deadline=deadline,
            sleep=deps.sleep or deadline.wait,
        )

    outcome = run_hook(
        event,
        hook=HOOK,
        remaining_millis=context.get_remaining_time_in_millis,
        check=check,
        reporter=reporter,
    )
    return outcome.as_response()
