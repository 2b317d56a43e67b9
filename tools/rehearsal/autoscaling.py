"""Application Auto Scaling of each ECS service's desired count, and what a scaling event does to a
CodeDeploy blue/green deployment in progress.

Sources (docs/rehearsal.md has the quotes):
- "If a service is in the process of a blue/green deployment and a scaling event occurs, traffic
  will continue to shift for 5 minutes. If the service doesn't reach steady state within 5
  minutes, CodeDeploy will stop the deployment and mark it as failed"; the desired count may be
  set to twice the right value:
  https://docs.aws.amazon.com/AmazonECS/latest/developerguide/deployment-type-bluegreen.html
- "Application Auto Scaling turns off scale-in processes while Amazon ECS deployments are in
  progress ... However, scale-out processes continue to occur, unless suspended":
  https://docs.aws.amazon.com/AmazonECS/latest/developerguide/troubleshoot-service-auto-scaling.html
- SuspendedState (DynamicScalingInSuspended, DynamicScalingOutSuspended, ScheduledScalingSuspended):
  https://docs.aws.amazon.com/autoscaling/application/APIReference/API_SuspendedState.html

The model reads the scenario's `scaling` events as a scaling policy asking for a new desired
count. It records the count; the tasks themselves stay at the deployment's count (what matters
here is the deployment's fate, not the extra capacity). Assumption: the pessimistic reading of
"may fail": a scale-out during a deployment always fails it after the five minutes.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import simpy

    from tools.rehearsal.codedeploy import CodeDeploy
    from tools.rehearsal.scenario import ScalingEvent
    from tools.rehearsal.world import World

# "traffic will continue to shift for 5 minutes" before CodeDeploy fails the deployment.
STEADY_STATE_GRACE_SECONDS = 300.0
SUSPENSIONS = (
    "DynamicScalingInSuspended",
    "DynamicScalingOutSuspended",
    "ScheduledScalingSuspended",
)


@dataclass
class ScalableTarget:
    resource_id: str
    group: str
    minimum: int
    maximum: int
    desired: int
    suspended: dict[str, bool] = field(default_factory=lambda: dict.fromkeys(SUSPENSIONS, False))
    # Scaling asked for while suspended: applied when scaling resumes.
    pending: int | None = None


class AutoScaling:
    def __init__(self, world: World, codedeploy: CodeDeploy) -> None:
        self.world = world
        self.codedeploy = codedeploy
        self.targets: dict[str, ScalableTarget] = {}
        for (environment, _), fleet in world.fleets.items():
            spec = fleet.spec
            resource = f"service/{spec.cluster}/{spec.ecs_service}"
            self.targets[resource] = ScalableTarget(
                resource_id=resource,
                group=spec.deployment_group.name,
                minimum=spec.desired_count,
                maximum=max(spec.desired_count, 2 * spec.desired_count)
                if environment == "production"
                else spec.desired_count,
                desired=spec.desired_count,
            )

    def start(self) -> None:
        for event in self.world.scenario.spec.scaling:
            self.world.env.process(self._scale_at(event))

    # ------------------------------------------------------------ the API
    def register(self, resource_id: str, suspended: dict[str, bool]) -> ScalableTarget:
        target = self.targets[resource_id]
        target.suspended.update({k: bool(v) for k, v in suspended.items() if k in SUSPENSIONS})
        state = "suspended" if any(target.suspended.values()) else "resumed"
        self.world.log("Application Auto Scaling", f"{resource_id}: scaling {state}")
        if target.pending is not None and not any(target.suspended.values()):
            desired, target.pending = target.pending, None
            self._apply(target, desired)
        return target

    # ------------------------------------------------------------ scaling events
    def _scale_at(self, event: ScalingEvent) -> Generator[simpy.Event, Any, None]:
        world = self.world
        yield world.env.timeout(world.origin + event.at - world.now)
        fleet = world.fleet(event.environment, event.service)
        resource = f"service/{fleet.spec.cluster}/{fleet.spec.ecs_service}"
        target = self.targets[resource]
        desired = max(target.minimum, min(target.maximum, event.desired))
        direction = (
            "DynamicScalingOutSuspended"
            if desired > target.desired
            else ("DynamicScalingInSuspended")
        )
        deploying = [d for d in self.codedeploy.active_in(target.group) if not d.rollback_of]
        if target.suspended[direction] or (direction == "DynamicScalingInSuspended" and deploying):
            # Suspended by us, or (scale-in) held by Application Auto Scaling during a deployment.
            target.pending = desired
            world.log("Application Auto Scaling", f"{resource}: scaling to {desired} held")
            return
        self._apply(target, desired)

    def _apply(self, target: ScalableTarget, desired: int) -> None:
        world = self.world
        if desired == target.desired:
            return
        target.desired = desired
        world.log("Application Auto Scaling", f"{target.resource_id}: desired count -> {desired}")
        for deployment in self.codedeploy.active_in(target.group):
            if not deployment.rollback_of:
                world.env.process(self._fail_unsteady(deployment.id))

    def _fail_unsteady(self, deployment_id: str) -> Generator[simpy.Event, Any, None]:
        yield self.world.env.timeout(STEADY_STATE_GRACE_SECONDS)
        deployment = self.codedeploy.deployments[deployment_id]
        if deployment.active:
            self.codedeploy.fail(
                deployment_id,
                "service did not reach steady state within 5 minutes of a scaling event",
            )
