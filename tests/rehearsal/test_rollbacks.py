"""Rollbacks, stops, deregistered task definitions and scaling, as AWS documents them.

AWS: "CodeDeploy implements rollbacks by rerouting traffic from the replacement task set to the
original task set ... In all cases, the new or rolled-back deployment is assigned its own
deployment ID" (https://docs.aws.amazon.com/codedeploy/latest/userguide/deployment-steps-ecs.html#deployment-rollback-ecs);
GetDeployment's creator `codeDeployRollback` and rollbackInfo
(https://docs.aws.amazon.com/codedeploy/latest/APIReference/API_DeploymentInfo.html,
https://docs.aws.amazon.com/codedeploy/latest/APIReference/API_RollbackInfo.html);
StopDeployment answers Pending (https://docs.aws.amazon.com/codedeploy/latest/APIReference/API_StopDeployment.html);
an INACTIVE task definition starts no new task
(https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DeregisterTaskDefinition.html);
a scaling event during a blue/green deployment fails it after five minutes
(https://docs.aws.amazon.com/AmazonECS/latest/developerguide/deployment-type-bluegreen.html).
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from tests.rehearsal.conftest import advance, model
from tools.rehearsal.codedeploy import (
    CREATOR_ROLLBACK,
    Deployment,
    DeploymentLimitExceeded,
)
from tools.rehearsal.run import Rehearsal, run
from tools.rehearsal.scenario import SCENARIOS, load
from tools.rehearsal.world import World


def _deploy(rehearsal: Rehearsal, group: str, release: str = "r1") -> Deployment:
    world = rehearsal.world
    spec = world.system.service_environment(group)
    task_definition = world.fleet(spec.environment, spec.service).register_task_definition(release)
    world.task_definition_releases[task_definition] = release
    return rehearsal.codedeploy.create(group, task_definition, creator="test")


def _until(world: World, deployment: Deployment) -> None:
    if deployment.finished is not None:
        world.env.run(until=deployment.finished)


def _shifted(world: World, deployment: Deployment) -> None:
    while deployment.lifecycle.get("AllowTraffic") != "Succeeded":
        advance(world, 5)


def _stopped_with_rollback(rehearsal: Rehearsal, world: World) -> tuple[Deployment, Deployment]:
    deployment = _deploy(rehearsal, "staging-api-service")
    _shifted(world, deployment)
    rehearsal.codedeploy.stop(deployment.id, rollback=True, reason="test")
    _until(world, deployment)
    rollback = rehearsal.codedeploy.deployments[deployment.rollback_id or ""]
    return deployment, rollback


def test_a_rollback_is_a_deployment_of_its_own_id_created_by_codedeploy() -> None:
    with model() as (rehearsal, world):
        deployment, rollback = _stopped_with_rollback(rehearsal, world)
        assert rollback.id != deployment.id
        assert rollback.aws_creator == CREATOR_ROLLBACK
        assert rollback.rollback_info() == {"rollbackTriggeringDeploymentId": deployment.id}
        assert deployment.rollback_info() == {"rollbackDeploymentId": rollback.id}
        assert rollback.active  # it holds the group while it reroutes


def test_get_deployment_describes_the_rollback_as_aws_does() -> None:
    with model() as (rehearsal, world):
        deployment, rollback = _stopped_with_rollback(rehearsal, world)
        with rehearsal.running():
            info = boto3.client("codedeploy", region_name="eu-west-1").get_deployment(
                deploymentId=rollback.id
            )["deploymentInfo"]
        assert info["creator"] == "codeDeployRollback"
        assert info["rollbackInfo"]["rollbackTriggeringDeploymentId"] == deployment.id


def test_the_rollback_moves_traffic_back_and_publishes_its_own_events() -> None:
    with model() as (rehearsal, world):
        published: list[tuple[str, str]] = []
        publish = world.bus.publish

        def recording(source: str, detail_type: str, detail: dict[str, Any]) -> None:
            if source == "aws.codedeploy":
                published.append((detail["deploymentId"], detail["state"]))
            publish(source, detail_type, detail)

        world.bus.publish = recording
        deployment, rollback = _stopped_with_rollback(rehearsal, world)
        _until(world, rollback)
        fleet = world.fleet("staging", "api-service")
        assert rollback.status == "Succeeded"
        assert fleet.shares() == {fleet.spec.blue.arn: 1.0}
        assert (deployment.id, "STOP") in published
        assert [state for id_, state in published if id_ == rollback.id] == ["START", "SUCCESS"]


def test_stop_deployment_is_pending_and_the_group_stays_busy_until_the_rollback_ends() -> None:
    with model() as (rehearsal, world):
        deployment = _deploy(rehearsal, "staging-api-service")
        _shifted(world, deployment)
        rehearsal.codedeploy.stop(deployment.id, rollback=True, reason="test")
        assert deployment.active  # Pending: not stopped yet
        _until(world, deployment)
        # The deployment ended, its rollback now holds the group: a new deployment collides.
        with pytest.raises(DeploymentLimitExceeded):
            _deploy(rehearsal, "staging-api-service", release="r0")


def test_a_deployment_of_an_inactive_task_definition_fails_at_install() -> None:
    with model() as (rehearsal, world):
        deployment = _deploy(rehearsal, "staging-api-service")
        world.inactive_task_definitions.add(deployment.task_definition)
        _until(world, deployment)
        assert deployment.status == "Failed"
        assert "INACTIVE" in deployment.error


def test_a_scale_out_during_a_deployment_fails_it_after_five_minutes() -> None:
    # (production: staging's scalable target is pinned at its count)
    scaling = [{"at": 60, "environment": "production", "service": "api-service", "desired": 4}]
    with model(scaling=scaling) as (rehearsal, world):
        # GIVEN nobody to suspend scaling (no EventBridge: the responder never hears the START)
        world.bus = None
        deployment = _deploy(rehearsal, "production-api-service")
        _until(world, deployment)
        assert deployment.status == "Failed"
        assert "steady state" in deployment.error


def test_a_suspended_target_holds_the_scale_out_until_scaling_resumes() -> None:
    # (production: staging's scalable target is pinned at its count)
    scaling = [{"at": 60, "environment": "production", "service": "api-service", "desired": 4}]
    with model(scaling=scaling) as (rehearsal, world):
        resource = next(
            r
            for r, t in rehearsal.autoscaling.targets.items()
            if t.group == "production-api-service"
        )
        target = rehearsal.autoscaling.register(
            resource, {"DynamicScalingOutSuspended": True, "DynamicScalingInSuspended": True}
        )
        world.bus = None
        deployment = _deploy(rehearsal, "production-api-service")
        _until(world, deployment)
        assert deployment.status == "Succeeded"
        assert target.pending == 4
        rehearsal.autoscaling.register(
            resource, {"DynamicScalingOutSuspended": False, "DynamicScalingInSuspended": False}
        )
        assert target.desired == 4


def test_the_run_goes_on_past_the_pipeline_while_a_release_still_has_errors_to_come() -> None:
    # GIVEN a release that fails 40 minutes after it took all of production's traffic
    result = run(load(SCENARIOS / "failure-after-pipeline.yaml"))
    # THEN the run sees the failure (it did not end when the pipeline went quiet, as it did)
    assert result.figures.exposure_request_seconds > 0
    assert result.figures.detect_seconds is not None
    assert result.ended_by == "quiet"


def test_a_run_cut_by_its_horizon_says_so() -> None:
    # GIVEN the same scenario with a horizon before the release's errors begin
    scenario = load(SCENARIOS / "failure-after-pipeline.yaml").model_copy(
        update={"horizon_seconds": 3000.0}
    )
    # WHEN it runs  THEN the horizon ended it, and nothing was seen yet
    result = run(scenario)
    assert result.ended_by == "horizon"
    assert result.figures.exposure_request_seconds == 0
