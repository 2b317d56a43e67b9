"""What `make rehearse` and `python -m tools.rehearsal` say: exit status through make, progress,
and the errors a newcomer meets first."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.support import REPO_ROOT
from tools.rehearsal import __main__ as cli
from tools.rehearsal import chart, report
from tools.rehearsal.run import Result, run
from tools.rehearsal.scenario import ScenarioError, load

# A scenario that cannot meet its expectation: 30 s is too short for any release to reach
# production, so the run is short and its exit status is 1.
UNMET = """\
name: never-released
description: a release that cannot reach production within the horizon
releases:
  r1:
    api-service: {}
commits:
  - release: r1
horizon_seconds: 30
expect:
  serving:
    production: r1
"""


@pytest.fixture(scope="module")
def unmet_through_make(
    tmp_path_factory: pytest.TempPathFactory,
) -> subprocess.CompletedProcess[str]:
    scenario = tmp_path_factory.mktemp("scenario") / "never-released.yaml"
    scenario.write_text(UNMET)
    # Without the flags of a `make test` this may run under, such as --jobs.
    environ = {k: v for k, v in os.environ.items() if k not in {"MAKEFLAGS", "MFLAGS", "MAKELEVEL"}}
    return subprocess.run(
        [
            "make",
            "--no-print-directory",
            "rehearse",
            f"SCENARIO={scenario}",
            "ARGS=--design current",
        ],
        cwd=REPO_ROOT,
        env=environ,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def test_make_names_the_commands_own_exit_status_and_how_to_get_it(
    unmet_through_make: subprocess.CompletedProcess[str],
) -> None:
    # GIVEN a scenario that misses its expectation (the command's status is 1)
    # THEN make exits 2, as make does for any failure, and says the command's own status
    assert unmet_through_make.returncode == 2
    assert "make rehearse: the command above exited 1" in unmet_through_make.stderr
    assert "run the command directly for its own status" in unmet_through_make.stderr
    # AND the command it means is printed, ready to run directly
    assert ".venv/bin/python -m tools.rehearsal --scenario " in unmet_through_make.stdout


def test_progress_goes_to_stderr_one_line_per_scenario(
    unmet_through_make: subprocess.CompletedProcess[str],
) -> None:
    assert "rehearse: [1/1] never-released" in unmet_through_make.stderr
    assert "rehearse: [" not in unmet_through_make.stdout


@pytest.fixture(scope="module")
def unmet_pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Result, Result]:
    path = tmp_path_factory.mktemp("scenario") / "never-released.yaml"
    path.write_text(UNMET)
    scenario = load(path)
    return run(scenario, "current"), run(scenario, "original")


def test_the_table_explains_met_and_marks_what_does_not_apply_as_in_its_cells(
    unmet_pair: tuple[Result, Result],
) -> None:
    text = report.table([unmet_pair])
    # GIVEN a run with no detection and no restore (the cells show "-")
    assert "- / -" in text
    # THEN the footer names the same mark, and says what "met" means
    assert "(-: does not apply)" in text
    assert "null" not in text
    assert "met: this design did what the scenario's `expect` asks" in text


def test_the_timeline_says_what_its_expectations_are(unmet_pair: tuple[Result, Result]) -> None:
    assert "expectations (the scenario's `expect`): MISSED:" in report.timeline(unmet_pair[0])


def test_the_command_says_where_it_wrote_the_chart(
    unmet_pair: tuple[Result, Result],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # GIVEN the engine's runs (already made) and no drawing (chart.py is tested on its own)
    runs = {result.design: result for result in unmet_pair}
    monkeypatch.setattr(cli, "run", lambda scenario, design: runs[design])
    monkeypatch.setattr(chart, "write", lambda results, path: None)
    target = tmp_path / "unmet.svg"
    scenario = tmp_path / "never-released.yaml"
    scenario.write_text(UNMET)
    # WHEN the command draws it
    cli.main(["--scenario", str(scenario), "--chart", str(target)])
    # THEN it says where
    assert f"rehearse: chart written to {target.resolve()}" in capsys.readouterr().err


def test_a_missing_scenario_file_lists_the_library(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--scenario", "scenarios/no-such-scenario.yaml"]) == 2
    err = capsys.readouterr().err
    assert "scenarios/no-such-scenario.yaml: no such scenario file; scenarios/ has" in err
    assert "canary-5xx.yaml" in err


def test_an_unknown_key_is_answered_with_the_closest_known_one(tmp_path: Path) -> None:
    path = tmp_path / "typo.yaml"
    path.write_text(
        UNMET.replace("api-service: {}", "api-service: {eror_rate: 0.5}")
        .replace("horizon_seconds:", "horizon:")
        .replace("  serving:", "  servng:")
    )
    with pytest.raises(ScenarioError) as refused:
        load(path)
    message = str(refused.value)
    assert "releases.r1.api-service.eror_rate: did you mean 'error_rate'?" in message
    assert "horizon: did you mean 'horizon_seconds'?" in message
    assert "expect.servng: did you mean 'serving'?" in message
