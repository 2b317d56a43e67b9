"""api-service: the key cache's refresh rules and the bearer-token guard on /items."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import boto3
import jwt
import pytest
from api_service.config import ApiConfig
from api_service.main import build_app
from auth_service.keys import KeyRing, issue_token
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from fastapi.testclient import TestClient
from moto import mock_aws
from service_kit.bearer import KeyCache, KeysUnavailable, key_source_for
from service_kit.config import ConfigError, Identity, load_config
from service_kit.key_sources import HttpKeySource, KeySourceError, NoKeySource, SsmKeySource
from service_kit.request_context import set_request_id
from service_kit.tokens import InvalidToken

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


def _claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": "auth-service",
        "sub": "reporting",
        "aud": "api-service",
        "iat": now,
        "nbf": now,
        "exp": now + 300,
    }
    return {**claims, **overrides}


def _signed(claims: dict[str, Any], headers: dict[str, Any] | None = None) -> str:
    """A token signed with auth-service's real key, with claims or headers a test chooses."""
    return jwt.encode(
        claims,
        RING.current.private_key,
        algorithm="EdDSA",
        headers={"kid": RING.current.kid} if headers is None else headers,
    )


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _compact(header: dict[str, Any], claims: dict[str, Any], signature: bytes) -> str:
    return ".".join(
        [_b64(json.dumps(header).encode()), _b64(json.dumps(claims).encode()), _b64(signature)]
    )


def _hs256_with_the_public_key() -> str:
    """Alg confusion: an HMAC token keyed with the published public key, which anyone has."""
    public_pem = RING.current.private_key.public_key().public_bytes(
        Encoding.PEM, PublicFormat.SubjectPublicKeyInfo
    )
    header = {"alg": "HS256", "typ": "JWT", "kid": RING.current.kid}
    signing_input = ".".join(
        [_b64(json.dumps(header).encode()), _b64(json.dumps(_claims()).encode())]
    )
    signature = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def _unsigned() -> str:
    return _compact({"alg": "none", "typ": "JWT", "kid": RING.current.kid}, _claims(), b"")


def _tampered_payload() -> str:
    header, _, signature = _signed(_claims()).split(".")
    forged = _b64(json.dumps(_claims(sub="admin")).encode())
    return f"{header}.{forged}.{signature}"


BAD_TOKENS: dict[str, Callable[[], str]] = {
    "wrong audience": lambda: _signed(_claims(aud="billing-service")),
    "wrong issuer": lambda: _signed(_claims(iss="someone-else")),
    "expired": lambda: _signed(_claims(iat=int(time.time()) - 900, exp=int(time.time()) - 600)),
    "not valid before a future time": lambda: _signed(_claims(nbf=int(time.time()) + 600)),
    "alg none": _unsigned,
    "HS256 keyed with the public key": _hs256_with_the_public_key,
    "no kid": lambda: _signed(_claims(), headers={}),
    "tampered payload": _tampered_payload,
}


@pytest.mark.parametrize("make_token", list(BAD_TOKENS.values()), ids=list(BAD_TOKENS))
def test_a_token_auth_service_would_not_vouch_for_is_invalid(
    clock: Clock, make_token: Callable[[], str]
) -> None:
    # GIVEN a cache holding auth-service's real key set
    cache = KeyCache(FakeKeySource(RING.jwks()), ttl=300, min_refresh=10, clock=clock)
    _verify(cache, _token())

    # WHEN / THEN
    with pytest.raises(InvalidToken):
        _verify(cache, make_token())


def test_each_bad_token_case_differs_from_a_good_token_in_one_way_only(clock: Clock) -> None:
    # GIVEN the builders the bad-token cases start from
    cache = KeyCache(FakeKeySource(RING.jwks()), ttl=300, min_refresh=10, clock=clock)

    # WHEN
    claims = _verify(cache, _signed(_claims()))

    # THEN a token they build without a change verifies, so each case fails for its own reason
    assert claims["sub"] == "reporting"


def test_an_unknown_kid_on_a_real_signature_is_invalid_and_rereads_keys_only_when_allowed(
    clock: Clock,
) -> None:
    # GIVEN a warm cache, and tokens signed by the real key but naming a key id it lacks
    source = FakeKeySource(RING.jwks())
    cache = KeyCache(source, ttl=300, min_refresh=10, clock=clock)
    _verify(cache, _token())
    unknown_kid = _signed(_claims(), headers={"kid": "rotated-away"})

    # WHEN a burst arrives, then another after the refresh limit has passed
    for _ in range(5):
        with pytest.raises(InvalidToken):
            _verify(cache, unknown_kid)
    reads_during_burst = source.reads
    clock.now += 10
    with pytest.raises(InvalidToken):
        _verify(cache, unknown_kid)

    # THEN the burst caused no read and the later token exactly one
    assert (reads_during_burst, source.reads) == (1, 2)


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


def test_a_caller_lists_only_its_own_items(client: TestClient) -> None:
    # GIVEN an item of another client
    theirs = {"Authorization": f"Bearer {_token(subject='billing')}"}
    mine = {"Authorization": f"Bearer {_token(subject='reporting')}"}
    client.post("/items", json={"name": "their lamp"}, headers=theirs)
    own = client.post("/items", json={"name": "my lamp"}, headers=mine).json()

    # WHEN
    listed = client.get("/items", headers=mine)

    # THEN
    assert listed.json() == {"items": [own]}


def test_another_clients_item_is_a_404_like_one_that_does_not_exist(client: TestClient) -> None:
    # GIVEN
    theirs = {"Authorization": f"Bearer {_token(subject='billing')}"}
    mine = {"Authorization": f"Bearer {_token(subject='reporting')}"}
    item_id = client.post("/items", json={"name": "their lamp"}, headers=theirs).json()["id"]
    missing_id = "0" * len(item_id)

    # WHEN
    other = client.get(f"/items/{item_id}", headers=mine)
    missing = client.get(f"/items/{missing_id}", headers=mine)

    # THEN nothing in the answer tells the caller the item exists
    assert (other.status_code, missing.status_code) == (404, 404)
    assert other.json() == {"error": "not_found", "message": "no such item"}
    assert missing.json() == other.json()


def test_auth_jwks_url_is_read_once_into_the_typed_config(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a local run: the key set URL in its own variable, beside SERVICE_CONFIG
    url = "http://127.0.0.1:8082/.well-known/jwks.json"
    monkeypatch.setenv("SERVICE_CONFIG", json.dumps({"jwks_cache_seconds": 60}))
    monkeypatch.setenv("AUTH_JWKS_URL", url)

    # WHEN
    config = load_config(ApiConfig)

    # THEN
    assert (config.auth_jwks_url, config.jwks_cache_seconds) == (url, 60)
    assert isinstance(key_source_for(config), HttpKeySource)


def test_without_auth_jwks_url_the_key_source_comes_from_service_config(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN
    monkeypatch.delenv("AUTH_JWKS_URL", raising=False)
    monkeypatch.delenv("SERVICE_CONFIG", raising=False)

    # WHEN
    config = load_config(ApiConfig)

    # THEN
    assert config.auth_jwks_url is None
    assert isinstance(key_source_for(config), NoKeySource)


def test_a_non_http_auth_jwks_url_stops_the_service_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN
    monkeypatch.setenv("AUTH_JWKS_URL", "file:///etc/hostname")

    # WHEN / THEN
    with pytest.raises(ConfigError, match="AUTH_JWKS_URL") as error:
        load_config(ApiConfig)
    assert "/etc/hostname" not in str(error.value)
