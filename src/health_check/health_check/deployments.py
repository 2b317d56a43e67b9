"""Which of an environment's deployments may be stopped, and which must be left to finish.

Two kinds are never stopped:
- CodeDeploy's own rollbacks. "In all cases, the new or rolled-back deployment is assigned its own
  deployment ID" (CodeDeploy user guide, deployment-steps-ecs.html#deployment-rollback-ecs);
  GetDeployment names it by `creator: codeDeployRollback` and
  `rollbackInfo.rollbackTriggeringDeploymentId` (API_DeploymentInfo, API_RollbackInfo).
  CodeDeploy sets both; no caller of CreateDeployment can. Stopping one may leave users on the
  release it is taking them off.
- Our restores of the last known-good release, recognised by the id the health check recorded when
  it created them (`/pipeline/{environment}/{service}/restore`), never by a description, which
  anyone allowed to call CreateDeployment can write.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

# GetDeployment's `creator` of a deployment CodeDeploy created to roll another one back.
ROLLBACK_CREATOR = "codeDeployRollback"
RESTORE_PARAMETER = "/pipeline/{environment}/{service}/restore"
# A restore asked for but whose id is not recorded yet (CreateDeployment answered, the record
# write did not happen): a deployment the group started this soon after the request is taken for
# it. Far longer than the one SSM call between the two.
RESTORE_INTENT_SECONDS = 120.0
RESTORE_REASON = "a restore of the last known-good release"


@dataclass(frozen=True)
class DeploymentFact:
    """One deployment as GetDeployment describes it."""

    id: str
    group: str
    status: str
    creator: str = "user"
    # rollbackInfo.rollbackTriggeringDeploymentId: this deployment rolls that one back.
    rollback_of: str | None = None
    created_at: float | None = None
    # DeploymentInfo.instanceTerminationWaitTimeStarted: all traffic is on the replacement and
    # the original task set waits out its termination (a stop with rollback still moves traffic
    # back then: assumption A8).
    traffic_moved: bool = False

    @property
    def is_rollback(self) -> bool:
        return self.creator == ROLLBACK_CREATOR or bool(self.rollback_of)

    def describe(self) -> str:
        if self.is_rollback:
            return f"CodeDeploy rollback {self.id} (of {self.rollback_of or '?'})"
        return f"deployment {self.id}"


@dataclass(frozen=True)
class RestoreRecord:
    """What the health check wrote when it asked for a restore: when, of what, and (once
    CodeDeploy answered) the deployment's id."""

    requested_at: float
    task_definition: str
    deployment_id: str | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, raw: str | None) -> RestoreRecord | None:
        """None for a missing or unreadable record: nothing is then taken for a restore."""
        if not raw:
            return None
        try:
            values = json.loads(raw)
            requested_at = float(values["requested_at"])
            task_definition = str(values["task_definition"])
            deployment_id = values.get("deployment_id")
        except (ValueError, TypeError, KeyError, AttributeError):
            return None
        if deployment_id is not None and not isinstance(deployment_id, str):
            return None
        return cls(requested_at, task_definition, deployment_id or None)

    def covers(self, deployment: DeploymentFact) -> bool:
        """Whether `deployment` is the restore this record stands for."""
        if self.deployment_id is not None:
            return deployment.id == self.deployment_id
        return (
            deployment.created_at is not None
            and self.requested_at <= deployment.created_at + 1
            and deployment.created_at - self.requested_at <= RESTORE_INTENT_SECONDS
        )


def restore_parameter(group: str) -> str:
    """`production-api-service` -> `/pipeline/production/api-service/restore`."""
    environment, _, service = group.partition("-")
    return RESTORE_PARAMETER.format(environment=environment, service=service)


def must_not_stop(deployment: DeploymentFact, record: RestoreRecord | None) -> str | None:
    """Why `deployment` must be left to finish (a rollback or a recorded restore), or None."""
    if deployment.is_rollback:
        return "a CodeDeploy rollback"
    if record is not None and record.covers(deployment):
        return RESTORE_REASON
    return None
