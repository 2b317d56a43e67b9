"""The rehearsal settings of the assumptions no AWS document settles (docs/assumptions.md, A1-A11).

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
from tests.rehearsal.conftest import advance, model, scenario
from tools.rehearsal import design as designs
from tools.rehearsal.codedeploy import Deployment, DeploymentAlreadyCompleted, StopRefused
from tools.rehearsal.fleet import with_background
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


# ---------------------------------------------------------------- A7-A10
def _stopped_after_the_shift(rehearsal: Rehearsal, world: World) -> Deployment:
    """A deployment stopped with rollback once traffic shifted: its rollback deployment."""
    deployment = _deploy(rehearsal, "staging-api-service")
    while deployment.lifecycle.get("AllowTraffic") != "Succeeded":
        advance(world, 5)
    rehearsal.codedeploy.stop(deployment.id, rollback=True, reason="test")
    _finish(world, deployment)
    return rehearsal.codedeploy.deployments[deployment.rollback_id or ""]


def _in_termination_wait(world: World, deployment: Deployment) -> None:
    while not deployment.in_termination_wait:
        advance(world, 5)


@pytest.mark.parametrize(("monitoring", "status"), [("stops", "Stopped"), ("ignored", "Succeeded")])
def test_a7_an_alarm_during_the_termination_wait_stops_the_deployment_only_if_monitored(
    monitoring: str, status: str
) -> None:
    with model(model={"termination_wait_alarm_monitoring": monitoring}) as (rehearsal, world):
        world.bus = None  # the responder would stop it too: A7 is CodeDeploy's own monitoring
        deployment = _deploy(rehearsal, "staging-api-service")
        _in_termination_wait(world, deployment)
        world.alarms["dev-staging-api-service-5xx-rate"].state = "ALARM"
        _finish(world, deployment)
        assert deployment.status == status


@pytest.mark.parametrize(("setting", "stopped"), [("possible", True), ("none", False)])
def test_a8_a_stop_during_the_termination_wait_rolls_back_only_if_possible(
    setting: str, stopped: bool
) -> None:
    with model(model={"termination_wait_rollback": setting}) as (rehearsal, world):
        deployment = _deploy(rehearsal, "staging-api-service")
        _in_termination_wait(world, deployment)
        if stopped:
            rehearsal.codedeploy.stop(deployment.id, rollback=True, reason="test")
        else:
            with pytest.raises(DeploymentAlreadyCompleted):
                rehearsal.codedeploy.stop(deployment.id, rollback=True, reason="test")
        _finish(world, deployment)
        assert (deployment.status == "Stopped") is stopped


@pytest.mark.parametrize(("runs_hooks", "invoked"), [("no", False), ("yes", True)])
def test_a9_a_rollback_invokes_the_traffic_hooks_only_if_it_runs_them(
    runs_hooks: str, invoked: bool
) -> None:
    with model(model={"rollback_runs_hooks": runs_hooks}) as (rehearsal, world):
        rollback = _stopped_after_the_shift(rehearsal, world)
        _finish(world, rollback)
        assert bool(rollback.hooks) is invoked
        # and our hooks never block it: users are back on the original either way
        assert rollback.status == "Succeeded"


@pytest.mark.parametrize(("setting", "refused"), [("stops", False), ("refused", True)])
def test_a10_stopping_a_rollback_deployment_stops_it_or_is_refused(
    setting: str, refused: bool
) -> None:
    overrides = {"stop_rollback_deployment": setting, "codedeploy_reroute_seconds": 60}
    with model(model=overrides) as (rehearsal, world):
        rollback = _stopped_after_the_shift(rehearsal, world)
        if refused:
            with pytest.raises(StopRefused):
                rehearsal.codedeploy.stop(rollback.id, rollback=False, reason="test")
        else:
            rehearsal.codedeploy.stop(rollback.id, rollback=False, reason="test")
        _finish(world, rollback)
        assert rollback.status == ("Succeeded" if refused else "Stopped")


# ---------------------------------------------------------------- A11
def _five_xx_share(world: World, environment: str, service: str) -> tuple[float, float]:
    """(5XX answered, requests) of a fleet's production target groups over the metrics so far."""
    fleet = world.fleet(environment, service)
    totals = {"HTTPCode_Target_5XX_Count": 0.0, "RequestCount": 0.0}
    for (namespace, name, dimensions), points in world.metrics.series.items():
        groups = {fleet.groups[g].full_name for g in fleet.groups}
        if (
            namespace == "AWS/ApplicationELB"
            and name in totals
            and dict(dimensions).get("TargetGroup") in groups
        ):
            totals[name] += sum(point.total for point in points.values())
    return totals["HTTPCode_Target_5XX_Count"], totals["RequestCount"]


@pytest.mark.parametrize("rate", [0.0, 0.001, 0.005])
def test_a11_a_healthy_release_answers_the_background_share_of_5xx_and_no_user_counts_as_bad(
    rate: float,
) -> None:
    with model(model={"background_error_rate": rate}) as (_, world):
        advance(world, 300)
        errors, requests = _five_xx_share(world, "production", "api-service")
        # the load balancer's metrics carry the background, exactly
        assert requests > 0
        assert errors == pytest.approx(rate * requests)
        # and the figures count no user on a bad release: the background is no release's fault
        assert all(sample.bad_share == 0 for sample in world.samples)


def test_a11_background_adds_to_a_failing_releases_own_errors_among_what_it_answers() -> None:
    # 1 - (1 - 0.02) * (1 - 0.001): the release's 2 %, and the background among the rest
    assert with_background(0.02, 0.001) == pytest.approx(0.02 + 0.98 * 0.001)
    assert with_background(0.0, 0.001) == pytest.approx(0.001)
    assert with_background(1.0, 0.001) == pytest.approx(1.0)


def test_a11_the_original_design_is_played_without_the_background_it_could_not_bear() -> None:
    # The original count alarm (> 10 in each of two 300 s) would stand in ALARM from ~0.07 %.
    settings = {**base_assumptions(), "background_error_rate": 0.005}
    assert designs.assumptions("original", settings)["background_error_rate"] == 0.0
    assert designs.assumptions("current", settings)["background_error_rate"] == 0.005
    rehearsal = Rehearsal.build(scenario(model={"background_error_rate": 0.005}), "original")
    assert rehearsal.world.assumptions["background_error_rate"] == 0.0
