"""Fake `moto_server` for the test-buildspec test: records argv and its PID, then waits to be
stopped, as the real server would run until the buildspec kills it."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

STATE = Path(os.environ["FAKE_CLOUD_DIR"])


def main(argv: list[str]) -> None:
    with (STATE / "calls.jsonl").open("a") as calls:
        calls.write(json.dumps({"tool": "moto_server", "argv": argv, "pid": os.getpid()}) + "\n")
    # A stopped server leaves a mark, so a test can tell "stopped" from "never started".
    signal.signal(signal.SIGTERM, lambda *_: _stopped())
    deadline = time.monotonic() + 120  # never outlive a forgotten test run by long
    while time.monotonic() < deadline:
        time.sleep(0.1)


def _stopped() -> None:
    (STATE / "moto_server.stopped").touch()
    sys.exit(0)


if __name__ == "__main__":
    main(sys.argv[1:])
