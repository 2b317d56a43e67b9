"""When an environment's release goes wrong while its deployments are still in progress (one of
the environment's alarms goes into ALARM, or one of its deployments fails), stop the environment's
other deployments with rollback: every service moves back to its original task set together, in
seconds, instead of the environment ending on a mix no validation passed.

EventBridge delivers both events within seconds, so this does not wait for CodeDeploy's own
alarm polling, whose interval AWS does not document. Restores of the last known-good release are
never stopped: the alarms of the release they replace are expected to be in ALARM.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent
from aws_lambda_powertools.utilities.typing import LambdaContext

from health_check.errors import AwsCallError
from health_check.job import Runtime
from health_check.observability import logger, metrics, tracer
from health_check.release import RESTORE_DESCRIPTION, suffix_of
from health_check.settings import Settings

ENVIRONMENTS = ("staging", "production")


@dataclass(frozen=True)
class Trouble:
    environment: str
    cause: str
    # A failed deployment's own id: already over, nothing to stop there.
    deployment_id: str | None = None


def trouble_of(event: EventBridgeEvent, suffix: str) -> Trouble | None:
    """The environment whose release is in trouble, or None for an event of another copy of the
    system, another state, or another source (the rules match only ours; this is the check)."""
    detail = event.detail
    if event.source == "aws.cloudwatch":
        name = str(detail.get("alarmName", ""))
        state = (detail.get("state") or {}).get("value")
        environment = _environment(name, f"{suffix}-")
        if state == "ALARM" and environment:
            return Trouble(environment, f"alarm {name} in ALARM")
        return None
    if event.source == "aws.codedeploy":
        group = str(detail.get("deploymentGroup", ""))
        environment = _environment(group, "")
        if detail.get("state") in {"FAILURE", "STOP"} and environment:
            deployment = str(detail.get("deploymentId", "")) or None
            return Trouble(environment, f"deployment {deployment} of {group} failed", deployment)
    return None


def _environment(name: str, prefix: str) -> str | None:
    for environment in ENVIRONMENTS:
        if name.startswith(f"{prefix}{environment}-"):
            return environment
    return None


def handle(event: dict[str, Any], context: LambdaContext, runtime: Runtime) -> dict[str, Any]:
    settings = Settings.from_environ(runtime.environ)
    trouble = trouble_of(EventBridgeEvent(event), suffix_of(settings.codedeploy_application))
    if trouble is None:
        return {"stopped": [], "reason": "not a release in trouble in this copy"}
    logger.append_keys(environment=trouble.environment)
    gateway = runtime.gateway
    application = settings.codedeploy_application
    try:
        active = gateway.active_deployments(application, f"{trouble.environment}-")
        described = gateway.deployment_descriptions(active)
    except AwsCallError:
        logger.exception("deployments not listed: nothing stopped")
        raise  # an error: Lambda retries the event (EventInvokeConfig bounds how often)
    stopped = []
    for deployment_id, description in described.items():
        if deployment_id == trouble.deployment_id or description.startswith(RESTORE_DESCRIPTION):
            continue
        try:
            gateway.stop_deployment(deployment_id)
            stopped.append(deployment_id)
        except AwsCallError as error:
            # Most often it completed meanwhile; a stop that could not happen is logged.
            logger.warning(
                "deployment not stopped", extra={"id": deployment_id, "error": str(error)}
            )
    logger.info("release in trouble", extra={"cause": trouble.cause, "stopped": stopped})
    return {"environment": trouble.environment, "cause": trouble.cause, "stopped": stopped}


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(event, context, Runtime.from_aws())
