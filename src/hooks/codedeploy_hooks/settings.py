"""Typed settings of the hooks, read once from the function's environment."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    # Smoke test: each path gets up to `smoke_attempts` requests with exponential backoff, because
    # a green task that just passed its first target health check may still be warming up.
    smoke_attempts: int = 5
    smoke_request_timeout_seconds: float = 5.0
    backoff_base_seconds: float = 1.0
    backoff_max_seconds: float = 8.0
    # Traffic guard: targets still in `initial` are polled for up to this long (the target group
    # health check needs a few intervals); any other unhealthy state fails at once.
    target_settle_seconds: float = 60.0
    target_poll_seconds: float = 5.0
    # AfterAllowTraffic: keep re-checking the alarms this long after production traffic moved.
    watch_seconds: float = 60.0
    watch_interval_seconds: float = 10.0

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Settings:
        """The values template.yaml may set; a bad one is a ValueError naming the variable."""
        defaults = cls()
        return cls(
            watch_seconds=_seconds(environ, "WATCH_SECONDS", defaults.watch_seconds),
            target_settle_seconds=_seconds(
                environ, "TARGET_SETTLE_SECONDS", defaults.target_settle_seconds
            ),
            smoke_request_timeout_seconds=_seconds(
                environ, "SMOKE_REQUEST_TIMEOUT_SECONDS", defaults.smoke_request_timeout_seconds
            ),
        )


def _seconds(environ: Mapping[str, str], name: str, default: float) -> float:
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number of seconds, got {raw!r}") from None
    if value < 0:
        raise ValueError(f"{name} must not be negative, got {raw!r}")
    return value
