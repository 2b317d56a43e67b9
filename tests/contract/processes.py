"""Running the services as local processes for the contract tests, and waiting on them."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, Any

from tests.support import REPO_ROOT, serving

APP_FACTORIES = {
    "api-service": "api_service.main:create_app",
    "auth-service": "auth_service.main:create_app",
    "notification-service": "notification_service.main:create_app",
}
SERVICE_PATHS = [
    REPO_ROOT / "services" / folder
    for folder in ("service_kit", "api-service", "auth-service", "notification-service")
]
FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",  # pragma: allowlist secret
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
}
# Generous bounds that only matter when something is broken: a healthy process answers in ~2 s.
START_DEADLINE_SECONDS = 30.0
POLL_SECONDS = 0.2


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def get(url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    """Status and body of a GET; HTTP errors are answers here, not exceptions."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return int(response.status), response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def wait_for_health(base_url: str, status: int, deadline: float = START_DEADLINE_SECONDS) -> bytes:
    """Poll /health until it answers `status`; fail with the last answer after `deadline` s."""
    give_up_at = time.monotonic() + deadline
    last: Any = "no answer"
    while time.monotonic() < give_up_at:
        try:
            code, body = get(f"{base_url}/health", timeout=2.0)
        except OSError as error:
            last = error
        else:
            if code == status:
                return body
            last = (code, body)
        time.sleep(POLL_SECONDS)
    raise AssertionError(f"{base_url}/health never answered {status}; last: {last!r}")


@dataclass
class ServiceProcess:
    """One service under uvicorn, started the way the image's CMD starts it."""

    service: str
    env: dict[str, str]
    log_path: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ServiceProcess:
        env = {
            "PATH": os.environ.get("PATH", ""),
            "PYTHONPATH": os.pathsep.join(str(path) for path in SERVICE_PATHS),
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            "SERVICE_NAME": self.service,
            "SERVICE_VERSION": "contract",
            "GIT_COMMIT": "0000000",
            **FAKE_AWS_ENV,
            **self.env,
        }
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "service_kit.serve", APP_FACTORIES[self.service]],
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        return self

    def signal(self, signum: int = signal.SIGTERM) -> None:
        assert self.process is not None
        self.process.send_signal(signum)

    def stop(self) -> None:
        """Always safe to call: SIGTERM, then SIGKILL if it lingers."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")


class DelayingProxy:
    """Forwards HTTP to `target`, holding each request `delay` seconds when told to.

    Stands between a service and moto so a request can be kept in flight on purpose.
    """

    def __init__(self, target: str) -> None:
        self.delay = 0.0
        self.request_arrived = threading.Event()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if proxy.delay:
                    proxy.request_arrived.set()
                    time.sleep(proxy.delay)
                headers = {
                    name: value
                    for name, value in self.headers.items()
                    if name.lower() not in {"host", "content-length", "connection"}
                }
                request = urllib.request.Request(
                    target + self.path, data=body, headers=headers, method="POST"
                )
                try:
                    with urllib.request.urlopen(request, timeout=10) as response:
                        status, reply, content_type = (
                            response.status,
                            response.read(),
                            response.headers.get("Content-Type", "text/xml"),
                        )
                except urllib.error.HTTPError as error:
                    status, reply = error.code, error.read()
                    content_type = error.headers.get("Content-Type", "text/xml")
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *_: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._serving = serving(self._server)

    def __enter__(self) -> DelayingProxy:
        self._serving.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._serving.__exit__(*exc)
