"""The last known-good release of each service in an environment: recorded when the environment
passes its health check as a whole, restored when it fails after the original task sets are gone.

A failure found while a deployment's original task set still runs is CodeDeploy's to undo (the
hooks' bake and the deployment group's alarm monitoring move traffic back in seconds). One found
here, after the deployments completed, needs a new deployment of the known-good release: this
module creates it with the deployment group's alarm monitoring switched off for that deployment,
because the alarms are in ALARM precisely because of the release being replaced, and records its
id so that the hooks judge it by green's own signals only and nothing stops it (docs/contracts.md).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from health_check.deployments import RestoreRecord, must_not_stop, restore_parameter
from health_check.errors import ActionRefusedError, AwsCallError, ConfigurationError
from health_check.observability import logger
from health_check.targets import ServiceTarget, refusal

if TYPE_CHECKING:
    from health_check.gateway import AwsGateway
    from health_check.params import CheckParameters
    from health_check.settings import Settings

# For people reading the deployment list; restores are recognised by their recorded id
# (deployments.py), never by this text.
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
    # The known-good release this one replaced (one level, no further history): what a failure
    # inside the watch window after this release restores (watch.py).
    previous: KnownGood | None = None

    def as_dict(self) -> dict[str, object]:
        values: dict[str, object] = {
            "task_definition": self.task_definition,
            "image": self.image,
            "recorded_at": self.recorded_at,
            "job_id": self.job_id,
        }
        values["previous"] = None if self.previous is None else self.previous.as_dict()
        return values

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, raw: str) -> KnownGood | None:
        try:
            return cls._from_values(json.loads(raw), nested=True)
        except (ValueError, TypeError, KeyError, AttributeError):
            return None

    @classmethod
    def _from_values(cls, values: dict[str, object], *, nested: bool) -> KnownGood:
        previous = values.get("previous") if nested else None
        return cls(
            task_definition=str(values["task_definition"]),
            image=str(values["image"]),
            recorded_at=str(values["recorded_at"]),
            job_id=str(values["job_id"]),
            previous=None
            if not isinstance(previous, dict)
            else cls._from_values(previous, nested=False),
        )

    def recorded_epoch(self) -> float | None:
        """When it was recorded (epoch seconds); None if the record's time is unreadable."""
        try:
            return dt.datetime.fromisoformat(self.recorded_at).timestamp()
        except ValueError:
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
) -> tuple[str, list[str]]:
    """Record what every service of the environment runs now as its known-good release, and tag
    its image so the ECR lifecycle never expires it. Only after CodePipeline accepted the job's
    final success (job.py), and only a task definition that passes the cross-checks of
    targets.refusal: anything else is refused and named. Returns a note for the job's log and
    the refusals (for a notification); a failure is a note, never a failed release (the
    previous record stays a good one)."""
    if not params.cluster:
        return "", []
    stamp = dt.datetime.fromtimestamp(now, tz=dt.UTC)
    recorded: list[str] = []
    refused: list[str] = []
    try:
        environment = settings.release_targets().of(params.environment)
        running = gateway.primary_task_definitions(environment.cluster, environment.ecs_services)
        for target in environment.services:
            task_definition = running.get(target.ecs_service)
            if task_definition is None:
                continue
            described = gateway.describe_task_definition(task_definition)
            problem = refusal(described, target)
            if problem is not None:
                logger.error("known-good release refused", extra={"refused": problem})
                refused.append(f"{target.service}: not recorded, {problem}")
                continue
            image = image_of(described, target.service)
            record = _succeeding(
                read_known_good(gateway, params.environment, target.service),
                KnownGood(task_definition, image, stamp.isoformat(), job_id),
            )
            gateway.write_parameter(
                KNOWN_GOOD_PARAMETER.format(environment=params.environment, service=target.service),
                record.to_json(),
                f"Last release of {target.service} that passed {params.environment}'s health check",
            )
            _protect_image(gateway, image, params.environment, stamp)
            recorded.append(target.service)
    except (AwsCallError, ConfigurationError) as error:
        logger.warning("known-good release not recorded", extra={"error": str(error)})
        return f"; known-good release not recorded ({error})", refused
    note = f"; known-good release recorded for {', '.join(recorded)}" if recorded else ""
    if refused:
        note += "; refused: " + "; ".join(refused)
    return note, refused


def image_of(described: dict[str, Any], container: str) -> str:
    """The image of the task definition's container named `container` ("" if none)."""
    for definition in described.get("containerDefinitions") or []:
        if definition.get("name") == container:
            return str(definition.get("image", ""))
    return ""


def _succeeding(current: KnownGood | None, passed: KnownGood) -> KnownGood:
    """The record after `passed` passed its check: a new release keeps the one it replaced as
    `previous` (its watch window starts now); the same release passing again (a stage retried)
    keeps the previous one it had, so the watch never restores a release to itself."""
    if current is None:
        return passed
    if current.task_definition == passed.task_definition:
        return replace(passed, previous=current.previous)
    return replace(passed, previous=replace(current, previous=None))


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


