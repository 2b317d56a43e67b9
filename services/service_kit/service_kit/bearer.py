"""Bearer tokens on a service's own routes: the configuration every verifying service shares,
the key set cached and read from its source rarely, and the FastAPI guard that turns a request's
Authorization header into the caller's id or a 401/503. api-service and notification-service
check tokens with exactly this code (auth-service issues them).

Only services that check tokens import this module; they list PyJWT in their requirements.
"""

# No `from __future__ import annotations`: FastAPI reads the guard's `Header()` annotation at
# run time.
import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Annotated, Any, ClassVar

import jwt
from fastapi import Header
from pydantic import Field, field_validator

from service_kit.aws import AwsClients
from service_kit.config import ServiceConfig
from service_kit.errors import ServiceError
from service_kit.key_sources import (
    HttpKeySource,
    KeySource,
    KeySourceError,
    NoKeySource,
    SsmKeySource,
)
from service_kit.tokens import InvalidToken, decode_with_key_set, key_id

logger = logging.getLogger(__name__)


class KeysUnavailable(Exception):
    """No usable key set: the service cannot tell good tokens from bad ones."""


class KeyCache:
    """The key set, trusted for `ttl` seconds after a successful read.

    A read happens when the set is stale, or when a token names a key the set lacks (a new
    key after a rotation), at most once per `min_refresh` seconds either way.
    """

    def __init__(
        self,
        source: KeySource,
        ttl: float,
        min_refresh: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._source = source
        self._ttl = ttl
        self._min_refresh = min_refresh
        self._clock = clock
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at: float | None = None
        self._attempted_at: float | None = None
        self._lock = asyncio.Lock()

    def is_fresh(self) -> bool:
        return self._fetched_at is not None and self._clock() - self._fetched_at < self._ttl

    def _may_attempt(self) -> bool:
        return self._attempted_at is None or self._clock() - self._attempted_at >= self._min_refresh

    async def refresh_if_due(self, wanted_kid: str | None = None) -> None:
        if self.is_fresh() and (wanted_kid is None or wanted_kid in self._keys):
            return
        async with self._lock:
            if self.is_fresh() and (wanted_kid is None or wanted_kid in self._keys):
                return
            if not self._may_attempt():
                return
            self._attempted_at = self._clock()
            try:
                jwks = await asyncio.to_thread(self._source.fetch)
                keys = {key.key_id: key for key in jwt.PyJWKSet.from_dict(jwks).keys if key.key_id}
            except (KeySourceError, jwt.PyJWKSetError) as error:
                logger.warning("reading the key set failed", extra={"error": str(error)})
                return
            if not keys:
                # An empty set (say, a placeholder parameter) verifies nothing: not healthy.
                logger.warning("the key set has no usable keys")
                return
            self._keys = keys
            self._fetched_at = self._clock()
            logger.info("key set refreshed", extra={"kids": sorted(keys)})

    async def verify(self, token: str, *, issuer: str, audience: str) -> dict[str, Any]:
        await self.refresh_if_due(key_id(token))
        if not self.is_fresh():
            raise KeysUnavailable("no current key set")
        return decode_with_key_set(token, self._keys, issuer=issuer, audience=audience)


class BearerConfig(ServiceConfig):
    """SERVICE_CONFIG keys of a service that accepts auth-service's bearer tokens."""

    # SSM parameter auth-service publishes its key set to (the deployed path).
    jwks_parameter: str | None = None
    # auth-service's JWKS URL, read instead of SSM when set (local runs and tests: no SSM).
    auth_jwks_url: str | None = None
    # How long a fetched key set is trusted before it is read again.
    jwks_cache_seconds: float = Field(default=300, gt=0, le=3600)
    # Least time between two reads forced by unknown key ids, so forged tokens cannot turn
    # every request into a read of the key source.
    jwks_min_refresh_seconds: float = Field(default=10, ge=0, le=300)
    issuer: str = "auth-service"
    # Each verifying service names itself; auth-service's tokens list every such service.
    audience: str = ""

    environment_variables: ClassVar[Mapping[str, str]] = {"auth_jwks_url": "AUTH_JWKS_URL"}

    @field_validator("auth_jwks_url")
    @classmethod
    def _http_only(cls, url: str | None) -> str | None:
        # urllib would also open file:// and ftp:// URLs; a key set only comes over HTTP(S).
        if url is not None and not url.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")
        return url


def key_source_for(config: BearerConfig) -> KeySource:
    if config.auth_jwks_url:
        return HttpKeySource(config.auth_jwks_url)
    if config.jwks_parameter:
        return SsmKeySource(AwsClients().ssm_fast_fail, config.jwks_parameter)
    return NoKeySource()


def key_cache_for(config: BearerConfig, source: KeySource) -> KeyCache:
    return KeyCache(source, config.jwks_cache_seconds, config.jwks_min_refresh_seconds)


def bearer_guard(keys: KeyCache, config: BearerConfig, realm: str) -> Callable[..., Awaitable[str]]:
    """A FastAPI dependency: the verified token's subject, or a JSON 401 with a Bearer
    challenge (no or bad token), or 503 when no current key set can tell good from bad."""
    challenge = {"WWW-Authenticate": f'Bearer realm="{realm}"'}

    async def caller(authorization: Annotated[str | None, Header()] = None) -> str:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ServiceError(
                401, "missing_token", "send Authorization: Bearer <token>", challenge
            )
        try:
            claims = await keys.verify(
                token.strip(), issuer=config.issuer, audience=config.audience
            )
        except InvalidToken:
            raise ServiceError(401, "invalid_token", "the token is not valid", challenge) from None
        except KeysUnavailable:
            raise ServiceError(503, "keys_unavailable", "cannot verify tokens now") from None
        return str(claims["sub"])

    return caller
