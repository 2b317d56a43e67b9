"""The background emulator `make deploy` leaves running, and `make destroy` stops: its port from
one run to the next, and what Ctrl-C leaves behind."""

from __future__ import annotations

import argparse
import io
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support import REPO_ROOT
from tools.local_deploy import __main__ as cli
from tools.local_deploy.emulator import (
    PORT_FILE,
    STATE_FILE,
    EmulatorState,
    _port_free,
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


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_ctrl_c_during_deploy_stops_the_emulator_in_one_line_on_the_recorded_port(
    tmp_path: Path,
) -> None:
    # GIVEN the port an earlier emulator of this checkout listened on
    port = _free_port()
    (tmp_path / PORT_FILE).write_text(f"{port}\n")
    # WHEN a deploy is interrupted by Ctrl-C (SIGINT to its process group, as a terminal sends
    # it) once its emulator runs and the template is being packaged
    command = [sys.executable, "-m", "tools.local_deploy", "deploy", "--state-dir", str(tmp_path)]
    deploy = subprocess.Popen(
        [*command, "--template", str(REPO_ROOT / "template.yaml")],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert deploy.stdout is not None
    printed = []
    for line in deploy.stdout:
        printed.append(line)
        if line.startswith("==> Packaging"):
            os.killpg(deploy.pid, signal.SIGINT)
            break
    out, err = deploy.communicate(timeout=120)

    # THEN the emulator had listened on that same port, so an export line printed before held
    assert f"listening on http://127.0.0.1:{port} " in "".join(printed)
    # AND it is stopped, with one line on stderr and no traceback, and the shell's status for
    # Ctrl-C
    assert "==> Stopped the emulator" in out
    assert running(tmp_path) is None
    assert err.strip() == (
        "interrupted: deploy stopped (Ctrl-C); the emulator was stopped, nothing is left running"
    )
    assert deploy.returncode == 130


def test_a_taken_port_is_said_to_have_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the recorded port is taken, so the new emulator listens elsewhere
    (tmp_path / PORT_FILE).write_text("41001\n")
    monkeypatch.setattr(cli, "stop_background", lambda state_dir: None)
    monkeypatch.setattr(
        cli, "start_background", lambda state_dir: EmulatorState(1, "http://127.0.0.1:41002")
    )
    out = io.StringIO()
    args = argparse.Namespace(endpoint_url=None, state_dir=tmp_path)
    # WHEN a deploy starts its emulator  THEN it says the earlier export line is stale
    assert cli._fresh_emulator(args, out) == "http://127.0.0.1:41002"
    assert "port 41001, the previous emulator's, was taken" in out.getvalue()
    assert "is stale" in out.getvalue()


def test_a_port_in_use_is_not_offered_to_the_server() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        assert not _port_free(holder.getsockname()[1])
    assert _port_free(_free_port())
