"""The Dockerfile and the compose file agree with the contracts and with the contract tests."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from service_kit.serve import app_factory

from tests.contract.conftest import CLIENT_ID, CLIENT_SECRET, JWKS_PARAMETER, TOPIC_NAME
from tests.support import REPO_ROOT

SERVICES_DIR = REPO_ROOT / "services"
SERVICES = ["api-service", "auth-service", "notification-service"]


def _dockerfile() -> str:
    return (SERVICES_DIR / "Dockerfile").read_text()


def _compose() -> dict[str, Any]:
    compose: dict[str, Any] = yaml.safe_load((SERVICES_DIR / "docker-compose.yml").read_text())
    return compose


def test_every_stage_uses_the_same_base_image_argument() -> None:
    # WHEN
    bases = re.findall(r"^FROM (\S+)", _dockerfile(), re.MULTILINE)

    # THEN the pipeline can swap the base for its pull-through copy with one --build-arg
    assert bases == ["${BASE_IMAGE}", "${BASE_IMAGE}"]


def test_base_image_defaults_to_the_pinned_slim_python_on_ecr_public() -> None:
    # GIVEN
    text = _dockerfile()

    # WHEN
    [default] = re.findall(r"^ARG BASE_IMAGE=(\S+)$", text, re.MULTILINE)

    # THEN Docker's official image on ECR Public (no Docker Hub pull limits), declared before
    # the first FROM so that every stage can use it
    assert re.fullmatch(r"public\.ecr\.aws/docker/library/python:3\.13\.\d+-slim-bookworm", default)
    assert text.index("ARG BASE_IMAGE=") < text.index("\nFROM ")


def test_dockerfile_needs_no_frontend_image_from_docker_hub() -> None:
    # A `# syntax=` directive makes BuildKit pull that frontend image (Docker Hub) on every build.
    assert not re.search(r"^#\s*syntax=", _dockerfile(), re.MULTILINE | re.IGNORECASE)


def test_the_image_runs_as_a_non_root_user_on_port_8080() -> None:
    # WHEN
    final_stage = _dockerfile().rsplit("\nFROM ", 1)[1]

    # THEN
    assert re.search(r"^USER 10001", final_stage, re.MULTILINE)
    assert re.search(r"^EXPOSE 8080$", final_stage, re.MULTILINE)


def test_both_stages_take_the_service_from_the_build_argument() -> None:
    # WHEN
    stages = _dockerfile().split("\nFROM ")[1:]

    # THEN each stage declares SERVICE (a build argument is scoped to the stage that declares it)
    assert len(stages) == 2
    assert all(re.search(r"^ARG SERVICE$", stage, re.MULTILINE) for stage in stages)
    assert re.search(r"^\s+SERVICE_NAME=\$\{SERVICE\}$", stages[1], re.MULTILINE)


@pytest.mark.parametrize("service", SERVICES)
def test_the_image_starts_the_service_own_factory(service: str) -> None:
    # GIVEN
    package = service.replace("-", "_")

    # WHEN the image's command runs with the SERVICE_NAME the image sets
    command = json.loads(re.findall(r"^CMD (.+)$", _dockerfile(), re.MULTILINE)[-1])

    # THEN service_kit.serve starts the service's own factory, which exists
    assert command == ["python", "-m", "service_kit.serve"]
    assert app_factory(service) == f"{package}.main:create_app"
    assert (SERVICES_DIR / service / package / "main.py").is_file()
    assert (SERVICES_DIR / service / "requirements.txt").is_file()


def test_dependencies_are_installed_before_the_code_is_copied() -> None:
    # WHEN
    text = _dockerfile()

    # THEN
    assert text.index("COPY ${SERVICE}/requirements.txt") < text.index("COPY ${SERVICE}/ /app/")


def test_compose_gives_auth_service_the_contract_tests_client() -> None:
    # WHEN
    secret = json.loads(_compose()["services"]["auth-service"]["environment"]["SERVICE_SECRET"])

    # THEN
    assert secret["clients"] == {CLIENT_ID: hashlib.sha256(CLIENT_SECRET.encode()).hexdigest()}


def test_compose_points_the_services_at_the_tests_topic_and_key_parameter() -> None:
    # GIVEN
    services = _compose()["services"]

    def config(name: str) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(services[name]["environment"]["SERVICE_CONFIG"])
        return parsed

    # THEN
    assert config("notification-service")["topic_arn"].endswith(f":{TOPIC_NAME}")
    assert config("api-service")["jwks_parameter"] == JWKS_PARAMETER
    assert config("notification-service")["jwks_parameter"] == JWKS_PARAMETER
    assert config("auth-service")["jwks_parameter"] == JWKS_PARAMETER


def _test_stage_variables() -> dict[str, str]:
    spec: dict[str, Any] = yaml.safe_load((REPO_ROOT / "buildspecs" / "test.yml").read_text())
    variables: dict[str, str] = spec["env"]["variables"]
    return variables


def test_compose_runs_only_the_built_images_with_host_networking() -> None:
    # GIVEN
    services = _compose()["services"]

    # THEN no moto image (its server runs on the host) and nothing published through the bridge
    assert set(services) == set(SERVICES)
    for name, service in services.items():
        assert service["network_mode"] == "host", name
        assert "ports" not in service, name


def test_compose_services_listen_where_the_contract_tests_look_for_them() -> None:
    # GIVEN the URLs the test stage hands to the contract tests
    variables = _test_stage_variables()
    expected = {
        "api-service": variables["CONTRACT_API_URL"],
        "auth-service": variables["CONTRACT_AUTH_URL"],
        "notification-service": variables["CONTRACT_NOTIFICATION_URL"],
    }

    # WHEN
    services = _compose()["services"]

    # THEN each service's PORT is its URL's port, and every service reaches moto's server
    for name, url in expected.items():
        environment = services[name]["environment"]
        assert url == f"http://127.0.0.1:{environment['PORT']}", name
        assert environment["AWS_ENDPOINT_URL"] == variables["CONTRACT_AWS_ENDPOINT_URL"], name
    assert len({services[name]["environment"]["PORT"] for name in expected}) == 3


def test_the_build_context_ignores_caches() -> None:
    ignored = Path(SERVICES_DIR / ".dockerignore").read_text().split()
    assert "**/__pycache__" in ignored
