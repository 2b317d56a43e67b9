"""The /health reply: identity always, 503 when any hard dependency check fails."""

from __future__ import annotations

from collections.abc import Mapping

from fastapi.responses import JSONResponse

from service_kit.config import Identity


def health_response(identity: Identity, checks: Mapping[str, bool]) -> JSONResponse:
    healthy = all(checks.values())
    body = {
        "status": "ok" if healthy else "unavailable",
        "service": identity.service,
        "version": identity.version,
        "commit": identity.commit,
        "checks": {name: "ok" if passed else "failing" for name, passed in checks.items()},
    }
    # no-store: a cached 200 from a proxy would hide a failing task from the load balancer.
    return JSONResponse(body, 200 if healthy else 503, headers={"Cache-Control": "no-store"})
