"""Request id in and out, and one access log line per request (plain ASGI: no per-request task)."""

from __future__ import annotations

import logging
import time

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service_kit.errors import log_unexpected_error, unexpected_error_response
from service_kit.request_context import REQUEST_ID_HEADER, accept_request_id, set_request_id

logger = logging.getLogger("service_kit.access")

# Load-balancer health checks arrive every few seconds per target group; at INFO they would
# drown the lines worth reading.
QUIET_PATHS = frozenset({"/health"})


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = accept_request_id(Headers(scope=scope).get(REQUEST_ID_HEADER))
        set_request_id(request_id)
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_request_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status, response_started = message["status"], True
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_request_id)
        except Exception as error:
            # Answered here, not by Starlette's outermost ServerErrorMiddleware: that one runs
            # after this layer has cleared the request id and sends past the header above.
            if not response_started:
                await unexpected_error_response(error)(scope, receive, send_with_request_id)
            else:
                # Part of the reply is out, so no error reply fits: returning with it unfinished
                # makes the server drop the connection. Re-raising would log the failure twice.
                log_unexpected_error(error)
        finally:
            path = scope["path"]
            logger.log(
                logging.DEBUG if path in QUIET_PATHS else logging.INFO,
                "request",
                extra={
                    "method": scope["method"],
                    "path": path,
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                },
            )
            set_request_id(None)
