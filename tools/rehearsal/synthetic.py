"""The synthetic client's effect, per environment and minute, when the templates schedule it: its
heartbeat (SyntheticRuns) and, per service, whether its checks passed (SyntheticSuccess) and its
slowest request (SyntheticLatency), as src/synthetic_client publishes them (docs/staging-gates.md).

Modelled, not run: its code makes HTTP calls to the public listeners, which the model answers
from each service's behaviour instead. The hooks and the health check, which decide a release's
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


def run(world: SyntheticHost) -> Generator[simpy.Event, Any, None]:
    while True:
        for environment in world.system.environments:
            world.put_metric(NAMESPACE, "SyntheticRuns", {"Environment": environment}, 1.0)
            for service in world.system.services:
                fleet = world.fleet(environment, service)
                release = fleet.release_on(max(fleet.weights, key=lambda g: fleet.weights[g]))
                dimensions = {"Environment": environment, "Service": service}
                if release is None:
                    # No target registered: the load balancer answers 503 itself ("The target
                    # groups for the load balancer have no registered targets", ALB
                    # troubleshooting, HTTP 503), and the client's GET /health fails.
                    world.put_metric(NAMESPACE, "SyntheticSuccess", dimensions, 0.0)
                    # Its slowest request is that 503, answered by the load balancer at once.
                    world.put_metric(
                        NAMESPACE, "SyntheticLatency", dimensions, LOAD_BALANCER_ANSWER_SECONDS
                    )
                    continue
                if world.is_bootstrap(release):
                    continue  # the client recognises the bootstrap image: nothing to judge
                behaviour = world.behaviour(service, release)
                failing = fleet.synthetic_check_fails(release)
                world.put_metric(NAMESPACE, "SyntheticSuccess", dimensions, 0.0 if failing else 1.0)
                world.put_metric(
                    NAMESPACE,
                    "SyntheticLatency",
                    dimensions,
                    behaviour.latency_in(environment) / 1000,
                )
        yield world.env.timeout(60)
