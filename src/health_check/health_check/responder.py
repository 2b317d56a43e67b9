"""The release responder: EventBridge events about an environment's release in, actions out.

- One of the environment's alarms goes into ALARM while nothing of the environment deploys:
  restore its last known-good release from this event (watch.py: the watch window).
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

from health_check.deployments import (
    RESTORE_REASON,
    RestoreRecord,
    must_not_stop,
    restore_parameter,
)
from health_check.errors import AwsCallError
from health_check.job import Runtime
from health_check.observability import logger, metrics, tracer
from health_check.params import ENVIRONMENTS
from health_check.release import suffix_of
from health_check.scaling import resume_when_idle, suspend
from health_check.settings import Settings
from health_check.watch import watch_restore

# CodeDeploy's deployment state-change states this function acts on.
STARTED = "START"
ENDED = frozenset({"SUCCESS", "FAILURE", "STOP"})
FAILED = frozenset({"FAILURE", "STOP"})


class BadEventError(ValueError):
    """An event whose shape is not EventBridge's: rejected, never retried."""


@dataclass(frozen=True, kw_only=True)
class ReleaseEvent:
    """What an event says about this copy of the system; None fields: not applicable."""

    environment: str
    # Set when the environment's release is in trouble: stop its other deployments.
    trouble: str | None = None
    # The alarm that went into ALARM (alarm events only).
    alarm: str | None = None
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
            return ReleaseEvent(
                environment=environment, trouble=f"alarm {name} in ALARM", alarm=name
            )
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
        return ReleaseEvent(
            environment=environment,
            trouble=trouble,
            deployment_id=deployment,
            group=group,
            state=state,
        )
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
        unconfirmed = _unconfirmed(runtime, release)
        if unconfirmed is not None:
            logger.warning("trouble not confirmed by AWS: nothing done", extra={"why": unconfirmed})
            return reply | {"ignored": unconfirmed}
        stopped, busy = _stop_others(runtime, settings, release)
        reply |= {"cause": release.trouble, "stopped": stopped}
        if release.alarm is not None and not busy:
            # An alarm, and nothing of the environment deploying: no original task set to move
            # back to. Restore from this event (watch.py) rather than wait for a poll or a human.
            reply["restore"] = _watch(runtime, settings, release, release.alarm)
    if release.group is not None and release.state in {STARTED, *ENDED}:
        reply["scaling"] = _hold_or_resume_scaling(runtime, settings, release.group, release.state)
    logger.info("release event", extra=reply)
    return reply


# The status a deployment event's state means, as GetDeployment reports it.
STATUS_OF_STATE = {"FAILURE": "Failed", "STOP": "Stopped"}


def _unconfirmed(runtime: Runtime, release: ReleaseEvent) -> str | None:
    """Why the trouble an event claims is not so in AWS now, or None. The event is not trusted:
    whoever the account lets invoke this function (or the health check, which takes over its
    failed events) could send one naming any alarm or deployment, and a stop with rollback or a
    watch restore must follow AWS's state, never the event's. Raises AwsCallError (Lambda
    retries the event) when AWS cannot be read."""
    gateway = runtime.gateway
    if release.alarm is not None:
        if release.alarm not in gateway.alarms_in_alarm([release.alarm]):
            return f"alarm {release.alarm} is not in ALARM now"
        return None
    if release.deployment_id is None:
        return "no alarm or deployment to confirm"
    described = gateway.describe_deployments([release.deployment_id])
    if not described or described[0].group != release.group:
        return f"no deployment {release.deployment_id} in {release.group}"
    expected = STATUS_OF_STATE.get(release.state or "")
    if expected is not None and described[0].status != expected:
        return f"deployment {release.deployment_id} is {described[0].status}, not {expected}"
    return None


def is_invocation_record(event: object) -> bool:
    """A Lambda destination's invocation record (what an on-failure destination receives)."""
    return isinstance(event, dict) and "requestContext" in event and "requestPayload" in event


def take_over(event: dict[str, Any], context: LambdaContext, runtime: Runtime) -> dict[str, Any]:
    """The responder's event it could not act on (its retries failed, or it waited too long
    throttled), delivered to the health check by Lambda's on-failure destination: act on it here
    through the same code. Only records from this copy's responder are taken."""
    settings = Settings.from_environ(runtime.environ)
    request = event.get("requestContext")
    sender = str(request.get("functionArn", "")) if isinstance(request, dict) else ""
    name = settings.release_responder_name
    # `...:function:{name}`, unqualified or `:{version or alias}`; not `{name}-copy`.
    if not name or f":function:{name}:" not in f"{sender}:":
        logger.error("invocation record rejected", extra={"sender": sender})
        return {"rejected": f"an invocation record from {sender or 'nobody'}, not {name or '-'}"}
    payload = event.get("requestPayload")
    if not isinstance(payload, dict):
        return {"rejected": "an invocation record without an event"}
    logger.info("taking over the responder's failed event", extra={"sender": sender})
    return {"taken_over_from": name, **handle(payload, context, runtime)}


def _hold_or_resume_scaling(
    runtime: Runtime, settings: Settings, group: str, state: str | None
) -> str:
    """Raises AwsCallError for Lambda to retry the event (after the stops above, which are
    idempotent); the health check resumes scaling after every final verdict as a safety net."""
    if state == STARTED:
        return suspend(runtime.gateway, settings, group)
    return resume_when_idle(runtime.gateway, settings, group)


def _watch(runtime: Runtime, settings: Settings, release: ReleaseEvent, alarm: str) -> list[str]:
    gateway = runtime.gateway
    now = runtime.clock.time()
    outcome = watch_restore(gateway, settings, release.environment, now, alarm)
    notes = [str(step) for step in outcome.steps] + list(outcome.outside_window)
    if outcome.acted or outcome.outside_window:
        body = (
            f"Environment: {release.environment}\nCause: {release.trouble}\n"
            f"Sent back to the release before (watch window): {', '.join(outcome.demoted) or '-'}\n"
            "Restore:\n" + "\n".join(f"  - {note}" for note in notes) + "\n"
        )
        subject = (
            f"Restoring {release.environment}'s last known-good release"
            if outcome.acted
            else f"Alarm in {release.environment} outside the watch window: a human decides"
        )
        try:
            gateway.publish(settings.notification_topic_arn, subject, body)
        except AwsCallError as error:
            logger.error("notification not sent", extra={"error": str(error), "body": body})
    if outcome.incomplete:
        # Nothing else would take the step again: Lambda retries the event, then hands it to the
        # health check (the on-failure destination), which takes it through the same code.
        raise AwsCallError("watch restore", "; ".join(notes))
    return notes


def _stop_others(
    runtime: Runtime, settings: Settings, release: ReleaseEvent
) -> tuple[list[str], bool]:
    """Stop the environment's other deployments that may be stopped; also whether anything of
    the environment is deploying but our own restores (stopped now, or a rollback: traffic moving
    back already; a recorded restore is the watch's own step, which it takes again)."""
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
    deploying = [
        deployment
        for deployment in active
        if must_not_stop(deployment, records.get(deployment.group)) != RESTORE_REASON
    ]
    return stopped, bool(deploying)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(event, context, Runtime.from_aws())
