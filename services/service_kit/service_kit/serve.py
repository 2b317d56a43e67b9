"""Container entry point: `python -m service_kit.serve <module>:<app factory>`.

One place holds the server settings every image shares, so the Dockerfiles stay identical.
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


def main(argv: list[str]) -> None:
    if len(argv) != 1:
        raise SystemExit("usage: python -m service_kit.serve <module>:<app factory>")
    uvicorn.run(
        argv[0],
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
