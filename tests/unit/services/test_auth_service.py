"""auth-service: keys, tokens, client checks, and its HTTP interface with SSM in moto."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import jwt
import pytest
from auth_service.config import AuthConfig, AuthSecret
from auth_service.keys import (
    InvalidClient,
    KeyRing,
    SigningKey,
    check_client,
    issue_token,
    verify_token,
)
from auth_service.main import build_app
from auth_service.publisher import JwksPublisher
from botocore.stub import Stubber
from fastapi.testclient import TestClient
from moto import mock_aws
from service_kit.config import Identity
from service_kit.tokens import InvalidToken

SEED = "unit-test-signing-seed-0001"
OLD_SEED = "unit-test-signing-seed-0000"
CLIENTS = {"reporting": hashlib.sha256(b"reporting-secret").hexdigest()}


def _now() -> int:
    """Wall-clock seconds when the test runs (not when the module was collected: PyJWT checks
    `exp` against the real clock, and a long suite may reach this module minutes later)."""
    return int(time.time())


JWKS_PARAMETER = "/pipeline/test/auth-service/jwks"


def _token(ring: KeyRing, now: int | None = None, audience: str = "api-service") -> str:
    now = _now() if now is None else now
    return issue_token(
        ring,
        subject="reporting",
        issuer="auth-service",
        audience=audience,
        ttl_seconds=300,
        now=now,
    )


@pytest.fixture
def ssm() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("ssm")


def _client(ssm: Any, previous_seed: str | None = None, now: int | None = None) -> TestClient:
    at = _now() if now is None else now
    secret = AuthSecret.model_validate(
        {"signing_seed": SEED, "previous_signing_seed": previous_seed, "clients": CLIENTS}
    )
    app = build_app(
        AuthConfig(jwks_parameter=JWKS_PARAMETER),
        secret,
        Identity("auth-service", "1", "abc"),
        ssm,
        clock=lambda: at,
    )
    return TestClient(app)


def test_the_same_seed_derives_the_same_key_on_every_task() -> None:
    assert SigningKey.from_seed(SEED).public_jwk() == SigningKey.from_seed(SEED).public_jwk()


def test_a_different_seed_derives_a_different_key_id() -> None:
    assert SigningKey.from_seed(SEED).kid != SigningKey.from_seed(OLD_SEED).kid


def test_the_key_set_lists_only_public_material() -> None:
    # WHEN
    jwks = KeyRing.from_seeds(SEED, OLD_SEED).jwks()

    # THEN
    assert len(jwks["keys"]) == 2
    assert all(set(key) == {"kty", "crv", "x", "kid", "alg", "use"} for key in jwks["keys"])


def test_a_token_signed_before_rotation_still_verifies_during_the_overlap() -> None:
    # GIVEN
    token = _token(KeyRing.from_seeds(OLD_SEED))
    rotated = KeyRing.from_seeds(SEED, previous_seed=OLD_SEED)

    # WHEN
    claims = verify_token(rotated, token, issuer="auth-service", audience="api-service")

    # THEN
    assert claims["sub"] == "reporting"


def test_a_token_of_a_retired_key_is_refused() -> None:
    # GIVEN
    token = _token(KeyRing.from_seeds(OLD_SEED))

    # WHEN / THEN
    with pytest.raises(InvalidToken, match="unknown key"):
        verify_token(KeyRing.from_seeds(SEED), token, issuer="auth-service", audience="api-service")


def test_an_expired_token_is_refused() -> None:
    # GIVEN
    ring = KeyRing.from_seeds(SEED)
    token = _token(ring, now=_now() - 3600)

    # WHEN / THEN
    with pytest.raises(InvalidToken):
        verify_token(ring, token, issuer="auth-service", audience="api-service")


def test_a_token_for_another_audience_is_refused() -> None:
    # GIVEN
    ring = KeyRing.from_seeds(SEED)
    token = _token(ring, now=_now(), audience="someone-else")

    # WHEN / THEN
    with pytest.raises(InvalidToken):
        verify_token(ring, token, issuer="auth-service", audience="api-service")


def test_tokens_are_eddsa_with_the_key_id_in_the_header() -> None:
    # GIVEN
    ring = KeyRing.from_seeds(SEED)

    # WHEN
    header = jwt.get_unverified_header(_token(ring))

    # THEN
    assert header["alg"] == "EdDSA"
    assert header["kid"] == ring.current.kid


def test_a_known_client_with_its_secret_passes() -> None:
    check_client(CLIENTS, "reporting", "reporting-secret")


@pytest.mark.parametrize(
    ("client_id", "client_secret"), [("reporting", "wrong"), ("stranger", "reporting-secret")]
)
def test_a_wrong_secret_or_unknown_client_is_refused(client_id: str, client_secret: str) -> None:
    with pytest.raises(InvalidClient):
        check_client(CLIENTS, client_id, client_secret)


def test_token_endpoint_issues_a_bearer_token_for_a_known_client(ssm: Any) -> None:
    # WHEN
    with _client(ssm, now=_now()) as client:
        response = client.post(
            "/token", json={"client_id": "reporting", "client_secret": "reporting-secret"}
        )
        verified = client.post("/verify", json={"token": response.json()["access_token"]})

    # THEN
    assert response.status_code == 200
    assert response.json()["token_type"] == "Bearer"
    assert response.json()["expires_in"] == 300
    assert verified.json()["active"] is True


def test_token_endpoint_refuses_a_wrong_secret_with_401(ssm: Any) -> None:
    # WHEN
    with _client(ssm) as client:
        response = client.post("/token", json={"client_id": "reporting", "client_secret": "nope"})

    # THEN
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_token_endpoint_refuses_another_grant_type_with_400(ssm: Any) -> None:
    # WHEN
    with _client(ssm) as client:
        response = client.post(
            "/token",
            json={"grant_type": "password", "client_id": "reporting", "client_secret": "x"},
        )

    # THEN
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


def test_token_endpoint_refuses_a_body_without_credentials_with_422(ssm: Any) -> None:
    # WHEN
    with _client(ssm) as client:
        response = client.post("/token", json={})

    # THEN
    assert response.status_code == 422
    assert response.json()["error"] == "invalid_request"


def test_start_up_publishes_the_key_set_to_ssm_and_reports_healthy(ssm: Any) -> None:
    # WHEN
    with _client(ssm, previous_seed=OLD_SEED) as client:
        health = client.get("/health")
        served = client.get("/.well-known/jwks.json").json()

    # THEN
    published = json.loads(ssm.get_parameter(Name=JWKS_PARAMETER)["Parameter"]["Value"])
    assert published == served
    assert len(published["keys"]) == 2
    assert health.status_code == 200


def test_health_is_503_while_ssm_refuses_the_key_set() -> None:
    # GIVEN SSM refusing every write
    ssm = boto3.client("ssm")
    stubber = Stubber(ssm)
    for _ in range(5):
        stubber.add_client_error("put_parameter", "AccessDeniedException")

    # WHEN
    with stubber, _client(ssm) as client:
        health = client.get("/health")

    # THEN
    assert health.status_code == 503
    assert health.json()["checks"] == {"jwks_published": "failing"}


def test_a_refused_publish_leaves_the_key_set_unpublished() -> None:
    # GIVEN
    ssm = boto3.client("ssm")
    stubber = Stubber(ssm)
    stubber.add_client_error("put_parameter", "AccessDeniedException")
    publisher = JwksPublisher(ssm, JWKS_PARAMETER, KeyRing.from_seeds(SEED).jwks())

    # WHEN
    with stubber:
        published = publisher.publish_once()

    # THEN
    assert published is False
    assert publisher.published is False


def test_the_published_key_set_is_what_the_parameter_holds(ssm: Any) -> None:
    # GIVEN
    jwks = KeyRing.from_seeds(SEED).jwks()
    publisher = JwksPublisher(ssm, JWKS_PARAMETER, jwks)

    # WHEN
    publisher.publish_once()

    # THEN
    assert publisher.published is True
    stored = ssm.get_parameter(Name=JWKS_PARAMETER)["Parameter"]
    assert json.loads(stored["Value"]) == jwks
    assert stored["Type"] == "String"
