"""Every error leaves as JSON `{"error": <code>, "message": <text>}`, mapped in this one place."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

logger = logging.getLogger(__name__)


class ServiceError(Exception):
    """An outcome a handler reports to its caller: HTTP status, stable code, readable message."""

    def __init__(
        self, status: int, error: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message
        self.headers = headers


def error_response(
    status: int,
    error: str,
    message: str,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    return JSONResponse({"error": error, "message": message, **extra}, status, headers=headers)


def _code_for(status: int) -> str:
    try:
        return HTTPStatus(status).phrase.lower().replace(" ", "_").replace("-", "_")
    except ValueError:
        return "error"


async def _service_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ServiceError)  # noqa: S101 - registered for this type only
    return error_response(exc.status, exc.error, exc.message, exc.headers)


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)  # noqa: S101 - registered for this type only
    return error_response(exc.status_code, _code_for(exc.status_code), str(exc.detail), exc.headers)


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)  # noqa: S101 - registered for this type only
    details = [
        {"field": ".".join(str(part) for part in item["loc"]), "problem": item["msg"]}
        for item in exc.errors()
    ]
    return error_response(422, "invalid_request", "the request failed validation", details=details)


def log_unexpected_error(exc: BaseException) -> None:
    logger.error("unhandled error", exc_info=exc)


def unexpected_error_response(exc: BaseException) -> JSONResponse:
    """Log the failure with its traceback; the caller learns only that it happened."""
    log_unexpected_error(exc)
    return error_response(500, "internal_error", "the service failed to handle the request")


async def _unexpected_error(_: Request, exc: Exception) -> JSONResponse:
    return unexpected_error_response(exc)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ServiceError, _service_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    # RequestContextMiddleware answers unexpected exceptions itself, while the request id is
    # known; Starlette calls this handler only for a failure outside that middleware.
    app.add_exception_handler(Exception, _unexpected_error)
