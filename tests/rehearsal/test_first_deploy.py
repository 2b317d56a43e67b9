"""A new stack as modelled: the bootstrap image, its first pull, and what the alarms see.

AWS: the first pull through an ECR pull-through cache rule, from a VPC that reaches ECR over
interface endpoints, needs a route to a NAT gateway; later pulls do not
(https://docs.aws.amazon.com/AmazonECR/latest/userguide/vpc-endpoints.html). A target group with
no registered target makes the load balancer answer 503 itself
(https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-troubleshooting.html).
"""

from __future__ import annotations

import dataclasses

import pytest

from tests.rehearsal.conftest import advance, model
from tools.rehearsal import design as designs
from tools.rehearsal.cloudwatch import metric_key
from tools.rehearsal.run import run
from tools.rehearsal.scenario import SCENARIOS, load
from tools.rehearsal.synthetic import NAMESPACE
from tools.rehearsal.system import System
from tools.rehearsal.world import World

FIRST_DEPLOY = {"first_deploy": True, "baseline": "bootstrap", "commits": []}


def synthetic_success(
    world: World, environment: str, service: str, route: str = "live"
) -> set[float]:
    """Every SyntheticSuccess value the client published for the service through one route
    (per minute)."""
    key = metric_key(
        NAMESPACE,
        "SyntheticSuccess",
        {"Environment": environment, "Service": service, "Route": route},
    )
    return {
        value
        for minute in world.metrics.series.get(key, {}).values()
        for value in (minute.minimum, minute.maximum)
    }


def test_in_vpc_endpoints_mode_no_bootstrap_task_ever_runs_and_the_liveness_alarms_stand() -> None:
    with model(**FIRST_DEPLOY, parameters={"EgressMode": "VpcEndpoints"}) as (_, world):
        advance(world, 600)
        fleet = world.fleet("staging", "api-service")
        # THEN no task runs, nothing is registered, and the tasks keep being replaced
        assert fleet.running_tasks() == 0
        assert fleet.release_on(fleet.spec.blue.arn) is None
        assert fleet.primary.stopped_tasks > fleet.spec.desired_count
        # AND the alarms a service with nothing running trips are in ALARM, the 5XX one is not
        states = {name: alarm.state for name, alarm in world.alarms.items()}
        prefix = "dev-staging-api-service-"
        for check in ("running-tasks", "healthy-hosts", "synthetic-flow"):
            assert states[prefix + check] == "ALARM", check
        assert states[prefix + "5xx-rate"] != "ALARM"
        # AND the synthetic client failed its checks on both routes (the load balancer's own
        # 503), which the replacement alarm, in the deployment group's list, does not read as a
        # broken release: it would stop the release that makes the environment run
        for route in ("live", "replacement"):
            assert set(synthetic_success(world, "staging", "api-service", route)) == {0.0}
        assert states[prefix + "synthetic-replacement"] == "OK"


@pytest.mark.parametrize("mode", ["NatGateway", "PublicSubnets"])
def test_with_an_internet_path_the_bootstrap_runs_and_the_client_does_not_judge_it(
    mode: str,
) -> None:
    with model(**FIRST_DEPLOY, parameters={"EgressMode": mode}) as (_, world):
        advance(world, 300)
        fleet = world.fleet("staging", "api-service")
        assert fleet.running_tasks() == fleet.spec.desired_count
        assert fleet.release_on(fleet.spec.blue.arn) == "bootstrap"
        # The client recognises the bootstrap image and publishes no verdict on it.
        for route in ("live", "replacement"):
            assert synthetic_success(world, "staging", "api-service", route) == set()
        states = {name: alarm.state for name, alarm in world.alarms.items()}
        assert "ALARM" not in {
            states[f"dev-staging-api-service-{c}"] for c in ("running-tasks", "healthy-hosts")
        }


def test_a_new_stack_has_no_known_good_release_to_restore() -> None:
    with model(**FIRST_DEPLOY) as (_, world):
        assert not [name for name in world.ssm if name.endswith("/known-good")]
    with model() as (_, world):
        assert len([name for name in world.ssm if name.endswith("/known-good")]) == 6


def test_the_pipelines_own_images_are_pulled_in_every_mode() -> None:
    # The release's image is in the service's own repository, reachable over the endpoints.
    with model(**FIRST_DEPLOY, parameters={"EgressMode": "VpcEndpoints"}) as (_, world):
        assert world.pull_error("bootstrap") is not None
        assert world.pull_error("r1") is None


def test_with_the_alarms_of_an_empty_environment_in_the_deployment_groups_the_first_release_stops(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN the deployment groups as they were: listing the running-tasks, healthy-hosts and
    # synthetic-flow alarms too
    listed_before = ("-running-tasks", "-healthy-hosts", "-synthetic-flow")
    apply = designs.apply

    def with_the_old_lists(design: str, system: System) -> System:
        system = apply(design, system)
        environments = {
            environment: {
                service: dataclasses.replace(
                    spec,
                    deployment_group=dataclasses.replace(
                        spec.deployment_group,
                        alarm_names=spec.deployment_group.alarm_names
                        + tuple(a.name for a in spec.alarms if a.name.endswith(listed_before)),
                    ),
                )
                for service, spec in services.items()
            }
            for environment, services in system.environments.items()
        }
        return dataclasses.replace(system, environments=environments)

    monkeypatch.setattr(designs, "apply", with_the_old_lists)
    # WHEN the first release of a new VpcEndpoints stack is rehearsed
    result = run(load(SCENARIOS / "first-release.yaml"))
    # THEN it never leaves staging: WaitForIdle will not deploy into groups whose alarm
    # monitoring would stop the deployment at once on those standing alarms, and says so
    assert "r1 Staging: Failed, expected Succeeded" in result.misses
    stops = [e.text for e in result.events if "WaitForIdle failed" in e.text]
    assert stops
    # (the timeline keeps the message's first 160 characters: the first alarm it names)
    assert any(check.strip("-") in stops[0] for check in listed_before)
