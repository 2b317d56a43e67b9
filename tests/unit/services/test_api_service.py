"""api-service: the key cache's refresh rules and the bearer-token guard on /items."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import boto3
import pytest
from api_service.config import ApiConfig
from api_service.key_sources import HttpKeySource, KeySourceError, SsmKeySource
from api_service.main import build_app
from api_service.tokens import InvalidToken, KeyCache, KeysUnavailable
from auth_service.keys import KeyRing, issue_token
from fastapi.testclient import TestClient
from moto import mock_aws
from service_kit.config import Identity
from service_kit.request_context import set_request_id

RING = KeyRing.from_seeds("api-unit-test-seed-current")
ROTATED = KeyRing.from_seeds("api-unit-test-seed-next", previous_seed="api-unit-test-seed-current")


class FakeKeySource:
    """Serves whatever key set the test puts in it, counting reads; None means unreachable."""

    def __init__(self, jwks: dict[str, Any] | None) -> None:
        self.jwks = jwks
        self.reads = 0

    def fetch(self) -> dict[str, Any]:
        self.reads += 1
        if self.jwks is None:
            raise KeySourceError("unreachable")
        return self.jwks


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _token(ring: KeyRing = RING, subject: str = "reporting") -> str:
    return issue_token(
        ring,
        subject=subject,
        issuer="auth-service",
        audience="api-service",
        ttl_seconds=300,
        now=int(time.time()),
    )


def _verify(cache: KeyCache, token: str) -> dict[str, Any]:
    return asyncio.run(cache.verify(token, issuer="auth-service", audience="api-service"))


@pytest.fixture
def clock() -> Clock:
    return Clock()


def test_a_token_is_verified_with_the_cached_key_set(clock: Clock) -> None:
    # GIVEN
    source = FakeKeySource(RING.jwks())
    cache = KeyCache(source, ttl=300, min_refresh=10, clock=clock)

    # WHEN
    claims = [_verify(cache, _token()) for _ in range(3)]

    # THEN
    assert [c["sub"] for c in claims] == ["reporting"] * 3
    assert source.reads == 1


def test_a_token_with_an_unknown_key_id_triggers_one_refresh(clock: Clock) -> None:
    # GIVEN keys cached before auth-service rotated
    source = FakeKeySource(RING.jwks())
    cache = KeyCache(source, ttl=300, min_refresh=10, clock=clock)
    _verify(cache, _token())
    source.jwks = ROTATED.jwks()
    clock.now += 11

    # WHEN
    claims = _verify(cache, _token(ROTATED))

    # THEN
    assert claims["sub"] == "reporting"
    assert source.reads == 2


def test_unknown_key_ids_cannot_force_reads_faster_than_the_refresh_limit(clock: Clock) -> None:
    # GIVEN
    source = FakeKeySource(RING.jwks())
    cache = KeyCache(source, ttl=300, min_refresh=10, clock=clock)
    _verify(cache, _token())
    stranger = KeyRing.from_seeds("not-auth-service-seed-000")

    # WHEN
    for _ in range(5):
        with pytest.raises(InvalidToken):
            _verify(cache, _token(stranger))

    # THEN
    assert source.reads == 1


def test_a_stale_key_set_that_cannot_be_refreshed_makes_keys_unavailable(clock: Clock) -> None:
    # GIVEN
    source = FakeKeySource(RING.jwks())
    cache = KeyCache(source, ttl=300, min_refresh=10, clock=clock)
    _verify(cache, _token())
    source.jwks = None
    clock.now += 301

    # WHEN / THEN
    with pytest.raises(KeysUnavailable):
        _verify(cache, _token())


def test_an_empty_key_set_does_not_count_as_fresh(clock: Clock) -> None:
    # GIVEN a placeholder parameter with no keys in it
    cache = KeyCache(FakeKeySource({"keys": []}), ttl=300, min_refresh=10, clock=clock)

    # WHEN
    asyncio.run(cache.refresh_if_due())

    # THEN
    assert cache.is_fresh() is False


def test_a_malformed_token_is_invalid(clock: Clock) -> None:
    cache = KeyCache(FakeKeySource(RING.jwks()), ttl=300, min_refresh=10, clock=clock)
    with pytest.raises(InvalidToken):
        _verify(cache, "not-a-jwt")


def test_the_ssm_key_source_reads_the_published_parameter() -> None:
    # GIVEN
    with mock_aws():
        ssm = boto3.client("ssm")
        ssm.put_parameter(Name="/p/jwks", Value=json.dumps(RING.jwks()), Type="String")

        # WHEN
        jwks = SsmKeySource(ssm, "/p/jwks").fetch()

    # THEN
    assert jwks == RING.jwks()


def test_the_ssm_key_source_reports_a_missing_parameter() -> None:
    with mock_aws(), pytest.raises(KeySourceError, match=r"ParameterNotFound|ClientError"):
        SsmKeySource(boto3.client("ssm"), "/missing").fetch()


def test_the_http_key_source_forwards_the_request_id() -> None:
    # GIVEN a JWKS server that records the headers it receives
    seen: list[str | None] = []
    body = json.dumps(RING.jwks()).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.headers.get("X-Request-ID"))
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.handle_request, daemon=True).start()
    set_request_id("from-the-caller")

    # WHEN
    try:
        jwks = HttpKeySource(f"http://127.0.0.1:{server.server_address[1]}/").fetch()
    finally:
        set_request_id(None)
        server.server_close()

    # THEN
    assert jwks == RING.jwks()
    assert seen == ["from-the-caller"]


def _client(source: FakeKeySource) -> TestClient:
    return TestClient(build_app(ApiConfig(), Identity("api-service", "1", "abc"), source))


@pytest.fixture
def client() -> Iterator[TestClient]:
    with _client(FakeKeySource(RING.jwks())) as test_client:
        yield test_client


def test_items_are_created_and_listed_for_a_token_holder(client: TestClient) -> None:
    # GIVEN
    headers = {"Authorization": f"Bearer {_token()}"}

    # WHEN
    created = client.post("/items", json={"name": "lamp", "quantity": 2}, headers=headers)
    fetched = client.get(f"/items/{created.json()['id']}", headers=headers)

    # THEN
    assert created.status_code == 201
    assert fetched.json() == {**created.json(), "owner": "reporting"}


@pytest.mark.parametrize("authorization", [None, "", "Basic abc", "Bearer ", "Bearer x.y.z"])
def test_items_refuse_a_missing_or_bad_authorization_with_401(
    client: TestClient, authorization: str | None
) -> None:
    # GIVEN
    headers = {"Authorization": authorization} if authorization is not None else {}

    # WHEN
    response = client.get("/items", headers=headers)

    # THEN
    assert response.status_code == 401
    assert response.json()["error"] in {"missing_token", "invalid_token"}
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_an_unknown_item_is_a_json_404(client: TestClient) -> None:
    response = client.get("/items/nope", headers={"Authorization": f"Bearer {_token()}"})
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


def test_an_invalid_item_is_a_json_422(client: TestClient) -> None:
    # WHEN
    response = client.post(
        "/items", json={"name": "", "quantity": -1}, headers={"Authorization": f"Bearer {_token()}"}
    )

    # THEN
    assert response.status_code == 422
    assert {d["field"] for d in response.json()["details"]} == {"body.name", "body.quantity"}


def test_health_is_200_once_the_key_set_is_read(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json()["checks"] == {"signing_keys": "ok"}


def test_without_a_key_set_health_is_503_and_requests_get_503() -> None:
    # GIVEN
    with _client(FakeKeySource(None)) as unreachable:
        # WHEN
        health = unreachable.get("/health")
        items = unreachable.get("/items", headers={"Authorization": f"Bearer {_token()}"})

    # THEN
    assert health.status_code == 503
    assert items.status_code == 503
    assert items.json()["error"] == "keys_unavailable"
