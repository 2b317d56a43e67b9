"""The guarantee both hooks rest on: an event with both ids gets exactly one status report.

CodeDeploy waits up to an hour for PutLifecycleEventHookExecutionStatus, so a hook that crashes,
hangs or times out without reporting stalls the deployment. `run_hook` therefore runs the check in
a worker thread and stops waiting at a deadline taken from the Lambda's remaining time minus a
safety margin; whatever happened (verdict, exception, no answer in time), it reports once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import BotoCoreError, ClientError

from codedeploy_hooks.checks import Verdict
from codedeploy_hooks.deadline import Deadline, governing
from codedeploy_hooks.errors import HookCheckError, InvalidHookEvent, StatusReportError
from codedeploy_hooks.observability import logger, metrics
from codedeploy_hooks.settings import SAFETY_MARGIN_SECONDS

if TYPE_CHECKING:
    from mypy_boto3_codedeploy import CodeDeployClient

Status = Literal["Succeeded", "Failed"]
# Time the check's own deadline keeps back from the watchdog's, so that a check that honours its
# deadline finishes with its real reason instead of being cut off as "out of time".
CHECK_GRACE_SECONDS = 1.0


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


def parse_event(event: object) -> HookIds:
    """Both ids as non-empty strings, or InvalidHookEvent: without them there is nothing to report
    to, and guessing would complete somebody else's lifecycle event."""
    if not isinstance(event, Mapping):
        raise InvalidHookEvent(
            f"a CodeDeploy hook event is a JSON object, got {type(event).__name__}"
        )
    deployment_id = event.get("DeploymentId")
    execution_id = event.get("LifecycleEventHookExecutionId")
    if not isinstance(deployment_id, str) or not isinstance(execution_id, str):
        raise InvalidHookEvent(
            "the event needs string DeploymentId and LifecycleEventHookExecutionId, got "
            f"{type(deployment_id).__name__} and {type(execution_id).__name__}"
        )
    if not deployment_id or not execution_id:
        raise InvalidHookEvent("DeploymentId and LifecycleEventHookExecutionId must not be empty")
    return HookIds(deployment_id=deployment_id, execution_id=execution_id)


class CodeDeployStatusReporter:
    def __init__(self, client: CodeDeployClient) -> None:
        self._client = client

    def report(self, ids: HookIds, status: Status) -> None:
        try:
            self._client.put_lifecycle_event_hook_execution_status(
                deploymentId=ids.deployment_id,
                lifecycleEventHookExecutionId=ids.execution_id,
                status=status,
            )
        except (ClientError, BotoCoreError) as error:
            raise StatusReportError(
                f"could not report {status} for deployment {ids.deployment_id}: {error}"
            ) from error


class StatusReporter(Protocol):
    """CodeDeployStatusReporter in production; anything with the same method in tests."""

    def report(self, ids: HookIds, status: Status) -> None: ...


Check = Callable[[HookIds, Deadline], Verdict]


def run_hook(
    event: object,
    *,
    hook: str,
    remaining_millis: Callable[[], int],
    check: Check,
    reporter: StatusReporter,
    safety_margin_seconds: float = SAFETY_MARGIN_SECONDS,
) -> HookOutcome:
    try:
        ids = parse_event(event)
    except InvalidHookEvent:
        # Nothing can be reported without the ids; count it so a mis-wired caller shows up.
        metrics.add_dimension(name="Hook", value=hook)
        metrics.add_metric(name="HookInvalidEvent", unit=MetricUnit.Count, value=1)
        logger.exception("invalid hook event: no status can be reported")
        raise
    started = time.monotonic()
    try:
        logger.append_keys(deployment_id=ids.deployment_id, hook=hook)
        deadline = Deadline.after(remaining_millis() / 1000 - safety_margin_seconds)
        verdict = _within(check, ids, deadline)
    except Exception as error:  # whatever failed above, the report below must still happen
        logger.exception("hook machinery failed")
        verdict = Verdict.fail(f"hook error: {type(error).__name__}: {error}")
    status: Status = "Succeeded" if verdict.passed else "Failed"
    logger.info("reporting", extra={"status": status, "reason": verdict.reason})
    reporter.report(ids, status)
    _record(hook, status, ids, time.monotonic() - started)
    return HookOutcome(ids=ids, status=status, reason=verdict.reason)


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


def _within(check: Check, ids: HookIds, deadline: Deadline) -> Verdict:
    if deadline.expired:
        return Verdict.fail("not enough time left to run the check before the Lambda times out")
    answers: list[Verdict] = []
    check_deadline = deadline.earlier(CHECK_GRACE_SECONDS)
    worker = threading.Thread(
        target=lambda: answers.append(_verdict_of(check, ids, check_deadline)),
        name=f"hook-check-{ids.execution_id}",
        daemon=True,  # a check stuck past the deadline must not keep the invocation alive
    )
    worker.start()
    worker.join(timeout=deadline.remaining())
    if not answers:
        # The thread cannot be killed; told to stop, it makes no further call, here or (frozen
        # and thawed by Lambda) inside the next invocation.
        check_deadline.cancel()
        return Verdict.fail("time budget exhausted: the check did not finish before the deadline")
    return answers[0]


def _verdict_of(check: Check, ids: HookIds, deadline: Deadline) -> Verdict:
    """Every exception is a Failed verdict; the type decides only how it is logged."""
    try:
        with governing(deadline):
            return check(ids, deadline)
    except HookCheckError as error:
        return Verdict.fail(str(error))
    except (ClientError, BotoCoreError) as error:
        logger.warning("AWS call failed", extra={"error": str(error)})
        return Verdict.fail(f"AWS error: {error}")
    except Exception as error:
        logger.exception("check raised")
        return Verdict.fail(f"unexpected {type(error).__name__}: {error}")
