"""The urllib client against a real local server: statuses, bodies, refusals and timeouts."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from synthetic_client.transport import UrllibHttp

from tests.support import serving


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/slow":
            time.sleep(1)
        status = 503 if self.path == "/down" else 200
        body = f'{{"path": "{self.path}"}}'.encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        # The timeout test hangs up before /slow answers.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with serving(ThreadingHTTPServer(("127.0.0.1", 0), Handler)) as server:
        yield f"http://127.0.0.1:{server.server_address[1]}"


def test_a_success_carries_status_body_and_time(base_url: str) -> None:
    reply = UrllibHttp(2)("GET", f"{base_url}/health", {}, None)
    assert (reply.status, reply.json()) == (200, {"path": "/health"})
    assert reply.seconds > 0


def test_an_error_status_is_a_reply_not_an_exception(base_url: str) -> None:
    reply = UrllibHttp(2)("GET", f"{base_url}/down", {}, None)
    assert reply.status == 503


def test_a_timeout_is_no_answer(base_url: str) -> None:
    reply = UrllibHttp(0.2)("GET", f"{base_url}/slow", {}, None)
    assert reply.status is None
    assert "timed out" in reply.error


def test_a_refused_connection_is_no_answer() -> None:
    reply = UrllibHttp(1)("GET", "http://127.0.0.1:9/health", {}, None)
    assert reply.status is None
    assert reply.error
