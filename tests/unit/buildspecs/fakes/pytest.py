"""Fake `pytest` for the test-buildspec test: records argv and the contract environment,
writes the JUnit file the real run would."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

STATE = Path(os.environ["FAKE_CLOUD_DIR"])
RECORDED = ("API_SERVICE_IMAGE", "AUTH_SERVICE_IMAGE", "NOTIFICATION_SERVICE_IMAGE")


def main(argv: list[str]) -> None:
    environment = {
        name: value
        for name, value in os.environ.items()
        if name in RECORDED or name.startswith("CONTRACT_")
    }
    with (STATE / "calls.jsonl").open("a") as calls:
        calls.write(json.dumps({"tool": "pytest", "argv": argv, "env": environment}) + "\n")
    junit = next(arg.split("=", 1)[1] for arg in argv if arg.startswith("--junitxml="))
    Path(junit).write_text('<testsuites><testsuite name="fake" tests="0"/></testsuites>\n')
    sys.exit(int(os.environ.get("FAKE_PYTEST_EXIT", "0")))


if __name__ == "__main__":
    main(sys.argv[1:])
