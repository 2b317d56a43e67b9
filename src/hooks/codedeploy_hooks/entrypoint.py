"""What every hook handler does around its own check: resolve the deployment, label the logs,
and run the check under run_hook's watchdog and exactly-once reporting."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from aws_lambda_powertools.utilities.typing import LambdaContext

from codedeploy_hooks import aws, deployment
from codedeploy_hooks.checks import Verdict
from codedeploy_hooks.deadline import Deadline
from codedeploy_hooks.dependencies import Dependencies
from codedeploy_hooks.deployment import DeploymentTarget
from codedeploy_hooks.observability import logger, metrics
from codedeploy_hooks.reporting import CodeDeployStatusReporter, HookIds, StatusReporter, run_hook

# One hook's own check, given the deployment it serves.
HookCheck = Callable[[DeploymentTarget, Dependencies, Deadline], Verdict]


class HookHandler(Protocol):
    """A hook with its reporter and AWS dependencies injected (what the tests call)."""

    def __call__(
        self,
        event: object,
        context: LambdaContext,
        *,
        reporter: StatusReporter,
        dependencies: Callable[[], Dependencies],
    ) -> dict[str, str]: ...


def lambda_entry_point(
    handle: HookHandler,
) -> Callable[[dict[str, Any], LambdaContext], dict[str, str]]:
    """The Lambda handler of a hook: the real CodeDeploy reporter and AWS clients."""

    @logger.inject_lambda_context(clear_state=True)
    @metrics.log_metrics
    def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, str]:
        return handle(
            event,
            context,
            reporter=CodeDeployStatusReporter(aws.codedeploy_status()),
            dependencies=Dependencies.from_aws,
        )

    return lambda_handler


def handle_hook(
    event: object,
    context: LambdaContext,
    *,
    hook: str,
    run_check: HookCheck,
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
        return run_check(target, deps, deadline)

    outcome = run_hook(
        event,
        hook=hook,
        remaining_millis=context.get_remaining_time_in_millis,
        check=check,
        reporter=reporter,
    )
    return outcome.as_response()
