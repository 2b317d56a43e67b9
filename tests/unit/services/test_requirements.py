"""The services' runtime requirements: floors that keep known-vulnerable releases out."""

from __future__ import annotations

from pathlib import Path

import pytest
from packaging.requirements import Requirement

from tests.support import read_requirements

SERVICES = Path(__file__).resolve().parents[3] / "services"
REQUIREMENTS = sorted(SERVICES.glob("*/requirements.txt"))

# Releases with published vulnerabilities that an image must never resolve to.
VULNERABLE = {
    # CVE-2024-53861: a string issuer was checked with `in`, so a token whose iss is a mere
    # substring of the expected issuer passed ("abc" for "__abc__").
    "pyjwt": ["2.10.0"],
}


def _requirements(path: Path) -> list[Requirement]:
    return read_requirements(path)


def test_every_service_has_requirements() -> None:
    assert {path.parent.name for path in REQUIREMENTS} >= {
        "api-service",
        "auth-service",
        "notification-service",
    }


@pytest.mark.parametrize("path", REQUIREMENTS, ids=lambda path: path.parent.name)
def test_no_requirement_admits_a_known_vulnerable_release(path: Path) -> None:
    # WHEN
    admitted = [
        f"{requirement.name}=={version}"
        for requirement in _requirements(path)
        for version in VULNERABLE.get(requirement.name.lower(), [])
        if requirement.specifier.contains(version)
    ]

    # THEN
    assert admitted == []
