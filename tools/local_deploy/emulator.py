"""The emulator: moto's server on 127.0.0.1 with this project's CloudFormation models.

The models must be registered in the process that serves moto, so the server is never moto's own
`moto_server` script but this module: in-process for tests (`in_process`), or as a background
process (`python -m tools.local_deploy serve`) whose pid and endpoint are recorded in
`.local-emulator/emulator.json`, so `make drill`, `make verdict` and `make destroy` find it.
"""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from moto.server import ThreadedMotoServer

from tools.local_deploy.clients import require_local_endpoint
from tools.local_deploy.registry import register_models, unregister_placeholders

REPO_ROOT = Path(__file__).resolve().parents[2]
STATE_DIR = REPO_ROOT / ".local-emulator"
STATE_FILE = "emulator.json"
# The port the last emulator of this checkout listened on; it outlives the emulator, so the next
# one takes the same port and an `export AWS_ENDPOINT_URL=...` line printed earlier stays right.
PORT_FILE = "port"
START_TIMEOUT_SECONDS = 30
LOG_FILE = "emulator.log"
# A traceback's last line: "KeyError: 'EnvironmentSufix'", "moto....ValidationError: ...".
_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception)\b.*$")


@dataclass(frozen=True)
class EmulatorState:
    pid: int
    endpoint_url: str


class EmulatorError(RuntimeError):
    """The background emulator could not be started or found."""


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As the server itself binds (werkzeug sets SO_REUSEADDR): a closed port's TIME_WAIT
        # connections do not make it look taken.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _start_server(port: int = 0) -> tuple[ThreadedMotoServer, str]:
    register_models()
    # Port 0: the kernel picks a free port, so two checkouts (or a test run) never collide. A
    # port asked for is checked first: moto's server thread would wait forever on a taken one.
    if port and not _port_free(port):
        port = 0
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    return server, f"http://{host}:{port}"


@contextmanager
def in_process() -> Iterator[str]:
    """An emulator in this process for the duration of the block; yields its endpoint."""
    # One line per request is noise in a test run (the background emulator logs them to a file).
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server, endpoint_url = _start_server()
    # moto's backends are module globals shared by every server in the process: start empty.
    # The URL is our own loopback server's (http://127.0.0.1:<port>), never user input.
    reset = urllib.request.Request(f"{endpoint_url}/moto-api/reset", method="POST")  # noqa: S310
    urllib.request.urlopen(reset, timeout=10).close()  # noqa: S310
    try:
        yield endpoint_url
    finally:
        server.stop()
        unregister_placeholders()


def serve(state_dir: Path, port: int = 0) -> None:
    """Run the emulator until SIGTERM/SIGINT, with its pid and endpoint in the state file.

    `port`: the one to listen on if it is free (else any free one); 0 for any.
    """
    server, endpoint_url = _start_server(port)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    state_dir.mkdir(parents=True, exist_ok=True)
    # The directory ignores itself, so it never needs an entry in the project's .gitignore.
    (state_dir / ".gitignore").write_text("*\n")
    state = {"pid": os.getpid(), "endpoint_url": endpoint_url}
    temporary = state_dir / f"{STATE_FILE}.tmp"
    temporary.write_text(json.dumps(state))
    temporary.replace(state_dir / STATE_FILE)  # atomic: readers never see half a file
    (state_dir / PORT_FILE).write_text(f"{urlsplit(endpoint_url).port}\n")
    print(f"emulator listening on {endpoint_url} (pid {os.getpid()})", flush=True)
    # Polled, not one untimed wait: the kernel may deliver SIGTERM to the server's thread, and
    # then nothing wakes the main thread to run the handler; `make destroy` waited out its 10 s
    # grace and killed the emulator in three stops out of four.
    while not stop.wait(0.5):
        pass
    server.stop()
    (state_dir / STATE_FILE).unlink(missing_ok=True)


def log_path(state_dir: Path = STATE_DIR) -> Path:
    return state_dir / LOG_FILE


def last_error(state_dir: Path = STATE_DIR) -> str | None:
    """The exception that ended the emulator's latest failed request, as its log records it.

    The emulator answers an error of its own with a bare 500 page; the cause is only here.
    """
    try:
        lines = log_path(state_dir).read_text(errors="replace").splitlines()
    except OSError:
        return None
    causes = [line for line in lines if _EXCEPTION_LINE.match(line)]
    return causes[-1] if causes else None


def _answers(endpoint_url: str) -> bool:
    parts = urlsplit(endpoint_url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), 1):
            return True
    except OSError:
        return False


def process_alive(pid: int) -> bool:
    # A stopped emulator is no longer our child (it outlives `make deploy`), so nothing may reap
    # it: a zombie answers kill(pid, 0) yet is gone. Linux's /proc tells them apart.
    proc = Path("/proc")
    if proc.is_dir():  # Linux; elsewhere (macOS) fall back to the signal probe
        try:
            stat = (proc / str(pid) / "stat").read_text()
        except FileNotFoundError:
            return False
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def running(state_dir: Path = STATE_DIR) -> EmulatorState | None:
    """The background emulator recorded in the state directory, if it still answers."""
    try:
        raw = json.loads((state_dir / STATE_FILE).read_text())
        state = EmulatorState(int(raw["pid"]), require_local_endpoint(raw["endpoint_url"]))
    except (OSError, ValueError, KeyError):
        return None
    if process_alive(state.pid) and _answers(state.endpoint_url):
        return state
    return None


def last_port(state_dir: Path = STATE_DIR) -> int | None:
    """The port this checkout's last emulator listened on, if one ever did."""
    try:
        return int((state_dir / PORT_FILE).read_text())
    except (OSError, ValueError):
        return None


def start_background(state_dir: Path = STATE_DIR) -> EmulatorState:
    """Start the emulator as a detached process (it outlives `make deploy`) and wait for it.

    It listens on the last emulator's port when that is free, so the endpoint stays the same
    from one `make deploy` to the next.
    """
    state_dir.mkdir(parents=True, exist_ok=True)
    (state_dir / STATE_FILE).unlink(missing_ok=True)
    log = log_path(state_dir).open("ab")
    command = [sys.executable, "-m", "tools.local_deploy", "serve", "--state-dir", str(state_dir)]
    command += ["--port", str(last_port(state_dir) or 0)]
    process = subprocess.Popen(  # noqa: S603 - this interpreter and this package, no shell
        command,
        cwd=REPO_ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,  # not killed with make's process group
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            state = running(state_dir)
            if state:
                return state
            time.sleep(0.2)
    except BaseException:
        # Interrupted (Ctrl-C) before it was recorded: nothing else would ever stop it.
        process.terminate()
        raise
    raise EmulatorError(f"the emulator did not start; see {log_path(state_dir)}")


def stop_background(state_dir: Path = STATE_DIR) -> EmulatorState | None:
    """Stop the recorded emulator (by its pid only); returns what was stopped, if anything."""
    state = running(state_dir)
    if state is None:
        (state_dir / STATE_FILE).unlink(missing_ok=True)
        return None
    for stop_signal, grace_seconds in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        if not process_alive(state.pid):
            break
        # SIGKILL only if the orderly stop did not end it: a leftover emulator would hold its
        # port and memory until the machine restarts.
        os.kill(state.pid, stop_signal)
        deadline = time.monotonic() + grace_seconds
        while process_alive(state.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
    if process_alive(state.pid):
        raise EmulatorError(f"the emulator (pid {state.pid}) did not stop")
    (state_dir / STATE_FILE).unlink(missing_ok=True)
    return state
