"""auth-service's HTTP interface: thin handlers over auth_service.keys."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from service_kit.app import create_service_app
from service_kit.aws import AwsClients
from service_kit.config import Identity, load_config, load_secret
from service_kit.errors import ServiceError
from service_kit.tokens import InvalidToken

from auth_service.config import AuthConfig, AuthSecret
from auth_service.keys import InvalidClient, KeyRing, check_client, issue_token
from auth_service.keys import verify_token as verify_with_ring
from auth_service.publisher import JwksPublisher

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient


class TokenRequest(BaseModel):
    grant_type: str = "client_credentials"
    client_id: str = Field(min_length=1, max_length=128)
    client_secret: str = Field(min_length=1, max_length=512)


class VerifyRequest(BaseModel):
    token: str = Field(min_length=1, max_length=8192)


def build_app(
    config: AuthConfig,
    secret: AuthSecret,
    identity: Identity,
    ssm: SSMClient | None,
    clock: Callable[[], float] = time.time,
) -> FastAPI:
    previous = secret.previous_signing_seed
    ring = KeyRing.from_seeds(
        secret.signing_seed.get_secret_value(),
        previous.get_secret_value() if previous else None,
    )
    publisher = JwksPublisher(ssm=ssm, parameter_name=config.jwks_parameter, jwks=ring.jwks())

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # One attempt before taking traffic; if SSM is not reachable yet, keep trying in the
        # background while /health reports 503, rather than crash-looping the task.
        task = None
        if not await asyncio.to_thread(publisher.publish_once):
            task = asyncio.create_task(publisher.publish_until_done())
        yield
        if task is not None:
            task.cancel()

    async def health_checks() -> dict[str, bool]:
        return {"jwks_published": publisher.published}

    app = create_service_app(identity, config, health_checks, lifespan)

    @app.post("/token")
    async def token(request: TokenRequest) -> dict[str, Any]:
        if request.grant_type != "client_credentials":
            raise ServiceError(400, "unsupported_grant_type", "only client_credentials is issued")
        try:
            check_client(secret.clients, request.client_id, request.client_secret)
        except InvalidClient:
            raise ServiceError(401, "invalid_client", "unknown client or wrong secret") from None
        access_token = issue_token(
            ring,
            subject=request.client_id,
            issuer=config.issuer,
            audience=config.audience,
            ttl_seconds=config.token_ttl_seconds,
            now=int(clock()),
        )
        return {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": config.token_ttl_seconds,
        }

    @app.get("/.well-known/jwks.json")
    async def jwks() -> JSONResponse:
        # Verifiers may cache the set briefly; a rotation keeps the old key listed meanwhile.
        return JSONResponse(ring.jwks(), headers={"Cache-Control": "public, max-age=300"})

    @app.post("/verify")
    async def verify(request: VerifyRequest) -> dict[str, Any]:
        """Introspection: 200 either way, `active` says whether the token is good."""
        try:
            claims = verify_with_ring(
                ring, request.token, issuer=config.issuer, audience=config.audience
            )
        except InvalidToken as error:
            return {"active": False, "reason": str(error)}
        return {"active": True, **claims}

    return app


def create_app() -> FastAPI:
    """Factory uvicorn calls (service_kit.serve): reads the environment the task injects."""
    config = load_config(AuthConfig)
    return build_app(
        config=config,
        secret=load_secret(AuthSecret),
        identity=Identity.from_env("auth-service"),
        ssm=AwsClients().ssm if config.jwks_parameter else None,
    )
