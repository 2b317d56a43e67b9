"""The scenario library, run as `make rehearse` runs it: every scenario meets its `expect`, or is
marked expected_to_fail with its reason (and then must still fail: strict)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.rehearsal.run import run
from tools.rehearsal.scenario import library, load

SCENARIOS = library()


def _case(path: Path) -> pytest.param:  # type: ignore[valid-type]
    scenario = load(path)
    marks = []
    if scenario.expected_to_fail:
        marks.append(pytest.mark.xfail(reason=scenario.expected_to_fail, strict=True))
    return pytest.param(path, id=path.stem, marks=marks)


def test_library_has_the_scenarios_a_release_can_meet() -> None:
    assert len(SCENARIOS) >= 12


@pytest.mark.parametrize("path", [_case(path) for path in SCENARIOS])
def test_scenario_meets_its_expectations(path: Path) -> None:
    result = run(load(path))
    assert not result.unmodelled_calls, "the Lambda code made calls the model does not answer"
    assert result.met, "; ".join(result.misses)
