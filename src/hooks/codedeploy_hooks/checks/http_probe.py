"""One GET through the test listener, with the standard library (no HTTP dependency needed)."""

from __future__ import annotations

import http.client
from dataclasses import dataclass

from codedeploy_hooks.checks.network import Endpoint

HTTP_OK = 200


@dataclass(frozen=True)
class ProbeResult:
    """One HTTP request: the status code, or why there was none (refused, timed out, ...)."""

    status: int | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == HTTP_OK


def probe(endpoint: Endpoint, path: str, timeout: float) -> ProbeResult:
    """Plain HTTP: the test listeners are HTTP on purpose (only the hooks' security group reaches
    them), so there is no certificate naming a private address to verify."""
    connection = http.client.HTTPConnection(endpoint.host, endpoint.port, timeout=timeout)
    try:
        connection.request(
            "GET", path, headers={"Host": endpoint.host_header, "User-Agent": "codedeploy-hook"}
        )
        response = connection.getresponse()
        response.read()
        return ProbeResult(status=response.status)
    except TimeoutError:
        return ProbeResult(status=None, error=f"timed out after {timeout:.1f}s")
    except (OSError, http.client.HTTPException) as error:
        return ProbeResult(status=None, error=f"{type(error).__name__}: {error}")
    finally:
        connection.close()
