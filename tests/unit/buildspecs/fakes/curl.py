"""Fake `curl` for the test-buildspec test: records argv; like `curl --retry-connrefused`
against a server that is starting, it succeeds once the fake moto_server has started (recorded
itself) and fails with curl's "couldn't connect" status 7 if none starts."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

STATE = Path(os.environ["FAKE_CLOUD_DIR"])
ATTEMPTS = 100  # 0.1 s apart: the fake server starts in well under a second


def server_started() -> bool:
    path = STATE / "calls.jsonl"
    lines = path.read_text().splitlines() if path.exists() else []
    return any(json.loads(line)["tool"] == "moto_server" for line in lines)


def main(argv: list[str]) -> None:
    for _ in range(ATTEMPTS):
        if server_started():
            break
        time.sleep(0.1)
    else:
        sys.stderr.write("curl: (7) Failed to connect: Connection refused\n")
        sys.exit(7)
    with (STATE / "calls.jsonl").open("a") as calls:
        calls.write(json.dumps({"tool": "curl", "argv": argv}) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
