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
    # AfterAllowTraffic is the bake: this long after production traffic moved, while the original
    # task set still runs, green and the environment are checked every interval.
    watch_seconds: float = 60.0
    watch_interval_seconds: float = 10.0
    # Green's own 5XX limit during the bake, with the same volume floor as the 5XX alarm.
    green_max_5xx_percent: float = 5.0
    green_min_requests_per_minute: float = 10.0

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Settings:
        """The values template.yaml may set; a bad one is a ValueError naming the variable."""
        defaults = cls()
        return cls(
            watch_seconds=_non_negative(environ, "WATCH_SECONDS", defaults.watch_seconds),
            target_settle_seconds=_non_negative(
                environ, "TARGET_SETTLE_SECONDS", defaults.target_settle_seconds
            ),
            smoke_request_timeout_seconds=_non_negative(
                environ, "SMOKE_REQUEST_TIMEOUT_SECONDS", defaults.smoke_request_timeout_seconds
            ),
            green_max_5xx_percent=_non_negative(
                environ, "GREEN_MAX_5XX_PERCENT", defaults.green_max_5xx_percent
            ),
            green_min_requests_per_minute=_non_negative(
                environ, "GREEN_MIN_REQUESTS_PER_MINUTE", defaults.green_min_requests_per_minute
            ),
        )


def _non_negative(environ: Mapping[str, str], name: str, default: float) -> float:
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number, got {raw!r}") from None
    if value < 0:
        raise ValueError(f"{name} must not be negative, got {raw!r}")
    return value
