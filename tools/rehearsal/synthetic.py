"""The synthetic client's effect, per environment and minute, when the templates schedule it: its
heartbeat (SyntheticRuns) and, per service, whether its checks passed (SyntheticSuccess) and its
slowest request (SyntheticLatency), as src/synthetic_client publishes them (docs/staging-gates.md).

Modelled, not run: its code makes HTTP calls to each service's production and test listeners
(two routes, the `Route` dimension), which the model answers from each service's behaviour
instead. The hooks and the health check, which decide a release's
fate, do run as they are. On a new stack (scenario `first_deploy`) the client publishes no verdict
on the bootstrap image, and fails a service with nothing registered behind its listener:
https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-troubleshooting.html#load-balancer-http-error-codes
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import simpy

    from tools.rehearsal.behaviour import Behaviour
    from tools.rehearsal.fleet import Fleet
    from tools.rehearsal.system import System


class SyntheticHost(Protocol):
    """The world as the synthetic client uses it: the world passes itself down, not imported up."""

    system: System
    env: simpy.Environment

    def fleet(self, environment: str, service: str) -> Fleet: ...

    def behaviour(self, service: str, release: str) -> Behaviour: ...

    def is_bootstrap(self, release: str) -> bool: ...

    def put_metric(
        self, namespace: str, name: str, dimensions: dict[str, str], value: float
    ) -> None: ...


NAMESPACE = "MicroservicesPipeline/Synthetics"
# Assumption: the load balancer's own 503 (nothing registered) comes back in milliseconds.
LOAD_BALANCER_ANSWER_SECONDS = 0.005


def scheduled(world: SyntheticHost) -> bool:
    return any(
        function.handler.startswith("synthetic_client.") and "rate(1 minute)" in function.schedules
        for function in world.system.functions.values()
    )


# The client's two routes (src/synthetic_client/synthetic_client/run.py, Route): the production
# listener and the test listener. During a blue/green deployment CodeDeploy points the test
# listener at the replacement task set alone, from AllowTestTraffic until the deployment ends
# ("CodeDeploy uses the test listener to route your test traffic to the replacement task set
# during a deployment", https://docs.aws.amazon.com/AmazonECS/latest/developerguide/update-blue-green-deployment-v2.html;
# https://docs.aws.amazon.com/codedeploy/latest/userguide/reference-appspec-file-structure-hooks.html#appspec-hooks-ecs);
# the fleet keeps which group each listener forwards to (Fleet.weights, Fleet.test_target_group).
LIVE, REPLACEMENT = "live", "replacement"
ROUTES = (LIVE, REPLACEMENT)


def group_on(fleet: Fleet, route: str) -> str:
    """The target group a route's requests reach. The live route is modelled as reaching the
    group with most of the production listener's weight (during a 10 % canary a real run's
    requests reach green about one time in ten); the replacement route reaches the test
    listener's group, green from AllowTestTraffic on."""
    if route == REPLACEMENT:
        return fleet.test_target_group
    return max(fleet.weights, key=lambda g: fleet.weights[g])


def run(world: SyntheticHost) -> Generator[simpy.Event, Any, None]:
    while True:
        for environment in world.system.environments:
            world.put_metric(NAMESPACE, "SyntheticRuns", {"Environment": environment}, 1.0)
            for service in world.system.services:
                for route in ROUTES:
                    check(world, environment, service, route)
        yield world.env.timeout(60)


def check(world: SyntheticHost, environment: str, service: str, route: str) -> None:
    """One route's verdict on one service: what the client publishes for it this minute."""
    fleet = world.fleet(environment, service)
    release = fleet.release_on(group_on(fleet, route))
    dimensions = {"Environment": environment, "Service": service, "Route": route}
    if release is None:
        # No target registered: the load balancer answers 503 itself ("The target groups for
        # the load balancer have no registered targets", ALB troubleshooting, HTTP 503), and
        # the client's GET /health fails.
        world.put_metric(NAMESPACE, "SyntheticSuccess", dimensions, 0.0)
        # Its slowest request is that 503, answered by the load balancer at once.
        world.put_metric(NAMESPACE, "SyntheticLatency", dimensions, LOAD_BALANCER_ANSWER_SECONDS)
        return
    if world.is_bootstrap(release):
        return  # the client recognises the bootstrap image: nothing to judge
    behaviour = world.behaviour(service, release)
    failing = behaviour.flow_fails_in(environment) or fleet.synthetic_check_fails(release)
    world.put_metric(NAMESPACE, "SyntheticSuccess", dimensions, 0.0 if failing else 1.0)
    world.put_metric(
        NAMESPACE, "SyntheticLatency", dimensions, behaviour.latency_in(environment) / 1000
    )
