"""uv.lock, pyproject.toml and the requirements.txt files that builds and images read agree.

The functions' and services' requirements.txt stay what their builds install; pyproject.toml's
`runtime` group repeats them so that uv.lock pins them with the tooling. These tests fail when
one of the three moves without the others.
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

from tests.support import REPO_ROOT

REQUIREMENT_FILES = sorted(
    [*REPO_ROOT.glob("src/*/requirements.txt"), *REPO_ROOT.glob("services/*/requirements.txt")]
)


def _requirements(path: Path) -> list[Requirement]:
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [Requirement(line) for line in lines if line]


def _key(requirement: Requirement) -> tuple[str, frozenset[str], str]:
    return (
        canonicalize_name(requirement.name),
        frozenset(requirement.extras),
        str(requirement.specifier),
    )


def _runtime_group() -> list[Requirement]:
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    return [Requirement(line) for line in pyproject["dependency-groups"]["runtime"]]


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


@pytest.mark.parametrize("path", REQUIREMENT_FILES, ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_each_runtime_requirement_is_in_the_locked_runtime_group(path: Path) -> None:
    # GIVEN what a build installs  WHEN compared with pyproject.toml's runtime group
    group = {_key(requirement) for requirement in _runtime_group()}
    # THEN every line is there with the same extras and bounds
    assert [str(r) for r in _requirements(path) if _key(r) not in group] == []


def test_the_runtime_group_holds_nothing_no_build_installs() -> None:
    # GIVEN every requirement of every function and service
    used = {_key(r) for path in REQUIREMENT_FILES for r in _requirements(path)}
    # THEN the runtime group adds nothing of its own
    assert [str(r) for r in _runtime_group() if _key(r) not in used] == []


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
