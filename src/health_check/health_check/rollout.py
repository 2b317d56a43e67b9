"""ValidateHealth beside the stage's deployments (`beside_deployments`): the validation happens
while every original (blue) task set still runs, so a failure found then is a traffic move back
in seconds (StopDeployment with rollback during the termination wait, assumption A8), not a
redeploy of the last known-good release.

The action runs in the same RunOrder as the deployment actions. Each poll it finds this stage's
deployment in each service's group and judges:
- SHIFTING: a group has no deployment of this stage yet, or one has not moved all traffic yet
  (`instanceTerminationWaitTimeStarted` false): no bake counts; an alarm still fails the check.
- MOVED: every deployment has moved all traffic (its original task set waits out the blue
  termination wait, or the deployment succeeded): the bake runs, measured from the first poll
  that saw it; the check passes only once every deployment succeeded as well, so the known-good
  record is what users are on and the watch window starts after blue is gone.
- FAILED: a deployment ended Failed or Stopped: CodeDeploy rolls it back (its own deployment);
  the check fails and its restore step waits for the rollbacks and stops the rest, never a
  rollback (deployments.py), so there is no restore fight.
- AMBIGUOUS: two deployments of a group were created since the check began: someone else
  deployed into a group this stage holds; fail closed, restore nothing.

"This stage's deployment" is read from CodeDeploy, never from an event: the group's deployments
created since the check's first invocation (less CREATED_SKEW_SECONDS: CodePipeline starts the
actions of one RunOrder together), without CodeDeploy's rollbacks (`creator`) and our recorded
restores. The first invocation that gets through may be late (Lambda's retry of a first attempt
that died, a throttled event held up to the function's maximum event age, an operator's retry
of the action), so a deployment created up to LOOKBACK_SECONDS before it counts too while it
has not failed or been stopped: one that ended so before the check began is an earlier
execution's (WaitForIdle let this one in only after it ended), or this stage's whose deploy action
fails the stage anyway. WaitForIdle (RunOrder 1) saw every group idle and the stage is locked to
this execution (QUEUED mode), so another deployment there is someone else's and is refused. A
group with no deployment of this stage MISSING_LIMIT_SECONDS after the check began fails it (a
deploy action creates its deployment within seconds): with the rest of the check, closed.

Sources: DeploymentInfo (instanceTerminationWaitTimeStarted, createTime, creator)
https://docs.aws.amazon.com/codedeploy/latest/APIReference/API_DeploymentInfo.html;
ListDeployments (createTimeRange)
https://docs.aws.amazon.com/codedeploy/latest/APIReference/API_ListDeployments.html.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import TYPE_CHECKING

from health_check.deployments import DeploymentFact, RestoreRecord, restore_parameter
from health_check.release import service_of, suffix_of
from health_check.verdict import (
    AlarmFact,
    BakeClock,
    Outcome,
    ServiceFact,
    Verdict,
    decide,
)

if TYPE_CHECKING:
    from health_check.gateway import AwsGateway
    from health_check.params import BakeToken, CheckParameters
    from health_check.settings import Settings

# CodePipeline starts the deployment actions and this one together; the deployment may be
# created a little before the function's first invocation runs.
CREATED_SKEW_SECONDS = 60
# How long before the check's first successful invocation this stage's deployment may have been
# created: the function's maximum event age (template.yaml, HealthCheckFunction's
# EventInvokeConfig, 1200 s) and the skew (tests/template/test_health_check.py keeps them equal).
LOOKBACK_SECONDS = 1200 + CREATED_SKEW_SECONDS
# A group still without a deployment of this stage this long after the check began fails it.
MISSING_LIMIT_SECONDS = 600
# A rollout that has not moved all traffic this long after the check began is failed: a stuck
# deployment fails itself long before (CodeDeploy's hook timeout is an hour, but the hooks report
# within minutes); this bounds the wait below the token's hour of lateness (params.py).
SHIFT_LIMIT_SECONDS = 3000
TERMINAL_FAILURES = frozenset({"Failed", "Stopped"})


class Phase(StrEnum):
    SHIFTING = "shifting"
    MOVED = "moved"
    FAILED = "failed"
    AMBIGUOUS = "ambiguous"


@dataclass(frozen=True)
class Rollout:
    phase: Phase
    note: str
    # Groups whose deployment moved all traffic but has not succeeded: blue still runs there.
    blue_waiting: tuple[str, ...] = ()
    # Groups without a deployment of this stage yet.
    missing: tuple[str, ...] = ()
    # When the earliest of the stage's deployments was created (alarms since then are its doing).
    began_at: float | None = None

    @property
    def complete(self) -> bool:
        """Every deployment succeeded: the original task sets are gone."""
        return self.phase is Phase.MOVED and not self.blue_waiting


def rollout_of(deployments: Mapping[str, list[DeploymentFact]]) -> Rollout:
    """The stage's rollout from each group's deployments created since the check began (our
    restores and CodeDeploy's rollbacks already left out)."""
    waiting, shifting, missing = [], [], []
    created = [d.created_at for found in deployments.values() for d in found if d.created_at]
    began_at = min(created) if created else None
    for group, found in sorted(deployments.items()):
        if len(found) > 1:
            ids = ", ".join(sorted(d.id for d in found))
            return Rollout(
                Phase.AMBIGUOUS,
                f"{group} has {len(found)} deployments since this check began ({ids}): another "
                "deployment went into a group this stage holds; not judging either",
            )
        if not found:
            shifting.append(f"{group}: no deployment of this stage yet")
            missing.append(group)
            continue
        [deployment] = found
        if deployment.status in TERMINAL_FAILURES:
            return Rollout(
                Phase.FAILED,
                f"deployment {deployment.id} of {group} ended {deployment.status} (CodeDeploy "
                "rolls it back to its original task set)",
            )
        if deployment.status == "Succeeded":
            continue
        if deployment.traffic_moved:
            waiting.append(group)
        else:
            shifting.append(f"{group}: {deployment.id} {deployment.status}, traffic moving")
    if shifting:
        return Rollout(
            Phase.SHIFTING, "; ".join(shifting), missing=tuple(missing), began_at=began_at
        )
    note = (
        f"original task sets of {', '.join(waiting)} still run (blue termination wait)"
        if waiting
        else "every deployment succeeded"
    )
    return Rollout(Phase.MOVED, note, tuple(waiting), began_at=began_at)


def observe(
    gateway: AwsGateway, settings: Settings, params: CheckParameters, started_at: float
) -> Rollout:
    application = settings.codedeploy_application
    suffix = suffix_of(application)
    found: dict[str, list[DeploymentFact]] = {}
    for ecs_service in params.services:
        group = f"{params.environment}-{service_of(ecs_service, suffix)}"
        record = RestoreRecord.from_json(gateway.read_parameter(restore_parameter(group)))
        facts = gateway.describe_deployments(
            gateway.deployments_created_since(application, group, started_at - LOOKBACK_SECONDS)
        )
        found[group] = [
            d
            for d in facts
            if not d.is_rollback
            and not (record is not None and record.covers(d))
            and _of_this_stage(d, started_at)
        ]
    return rollout_of(found)


def _of_this_stage(deployment: DeploymentFact, started_at: float) -> bool:
    """Created since the check began, or before it (a late first invocation) and not ended
    Failed or Stopped then: see the module's docstring."""
    created = deployment.created_at
    if created is None or created >= started_at - CREATED_SKEW_SECONDS:
        return True
    return deployment.status not in TERMINAL_FAILURES


def _shifting_failure(
    alarms: list[AlarmFact], services: list[ServiceFact], started_at: float
) -> Verdict | None:
    """While traffic moves, only what no waiting can change fails the check: an alarm that went
    into ALARM since the check began (the release's own doing), no alarm, a missing service. An
    alarm in ALARM from before (the liveness alarms of a new stack whose bootstrap never ran, say)
    must clear by the bake instead, as the traffic guard hook treats it."""
    fresh = tuple(
        sorted(
            alarm.name
            for alarm in alarms
            if alarm.state == "ALARM"
            and (alarm.updated_at is None or alarm.updated_at >= started_at)
        )
    )
    if fresh:
        message = f"{len(fresh)} alarm(s) went into ALARM during the rollout: {', '.join(fresh)}"
        return Verdict(Outcome.FAILED_ALARM, message, breached_alarms=fresh)
    calm = [replace(alarm, state="OK") if alarm.state == "ALARM" else alarm for alarm in alarms]
    verdict = decide(calm, services, 0, BakeClock(started_at, started_at, None))
    return verdict if verdict.outcome is Outcome.FAILED_MISCONFIGURED else None


def _while_shifting(
    alarms: list[AlarmFact],
    services: list[ServiceFact],
    *,
    token: BakeToken,
    now: float,
    rollout: Rollout,
) -> Verdict:
    """Nothing bakes while traffic moves; what fails the check then (see _shifting_failure), a
    group still without its deployment, or a rollout that never moves."""
    since = min(token.started_at, rollout.began_at or token.started_at)
    early = _shifting_failure(alarms, services, since)
    if early is not None:
        return early
    waited = now - token.started_at
    if rollout.missing and waited >= MISSING_LIMIT_SECONDS:
        message = (
            f"no deployment of this stage in {', '.join(rollout.missing)} "
            f"{waited:.0f} s after the check began"
        )
        return Verdict(Outcome.FAILED_MISCONFIGURED, message)
    if waited >= SHIFT_LIMIT_SECONDS:
        message = f"traffic not moved {waited:.0f} s after the check began: {rollout.note}"
        return Verdict(Outcome.FAILED_UNHEALTHY, message)
    return Verdict(Outcome.WAITING, f"waiting for the deployments: {rollout.note}")


def judge(
    alarms: list[AlarmFact],
    services: list[ServiceFact],
    *,
    params: CheckParameters,
    token: BakeToken,
    now: float,
    rollout: Rollout,
    suffix: str,
) -> tuple[Verdict, float | None]:
    """The verdict beside the deployments, and when traffic moved (for the next token)."""
    if rollout.phase is Phase.AMBIGUOUS:
        return Verdict(Outcome.FAILED_MISCONFIGURED, rollout.note), token.moved_at
    if rollout.phase is Phase.FAILED:
        return Verdict(Outcome.FAILED_UNHEALTHY, rollout.note), token.moved_at
    if rollout.phase is Phase.SHIFTING:
        return _while_shifting(alarms, services, token=token, now=now, rollout=rollout), None
    moved_at = float(token.moved_at) if token.moved_at is not None else now
    # The original task set waiting out its termination is expected beside the new one.
    expected = {group.removeprefix(f"{params.environment}-") for group in rollout.blue_waiting}
    steady_enough = [
        replace(fact, other_deployments=0)
        if service_of(fact.name, suffix) in expected and fact.other_deployments == 1
        else fact
        for fact in services
    ]
    clock = BakeClock(now, moved_at, token.healthy_since)
    verdict = decide(alarms, steady_enough, params.bake_seconds, clock)
    if verdict.outcome is Outcome.SUCCEEDED and not rollout.complete:
        # Baked: blue is kept until its wait ends, and watched, so the release is recorded
        # known-good only once users are on it alone.
        verdict = replace(
            verdict,
            outcome=Outcome.BAKING,
            message=f"{verdict.message}; watching until the {rollout.note} end",
            percent_complete=99,
        )
    elif verdict.outcome.continues and rollout.complete:
        verdict = replace(
            verdict,
            message=f"{verdict.message} (the original task sets ended before the bake did: "
            "a failure found now is restored by a redeploy)",
        )
    return verdict, moved_at