class Confirmation(Protocol):
    """Asked before every action of a restore step that changes an environment (stopping a
    deployment, registering, recording or creating a restore): it returns when the action may
    go ahead, raises JobNotLiveError when the job it serves is not a live CodePipeline job
    (nothing may then happen at all), ActionRefusedError when this service must wait for a
    human."""

    def confirm(self, action: str) -> None: ...


class Unconfirmed:
    """For callers that act on an AWS event of their own rather than on a job (the responder's
    watch window): nothing to confirm."""

    def confirm(self, action: str) -> None:
        return None


class RestoreState(StrEnum):
    DONE = "done"  # on its known-good release, nothing in progress
    WAITING = "waiting"  # a rollback, a stop or a restore still in progress: look again
    # An AWS call failed, or another deployment took the group first: take the step again (a
    # one-shot caller raises, so that Lambda retries it).
    RETRY = "retry"
    STARTED = "started"  # a restore was created now
    NEEDS_HUMAN = "needs_human"  # nothing this function can do will restore it

    @property
    def final(self) -> bool:
        return self in (RestoreState.DONE, RestoreState.NEEDS_HUMAN)


@dataclass(frozen=True)
class ServiceRestore:
    service: str
    state: RestoreState
    note: str

    def __str__(self) -> str:
        return f"{self.service}: {self.note}"


def restore(
    gateway: AwsGateway,
    settings: Settings,
    params: CheckParameters,
    now: float,
    since: float | None = None,
    *,
    confirmation: Confirmation | None = None,
) -> list[ServiceRestore]:
    """One step towards every service of the environment on its known-good release. Idempotent,
    so it is called again until every service is final: a service already on it is left alone,
    a group busy with a rollback or a restore is waited for (one deployment per group), any
    other deployment is stopped with rollback and then waited for, and an idle group gets one
    restore, recorded by id so that nothing else stops it. A restore asked for since `since`
    (this check's restore began) that did not succeed is not tried again: a human decides.
    A known-good record that fails the cross-checks (targets.refusal) is never restored, and
    nothing changes an environment before `confirmation` allowed it."""
    if not params.cluster:
        return [ServiceRestore("-", RestoreState.NEEDS_HUMAN, "no cluster in the parameters")]
    if settings.targets is None or params.environment not in settings.targets.environments:
        why = f"no release targets configured for {params.environment}: nothing restored"
        return [ServiceRestore("-", RestoreState.NEEDS_HUMAN, why)]
    environment = settings.targets.of(params.environment)
    confirmation = confirmation or Unconfirmed()
    suffix = suffix_of(settings.codedeploy_application)
    try:
        running = gateway.primary_task_definitions(params.cluster, params.services)
    except AwsCallError as error:
        return [ServiceRestore("-", RestoreState.RETRY, f"services not read ({error})")]
    states = []
    for ecs_service in params.services:
        service = service_of(ecs_service, suffix)
        target = environment.service(service)
        if target is None or target.ecs_service != ecs_service:
            why = f"{ecs_service} is not a service configured for {params.environment}"
            states.append(ServiceRestore(service, RestoreState.NEEDS_HUMAN, why))
            continue
        try:
            state, note = _restore_one(
                gateway,
                settings,
                target=target,
                running=running.get(ecs_service),
                times=(now, now if since is None else since),
                confirmation=confirmation,
            )
        except ActionRefusedError as error:
            # Not final: the restore is incomplete, and its caller fails the job saying so.
            state, note = RestoreState.WAITING, f"a human must finish it: {error}"
        except AwsCallError as error:
            logger.warning("restore step failed", extra={"service": service, "error": str(error)})
            state, note = RestoreState.RETRY, f"AWS call failed, tried again next time ({error})"
        states.append(ServiceRestore(service, state, note))
    return states


def _restore_one(
    gateway: AwsGateway,
    settings: Settings,
    *,
    target: ServiceTarget,
    running: str | None,
    times: tuple[float, float],
    confirmation: Confirmation,
) -> tuple[RestoreState, str]:
    now, since = times
    environment, service = target.environment, target.service
    group = f"{environment}-{service}"
    found = _vetted_known_good(gateway, target)
    if isinstance(found, str):
        return RestoreState.NEEDS_HUMAN, found
    known_good, described = found
    record_name = restore_parameter(group)
    record = RestoreRecord.from_json(gateway.read_parameter(record_name))
    active = gateway.describe_deployments(
        gateway.active_deployments(settings.codedeploy_application, group, exact=True)
    )
    if active:
        waits = []
        for deployment in active:
            why = must_not_stop(deployment, record)
            if why is None:
                # One deployment per group: it must end (and its rollback with it) first.
                confirmation.confirm(f"stop {deployment.describe()} of {group}")
                gateway.stop_deployment(deployment.id)
                why = "stopping it with rollback"
            waits.append(f"{deployment.describe()}: {why}")
        return RestoreState.WAITING, "waiting for " + "; ".join(waits)
    if running == known_good.task_definition:
        return RestoreState.DONE, f"on its known-good release {known_good.task_definition}"
    if record is not None and record.deployment_id and record.requested_at >= since:
        [last] = gateway.describe_deployments([record.deployment_id])
        if last.status != "Succeeded":
            return (
                RestoreState.NEEDS_HUMAN,
                f"restore {last.id} of {record.task_definition} ended {last.status}: "
                "a human must restore it",
            )
    confirmation.confirm(f"restore {known_good.task_definition} in {group}")
    task_definition = _startable(gateway, target, known_good, described)
    return _create_restore(gateway, settings, target, task_definition, record=record, now=now)


