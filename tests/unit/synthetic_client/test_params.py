"""The scheduled event is checked strictly: a typo is an error, not a default."""

from __future__ import annotations

from typing import Any

import pytest
from synthetic_client.params import BadEvent, parse_event

from tests.support import load_event


def test_the_sample_event_parses() -> None:
    params = parse_event(load_event("synthetic_client_staging.json"))
    assert params.environment == "staging"
    assert set(params.endpoints) == {"api-service", "auth-service", "notification-service"}


def good() -> dict[str, Any]:
    return load_event("synthetic_client_staging.json")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"environment": "prod"}, "environment must be one of"),
        ({"extra": 1}, "unknown keys ['extra']"),
        ({"client_secret_id": ""}, "client_secret_id"),
        ({"endpoints": {"api-service": "http://x"}}, "endpoints must map exactly"),
    ],
)
def test_a_bad_event_is_rejected_with_its_reason(change: dict[str, Any], message: str) -> None:
    event = good() | change
    with pytest.raises(BadEvent, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_event(event)


def test_an_endpoint_that_is_not_http_is_rejected() -> None:
    event = good()
    event["endpoints"]["api-service"] = "file:///etc/passwd"
    with pytest.raises(BadEvent, match="not an http"):
        parse_event(event)


def test_a_trailing_slash_is_dropped_so_paths_join_cleanly() -> None:
    event = good()
    event["endpoints"]["api-service"] = "http://alb.example:8180/"
    assert parse_event(event).endpoints["api-service"] == "http://alb.example:8180"
