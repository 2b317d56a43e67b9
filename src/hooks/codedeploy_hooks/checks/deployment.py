"""What a hook needs to know about a deployment, read from CodeDeploy itself (never configured
per service): one function serves every service and environment."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from codedeploy_hooks.errors import DeploymentShapeError, UnknownDeploymentError

if TYPE_CHECKING:
    from mypy_boto3_codedeploy import CodeDeployClient
    from mypy_boto3_ssm import SSMClient

ENVIRONMENTS = frozenset({"staging", "production"})
APPLICATION_PREFIX = "microservices-"
BLUE_GREEN_PAIR = 2  # target groups in a blue/green pair
# Where the health check records the id of each restore it creates (contract with
# src/health_check/health_check/deployments.py: docs/contracts.md). A description says nothing:
# anyone allowed to call CreateDeployment can write one.
RESTORE_PARAMETER = "/pipeline/{environment}/{service}/restore"
# GetDeployment's creator of a deployment CodeDeploy created to roll another one back.
ROLLBACK_CREATOR = "codeDeployRollback"


@dataclass(frozen=True)
class DeploymentTarget:
    deployment_id: str
    application: str
    deployment_group: str
    suffix: str
    environment: str
    service: str
    cluster: str
    ecs_service: str
    target_group_names: tuple[str, ...]
    prod_listener_arns: tuple[str, ...]
    test_listener_arns: tuple[str, ...]
    # Alarm names wired into the deployment group's alarm configuration (empty when disabled).
    alarm_names: tuple[str, ...]
    # A restore of the last known-good release (the health check's, recognised by its recorded
    # id, docs/contracts.md): the environment's alarms may be in ALARM because of the release it
    # replaces, so only green's own signals judge it.
    restore: bool = False
    # A CodeDeploy rollback (creator codeDeployRollback, rollbackInfo): it takes users back to the
    # original task set, and no hook may stand in its way.
    rollback: bool = False
    # When CodeDeploy created the deployment (epoch seconds; None if it did not say). An alarm
    # already in ALARM then is not this release's doing (see traffic_guard.standing_alarms).
    created_at: float | None = None

    @property
    def environment_alarm_prefix(self) -> str:
        """Every alarm of the environment: {suffix}-{environment}-..."""
        return f"{self.suffix}-{self.environment}-"

    @property
    def config_parameter(self) -> str:
        return f"/pipeline/{self.environment}/{self.service}/config"

    @property
    def alarm_prefix(self) -> str:
        """Contract: alarms are named {suffix}-{environment}-{service}-{check}."""
        return f"{self.suffix}-{self.environment}-{self.service}-"


def split_group_name(deployment_group: str) -> tuple[str, str]:
    """`{environment}-{service}` split on the first '-' (service names contain dashes)."""
    environment, sep, service = deployment_group.partition("-")
    if not sep or environment not in ENVIRONMENTS or not service:
        raise DeploymentShapeError(
            f"deployment group {deployment_group!r} is not named {{environment}}-{{service}} "
            f"with environment in {sorted(ENVIRONMENTS)}"
        )
    return environment, service


def suffix_of(application: str) -> str:
    if not application.startswith(APPLICATION_PREFIX) or application == APPLICATION_PREFIX:
        raise DeploymentShapeError(
            f"application {application!r} is not named {APPLICATION_PREFIX}{{suffix}}"
        )
    return application.removeprefix(APPLICATION_PREFIX)


def resolve(
    codedeploy: CodeDeployClient, deployment_id: str, ssm: SSMClient | None = None
) -> DeploymentTarget:
    """The deployment and its group as CodeDeploy describes them; with `ssm`, whether it is a
    restore the health check recorded."""
    errors = codedeploy.exceptions
    not_found = (
        errors.DeploymentDoesNotExistException,
        errors.InvalidDeploymentIdException,
        errors.DeploymentGroupDoesNotExistException,
        errors.ApplicationDoesNotExistException,
    )
    try:
        deployment = codedeploy.get_deployment(deploymentId=deployment_id)["deploymentInfo"]
        application = deployment.get("applicationName", "")
        group_name = deployment.get("deploymentGroupName", "")
        group = codedeploy.get_deployment_group(
            applicationName=application, deploymentGroupName=group_name
        )["deploymentGroupInfo"]
    except not_found as error:
        raise UnknownDeploymentError(
            f"CodeDeploy does not know deployment {deployment_id}: {error}"
        ) from error
    target = from_descriptions(deployment_id, dict(deployment), dict(group))
    return target if ssm is None else recognise_restore(target, ssm)


def recognise_restore(target: DeploymentTarget, ssm: SSMClient) -> DeploymentTarget:
    """`target`, marked a restore if the health check recorded its id. A CodeDeploy rollback is
    returned as it is, without a read: it needs no record, and a record that cannot be read must
    not stand in its way."""
    if target.rollback:
        return target
    name = RESTORE_PARAMETER.format(environment=target.environment, service=target.service)
    try:
        record = ssm.get_parameter(Name=name)["Parameter"].get("Value")
    except ssm.exceptions.ParameterNotFound:
        record = None
    return replace(target, restore=recorded_restore_id(record) == target.deployment_id)


def recorded_restore_id(record: str | None) -> str | None:
    """The deployment id in the health check's restore record; None if none or unreadable."""
    try:
        value = json.loads(record or "")
    except ValueError:
        return None
    deployment_id = value.get("deployment_id") if isinstance(value, dict) else None
    return deployment_id if isinstance(deployment_id, str) and deployment_id else None


