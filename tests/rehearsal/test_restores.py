"""tools/rehearsal/restores.py: the watch windows and who restored, read from a timeline."""

from __future__ import annotations

import pytest

from tools.rehearsal.restores import Restore, WatchWindow, restores, watch_minutes, watch_windows
from tools.rehearsal.system import System, load_system
from tools.rehearsal.world import Event


@pytest.fixture(scope="module")
def system() -> System:
    return load_system()


def _events(*lines: tuple[float, str, str]) -> list[Event]:
    return [Event(at, actor, text) for at, actor, text in lines]


def test_a_rollback_is_credited_to_whoever_stopped_the_deployment_it_undoes() -> None:
    found = restores(
        _events(
            (
                10,
                "CodeDeploy",
                "d-1 created by CodePipeline Production.DeployApi: production-api-service -> r1",
            ),
            (90, "release-responder", "StopDeployment d-1 (user): Pending"),
            (95, "CodeDeploy", "d-1: stopped: stopped by StopDeployment (release-responder)"),
            (
                95,
                "CodeDeploy",
                "d-2 created by codeDeployRollback (rollback of d-1): production-api-service -> r0",
            ),
            (
                100,
                "CodeDeploy rollback d-2",
                "production/api-service: production listener -> r0 100%",
            ),
        )
    )
    assert found == [
        Restore(
            100,
            "production",
            "api-service",
            "r0 100%",
            "CodeDeploy rollback after release-responder",
        )
    ]


def test_a_rollback_of_an_alarm_stop_is_credited_to_codedeploys_alarm_monitoring() -> None:
    found = restores(
        _events(
            (95, "CodeDeploy", "d-1: stopped: alarm dev-production-api-service-5xx-rate in ALARM"),
            (
                95,
                "CodeDeploy",
                "d-2 created by codeDeployRollback (rollback of d-1): production-api-service -> r0",
            ),
            (
                100,
                "CodeDeploy rollback d-2",
                "production/api-service: production listener -> r0 100%",
            ),
        )
    )
    assert [r.actor for r in found] == ["CodeDeploy rollback after CodeDeploy alarm monitoring"]


def test_a_redeploy_is_credited_to_the_function_that_created_it_and_a_release_is_none() -> None:
    found = restores(
        _events(
            (
                10,
                "CodeDeploy",
                "d-1 created by CodePipeline Production.DeployApi: production-api-service -> r1",
            ),
            (50, "CodeDeploy d-1", "production/api-service: production listener -> r1 100%"),
            (
                90,
                "CodeDeploy",
                "d-3 created by health-check restore: production-api-service -> r0 (overridden)",
            ),
            (180, "CodeDeploy d-3", "production/api-service: production listener -> r0 100%"),
        )
    )
    assert [(r.at, r.actor) for r in found] == [(180, "health-check (redeploy)")]


def test_a_watch_window_opens_when_an_environments_validation_passes(system: System) -> None:
    minutes = watch_minutes(system)
    found = watch_windows(
        _events(
            (600, "CodePipeline", "Production.ValidateHealth succeeded: healthy after a 300s bake"),
            (700, "CodePipeline", "Production.ValidateHealth failed: 1 alarm(s) in ALARM"),
        ),
        system,
    )
    assert minutes > 0
    assert found == [WatchWindow("production", 600, 600 + 60 * minutes)]
