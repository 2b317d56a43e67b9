"""HTTP for the run: only to the environment's load balancer, through its private addresses,
with a bounded timeout, and every outcome turned into a Reply.

The load balancer is internet-facing: its DNS name resolves to public addresses, which a Lambda
in private subnets cannot reach without a NAT gateway, and a security group rule naming this
function's group does not apply to traffic that comes back in through them. Every application
load balancer also has a network interface with a private address in each of its subnets; the
function runs in the VPC and connects to those, with the endpoint's own host name in the Host
header and, over HTTPS, as the TLS server name, so the listener and the certificate check see
the same request a user's would (docs/security.md, "The synthetic client's replacement route").
"""

from __future__ import annotations

import http.client
import socket
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from synthetic_client.run import Reply

MAX_BODY = 64 * 1024  # replies are small JSON; a larger one is read no further


@dataclass(frozen=True)
class LoadBalancerAddresses:
    """The load balancer's DNS name and the private addresses of its network interfaces."""

    dns_name: str
    addresses: tuple[str, ...]


class PinnedHttp:
    """Sends a request only when its URL names the load balancer (its own DNS name, or the
    configured public host name that points at it and that its certificate covers); the
    connection goes to one of its private addresses, in turn. Any other host gets no connection,
    so neither the client secret nor a token can go anywhere but the configured load balancer."""

    def __init__(
        self,
        timeout_seconds: float,
        load_balancer: LoadBalancerAddresses,
        public_host_name: str | None = None,
    ) -> None:
        self._timeout = timeout_seconds
        self._load_balancer = load_balancer
        self._host_names = {load_balancer.dns_name.lower()} | (
            {public_host_name.lower()} if public_host_name else set()
        )
        self._next = 0

    def __call__(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None
    ) -> Reply:
        parts = urlsplit(url)
        started = time.perf_counter()
        if (parts.hostname or "").lower() not in self._host_names:
            return Reply(
                None, b"", 0.0, error=f"refused: {parts.hostname!r} is not the load balancer"
            )
        address = self._load_balancer.addresses[self._next % len(self._load_balancer.addresses)]
        self._next += 1
        connection = _connection(
            parts.scheme, parts.hostname or "", parts.port, address, self._timeout
        )
        path = parts.path or "/"
        if parts.query:
            path = f"{path}?{parts.query}"
        try:
            connection.request(method, path, body=body, headers={"Host": parts.netloc, **headers})
            response = connection.getresponse()
            return Reply(response.status, response.read(MAX_BODY), _since(started))
        except TimeoutError as error:
            return Reply(None, b"", _since(started), error=f"timed out: {error}")
        except (OSError, http.client.HTTPException) as error:
            return Reply(None, b"", _since(started), error=f"{type(error).__name__}: {error}")
        finally:
            connection.close()


class UrllibHttp:
    """Plain urllib to whatever host a URL names: the staging load test's client
    (buildspecs/scripts/load_test.py), which runs in CodeBuild, not in the VPC. The synthetic
    client itself uses PinnedHttp."""

    def __init__(self, timeout_seconds: float) -> None:
        self._timeout = timeout_seconds

    def __call__(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None
    ) -> Reply:
        request = urllib.request.Request(url, data=body, headers=dict(headers), method=method)  # noqa: S310 (the URLs are validated http(s) endpoints)
        started = time.perf_counter()
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:  # noqa: S310
                return Reply(response.status, response.read(MAX_BODY), _since(started))
        except urllib.error.HTTPError as error:
            return Reply(error.code, error.read(MAX_BODY), _since(started))
        except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
            return Reply(None, b"", _since(started), error=f"{type(error).__name__}: {error}")


def _connection(
    scheme: str, host: str, port: int | None, address: str, timeout: float
) -> http.client.HTTPConnection:
    """A connection that speaks to `host` (Host header, TLS server name and certificate check)
    over a TCP connection to `address`."""
    if scheme == "https":
        connection: http.client.HTTPConnection = http.client.HTTPSConnection(
            host, port or 443, timeout=timeout, context=ssl.create_default_context()
        )
    else:
        connection = http.client.HTTPConnection(host, port or 80, timeout=timeout)
    pinned = (address, connection.port)

    def connect(
        _: tuple[str, int], timeout: float | None = None, source: tuple[str, int] | None = None
    ) -> socket.socket:
        return socket.create_connection(pinned, timeout, source)

    # http.client opens its socket through this attribute; HTTPSConnection then wraps the socket
    # with server_hostname=host, so the certificate is checked against the URL's host name.
    connection._create_connection = connect  # type: ignore[attr-defined]
    return connection


def _since(started: float) -> float:
    return time.perf_counter() - started
