"""The scheduled event: which environment, its endpoints and its client secret, checked strictly
(an unknown key or a missing service is an error, never a silent default)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from synthetic_client.run import SERVICES

ENVIRONMENTS = ("staging", "production")
KEYS = frozenset({"environment", "endpoints", "client_secret_id"})


class BadEvent(ValueError):
    """The schedule's input is not what the template writes."""


@dataclass(frozen=True)
class RunParams:
    environment: str
    endpoints: dict[str, str]
    client_secret_id: str


def parse_event(event: Any) -> RunParams:
    if not isinstance(event, dict):
        raise BadEvent(f"the event must be a JSON object, got {type(event).__name__}")
    unknown = sorted(set(event) - KEYS)
    if unknown:
        raise BadEvent(f"unknown keys {unknown}; expected {sorted(KEYS)}")
    environment = event.get("environment")
    if environment not in ENVIRONMENTS:
        raise BadEvent(f"environment must be one of {list(ENVIRONMENTS)}, got {environment!r}")
    secret_id = event.get("client_secret_id")
    if not isinstance(secret_id, str) or not secret_id:
        raise BadEvent("client_secret_id must name the synthetic client's secret")
    endpoints = event.get("endpoints")
    if not isinstance(endpoints, dict) or set(endpoints) != set(SERVICES):
        raise BadEvent(f"endpoints must map exactly {list(SERVICES)} to base URLs")
    for service, url in endpoints.items():
        parts = urlsplit(url) if isinstance(url, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
            raise BadEvent(f"endpoint of {service} is not an http(s) URL: {url!r}")
    return RunParams(
        environment=environment,
        endpoints={service: url.rstrip("/") for service, url in endpoints.items()},
        client_secret_id=secret_id,
    )
