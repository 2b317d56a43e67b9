"""The promise both hooks rest on: an event with both ids gets exactly one status report, before
the Lambda times out.

CodeDeploy waits up to an hour for PutLifecycleEventHookExecutionStatus, so a hook that crashes,
hangs or times out without reporting stalls the deployment. `run_hook` therefore runs the check in
a worker thread and stops waiting at a deadline taken from the Lambda's remaining time minus a
safety margin; whatever happened (verdict, exception, no answer in time), it reports once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol

from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import BotoCoreError, ClientError

from codedeploy_hooks.checks import deployment
from codedeploy_hooks.checks.deployment import DeploymentTarget
from codedeploy_hooks.checks.verdict import Verdict
from codedeploy_hooks.clients import default_clients
from codedeploy_hooks.deadline import Clock, Deadline, SystemClock, governing
from codedeploy_hooks.dependencies import Dependencies
from codedeploy_hooks.errors import HookCheckError, InvalidHookEvent, StatusReportError
from codedeploy_hooks.observability import logger, metrics

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes import CodeDeployLifecycleHookEvent
    from mypy_boto3_codedeploy import CodeDeployClient

__all__ = [
    "CHECK_GRACE_SECONDS",
    "SAFETY_MARGIN_SECONDS",
    "Check",
    "Clock",
    "CodeDeployStatusReporter",
    "HookIds",
    "HookOutcome",
    "Runtime",
    "StatusReporter",
    "SystemClock",
    "parse_event",
    "run_hook",
]

Status = Literal["Succeeded", "Failed"]
# Time kept back from the Lambda timeout to report Failed: it covers the status call's own
# retries (clients.STATUS) so the report lands before the runtime kills the function.
SAFETY_MARGIN_SECONDS = 30.0
# Time the check's own deadline keeps back from the watchdog's, so that a check that honours its
# deadline finishes with its real reason instead of being cut off as "out of time".
CHECK_GRACE_SECONDS = 1.0

# One hook's check, given the deployment it serves.
Check = Callable[[DeploymentTarget, Dependencies, Deadline], Verdict]


@dataclass(frozen=True)
class HookIds:
    deployment_id: str
    execution_id: str


@dataclass(frozen=True)
class HookOutcome:
    ids: HookIds
    status: Status
    reason: str

    def as_response(self) -> dict[str, str]:
        return {
            "deploymentId": self.ids.deployment_id,
            "lifecycleEventHookExecutionId": self.ids.execution_id,
            "status": self.status,
            "reason": self.reason,
        }


class StatusReporter(Protocol):
    """CodeDeployStatusReporter in Lambda; anything with the same method in tests."""

    def report(self, ids: HookIds, status: Status) -> None: ...


class CodeDeployStatusReporter:
    def __init__(self, client: CodeDeployClient) -> None:
        self._client = client

    def report(self, ids: HookIds, status: Status) -> None:
        """One status call. A lifecycle event that already has a status (this hook reported before
        Lambda retried it, or CodeDeploy gave up waiting) is the report's success, not an error:
        raising would only make Lambda run the hook a further time."""
        try:
            self._client.put_lifecycle_event_hook_execution_status(
                deploymentId=ids.deployment_id,
                lifecycleEventHookExecutionId=ids.execution_id,
                status=status,
            )
        except self._client.exceptions.LifecycleEventAlreadyCompletedException:
            logger.info(
                "lifecycle event already has a status: nothing to report",
                extra={"deployment_id": ids.deployment_id, "status_not_sent": status},
            )
        except (ClientError, BotoCoreError) as error:
            raise StatusReportError(
                f"could not report {status} for deployment {ids.deployment_id}: {error}"
            ) from error


@dataclass(frozen=True)
class Runtime:
    """What a hook runs against: where its report goes, what its check reads, and the clock."""

    reporter: StatusReporter
    # Called inside the guarded part of the run, so a bad setting becomes a Failed report.
    dependencies: Callable[[], Dependencies]
    clock: Clock = field(default_factory=SystemClock)

    @classmethod
    def from_aws(cls) -> Runtime:
        return cls(
            reporter=CodeDeployStatusReporter(default_clients().codedeploy_status),
            dependencies=Dependencies.from_aws,
            clock=SystemClock(),
        )


def parse_event(event: CodeDeployLifecycleHookEvent) -> HookIds:
    """Both ids as non-blank strings, or InvalidHookEvent: without them there is nothing to report
    to, and guessing would complete somebody else's lifecycle event. Stricter than the data
    class, which reads any value (or fails on a missing key) without checking it."""
    try:
        deployment_id = event.deployment_id
        execution_id = event.lifecycle_event_hook_execution_id
    except (KeyError, TypeError) as error:
        raise InvalidHookEvent(
            "the event needs DeploymentId and LifecycleEventHookExecutionId in a JSON object, "
            f"got a {type(event.raw_event).__name__} without them"
        ) from error
    if not isinstance(deployment_id, str) or not isinstance(execution_id, str):
        raise InvalidHookEvent(
            "the event needs string DeploymentId and LifecycleEventHookExecutionId, got "
            f"{type(deployment_id).__name__} and {type(execution_id).__name__}"
        )
    # Blank is empty: no deployment or lifecycle event is named "   ".
    if not deployment_id.strip() or not execution_id.strip():
        raise InvalidHookEvent(
            "DeploymentId and LifecycleEventHookExecutionId must not be empty or blank"
        )
    return HookIds(deployment_id=deployment_id, execution_id=execution_id)


def run_hook(
    event: CodeDeployLifecycleHookEvent,
    *,
    hook: str,
    check: Check,
    remaining_millis: Callable[[], int],
    runtime: Runtime,
) -> HookOutcome:
    """Run `check` on the event's deployment in a worker thread, and report its verdict (or
    Failed, if it raised or did not answer before the deadline) exactly once."""
    try:
        ids = parse_event(event)
    except InvalidHookEvent:
        # Nothing can be reported without the ids; count it so a mis-wired caller shows up.
        metrics.add_dimension(name="Hook", value=hook)
        metrics.add_metric(name="HookInvalidEvent", unit=MetricUnit.Count, value=1)
        logger.exception("invalid hook event: no status can be reported")
        raise
    clock = runtime.clock
    started = clock.monotonic()
    try:
        logger.append_keys(deployment_id=ids.deployment_id, hook=hook)
        deadline = Deadline.after(remaining_millis() / 1000 - SAFETY_MARGIN_SECONDS, clock)
        if deadline.expired:
            verdict = Verdict.fail(
                "not enough time left to run the check before the Lambda times out"
            )
        else:
            # The watchdog: the check answers into `answers`, or the deadline passes first.
            answers: list[Verdict] = []
            check_deadline = deadline.earlier(CHECK_GRACE_SECONDS)
            worker = threading.Thread(
                target=lambda: answers.append(
                    _verdict_of(check, ids, runtime.dependencies, check_deadline)
                ),
                name=f"hook-check-{ids.execution_id}",
                daemon=True,  # a check stuck past the deadline must not keep the invocation alive
            )
            worker.start()
            # Real time on purpose: a backstop for a check stuck outside the clock (a hung read).
            worker.join(timeout=deadline.remaining())
            if answers:
                verdict = answers[0]
            else:
                # The thread cannot be killed; told to stop, it makes no further call, here or
                # (frozen and thawed by Lambda) inside the next invocation.
                check_deadline.cancel()
                verdict = Verdict.fail(
                    "time budget exhausted: the check did not finish before the deadline"
                )
    except Exception as error:  # whatever failed above, the report below must still happen
        logger.exception("hook machinery failed")
        verdict = Verdict.fail(f"hook error: {type(error).__name__}: {error}")
    status: Status = "Succeeded" if verdict.passed else "Failed"
    logger.info("reporting", extra={"status": status, "reason": verdict.reason})
    runtime.reporter.report(ids, status)
    _record(hook, status, ids, clock.monotonic() - started)
    return HookOutcome(ids=ids, status=status, reason=verdict.reason)


def _verdict_of(
    check: Check,
    ids: HookIds,
    dependencies: Callable[[], Dependencies],
    deadline: Deadline,
) -> Verdict:
    """The worker: resolve the deployment, run the check under its deadline. Every exception is a
    Failed verdict; the type decides only how it is logged."""
    try:
        with governing(deadline):
            deps = dependencies()
            target = deployment.resolve(deps.codedeploy, ids.deployment_id)
            deadline.raise_if_cancelled()
            if target.rollback:
                # CodeDeploy is taking users back to the original task set: a hook that failed
                # here would leave them on the release being rolled back.
                return Verdict.ok(f"{ids.deployment_id} is a CodeDeploy rollback: not blocked")
            target = deployment.recognise_restore(target, deps.ssm)
            # This thread's keys only: the logger is shared with the handler thread, and a check
            # the watchdog gave up on may still be running during the next invocation.
            logger.thread_safe_append_keys(environment=target.environment, service=target.service)
            return check(target, deps, deadline)
    except HookCheckError as error:
        return Verdict.fail(str(error))
    except (ClientError, BotoCoreError) as error:
        logger.warning("AWS call failed", extra={"error": str(error)})
        return Verdict.fail(f"AWS error: {error}")
    except Exception as error:
        logger.exception("check raised")
        return Verdict.fail(f"unexpected {type(error).__name__}: {error}")


def _record(hook: str, status: Status, ids: HookIds, seconds: float) -> None:
    """Metrics come after the report; a failure here must not fail the invocation, or Lambda's
    asynchronous retry would run the hook (and report) a second time."""
    try:
        metrics.add_dimension(name="Hook", value=hook)
        metrics.add_metric(name=f"Hook{status}", unit=MetricUnit.Count, value=1)
        metrics.add_metric(name="HookDuration", unit=MetricUnit.Milliseconds, value=seconds * 1000)
        metrics.add_metadata(key="deployment_id", value=ids.deployment_id)
    except Exception:
        logger.exception("could not record hook metrics")
