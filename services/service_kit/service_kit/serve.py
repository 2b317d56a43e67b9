"""Container entry point: `python -m service_kit.serve [<module>:<app factory>]`.

One place holds the server settings every image shares, so one Dockerfile builds every service:
without an argument it starts `<package>.main:create_app` of the service named by SERVICE_NAME
(the image sets it from its SERVICE build argument).
"""

from __future__ import annotations

import os
import sys

import uvicorn

# ECS sends SIGTERM once the target group has drained the task (deregistration delay), then
# SIGKILL after the container's StopTimeout (10 s in pipeline/service.yaml): requests still in
# flight get 8 s to finish, and the process exits before the kill.
GRACEFUL_SHUTDOWN_SECONDS = 8
# Longer than the ALB's 30 s idle timeout, so the service never closes a connection the load
# balancer is about to reuse (that race shows up as sporadic 502s).
KEEP_ALIVE_SECONDS = 65


def app_factory(service_name: str) -> str:
    """api-service -> api_service.main:create_app (each service folder holds one package named
    after it, with its factory in main.py)."""
    return f"{service_name.replace('-', '_')}.main:create_app"


def main(argv: list[str]) -> None:
    service_name = os.environ.get("SERVICE_NAME", "")
    if len(argv) > 1 or (not argv and not service_name):
        raise SystemExit(
            "usage: python -m service_kit.serve [<module>:<app factory>] "
            "(without one, SERVICE_NAME names the service)"
        )
    uvicorn.run(
        argv[0] if argv else app_factory(service_name),
        factory=True,
        host=os.environ.get("HOST", "0.0.0.0"),  # noqa: S104 - a container listens on its own interface
        port=int(os.environ.get("PORT", "8080")),
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        log_config=None,  # the app configures JSON logging for every logger
        access_log=False,  # RequestContextMiddleware logs each request with its request id
        server_header=False,
    )


if __name__ == "__main__":
    main(sys.argv[1:])
