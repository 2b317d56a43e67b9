"""The pinned client against a real local server standing for the load balancer's private
address: statuses, bodies, refusals, timeouts, and that nothing goes to another host."""

from __future__ import annotations

import contextlib
import ssl
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from synthetic_client.transport import LoadBalancerAddresses, PinnedHttp, UrllibHttp

from tests.support import serving

DNS = "microservices-dev-1.eu-west-1.elb.amazonaws.com"
SEEN_HOSTS: list[str] = []


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        SEEN_HOSTS.append(self.headers.get("Host", ""))
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
def port() -> Iterator[int]:
    with serving(ThreadingHTTPServer(("127.0.0.1", 0), Handler)) as server:
        yield server.server_address[1]


def pinned(timeout: float, *addresses: str) -> PinnedHttp:
    return PinnedHttp(timeout, LoadBalancerAddresses(DNS, addresses or ("127.0.0.1",)))


def test_a_success_carries_status_body_and_time(port: int) -> None:
    reply = pinned(2)("GET", f"http://{DNS}:{port}/health", {}, None)
    assert (reply.status, reply.json()) == (200, {"path": "/health"})
    assert reply.seconds > 0


def test_the_request_goes_to_the_private_address_naming_the_endpoints_host(port: int) -> None:
    # GIVEN an endpoint on the load balancer's DNS name, which resolves to no local address
    SEEN_HOSTS.clear()
    # WHEN it is requested, THEN the private address answered, asked for the endpoint's host
    reply = pinned(2)("GET", f"http://{DNS}:{port}/health", {}, None)
    assert reply.status == 200
    assert [f"{DNS}:{port}"] == SEEN_HOSTS


def test_another_host_gets_no_connection(port: int) -> None:
    # GIVEN a URL naming another host (where a secret must never go), served on a local port
    SEEN_HOSTS.clear()
    # WHEN it is requested, THEN nothing is sent anywhere and the reply says why
    reply = pinned(2)("GET", f"http://localhost:{port}/token", {}, None)
    assert reply.status is None
    assert "not the load balancer" in reply.error
    assert SEEN_HOSTS == []


def test_the_public_host_name_its_certificate_covers_goes_to_the_same_private_address(
    port: int,
) -> None:
    # GIVEN the DNS name the load balancer's certificate covers, configured beside it
    SEEN_HOSTS.clear()
    http = PinnedHttp(2, LoadBalancerAddresses(DNS, ("127.0.0.1",)), "api.example.com")
    # WHEN an endpoint names it, THEN the private address answered, asked for that name
    reply = http("GET", f"http://api.example.com:{port}/health", {}, None)
    assert reply.status == 200
    assert [f"api.example.com:{port}"] == SEEN_HOSTS
    # AND any other host still gets no connection
    assert http("GET", f"http://localhost:{port}/token", {}, None).status is None
    assert [f"api.example.com:{port}"] == SEEN_HOSTS


def test_requests_take_the_private_addresses_in_turn(port: int) -> None:
    # GIVEN two addresses, the first of which refuses connections
    http = pinned(1, "127.0.0.2", "127.0.0.1")
    # WHEN two requests are sent, THEN one went to each address: one refused, one answered
    statuses = [http("GET", f"http://{DNS}:{port}/health", {}, None).status for _ in range(2)]
    assert sorted(statuses, key=str) == [200, None]


def test_an_error_status_is_a_reply_not_an_exception(port: int) -> None:
    reply = pinned(2)("GET", f"http://{DNS}:{port}/down", {}, None)
    assert reply.status == 503


def test_a_timeout_is_no_answer(port: int) -> None:
    reply = pinned(0.2)("GET", f"http://{DNS}:{port}/slow", {}, None)
    assert reply.status is None
    assert "timed out" in reply.error


def test_a_refused_connection_is_no_answer() -> None:
    reply = pinned(1)("GET", f"http://{DNS}:9/health", {}, None)
    assert reply.status is None
    assert reply.error


def test_https_checks_the_certificate_against_the_endpoints_host(port: int) -> None:
    # GIVEN an https endpoint whose private address speaks plain HTTP (no certificate at all)
    # WHEN it is requested, THEN the TLS handshake fails: no request is sent in clear
    SEEN_HOSTS.clear()
    reply = pinned(2)("GET", f"https://{DNS}:{port}/health", {}, None)
    assert reply.status is None
    assert SEEN_HOSTS == []
    assert ssl.SSLError.__name__ in reply.error or "SSL" in reply.error


# ---------------------------------------------------------------- the load test's plain client
def test_urllib_client_success_error_and_refusal(port: int) -> None:
    base = f"http://127.0.0.1:{port}"
    assert UrllibHttp(2)("GET", f"{base}/health", {}, None).json() == {"path": "/health"}
    assert UrllibHttp(2)("GET", f"{base}/down", {}, None).status == 503
    refused = UrllibHttp(1)("GET", "http://127.0.0.1:9/health", {}, None)
    assert (refused.status, bool(refused.error)) == (None, True)


def test_urllib_client_timeout_is_no_answer(port: int) -> None:
    reply = UrllibHttp(0.2)("GET", f"http://127.0.0.1:{port}/slow", {}, None)
    assert reply.status is None
    assert "timed out" in reply.error
