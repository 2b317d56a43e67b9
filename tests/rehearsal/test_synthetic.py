"""The synthetic client as modelled: one verdict per route, the test listener's route reaching
whatever the test listener forwards to (the replacement task set during a deployment).

AWS: "CodeDeploy uses the test listener to route your test traffic to the replacement task set
during a deployment"
(https://docs.aws.amazon.com/AmazonECS/latest/developerguide/update-blue-green-deployment-v2.html).
"""

from __future__ import annotations

import pytest

from tests.rehearsal.conftest import advance, model
from tools.rehearsal.cloudwatch import metric_key
from tools.rehearsal.synthetic import NAMESPACE
from tools.rehearsal.world import World

# r1 breaks api-service's business flow in production; nothing is committed, the test moves
# the listeners itself.
BROKEN_FLOW = {
    "releases": {"r1": {"api-service": {"failing_flow": True, "environments": ["production"]}}},
    "commits": [],
}


def verdicts(world: World, route: str, since: float) -> list[float]:
    """api-service's production SyntheticSuccess through `route`, per minute from `since`."""
    key = metric_key(
        NAMESPACE,
        "SyntheticSuccess",
        {"Environment": "production", "Service": "api-service", "Route": route},
    )
    points = world.metrics.series.get(key, {})
    return [points[start].minimum for start in sorted(points) if start >= since]


def test_the_replacement_route_judges_what_the_test_listener_forwards_to() -> None:
    with model(**BROKEN_FLOW) as (_, world):
        # GIVEN production's api-service with r1 started on the green target group, the test
        # listener forwarding there and the production listener still all on blue (r0)
        fleet = world.fleet("production", "api-service")
        green = fleet.spec.green.arn
        fleet.create_task_set("r1", green, start_now=True)
        advance(world, 120)
        assert fleet.release_on(green) == "r1"
        fleet.route_test(green)
        since = world.env.now + 60

        # WHEN the client runs for a few minutes
        advance(world, 240)

        # THEN every run's replacement route failed on r1, and every live route passed on r0
        assert verdicts(world, "replacement", since)
        assert set(verdicts(world, "replacement", since)) == {0.0}
        assert set(verdicts(world, "live", since)) == {1.0}
        # AND the replacement alarm says so; the live route's synthetic-flow alarm does not
        states = {name: alarm.state for name, alarm in world.alarms.items()}
        assert states["dev-production-api-service-synthetic-replacement"] == "ALARM"
        assert states["dev-production-api-service-synthetic-flow"] == "OK"


def test_outside_a_deployment_both_routes_judge_the_live_release() -> None:
    with model(**BROKEN_FLOW) as (_, world):
        since = world.env.now
        advance(world, 240)
        assert set(verdicts(world, "live", since)) == {1.0}
        assert set(verdicts(world, "replacement", since)) == {1.0}


def random_failure(rate: float) -> dict[str, object]:
    """r1 fails `rate` of api-service's production requests at random (no broken flow)."""
    return {
        "releases": {"r1": {"api-service": {"error_rate": rate, "environments": ["production"]}}},
        "commits": [],
    }


@pytest.mark.parametrize(
    ("reading", "rate", "run_fails"),
    [
        # 1 - 0.98^3 = 6 %: most runs of three requests pass a 2 % failure
        ("median_run", 0.02, False),
        # 1 - 0.6^3 = 78 %: most runs meet a 40 % failure
        ("median_run", 0.4, True),
        # the optimistic reading: any rate fails every run
        ("every_run", 0.02, True),
    ],
)
def test_a_random_failure_fails_the_replacement_route_only_as_often_as_a_run_meets_it(
    reading: str, rate: float, run_fails: bool
) -> None:
    with model(**random_failure(rate), model={"synthetic_random_errors": reading}) as (_, world):
        # GIVEN r1 on green behind the test listener
        fleet = world.fleet("production", "api-service")
        green = fleet.spec.green.arn
        fleet.create_task_set("r1", green, start_now=True)
        advance(world, 120)
        fleet.route_test(green)
        since = world.env.now + 60

        # WHEN the client runs for a few minutes
        advance(world, 240)

        # THEN the replacement route's verdicts follow the reading
        assert set(verdicts(world, "replacement", since)) == {0.0 if run_fails else 1.0}
