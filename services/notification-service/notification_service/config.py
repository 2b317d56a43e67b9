"""notification-service's configuration (SERVICE_CONFIG), plus AUTH_JWKS_URL for local runs."""

from __future__ import annotations

from pydantic import Field
from service_kit.bearer import BearerConfig


class NotificationConfig(BearerConfig):
    # Tokens auth-service issues name this service among their audiences.
    audience: str = "notification-service"
    # Optional so that a missing key starts the service and shows up as a failing /health
    # (with a log line saying why) instead of a crash loop with no HTTP answer at all.
    topic_arn: str | None = None
    # How long a topic reachability check is reused by /health (load balancers ask every 5 s).
    health_check_seconds: float = Field(default=30, ge=0, le=300)
