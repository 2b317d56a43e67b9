"""The Dockerfiles and the compose file agree with the contracts and with the contract tests."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.services.conftest import CLIENT_ID, CLIENT_SECRET, JWKS_PARAMETER, TOPIC_NAME
from tests.support import REPO_ROOT

SERVICES_DIR = REPO_ROOT / "services"
SERVICES = ["api-service", "auth-service", "notification-service"]


def _dockerfile(service: str) -> str:
    return (SERVICES_DIR / service / "Dockerfile").read_text()


def _compose() -> dict[str, Any]:
    compose: dict[str, Any] = yaml.safe_load((SERVICES_DIR / "docker-compose.yml").read_text())
    return compose


@pytest.mark.parametrize("service", SERVICES)
def test_every_stage_uses_the_same_pinned_slim_base(service: str) -> None:
    # WHEN
    bases = re.findall(r"^FROM (\S+)", _dockerfile(service), re.MULTILINE)

    # THEN
    assert len(bases) == 2
    assert all(re.fullmatch(r"python:3\.13\.\d+-slim-bookworm", base) for base in bases)


@pytest.mark.parametrize("service", SERVICES)
def test_the_image_runs_as_a_non_root_user_on_port_8080(service: str) -> None:
    # WHEN
    final_stage = _dockerfile(service).rsplit("\nFROM ", 1)[1]

    # THEN
    assert re.search(r"^USER 10001", final_stage, re.MULTILINE)
    assert re.search(r"^EXPOSE 8080$", final_stage, re.MULTILINE)


@pytest.mark.parametrize("service", SERVICES)
def test_the_image_starts_the_service_own_factory(service: str) -> None:
    # GIVEN
    package = service.replace("-", "_")

    # WHEN
    command = json.loads(re.findall(r"^CMD (.+)$", _dockerfile(service), re.MULTILINE)[-1])

    # THEN
    assert command == ["python", "-m", "service_kit.serve", f"{package}.main:create_app"]
    assert (SERVICES_DIR / service / package / "main.py").is_file()


@pytest.mark.parametrize("service", SERVICES)
def test_dependencies_are_installed_before_the_code_is_copied(service: str) -> None:
    # WHEN
    text = _dockerfile(service)

    # THEN
    assert text.index("requirements.txt") < text.index(
        f"COPY {service}/{service.replace('-', '_')}"
    )


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
    assert config("auth-service")["jwks_parameter"] == JWKS_PARAMETER


def test_compose_pins_the_moto_image() -> None:
    assert re.fullmatch(r"motoserver/moto:\d+\.\d+\.\d+", _compose()["services"]["moto"]["image"])


def test_the_build_context_ignores_caches() -> None:
    ignored = Path(SERVICES_DIR / ".dockerignore").read_text().split()
    assert "**/__pycache__" in ignored
