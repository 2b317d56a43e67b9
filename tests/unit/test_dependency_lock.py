"""uv.lock, pyproject.toml and the requirements.txt files that builds and images read agree.

Every requirements.txt a build installs (the functions' for `sam build`, the services' for their
images) is one dependency group of pyproject.toml exported from uv.lock with hashes
(`make requirements`); the `runtime` group includes them all, so the tests run against exactly
those versions. These tests fail when one of them moves without the others.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from scripts import export_requirements
from tests.support import REPO_ROOT, read_requirements

FUNCTION_FILES = sorted(REPO_ROOT.glob("src/*/requirements.txt"))
SERVICE_FILES = sorted(REPO_ROOT.glob("services/*/requirements.txt"))
REQUIREMENT_FILES = sorted([*FUNCTION_FILES, *SERVICE_FILES])
_requirements = read_requirements


def _key(requirement: Requirement) -> tuple[str, frozenset[str], str]:
    return (
        canonicalize_name(requirement.name),
        frozenset(requirement.extras),
        str(requirement.specifier),
    )


def _group(name: str) -> list[Requirement]:
    """A dependency group's requirements, included groups expanded (PEP 735)."""
    groups = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["dependency-groups"]
    requirements = []
    for item in groups[name]:
        if isinstance(item, dict):
            requirements += _group(item["include-group"])
        else:
            requirements.append(Requirement(item))
    return requirements


def _runtime_group() -> list[Requirement]:
    return _group("runtime")


def _locked_versions() -> dict[str, str]:
    lock = tomllib.loads((REPO_ROOT / "uv.lock").read_text())
    return {
        canonicalize_name(package["name"]): package["version"]
        for package in lock["package"]
        if "version" in package
    }


def test_every_function_and_service_has_requirements() -> None:
    # GIVEN the three functions and three services  THEN each has its requirements.txt here
    assert len(REQUIREMENT_FILES) == 6, REQUIREMENT_FILES


def test_the_runtime_group_is_exactly_the_groups_the_builds_install() -> None:
    # GIVEN the runtime group (what the tests import) and the group each build's file exports
    groups = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["dependency-groups"]
    included = {item["include-group"] for item in groups["runtime"] if isinstance(item, dict)}
    exported = {export_requirements.group_of(path) for path in REQUIREMENT_FILES}
    # THEN it includes those groups and nothing else (no requirement of its own)
    assert all(isinstance(item, dict) for item in groups["runtime"])
    assert included == exported


@pytest.mark.parametrize("path", REQUIREMENT_FILES, ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_each_build_installs_exactly_the_locked_export_of_its_group(path: Path) -> None:
    # GIVEN its dependency group of uv.lock exported (offline) as `make requirements` writes it
    expected = export_requirements.exported(export_requirements.group_of(path))
    # THEN the file is that export, byte for byte: nothing unpinned, nothing without its hashes,
    # nothing the lock does not hold
    assert path.read_text() == expected, "run `make requirements`"


@pytest.mark.parametrize("path", REQUIREMENT_FILES, ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_every_package_a_build_installs_is_pinned_with_a_hash(path: Path) -> None:
    # GIVEN each requirement of the file, as pip reads it (continuations joined)
    entries = [
        entry
        for entry in path.read_text().replace("\\\n", " ").splitlines()
        if entry.split("#", 1)[0].strip()
    ]
    # THEN each names one version and at least one sha256 hash (pip's hash-checking mode)
    assert entries
    for entry in entries:
        requirement = Requirement(entry.split(" --", 1)[0].strip())
        assert str(requirement.specifier).startswith("=="), entry
        assert "--hash=sha256:" in entry, entry


def test_no_build_gets_a_urllib3_without_the_2x_security_fixes() -> None:
    # GIVEN checkov's urllib3==1.26.20 pin in the one resolution every export comes from
    versions = [
        str(r.specifier).removeprefix("==")
        for path in REQUIREMENT_FILES
        for r in _requirements(path)
        if canonicalize_name(r.name) == "urllib3"
    ]
    # THEN the override (pyproject.toml, tool.uv) keeps every function and image on 2.5 or later
    assert versions
    assert all(Version(version) >= Version("2.5") for version in versions), versions


def test_the_service_images_install_with_hash_checking() -> None:
    dockerfile = (REPO_ROOT / "services" / "Dockerfile").read_text()
    [install] = [line for line in dockerfile.splitlines() if "-r /tmp/requirements.txt" in line]
    assert "--require-hashes" in install
    assert "--no-deps" in install


@pytest.mark.parametrize("path", REQUIREMENT_FILES, ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_the_locked_versions_satisfy_each_requirements_file(path: Path) -> None:
    # GIVEN the versions the tests run against (uv.lock)
    locked = _locked_versions()
    # THEN a build that installs the requirements file can get the same versions
    outside = [
        f"{r} (locked {locked.get(canonicalize_name(r.name))})"
        for r in _requirements(path)
        if locked.get(canonicalize_name(r.name)) not in r.specifier
    ]
    assert outside == []


def test_the_lock_matches_pyproject() -> None:
    # GIVEN uv beside the interpreter running the tests (it is locked like every tool)
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    if uv is None:
        pytest.skip("uv is not installed (`make venv` installs it)")
    # WHEN it checks the lock against pyproject.toml, without the network
    checked = subprocess.run(
        [uv, "lock", "--check", "--offline"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    # THEN nothing in pyproject.toml changed since the lock was written (`make lock` fixes it)
    assert checked.returncode == 0, checked.stderr


def test_make_venv_installs_exactly_the_lock() -> None:
    # GIVEN the Makefile  WHEN `make venv` is planned from scratch (dry run: nothing runs)
    planned = subprocess.run(
        ["make", "--dry-run", "--always-make", "venv"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    # THEN uv is bootstrapped with nothing but python3, then installs the lock without resolving
    assert "-m venv .venv" in planned
    assert "pip install" in planned
    assert "uv sync --frozen" in planned


def test_the_test_stage_installs_through_make_venv() -> None:
    # GIVEN the pipeline's Test stage  THEN its install phase is the same `make venv`
    buildspec = yaml.safe_load((REPO_ROOT / "buildspecs" / "test.yml").read_text())
    assert "make venv" in buildspec["phases"]["install"]["commands"]