def _create_restore(
    gateway: AwsGateway,
    settings: Settings,
    target: ServiceTarget,
    task_definition: str,
    *,
    record: RestoreRecord | None,
    now: float,
) -> tuple[RestoreState, str]:
    """The restore of an idle group: its intent recorded (unless the other restorer recorded
    one since `record` was read), the deployment created, then its id recorded."""
    environment, service = target.environment, target.service
    group = f"{environment}-{service}"
    record_name = restore_parameter(group)
    if RestoreRecord.from_json(gateway.read_parameter(record_name)) != record:
        # The other restorer (the validator and the responder share this step) recorded its
        # restore of this group since we looked: writing our intent now would overwrite its id,
        # and a restore with no record is one anybody may stop. Look again next step.
        return RestoreState.RETRY, "another restore of this group was recorded meanwhile"
    gateway.write_parameter(
        record_name,
        RestoreRecord(now, task_definition).to_json(),
        f"Restore of {group} requested by the health check",
    )
    created = gateway.create_restore(
        settings.codedeploy_application,
        group,
        restore_appspec(task_definition, service, settings),
        f"{RESTORE_DESCRIPTION} of {environment} {service}: {task_definition}",
    )
    if created is None:
        # Another deployment took the group first (perhaps the other restorer's): put back the
        # record as it was, so our intent never stands for a deployment that is not ours.
        intent = RestoreRecord(now, task_definition).to_json()
        if gateway.read_parameter(record_name) == intent:
            gateway.write_parameter(
                record_name,
                record.to_json() if record is not None else "{}",
                f"Restore of {group}: the request lost the group to another deployment",
            )
        return RestoreState.RETRY, "a deployment started meanwhile: take the step again"
    gateway.write_parameter(
        record_name,
        RestoreRecord(now, task_definition, created).to_json(),
        f"Restore of {group} created by the health check",
    )
    return RestoreState.STARTED, f"restoring {task_definition} (deployment {created})"


def _vetted_known_good(
    gateway: AwsGateway, target: ServiceTarget
) -> tuple[KnownGood, dict[str, Any]] | str:
    """The service's known-good record and its task definition as ECS describes it; or why
    there is nothing to restore. Checked before anything else (even stopping a deployment for
    it): a record that is not this service's release of this environment, pinned in its
    repository and run by its roles, is never restored, whoever wrote it."""
    known_good = read_known_good(gateway, target.environment, target.service)
    if known_good is None:
        return "no known-good release recorded: a human must choose"
    described = gateway.describe_task_definition(known_good.task_definition)
    problem = refusal(described, target)
    if problem is not None:
        logger.error("known-good record refused", extra={"refused": problem})
        return f"known-good record refused, nothing restored ({problem}): a human must choose"
    return known_good, described


def _startable(
    gateway: AwsGateway, target: ServiceTarget, known_good: KnownGood, described: dict[str, Any]
) -> str:
    """The known-good task definition, or, if it was deregistered (INACTIVE: ECS starts no new
    task from it, DeregisterTaskDefinition), a new revision registered from its description
    (which passed the cross-checks); the record then names the new revision."""
    environment, service = target.environment, target.service
    if described.get("status", "ACTIVE") == "ACTIVE":
        return known_good.task_definition
    arn = gateway.register_task_definition(registration_of(described))
    record = replace(known_good, task_definition=arn)
    gateway.write_parameter(
        KNOWN_GOOD_PARAMETER.format(environment=environment, service=service),
        record.to_json(),
        f"Last release of {service} that passed {environment}'s health check (re-registered)",
    )
    logger.info(
        "known-good task definition was INACTIVE: re-registered",
        extra={"inactive": known_good.task_definition, "registered": arn},
    )
    return arn


# DescribeTaskDefinition's fields that RegisterTaskDefinition takes back as they are.
_REGISTRATION_FIELDS = (
    "family",
    "taskRoleArn",
    "executionRoleArn",
    "networkMode",
    "containerDefinitions",
    "volumes",
    "placementConstraints",
    "requiresCompatibilities",
    "cpu",
    "memory",
    "pidMode",
    "ipcMode",
    "proxyConfiguration",
    "inferenceAccelerators",
    "ephemeralStorage",
    "runtimePlatform",
)


def registration_of(described: dict[str, object]) -> dict[str, object]:
    """RegisterTaskDefinition's arguments that re-create a described task definition."""
    return {key: described[key] for key in _REGISTRATION_FIELDS if described.get(key)}


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
