"""buildspecs/test.yml, run as CodeBuild would, with fake `aws`, `docker` and `pytest`.

The install phase (`make venv`) is not run: the fake pytest stands in for the virtualenv's.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support import REPO_ROOT, load_template
from tests.unit.buildspecs.codebuild import BuildResult, FakeCloud, run_buildspec
from tests.unit.buildspecs.conftest import SERVICES, Monorepo, repository_uri

ARTIFACT_NAMES = {
    "api-service": "ApiServiceBuildOutput",
    "auth-service": "AuthServiceBuildOutput",
    "notification-service": "NotificationServiceBuildOutput",
}
COMMIT = "0123456789abcdef0123456789abcdef01234567"  # pragma: allowlist secret


def run_test_stage(
    monorepo: Monorepo, fake_cloud: FakeCloud, tmp_path: Path, **extra_env: str
) -> BuildResult:
    environment = {"ENVIRONMENT_SUFFIX": "dev", **extra_env}
    for service, artifact in ARTIFACT_NAMES.items():
        folder = tmp_path / "artifacts" / artifact
        folder.mkdir(parents=True)
        image = {"ImageURI": f"{repository_uri(service)}:{COMMIT}"}
        (folder / "imageDetail.json").write_text(json.dumps(image))
        environment[f"CODEBUILD_SRC_DIR_{artifact}"] = str(folder)
    return run_buildspec(
        monorepo.path / "buildspecs" / "test.yml",
        source_dir=monorepo.path,
        environment=environment,
        fake_cloud=fake_cloud,
        phases=("pre_build", "build", "post_build"),
    )


@pytest.fixture(autouse=True)
def no_stray_moto_server(fake_cloud: FakeCloud) -> Iterator[None]:
    """Stop a fake moto_server the buildspec left running, whatever the test's outcome."""
    yield
    if not (fake_cloud.state_dir / "calls.jsonl").exists():
        return
    for pid in [record["pid"] for record in fake_cloud.call_records("moto_server")]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def moto_server_stopped(fake_cloud: FakeCloud) -> bool:
    """Whether the fake server received SIGTERM (it marks that on its way out)."""
    marker = fake_cloud.state_dir / "moto_server.stopped"
    for _ in range(100):  # the signal is delivered asynchronously; wait up to ~10 s for it
        if marker.exists():
            return True
        time.sleep(0.1)
    return False


def tool_sequence(fake_cloud: FakeCloud) -> list[str]:
    """Every recorded call as "<tool> <first argument>", in the order they happened."""
    lines = (fake_cloud.state_dir / "calls.jsonl").read_text().splitlines()
    entries = [json.loads(line) for line in lines]
    return [" ".join([entry["tool"], *entry["argv"][:1]]) for entry in entries]


def pytest_call(fake_cloud: FakeCloud) -> dict[str, Any]:
    [call] = fake_cloud.call_records("pytest")
    return call


def compose_commands(fake_cloud: FakeCloud) -> list[list[str]]:
    return [argv for argv in fake_cloud.calls("docker") if argv[:1] == ["compose"]]


def test_pytest_runs_the_suite_without_integration_tests_and_writes_junit(
    monorepo: Monorepo, fake_cloud: FakeCloud, tmp_path: Path
) -> None:
    # GIVEN / WHEN
    result = run_test_stage(monorepo, fake_cloud, tmp_path)

    # THEN
    assert result.succeeded, result.log
    assert pytest_call(fake_cloud)["argv"] == [
        "tests/",
        "--ignore=tests/integration",
        "--junitxml=reports/junit.xml",
    ]
    assert (monorepo.path / "reports" / "junit.xml").exists()


def test_integration_tests_run_when_a_stack_is_named(
    monorepo: Monorepo, fake_cloud: FakeCloud, tmp_path: Path
) -> None:
    # GIVEN / WHEN
    result = run_test_stage(monorepo, fake_cloud, tmp_path, AWS_SAM_STACK_NAME="stack")

    # THEN
    assert result.succeeded, result.log
    assert pytest_call(fake_cloud)["argv"] == ["tests/", "--junitxml=reports/junit.xml"]


