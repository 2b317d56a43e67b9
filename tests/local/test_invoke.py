"""`make invoke`: what it refuses before it looks for the local stack (the invocation itself is
tested on the real template's local deployment, tests/local/test_local_deployment.py)."""

from __future__ import annotations

import pytest

from tests.support import REPO_ROOT
from tools.local_deploy.__main__ import EXIT_USAGE, main
from tools.local_deploy.invoke import functions


def test_every_function_of_the_template_can_be_invoked_from_its_code_folder() -> None:
    found = functions("local")
    assert sorted(found) == [
        "HealthCheckFunction",
        "ProductionSyntheticClientFunction",
        "ReleaseResponderFunction",
        "SmokeTestHookFunction",
        "StagingSyntheticClientFunction",
        "TrafficGuardHookFunction",
    ]
    for function in found.values():
        module = function.handler.rpartition(".")[0].replace(".", "/")
        assert (function.code_dir / f"{module}.py").is_file(), function.handler


def test_a_misspelt_function_is_refused_with_a_suggestion(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["invoke", "HealthCheck", "events/health_check_local.json"])
    assert code == EXIT_USAGE
    err = capsys.readouterr().err
    assert "FUNCTION=HealthCheck is not a function of template.yaml" in err
    assert "did you mean HealthCheckFunction?" in err


def test_a_missing_event_file_lists_the_sample_events(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["invoke", "HealthCheckFunction", str(REPO_ROOT / "events" / "nope.json")])
    assert code == EXIT_USAGE
    err = capsys.readouterr().err
    assert "no such file; the sample events are" in err
    assert "events/health_check_local.json" in err
