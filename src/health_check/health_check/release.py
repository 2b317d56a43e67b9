"""The last known-good release of each service in an environment: recorded when the environment
passes its health check as a whole, restored when it fails after the original task sets are gone.

A failure found while a deployment's original task set still runs is CodeDeploy's to undo (the
hooks' bake and the deployment group's alarm monitoring move traffic back in seconds). One found
here, after the deployments completed, needs a new deployment of the known-good release: this
module creates it with the deployment group's alarm monitoring switched off for that deployment,
because the alarms are in ALARM precisely because of the release being replaced, and describes it
as a restore so that the hooks judge it by green's own signals only (docs/contracts.md).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from health_check.errors import AwsCallError
from health_check.observability import logger

if TYPE_CHECKING:
    from health_check.gateway import AwsGateway
    from health_check.params import CheckParameters
    from health_check.settings import Settings

# Contract with the hooks (src/hooks: checks/deployment.py) and the template's IAM.
RESTORE_DESCRIPTION = "Restore of the last known-good release"
KNOWN_GOOD_PARAMETER = "/pipeline/{environment}/{service}/known-good"
# Images tagged so are never expired by the ECR lifecycle policy (pipeline/service.yaml).
KNOWN_GOOD_TAG = "known-good-{environment}-{stamp}"
CONTAINER_PORT = 8080  # every service's container port (docs/contracts.md)


@dataclass(frozen=True)
class KnownGood:
    task_definition: str
    image: str
    recorded_at: str
    job_id: str

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, raw: str) -> KnownGood | None:
        try:
            values = json.loads(raw)
            return cls(**{key: str(values[key]) for key in cls.__dataclass_fields__})
        except (ValueError, TypeError, KeyError):
            return None


def service_of(ecs_service: str, suffix: str) -> str:
    """`api-service-dev` -> `api-service` (ECS services are named {service}-{suffix})."""
    return ecs_service.removesuffix(f"-{suffix}")


def read_known_good(gateway: AwsGateway, environment: str, service: str) -> KnownGood | None:
    """The service's known-good record in the environment; None when none was recorded."""
    raw = gateway.read_parameter(
        KNOWN_GOOD_PARAMETER.format(environment=environment, service=service)
    )
    return KnownGood.from_json(raw) if raw else None


def suffix_of(application: str) -> str:
    return application.removeprefix("microservices-")


def record_known_good(
    gateway: AwsGateway, settings: Settings, params: CheckParameters, job_id: str, now: float
) -> str:
    """Record what every service of the environment runs now as its known-good release, and tag
    its image so the ECR lifecycle never expires it. Returns a note for the job's message; a
    failure is a note, never a failed release (the previous record stays a good one)."""
    if not params.cluster:
        return ""
    suffix = suffix_of(settings.codedeploy_application)
    stamp = dt.datetime.fromtimestamp(now, tz=dt.UTC)
    recorded: list[str] = []
    try:
        running = gateway.primary_task_definitions(params.cluster, params.services)
        for ecs_service in params.services:
            service = service_of(ecs_service, suffix)
            task_definition = running.get(ecs_service)
            if task_definition is None:
                continue
            image = gateway.image_of(task_definition, service)
            record = KnownGood(task_definition, image, stamp.isoformat(), job_id)
            gateway.write_parameter(
                KNOWN_GOOD_PARAMETER.format(environment=params.environment, service=service),
                record.to_json(),
                f"Last release of {service} that passed {params.environment}'s health check",
            )
            _protect_image(gateway, image, params.environment, stamp)
            recorded.append(service)
    except AwsCallError as error:
        logger.warning("known-good release not recorded", extra={"error": str(error)})
        return f"; known-good release not recorded ({error})"
    return f"; known-good release recorded for {', '.join(recorded)}" if recorded else ""


