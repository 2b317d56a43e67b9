"""The rehearsal settings of the assumptions no AWS document settles (docs/assumptions.md, A1-A6).

Each test plays the same situation under the assumed value and under the alternative, and fails
if the model ignored the setting. The acceptance kit names these settings in its report, so the
last test keeps its names and assumed values equal to tools/rehearsal/assumptions.yaml.

AWS: Lambda does not retry a direct (synchronous) invocation, and retries an asynchronous one
twice (https://docs.aws.amazon.com/lambda/latest/dg/invocation-retries.html); a hook has one hour
to report (https://docs.aws.amazon.com/codedeploy/latest/userguide/reference-appspec-file-structure-hooks.html);
an alarm "activated" stops a deployment
(https://docs.aws.amazon.com/codedeploy/latest/userguide/monitoring-create-alarms.html); the first
pull through a cache rule over interface endpoints needs a NAT route
(https://docs.aws.amazon.com/AmazonECR/latest/userguide/vpc-endpoints.html).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.acceptance.assumptions import ASSUMPTIONS
from tests.rehearsal.conftest import advance, model
from tools.rehearsal.codedeploy import Deployment
from tools.rehearsal.run import Rehearsal, base_assumptions
from tools.rehearsal.world import World

HOOK = "CodeDeployHook_SmokeTest"


def _deploy(rehearsal: Rehearsal, group: str) -> Deployment:
    world = rehearsal.world
    spec = world.system.service_environment(group)
    task_definition = world.fleet(spec.environment, spec.service).register_task_definition("r1")
    world.task_definition_releases[task_definition] = "r1"
    return rehearsal.codedeploy.create(group, task_definition, creator="test")


def _finish(world: World, deployment: Deployment) -> None:
    if deployment.finished is not None:
        world.env.run(until=deployment.finished)


# ---------------------------------------------------------------- A1
@pytest.mark.parametrize(
    ("invocation", "status", "error"),
    [
        ("async", "Succeeded", ""),  # Lambda's retry runs the hook again and it reports
        ("sync", "Failed", "did not report within 3600 s"),  # nothing retries it
    ],
)
def test_a1_a_hook_that_crashed_once_is_retried_only_when_invoked_asynchronously(
    invocation: str, status: str, error: str
) -> None:
    crash = [{"kind": "crash", "function": HOOK, "count": 1}]
    with model(faults=crash, model={"hook_invocation": invocation}) as (rehearsal, world):
        deployment = _deploy(rehearsal, "staging-api-service")
        _finish(world, deployment)
        assert deployment.status == status
        assert error in deployment.error
        runs = [f for _, f in rehearsal.lambdas.invocations if f.startswith(HOOK)]
        assert len(runs) == (2 if invocation == "async" else 1)


# ---------------------------------------------------------------- A2
@pytest.mark.parametrize(("setting", "status"), [("ignored", "Succeeded"), ("stops", "Stopped")])
def test_a2_an_alarm_without_data_stops_a_deployment_only_when_set_to(
    setting: str, status: str
) -> None:
    with model(model={"alarm_monitoring_insufficient_data": setting}) as (rehearsal, world):
        world.alarms["dev-staging-api-service-5xx-rate"].state = "INSUFFICIENT_DATA"
        deployment = _deploy(rehearsal, "staging-api-service")
        _finish(world, deployment)
        assert deployment.status == status


# ---------------------------------------------------------------- A3
def _forwards(rehearsal: Rehearsal, listener_arn: str) -> list[dict[str, Any]]:
    listener = rehearsal.fake.describe_listeners({"ListenerArns": [listener_arn]})["Listeners"][0]
    forwards: list[dict[str, Any]] = listener["DefaultActions"][0]["ForwardConfig"]["TargetGroups"]
    return forwards


@pytest.mark.parametrize(
    ("shape", "groups"), [("both_groups_idle_at_zero", 2), ("live_group_only", 1)]
)
def test_a3_describe_listeners_shows_the_assumed_shape_and_traffic_is_the_same(
    shape: str, groups: int
) -> None:
    with model(model={"listener_forward_after_deploy": shape}) as (rehearsal, world):
        fleet = world.fleet("staging", "api-service")
        spec = fleet.spec
        # Before any deployment: the template's action, forward to blue
        assert _forwards(rehearsal, spec.listener.arn) == [
            {"TargetGroupArn": spec.blue.arn, "Weight": 1}
        ]
        deployment = _deploy(rehearsal, "staging-api-service")
        _finish(world, deployment)
        # The hooks read the listeners during the deployment and passed it in either shape
        assert deployment.status == "Succeeded"
        for arn in (spec.listener.arn, spec.test_listener.arn):
            forwards = _forwards(rehearsal, arn)
            assert len(forwards) == groups
            assert [f["TargetGroupArn"] for f in forwards if f["Weight"]] == [spec.green.arn]
        assert fleet.shares() == {spec.green.arn: 1.0}


# ---------------------------------------------------------------- A6
@pytest.mark.parametrize(
    ("first_pull", "running"), [("needs_internet_path", False), ("works_over_endpoints", True)]
)
def test_a6_the_bootstrap_runs_in_vpc_endpoints_mode_only_if_its_first_pull_works_there(
    first_pull: str, running: bool
) -> None:
    new_stack = {"first_deploy": True, "baseline": "bootstrap", "commits": []}
    settings = {"bootstrap_first_pull": first_pull}
    with model(**new_stack, parameters={"EgressMode": "VpcEndpoints"}, model=settings) as (
        _,
        world,
    ):
        advance(world, 300)
        fleet = world.fleet("staging", "api-service")
        assert (fleet.running_tasks() == fleet.spec.desired_count) is running
        assert (world.pull_error("bootstrap") is None) is running


# ---------------------------------------------------------------- the acceptance kit
def test_every_assumption_names_a_rehearsal_setting_with_the_yaml_default() -> None:
    defaults = base_assumptions()
    for key, assumption in ASSUMPTIONS.items():
        assert assumption.rehearsal_setting in defaults, key
        assert assumption.assumed == str(defaults[assumption.rehearsal_setting]), key
