"""api-service's configuration: SERVICE_CONFIG, plus AUTH_JWKS_URL for local runs and tests."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from pydantic import Field, field_validator
from service_kit.config import ServiceConfig


class ApiConfig(ServiceConfig):
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
    audience: str = "api-service"
    max_items: int = Field(default=1000, gt=0)

    environment_variables: ClassVar[Mapping[str, str]] = {"auth_jwks_url": "AUTH_JWKS_URL"}

    @field_validator("auth_jwks_url")
    @classmethod
    def _http_only(cls, url: str | None) -> str | None:
        # urllib would also open file:// and ftp:// URLs; a key set only comes over HTTP(S).
        if url is not None and not url.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")
        return url
