"""The FastAPI application every service starts from: logging, request ids, errors, /health."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from service_kit.config import Identity, ServiceConfig
from service_kit.errors import install_error_handlers
from service_kit.health import health_response
from service_kit.logs import configure_logging
from service_kit.middleware import RequestContextMiddleware

HealthChecks = Callable[[], Awaitable[Mapping[str, bool]]]
Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


async def _no_checks() -> Mapping[str, bool]:
    return {}


def create_service_app(
    identity: Identity,
    config: ServiceConfig,
    health_checks: HealthChecks = _no_checks,
    lifespan: Lifespan | None = None,
) -> FastAPI:
    configure_logging(identity.service, config.log_level)
    app = FastAPI(
        title=identity.service,
        version=identity.version,
        lifespan=lifespan,
        # The interactive docs are for local runs; a deployed sample exposes only its API.
        docs_url="/docs" if config.environment == "local" else None,
        redoc_url=None,
        openapi_url="/openapi.json" if config.environment == "local" else None,
    )
    app.add_middleware(RequestContextMiddleware)
    install_error_handlers(app)

    @app.get("/health", include_in_schema=False)
    async def health() -> JSONResponse:
        return health_response(identity, await health_checks())

    return app