def from_descriptions(
    deployment_id: str,
    deployment: dict[str, Any],
    group: dict[str, Any],
    restore_record: str | None = None,
) -> DeploymentTarget:
    """Pure: GetDeployment's deploymentInfo + GetDeploymentGroup's deploymentGroupInfo."""
    if deployment.get("computePlatform") != "ECS":
        raise DeploymentShapeError(
            f"deployment {deployment_id} is on {deployment.get('computePlatform')!r}, not ECS"
        )
    application = str(deployment.get("applicationName", ""))
    group_name = str(deployment.get("deploymentGroupName", ""))
    environment, service = split_group_name(group_name)
    ecs_services = group.get("ecsServices") or []
    pairs = (group.get("loadBalancerInfo") or {}).get("targetGroupPairInfoList") or []
    if len(ecs_services) != 1 or len(pairs) != 1:
        raise DeploymentShapeError(
            f"deployment group {group_name} must have one ECS service and one target group pair, "
            f"has {len(ecs_services)} and {len(pairs)}"
        )
    pair = pairs[0]
    alarms = group.get("alarmConfiguration") or {}
    alarm_names = (
        tuple(alarm["name"] for alarm in alarms.get("alarms") or [] if alarm.get("name"))
        if alarms.get("enabled")
        else ()
    )
    target = DeploymentTarget(
        deployment_id=deployment_id,
        application=application,
        deployment_group=group_name,
        suffix=suffix_of(application),
        environment=environment,
        service=service,
        cluster=str(ecs_services[0].get("clusterName", "")),
        ecs_service=str(ecs_services[0].get("serviceName", "")),
        target_group_names=tuple(tg["name"] for tg in pair.get("targetGroups") or []),
        prod_listener_arns=tuple((pair.get("prodTrafficRoute") or {}).get("listenerArns") or []),
        test_listener_arns=tuple((pair.get("testTrafficRoute") or {}).get("listenerArns") or []),
        alarm_names=alarm_names,
        restore=recorded_restore_id(restore_record) == deployment_id,
        rollback=deployment.get("creator") == ROLLBACK_CREATOR
        or bool((deployment.get("rollbackInfo") or {}).get("rollbackTriggeringDeploymentId")),
        created_at=_epoch(deployment.get("createTime")),
    )
    if len(target.target_group_names) != BLUE_GREEN_PAIR or not target.prod_listener_arns:
        raise DeploymentShapeError(
            f"deployment group {group_name} needs a blue/green target group pair and a "
            "production listener"
        )
    return target


def _epoch(value: Any) -> float | None:
    """GetDeployment's createTime (a datetime from boto3) as epoch seconds."""
    return value.timestamp() if isinstance(value, dt.datetime) else None
