"""auth-service's configuration (SERVICE_CONFIG) and secret (SERVICE_SECRET)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from service_kit.config import ServiceConfig


class AuthConfig(ServiceConfig):
    # SSM parameter the public key set is published to; unset (local runs) publishes nothing.
    jwks_parameter: str | None = None
    token_ttl_seconds: int = Field(default=300, ge=30, le=3600)
    issuer: str = "auth-service"
    # Every service that checks tokens (service_kit.bearer): each verifies that it is named.
    # /verify accepts a token naming any of them.
    audience: list[str] = Field(
        default_factory=lambda: ["api-service", "notification-service"], min_length=1
    )


class AuthSecret(BaseModel):
    """SecretStr keeps the seeds out of reprs, tracebacks and logs."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    signing_seed: SecretStr = Field(min_length=16)
    # The seed signed with before the last rotation: its tokens keep verifying until they expire.
    previous_signing_seed: SecretStr | None = None
    # client_id -> sha256 hex of the client secret, so the secret itself is never stored.
    clients: dict[str, str] = Field(default_factory=dict)
