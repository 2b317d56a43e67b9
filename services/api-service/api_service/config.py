"""api-service's configuration (SERVICE_CONFIG, plus AUTH_JWKS_URL for local runs)."""

from __future__ import annotations

from pydantic import Field
from service_kit.config import ServiceConfig


class ApiConfig(ServiceConfig):
    # SSM parameter auth-service publishes its key set to (the deployed path).
    jwks_parameter: str | None = None
    # How long a fetched key set is trusted before it is read again.
    jwks_cache_seconds: float = Field(default=300, gt=0, le=3600)
    # Least time between two reads forced by unknown key ids, so forged tokens cannot turn
    # every request into a read of the key source.
    jwks_min_refresh_seconds: float = Field(default=10, ge=0, le=300)
    issuer: str = "auth-service"
    audience: str = "api-service"
    max_items: int = Field(default=1000, gt=0)