def test_contract_tests_get_the_freshly_built_images_and_the_compose_endpoints(
    monorepo: Monorepo, fake_cloud: FakeCloud, tmp_path: Path
) -> None:
    # GIVEN / WHEN
    result = run_test_stage(monorepo, fake_cloud, tmp_path)

    # THEN the images come from the build outputs and compose started them before pytest
    assert result.succeeded, result.log
    environment = pytest_call(fake_cloud)["env"]
    for service in SERVICES:
        variable = service.upper().replace("-", "_") + "_IMAGE"
        assert environment[variable] == f"{repository_uri(service)}:{COMMIT}"
    for name in ("API", "AUTH", "NOTIFICATION", "AWS_ENDPOINT"):
        assert environment[f"CONTRACT_{name}_URL"].startswith("http://127.0.0.1:")
    up = compose_commands(fake_cloud)[0]
    assert up == [
        "compose",
        *("--file", "services/docker-compose.yml"),
        *("up", "--detach", "--wait", "--no-build"),
    ]


def test_moto_server_runs_on_the_host_and_answers_before_the_services_start(
    monorepo: Monorepo, fake_cloud: FakeCloud, tmp_path: Path
) -> None:
    # GIVEN / WHEN
    result = run_test_stage(monorepo, fake_cloud, tmp_path)

    # THEN moto's server came from the virtualenv on the host, on the loopback address the
    # services share through host networking
    assert result.succeeded, result.log
    [server] = fake_cloud.calls("moto_server")
    assert server == ["-H", "127.0.0.1", "-p", "5000"]
    # and the stage waited for it to answer before compose started the services
    [ready] = fake_cloud.calls("curl")
    assert ready[-1] == "http://127.0.0.1:5000/moto-api/"
    assert "--fail" in ready
    sequence = tool_sequence(fake_cloud)
    assert sequence.index("moto_server -H") < sequence.index("curl --silent")
    assert sequence.index("curl --silent") < sequence.index("docker compose")


def test_no_container_image_is_pulled_for_moto() -> None:
    # GIVEN
    compose = yaml.safe_load((REPO_ROOT / "services" / "docker-compose.yml").read_text())
    spec_text = (REPO_ROOT / "buildspecs" / "test.yml").read_text()

    # THEN compose runs only the three built images, and the buildspec pulls nothing else
    assert set(compose["services"]) == set(SERVICES)
    assert "motoserver/" not in spec_text
    assert "docker pull" not in spec_text


def test_moto_server_is_stopped_even_when_tests_fail(
    monorepo: Monorepo, fake_cloud: FakeCloud, tmp_path: Path
) -> None:
    # GIVEN / WHEN a failing test run
    result = run_test_stage(monorepo, fake_cloud, tmp_path, FAKE_PYTEST_EXIT="1")

    # THEN post_build stopped the server it started, through its recorded PID
    assert not result.succeeded
    assert result.phase_status["post_build"] == 0
    assert moto_server_stopped(fake_cloud)
    assert not (monorepo.path / "moto-server.pid").exists()


def test_containers_are_stopped_even_when_tests_fail(
    monorepo: Monorepo, fake_cloud: FakeCloud, tmp_path: Path
) -> None:
    # GIVEN / WHEN a failing test run
    result = run_test_stage(monorepo, fake_cloud, tmp_path, FAKE_PYTEST_EXIT="1")

    # THEN the build fails, and post_build still saved the logs and stopped compose
    assert not result.succeeded
    assert result.phase_status["post_build"] == 0
    subcommands = [argv[3] for argv in compose_commands(fake_cloud)]
    assert subcommands == ["up", "logs", "down"]


@pytest.fixture(scope="module")
def stage_buildspec() -> dict[str, Any]:
    spec: dict[str, Any] = yaml.safe_load((REPO_ROOT / "buildspecs" / "test.yml").read_text())
    return spec


def test_junit_report_is_published_to_the_template_report_group(
    stage_buildspec: dict[str, Any],
) -> None:
    # GIVEN the delivery template's report group and test project
    template = load_template(REPO_ROOT / "pipeline" / "delivery.yaml")
    project_name = template["Resources"]["TestProject"]["Properties"]["Name"]["Fn::Sub"]
    group_name = template["Resources"]["TestReportGroup"]["Properties"]["Name"]["Fn::Sub"]

    # WHEN
    [(key, report)] = stage_buildspec["reports"].items()

    # THEN CodeBuild files <project>-<key> into the group the template created
    assert group_name == f"{project_name}-{key}"
    assert report == {
        "base-directory": "reports",
        "files": ["junit.xml"],
        "file-format": "JUNITXML",
    }
