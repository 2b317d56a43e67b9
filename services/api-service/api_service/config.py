"""api-service's configuration: SERVICE_CONFIG, plus AUTH_JWKS_URL for local runs and tests."""

from __future__ import annotations

from pydantic import Field
from service_kit.bearer import BearerConfig


class ApiConfig(BearerConfig):
    audience: str = "api-service"
    max_items: int = Field(default=1000, gt=0)
