"""Build rehearsal scenarios in tests the way scenario files do, and run parts of the model."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from tools.rehearsal.run import Rehearsal
from tools.rehearsal.scenario import Scenario
from tools.rehearsal.world import World


def scenario(**fields: Any) -> Scenario:
    """A valid scenario: one healthy release r1 committed at 0, unless the test says otherwise."""
    spec: dict[str, Any] = {
        "name": "test",
        "description": "a test scenario",
        "releases": {"r1": {}},
        "commits": [{"release": "r1"}],
        "expect": {},
        **fields,
    }
    return Scenario.model_validate(spec)


@contextmanager
def model(**fields: Any) -> Iterator[tuple[Rehearsal, World]]:
    """The model of `scenario(**fields)`, running: advance it with `world.env.run(until=...)`."""
    rehearsal = Rehearsal.build(scenario(**fields))
    with rehearsal.running() as world:
        world.env.run(until=world.origin)  # past the warm-up: alarms settled, time 0
        yield rehearsal, world


def advance(world: World, seconds: float) -> None:
    world.env.run(until=world.now + seconds)


@pytest.fixture
def running() -> Any:
    return model
