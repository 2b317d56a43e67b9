"""The background emulator `make deploy` leaves running, and `make destroy` stops."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tools.local_deploy.emulator import (
    STATE_FILE,
    process_alive,
    running,
    start_background,
    stop_background,
)


def test_destroy_stops_the_emulator_deploy_left_running(tmp_path: Path) -> None:
    # GIVEN an emulator started the way `make deploy` starts it
    state = start_background(tmp_path)
    try:
        assert running(tmp_path) == state
        assert process_alive(state.pid)

        # WHEN it is stopped the way `make destroy` stops it
        stopped = stop_background(tmp_path)
    finally:
        if process_alive(state.pid):  # never leak an emulator from a failed assertion
            os.kill(state.pid, 9)

    # THEN the process is gone and nothing records it any more
    assert stopped == state
    assert not process_alive(state.pid)
    assert not (tmp_path / STATE_FILE).exists()
    assert running(tmp_path) is None


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="zombies are told apart through /proc")
def test_an_exited_but_unreaped_process_counts_as_stopped() -> None:
    # GIVEN a child that exited and that nobody has reaped yet (what a stopped emulator is when
    # its parent, the earlier `make deploy`, is gone): kill(pid, 0) still succeeds for it
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    for _ in range(200):
        if Path(f"/proc/{child.pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
            break
        time.sleep(0.05)
    os.kill(child.pid, 0)

    # THEN it is not alive
    try:
        assert not process_alive(child.pid)
    finally:
        child.wait()
