"""The project skeleton: runtime, architecture and layout every function relies on."""

from __future__ import annotations

import ast
import os
import subprocess
from pathlib import Path
from typing import Any

from tests.support import REPO_ROOT, resources_of_type

FIND_PYTHON = REPO_ROOT / "scripts" / "find-python313.sh"


def test_functions_target_python313_on_arm64(root_template: dict[str, Any]) -> None:
    # GIVEN the SAM globals
    function_globals = root_template["Globals"]["Function"]

    # THEN every function inherits the python3.13 runtime on Graviton
    assert function_globals["Runtime"] == "python3.13"
    assert function_globals["Architectures"] == ["arm64"]
    for logical_id, function in resources_of_type(
        root_template, "AWS::Serverless::Function"
    ).items():
        assert "Runtime" not in function["Properties"], f"{logical_id} overrides the runtime"


def test_every_function_code_uri_has_its_own_requirements(root_template: dict[str, Any]) -> None:
    functions = resources_of_type(root_template, "AWS::Serverless::Function")
    assert functions, "the template declares no function"
    for logical_id, function in functions.items():
        code_uri = REPO_ROOT / function["Properties"]["CodeUri"]
        assert (code_uri / "requirements.txt").is_file(), f"{logical_id}: no requirements.txt"
        module_path, _, handler_name = function["Properties"]["Handler"].rpartition(".")
        module_file = code_uri / (module_path.replace(".", "/") + ".py")
        assert module_file.is_file(), f"{logical_id}: handler module {module_file} is missing"
        assert handler_name in top_level_names(module_file), f"{logical_id}: no {handler_name}"


def top_level_names(module_file: Path) -> set[str]:
    """Names a module binds at top level (functions, and assignments such as a built handler)."""
    names: set[str] = set()
    for node in ast.parse(module_file.read_text()).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return names


def test_ci_runs_exactly_the_readme_test_command() -> None:
    ci_script = (REPO_ROOT / ".ci" / "run").read_text()
    readme = (REPO_ROOT / "README.md").read_text()

    assert "make test" in readme.split("##")[1], "the quick start must name make test"
    commands = [
        line.strip()
        for line in ci_script.splitlines()
        if line.strip() and not line.lstrip().startswith(("#", "set ", "cd "))
    ]
    assert commands == ["make test"]


def test_find_python313_reports_what_is_missing(tmp_path: Path) -> None:
    # GIVEN a PATH and a pyenv root without any python3.13
    env = {"PATH": "/usr/bin:/bin", "PYENV_ROOT": str(tmp_path), "HOME": str(tmp_path)}

    # WHEN the build looks for an interpreter
    result = subprocess.run(
        [str(FIND_PYTHON)], env=env, capture_output=True, text=True, check=False
    )

    # THEN it fails and says what to install
    assert result.returncode == 1
    assert "no python3.13 interpreter found" in result.stderr
    assert "pyenv install 3.13" in result.stderr


def test_find_python313_finds_a_pyenv_interpreter(tmp_path: Path) -> None:
    # GIVEN a pyenv root holding a python3.13 executable
    bin_dir = tmp_path / "versions" / "3.13.1" / "bin"
    bin_dir.mkdir(parents=True)
    interpreter = bin_dir / "python3.13"
    interpreter.write_text("#!/bin/sh\nexit 0\n")
    interpreter.chmod(0o755)
    env = {"PATH": "/usr/bin:/bin", "PYENV_ROOT": str(tmp_path), "HOME": str(tmp_path)}

    # WHEN the build looks for an interpreter
    result = subprocess.run(
        [str(FIND_PYTHON)], env=env, capture_output=True, text=True, check=False
    )

    # THEN it prints the directory to put on PATH
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(bin_dir)
    assert os.access(interpreter, os.X_OK)
