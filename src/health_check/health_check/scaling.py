"""Application Auto Scaling held still while a service deploys.

ECS developer guide (blue/green deployments with CodeDeploy): "If a service is in the process of a
blue/green deployment and a scaling event occurs, traffic will continue to shift for 5 minutes. If
the service doesn't reach steady state within 5 minutes, CodeDeploy will stop the deployment and
mark it as failed", and the desired count may be set to twice the right value. Its service auto
scaling page: suspend dynamic scaling in and out for the deployment, resume it after. Scaling is
suspended when a deployment of the group starts and resumed when the group has nothing in progress
any more: after a success, a failure, a stop (once CodeDeploy's rollback ended too) and a restore.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from health_check.errors import AwsCallError

if TYPE_CHECKING:
    from health_check.gateway import AwsGateway
    from health_check.settings import Settings


def suspend(gateway: AwsGateway, settings: Settings, group: str) -> str:
    """Suspend the group's scaling; if its deployment already ended (a START event handled
    late, after a retry), resume at once rather than leave the service unable to scale."""
    cluster, service = gateway.ecs_service_of(settings.codedeploy_application, group)
    if not gateway.set_scaling_suspended(cluster, service, suspended=True):
        return f"{service}: no scalable target"
    if not gateway.active_deployments(settings.codedeploy_application, group, exact=True):
        gateway.set_scaling_suspended(cluster, service, suspended=False)
        return f"{service}: {group} had already finished deploying: scaling left on"
    return f"{service}: scaling suspended while {group} deploys"


def resume_when_idle(gateway: AwsGateway, settings: Settings, group: str) -> str:
    """Resume the group's scaling unless another of its deployments (a rollback, a restore)
    is still in progress: that one's end resumes it."""
    application = settings.codedeploy_application
    busy = gateway.active_deployments(application, group, exact=True)
    if busy:
        return f"{group}: scaling stays suspended, {', '.join(busy)} in progress"
    cluster, service = gateway.ecs_service_of(application, group)
    if not gateway.set_scaling_suspended(cluster, service, suspended=False):
        return f"{service}: no scalable target"
    return f"{service}: scaling resumed"


def resume_environment(gateway: AwsGateway, settings: Settings, environment: str) -> list[str]:
    """The validator's safety net at the end of a check: every idle group of the environment
    scales again, even if the responder missed an event. Never raises: a note per group."""
    notes = []
    try:
        groups = gateway.deployment_groups(settings.codedeploy_application, f"{environment}-")
    except AwsCallError as error:
        return [f"scaling not resumed ({error})"]
    for group in groups:
        try:
            notes.append(resume_when_idle(gateway, settings, group))
        except AwsCallError as error:
            notes.append(f"{group}: scaling not resumed ({error})")
    return notes
