"""Bearer-token verification against a cached key set, read from its source rarely."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import jwt
from service_kit.tokens import decode_with_key_set, key_id

from api_service.key_sources import KeySource, KeySourceError

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
