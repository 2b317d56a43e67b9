"""Run a buildspec's phases locally the way CodeBuild does, with fake `aws` and `docker`.

What is emulated (buildspec version 0.2, `env.shell: bash`):
- the phases run in order install, pre_build, build, post_build; each phase's commands run in
  one bash session, a failing command ends its phase, and the build stops unless the failed
  phase is `build` (then post_build still runs with CODEBUILD_BUILD_SUCCEEDING=0), or the phase
  says `on-failure: ABORT`;
- variables set in one phase are seen by the next phases (the session is exported to a file
  at the end of a phase and sourced at the start of the next);
- precedence: `env.variables` of the buildspec < the project's and the action's variables.
Not emulated: runtime-versions, artifacts upload, reports upload (the tests read the files).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.support import REPO_ROOT

PHASES = ("install", "pre_build", "build", "post_build")
FAKES_DIR = Path(__file__).resolve().parent / "fakes"


@dataclass
class BuildResult:
    succeeded: bool
    phase_status: dict[str, int] = field(default_factory=dict)
    log: str = ""


@dataclass
class FakeCloud:
    """The fake executables' shared state: recorded calls, ECR images, task definitions."""

    state_dir: Path
    bin_dir: Path

    def calls(self, tool: str) -> list[list[str]]:
        path = self.state_dir / "calls.jsonl"
        if not path.exists():
            return []
        entries = [json.loads(line) for line in path.read_text().splitlines()]
        return [entry["argv"] for entry in entries if entry["tool"] == tool]

    def call_records(self, tool: str) -> list[dict[str, Any]]:
        path = self.state_dir / "calls.jsonl"
        entries = [json.loads(line) for line in path.read_text().splitlines()]
        return [entry for entry in entries if entry["tool"] == tool]

    def clear_calls(self) -> None:
        (self.state_dir / "calls.jsonl").unlink(missing_ok=True)

    def ecr_tags(self, repository: str) -> set[str]:
        path = self.state_dir / "ecr.json"
        ecr: dict[str, dict[str, Any]] = json.loads(path.read_text()) if path.exists() else {}
        return set(ecr.get(repository, {}))

    def ecr_digest(self, repository: str, tag: str) -> str:
        """The digest of the image the fake registry holds under `tag`."""
        ecr = json.loads((self.state_dir / "ecr.json").read_text())
        return str(ecr[repository][tag]["digest"])

    def add_task_definition(self, definition: dict[str, Any]) -> None:
        folder = self.state_dir / "task-definitions"
        folder.mkdir(exist_ok=True)
        (folder / f"{definition['family']}.json").write_text(json.dumps(definition))

    def path(self) -> str:
        return f"{self.bin_dir}{os.pathsep}{os.environ['PATH']}"


def install_fake_cloud(root: Path) -> FakeCloud:
    """Fake aws, docker, pytest, moto_server and curl (plus python3 = this interpreter)."""
    state_dir, bin_dir = root / "state", root / "bin"
    state_dir.mkdir(parents=True)
    bin_dir.mkdir()
    launchers = {
        "aws": "aws.py",
        "docker": "docker.py",
        "pytest": "pytest.py",
        "moto_server": "moto_server.py",
        "curl": "curl.py",
    }
    for name, script in launchers.items():
        _write_launcher(bin_dir / name, f'exec "{sys.executable}" "{FAKES_DIR / script}" "$@"')
    _write_launcher(bin_dir / "python3", f'exec "{sys.executable}" "$@"')
    return FakeCloud(state_dir=state_dir, bin_dir=bin_dir)


def _write_launcher(path: Path, command: str) -> None:
    path.write_text(f"#!/bin/sh\n{command}\n")
    path.chmod(0o755)


def copy_buildspecs(repository: Path) -> None:
    """The real buildspecs/ folder, as the pipeline's source checkout would contain it."""
    shutil.copytree(REPO_ROOT / "buildspecs", repository / "buildspecs")


def run_buildspec(
    buildspec: Path,
    *,
    source_dir: Path,
    environment: dict[str, str],
    fake_cloud: FakeCloud,
    phases: tuple[str, ...] = PHASES,
) -> BuildResult:
    """Run the selected phases of buildspec in source_dir; environment = project + action."""
    spec = yaml.safe_load(buildspec.read_text())
    if spec.get("env", {}).get("shell") != "bash":
        raise ValueError(f"{buildspec}: the emulation runs env.shell bash only")
    session = source_dir.parent / f".codebuild-session-{buildspec.stem}"
    session.unlink(missing_ok=True)
    base_env = {
        "HOME": os.environ.get("HOME", "/root"),
        "PATH": fake_cloud.path(),
        "FAKE_CLOUD_DIR": str(fake_cloud.state_dir),
        "CODEBUILD_SRC_DIR": str(source_dir),
        "CODEBUILD_BUILD_SUCCEEDING": "1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        **{name: str(value) for name, value in spec.get("env", {}).get("variables", {}).items()},
        **environment,
    }
    result = BuildResult(succeeded=True)
    for phase in phases:
        phase_spec = spec.get("phases", {}).get(phase)
        if phase_spec is None:
            continue
        if not result.succeeded and phase != "post_build":
            continue
        script = _phase_script(phase_spec.get("commands", []), session)
        run_env = {**base_env, "CODEBUILD_BUILD_SUCCEEDING": "1" if result.succeeded else "0"}
        completed = subprocess.run(
            ["bash", "-c", script],
            cwd=source_dir,
            env=run_env,
            capture_output=True,
            text=True,
            check=False,
        )
        result.phase_status[phase] = completed.returncode
        result.log += f"--- {phase} (exit {completed.returncode})\n"
        result.log += completed.stdout + completed.stderr
        if completed.returncode != 0:
            result.succeeded = False
            if phase != "build" or phase_spec.get("on-failure") == "ABORT":
                break
    return result


def _phase_script(commands: list[str], session: Path) -> str:
    """One bash session: restore the previous phases' variables, stop at the first failure."""
    lines = [
        "set -a",  # every assignment is exported, so the session file carries it on
        f'if [ -f "{session}" ]; then . "{session}"; fi',
        # Read-only variables of bash itself cannot be restored, so they are not saved.
        f"__save() {{ export -p | grep -v '^declare -[a-z]*r' > \"{session}\"; }}",
    ]
    for command in commands:
        lines.append(command.rstrip("\n"))
        lines.append('__status=$?; if [ "$__status" -ne 0 ]; then __save; exit "$__status"; fi')
    lines.append("__save")
    return "\n".join(lines) + "\n"
