"""BeforeAllowTraffic and AfterAllowTraffic hook: alarms quiet and green targets healthy."""

from __future__ import annotations

from collections.abc import Callable

from aws_lambda_powertools.utilities.typing import LambdaContext

from codedeploy_hooks.checks import Verdict
from codedeploy_hooks.deadline import Deadline
from codedeploy_hooks.dependencies import Dependencies
from codedeploy_hooks.deployment import DeploymentTarget
from codedeploy_hooks.entrypoint import handle_hook, lambda_entry_point
from codedeploy_hooks.guard import run_traffic_guard
from codedeploy_hooks.reporting import StatusReporter

HOOK = "TrafficGuard"


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


lambda_handler = lambda_entry_point(handle)
