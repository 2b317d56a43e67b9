"""What `make rehearse` and `python -m tools.rehearsal` say: exit status through make, progress,
and the errors a newcomer meets first."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.support import REPO_ROOT

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

