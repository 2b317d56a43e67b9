"""`make acceptance ENV=<env>`: pick and guard the target, then run tests/integration against it.

Refuses (exit 2, one line) without an explicit ENV, for an environment samconfig.toml does not
have, and for any stack whose suffix is `prod`. The checks then settle docs/assumptions.md on
that stack and write a report under reports/acceptance/.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tomllib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from tests.integration.acceptance.target import AcceptanceRefused, resolve_target
from tests.support import REPO_ROOT, load_template
from tools.preflight import PreflightError, Sdk, check, describe, read_sdk

REPORT_DIR = REPO_ROOT / "reports" / "acceptance"

Runner = Callable[..., int]


def run_pytest(command: Sequence[str], env: Mapping[str, str], cwd: Path) -> int:
    return subprocess.call(list(command), env=dict(env), cwd=cwd)


def template_default_suffix() -> str:
    parameters = load_template(REPO_ROOT / "template.yaml")["Parameters"]
    return str(parameters["EnvironmentSuffix"]["Default"])


def main(
    argv: list[str] | None = None,
    runner: Runner = run_pytest,
    sdk: Callable[[], Sdk] = read_sdk,
) -> int:
    parser = argparse.ArgumentParser(prog="make acceptance", description=__doc__)
    parser.add_argument("--env", default=os.environ.get("ENV"), help="samconfig environment")
    parser.add_argument("--report-dir", type=Path, default=REPORT_DIR)
    parser.add_argument("pytest_args", nargs="*", help="extra pytest arguments, e.g. -k A5")
    args = parser.parse_args(argv)
    samconfig = REPO_ROOT / "samconfig.toml"
    try:
        target = resolve_target(args.env, samconfig, template_default_suffix())
        # Region and credentials before pytest starts: without them every check failed on its
        # own with a NoRegionError traceback (a thousand lines for one missing variable).
        aws = check(tomllib.loads(samconfig.read_text(encoding="utf-8")), target.env, sdk)
    except (AcceptanceRefused, PreflightError) as refusal:
        print(f"make acceptance: {refusal}", file=sys.stderr)
        return 2
    print(describe(aws))
    environment = os.environ | {
        "AWS_SAM_STACK_NAME": target.stack_name,
        "ACCEPTANCE_ENV": target.env,
        "ACCEPTANCE_REPORT_DIR": str(args.report_dir),
        # The region the preflight settled on, in both names every SDK reads.
        "AWS_REGION": aws.region,
        "AWS_DEFAULT_REGION": aws.region,
    }
    print(f"make acceptance: {target.stack_name} (ENV={target.env}, suffix {target.suffix})")
    command = [sys.executable, "-m", "pytest", "tests/integration", "-m", "integration", "-v"]
    return runner([*command, *args.pytest_args], env=environment, cwd=REPO_ROOT)


if __name__ == "__main__":
    sys.exit(main())