def _protect_image(gateway: AwsGateway, image: str, environment: str, stamp: dt.datetime) -> None:
    """Tag the image in its repository; an image outside this account's ECR (the bootstrap
    image's pull-through cache) needs no protection from this stack's lifecycle rules."""
    registry, _, path = image.partition("/")
    if ".dkr.ecr." not in registry or not path:
        return
    if "@" in path:
        repository, _, digest = path.partition("@")
        reference = {"imageDigest": digest}
    else:
        repository, _, tag = path.rpartition(":")
        reference = {"imageTag": tag}
    tag = KNOWN_GOOD_TAG.format(environment=environment, stamp=stamp.strftime("%Y%m%d%H%M%S"))
    try:
        gateway.tag_image(repository, reference, tag)
    except AwsCallError as error:
        logger.warning("known-good image not tagged", extra={"image": image, "error": str(error)})


def restore(gateway: AwsGateway, settings: Settings, params: CheckParameters) -> list[str]:
    """Put every service of the environment back on its known-good release. Idempotent: a
    service already on it is left alone, and a group already restoring is not restored twice.
    Returns what was done, service by service, for the notification."""
    if not params.cluster:
        return ["no cluster in the parameters: nothing to restore"]
    suffix = suffix_of(settings.codedeploy_application)
    notes: list[str] = []
    try:
        running = gateway.primary_task_definitions(params.cluster, params.services)
    except AwsCallError as error:
        return [f"restore not started: {error}"]
    for ecs_service in params.services:
        service = service_of(ecs_service, suffix)
        outcome = _restore_one(gateway, settings, params, service, running.get(ecs_service))
        notes.append(f"{service}: {outcome}")
    return notes


def _restore_one(
    gateway: AwsGateway,
    settings: Settings,
    params: CheckParameters,
    service: str,
    running: str | None,
) -> str:
    group = f"{params.environment}-{service}"
    try:
        known_good = read_known_good(gateway, params.environment, service)
        if known_good is None:
            return "no known-good release recorded: a human must choose what to restore"
        if running == known_good.task_definition:
            return "already on its known-good release"
        # A deployment still in progress (not a restore) is stopped with rollback first: one
        # deployment per group at a time, and its original task set may be the known-good one.
        active = gateway.active_deployments(settings.codedeploy_application, group)
        described = gateway.deployment_descriptions(active)
        if any(text.startswith(RESTORE_DESCRIPTION) for text in described.values()):
            return "a restore is already in progress"
        for deployment_id in active:
            gateway.stop_deployment(deployment_id)
        created = gateway.create_restore(
            settings.codedeploy_application,
            group,
            restore_appspec(known_good.task_definition, service, settings),
            f"{RESTORE_DESCRIPTION} of {params.environment} {service}: "
            f"{known_good.task_definition}",
        )
    except AwsCallError as error:
        logger.warning("restore not started", extra={"group": group, "error": str(error)})
        return f"restore NOT started ({error}): a human must restore it"
    if created is None:
        return "restore NOT started: the group still has a deployment in progress; retry it"
    return f"restoring {known_good.task_definition} (deployment {created})"


def restore_appspec(task_definition: str, service: str, settings: Settings) -> str:
    """The ECS AppSpec of a restore: the known-good task definition, with the same hooks as every
    release (the build's appspec.yaml)."""
    return json.dumps(
        {
            "version": 0.0,
            "Resources": [
                {
                    "TargetService": {
                        "Type": "AWS::ECS::Service",
                        "Properties": {
                            "TaskDefinition": task_definition,
                            "LoadBalancerInfo": {
                                "ContainerName": service,
                                "ContainerPort": CONTAINER_PORT,
                            },
                        },
                    }
                }
            ],
            "Hooks": [
                {"AfterAllowTestTraffic": settings.smoke_test_hook_arn},
                {"BeforeAllowTraffic": settings.traffic_guard_hook_arn},
                {"AfterAllowTraffic": settings.traffic_guard_hook_arn},
            ],
        }
    )
