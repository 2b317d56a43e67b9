"""The release responder: EventBridge events about an environment's release in, actions out.

- One of the environment's alarms goes into ALARM, or one of its deployments fails or is
  stopped: stop the environment's other deployments with rollback, so every service moves back to
  its original task set together, in seconds, instead of the environment ending on a mix no
  validation passed. EventBridge delivers both events within seconds, so this does not wait for
  CodeDeploy's own alarm polling, whose interval AWS does not document. CodeDeploy's rollbacks and
  our recorded restores are never stopped (deployments.py).
- A deployment starts: suspend its service's scaling, because a scaling event during an ECS
  blue/green deployment can fail it and set the desired count to twice what it should be (ECS
  developer guide, blue/green deployments). A deployment ends: resume scaling once its group has
  nothing else in progress (its rollback, say).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent
from aws_lambda_powertools.utilities.typing import LambdaContext

from health_check.deployments import RestoreRecord, must_not_stop, restore_parameter
from health_check.errors import AwsCallError
from health_check.job import Runtime
from health_check.observability import logger, metrics, tracer
from health_check.release import suffix_of
from health_check.scaling import resume_when_idle, suspend
from health_check.settings import Settings

ENVIRONMENTS = ("staging", "production")
# CodeDeploy's deployment state-change states this function acts on.
STARTED = "START"
ENDED = frozenset({"SUCCESS", "FAILURE", "STOP"})
FAILED = frozenset({"FAILURE", "STOP"})


class BadEventError(ValueError):
    """An event whose shape is not EventBridge's: rejected, never retried."""


@dataclass(frozen=True)
class ReleaseEvent:
    """What an event says about this copy of the system; None fields: not applicable."""

    environment: str
    # Set when the environment's release is in trouble: stop its other deployments.
    trouble: str | None = None
    # The deployment the event is about, and its group (CodeDeploy events only).
    deployment_id: str | None = None
    group: str | None = None
    state: str | None = None


def read_event(event: object, suffix: str) -> ReleaseEvent | None:
    """The event as a ReleaseEvent, None for another copy, state or source (the rules match
    only ours; this is the check), BadEventError for a shape EventBridge never sends."""
    if not isinstance(event, dict) or not isinstance(event.get("detail"), dict):
        raise BadEventError("not an EventBridge event: expected an object with a 'detail' object")
    wrapped = EventBridgeEvent(event)
    detail: dict[str, Any] = event["detail"]
    if wrapped.source == "aws.cloudwatch":
        name, state = detail.get("alarmName"), detail.get("state")
        if not isinstance(name, str) or not isinstance(state, dict):
            raise BadEventError("alarm event without a string alarmName and a state object")
        environment = _environment(name, f"{suffix}-")
        if state.get("value") == "ALARM" and environment:
            return ReleaseEvent(environment, trouble=f"alarm {name} in ALARM")
        return None
    if wrapped.source == "aws.codedeploy":
        group, state, deployment = (
            detail.get("deploymentGroup"),
            detail.get("state"),
            detail.get("deploymentId"),
        )
        if not (
            isinstance(group, str)
            and isinstance(state, str)
            and isinstance(deployment, str)
            and deployment.strip()
        ):
            raise BadEventError("deployment event without deploymentGroup, state, deploymentId")
        environment = _environment(group, "")
        if environment is None or detail.get("application") != f"microservices-{suffix}":
            return None
        trouble = f"deployment {deployment} of {group} ended {state}" if state in FAILED else None
        return ReleaseEvent(environment, trouble, deployment, group, state)
    return None


def _environment(name: str, prefix: str) -> str | None:
    for environment in ENVIRONMENTS:
        if name.startswith(f"{prefix}{environment}-"):
            return environment
    return None


def handle(event: dict[str, Any], context: LambdaContext, runtime: Runtime) -> dict[str, Any]:
    settings = Settings.from_environ(runtime.environ)
    try:
        release = read_event(event, suffix_of(settings.codedeploy_application))
    except BadEventError as error:
        # A retry would fail the same way: answer, do not raise.
        logger.error("event rejected", extra={"error": str(error)})
        return {"rejected": str(error)}
    if release is None:
        return {"stopped": [], "reason": "not a release event of this copy"}
    logger.append_keys(environment=release.environment)
    reply: dict[str, Any] = {"environment": release.environment}
    # An error raises: Lambda retries the event (EventInvokeConfig bounds how often).
    if release.trouble is not None:
        reply |= {"cause": release.trouble, "stopped": _stop_others(runtime, settings, release)}
    if release.group is not None and release.state in {STARTED, *ENDED}:
        reply["scaling"] = _hold_or_resume_scaling(runtime, settings, release.group, release.state)
    logger.info("release event", extra=reply)
    return reply


def _hold_or_resume_scaling(
    runtime: Runtime, settings: Settings, group: str, state: str | None
) -> str:
    """Raises AwsCallError for Lambda to retry the event (after the stops above, which are
    idempotent); the health check resumes scaling after every final verdict as a safety net."""
    if state == STARTED:
        return suspend(runtime.gateway, settings, group)
    return resume_when_idle(runtime.gateway, settings, group)


def _stop_others(runtime: Runtime, settings: Settings, release: ReleaseEvent) -> list[str]:
    gateway = runtime.gateway
    try:
        active = gateway.describe_deployments(
            gateway.active_deployments(settings.codedeploy_application, f"{release.environment}-")
        )
        records = {
            group: RestoreRecord.from_json(gateway.read_parameter(restore_parameter(group)))
            for group in {deployment.group for deployment in active}
        }
    except AwsCallError:
        logger.exception("deployments not listed: nothing stopped")
        raise
    stopped = []
    for deployment in active:
        if deployment.id == release.deployment_id:
            continue
        why = must_not_stop(deployment, records.get(deployment.group))
        if why is not None:
            logger.info("left to finish", extra={"id": deployment.id, "why": why})
            continue
        try:
            if gateway.stop_deployment(deployment.id):
                stopped.append(deployment.id)
        except AwsCallError as error:
            logger.warning(
                "deployment not stopped", extra={"id": deployment.id, "error": str(error)}
            )
    return stopped


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(event, context, Runtime.from_aws())
