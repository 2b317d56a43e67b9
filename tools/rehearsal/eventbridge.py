"""EventBridge as the rehearsal needs it: the events AWS emits on an alarm's state change and a
deployment's failure, delivered to the functions whose rules (in the templates) match them.

Sources (docs/rehearsal.md has the quotes):
- Alarm state change events: https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch-and-eventbridge.html
- CodeDeploy deployment state-change events: https://docs.aws.amazon.com/codedeploy/latest/userguide/monitoring-cloudwatch-events.html
- Event patterns (value lists, prefix matching): https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns.html
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import simpy

    from tools.rehearsal.lambdas import LambdaService
    from tools.rehearsal.world import World


def matches(pattern: Any, event: Any) -> bool:
    """EventBridge's matching for the pattern forms the templates use: nested objects, lists of
    allowed values, and {"prefix": ...}."""
    if isinstance(pattern, dict):
        if "prefix" in pattern and len(pattern) == 1:
            return isinstance(event, str) and event.startswith(str(pattern["prefix"]))
        if not isinstance(event, dict):
            return False
        return all(key in event and matches(value, event[key]) for key, value in pattern.items())
    if isinstance(pattern, list):
        return any(matches(option, event) for option in pattern)
    return bool(pattern == event)


class EventBus:
    def __init__(self, world: World, lambdas: LambdaService) -> None:
        self.world = world
        self.lambdas = lambdas

    def publish(self, source: str, detail_type: str, detail: dict[str, Any]) -> None:
        event = {
            "version": "0",
            "id": f"event-{len(self.world.events)}",
            "detail-type": detail_type,
            "source": source,
            "account": "123456789012",
            "region": "eu-west-1",
            "resources": [],
            "detail": detail,
        }
        for function in self.world.system.functions.values():
            if any(matches(pattern, event) for pattern in function.event_patterns):
                self.world.env.process(self._deliver(function.name, event))

    def _deliver(self, function: str, event: dict[str, Any]) -> Generator[simpy.Event, Any, None]:
        yield self.world.env.timeout(float(self.world.assumptions["eventbridge_delivery_seconds"]))
        self.lambdas.invoke_async(function, event, caller=f"EventBridge {event['detail-type']}")
