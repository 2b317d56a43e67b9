"""The watch window: an environment's alarm going into ALARM while nothing deploys there restores
its last known-good release at once, from the alarm's own event, instead of waiting for a human.

- Inside the window after a release passed its health check (WATCH_WINDOW_SECONDS from when the
  release was recorded known-good), a service still on that release goes back to the release it
  replaced: its known-good record is demoted to `previous` first, then the same idempotent restore
  step as the health check's (release.py) runs. Demoting first makes every later step, whoever
  takes it (a retry, the health check's on-failure path, the validator), aim at the same release.
- A service that is not on its known-good release (blue gone, its validation not passed yet) is
  restored to it: the same target as the health check's own restore, so two paths cannot fight.
- Outside the window nothing is redeployed on an alarm alone: the notification names the
  known-good record and the one command that restores the previous release.

The caller has checked that no deployment of the environment is in progress: a newer release
deploying is that release's to judge (the responder stops it with rollback on the same alarm).
Everything comes from the function's configuration and from AWS; the event names nothing but the
environment, read from an alarm name of this copy.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from health_check.gateway import RESTORE_DEPLOYMENT_CONFIG
from health_check.observability import logger
from health_check.params import CheckParameters
from health_check.release import (
    KNOWN_GOOD_PARAMETER,
    KnownGood,
    RestoreState,
    ServiceRestore,
    read_known_good,
    restore,
    restore_appspec,
    suffix_of,
)

if TYPE_CHECKING:
    from health_check.gateway import AwsGateway
    from health_check.settings import Settings


@dataclass(frozen=True)
class WatchOutcome:
    demoted: tuple[str, ...]  # services sent back to the release before, inside the window
    steps: tuple[ServiceRestore, ...]  # the restore step's outcome per service
    outside_window: tuple[str, ...]  # notes for services whose window has closed

    @property
    def acted(self) -> bool:
        return bool(self.demoted) or any(step.state is RestoreState.STARTED for step in self.steps)

    @property
    def incomplete(self) -> bool:
        """A step to take again (an AWS call failed, the group was taken first)."""
        return any(step.state is RestoreState.RETRY for step in self.steps)


# A restore of the watch that did not succeed in this long is not tried again: a human decides
# (release.restore's `since`), as the validator's own restore does.
RESTORE_MEMORY_SECONDS = 900


def watch_restore(
    gateway: AwsGateway, settings: Settings, environment: str, now: float, alarm: str
) -> WatchOutcome:
    application = settings.codedeploy_application
    suffix = suffix_of(application)
    groups = gateway.deployment_groups(application, f"{environment}-")
    services = [group.removeprefix(f"{environment}-") for group in groups]
    if not any(alarm.startswith(f"{suffix}-{environment}-{service}-") for service in services):
        # An environment-wide alarm (the synthetic client's heartbeat, say) says nothing about
        # the release: the validator judges it, the watch does not redeploy on it.
        logger.info("watch window: not a service's alarm", extra={"alarm": alarm})
        return WatchOutcome((), (), ())
    targets = {group: gateway.ecs_service_of(application, group) for group in groups}
    clusters = {cluster for cluster, _ in targets.values()}
    if len(clusters) != 1:
        logger.warning("no single cluster for the environment", extra={"groups": targets})
        return WatchOutcome((), (), (f"{environment}: groups span {sorted(clusters)}",))
    [cluster] = clusters
    ecs_services = tuple(service for _, service in targets.values())
    running = gateway.primary_task_definitions(cluster, ecs_services)
    demoted, outside = [], []
    off_known_good = False  # a service runs something other than its known-good release
    for group, (_, ecs_service) in targets.items():
        service = group.removeprefix(f"{environment}-")
        known_good = read_known_good(gateway, environment, service)
        if known_good is None:
            continue
        if running.get(ecs_service) != known_good.task_definition:
            # Not on the watched release: the restore step below takes it back to it.
            off_known_good = off_known_good or running.get(ecs_service) is not None
            continue
        if known_good.previous is None:
            continue
        recorded = known_good.recorded_epoch()
        window = settings.watch_window_seconds
        # A window of 0 is off: not even a release recorded this very second is sent back.
        if window > 0 and recorded is not None and now - recorded <= window:
            _demote(gateway, environment, service, known_good.task_definition, known_good.previous)
            demoted.append(service)
        else:
            outside.append(_restore_command(settings, environment, service, known_good.previous))
    params = CheckParameters(
        environment=environment,
        alarm_prefix=f"{suffix}-{environment}-",
        cluster=cluster,
        services=ecs_services,
    )
    steps: tuple[ServiceRestore, ...] = ()
    if demoted or off_known_good:
        steps = tuple(restore(gateway, settings, params, now, now - RESTORE_MEMORY_SECONDS))
    return WatchOutcome(tuple(demoted), steps, tuple(outside))


def _demote(
    gateway: AwsGateway, environment: str, service: str, failed: str, previous: KnownGood
) -> None:
    """The release before becomes the known-good one again: `failed` failed its watch."""
    gateway.write_parameter(
        KNOWN_GOOD_PARAMETER.format(environment=environment, service=service),
        replace(previous, previous=None).to_json(),
        f"Release of {service} restored: {failed} failed in its watch window",
    )
    logger.info("watch window: known-good demoted", extra={"service": service, "failed": failed})


def _restore_command(
    settings: Settings, environment: str, service: str, previous: KnownGood
) -> str:
    """What a human runs to put the service back on the release before (outside the window)."""
    appspec = restore_appspec(previous.task_definition, service, settings)
    revision = json.dumps(
        {"revisionType": "AppSpecContent", "appSpecContent": {"content": appspec}}
    )
    return (
        f"{service}: outside the watch window; the release before is {previous.task_definition} "
        f"(recorded {previous.recorded_at}). To restore it: aws deploy create-deployment "
        f"--application-name {settings.codedeploy_application} "
        f"--deployment-group-name {environment}-{service} "
        f"--deployment-config-name {RESTORE_DEPLOYMENT_CONFIG} "
        "--override-alarm-configuration enabled=false "
        f"--revision '{revision}'"
    )
