"""The flow across the three services: token, protected resource, notification delivery."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest

from tests.contract.conftest import CLIENT_ID, CLIENT_SECRET, JWKS_PARAMETER, Deployment


def get_token(deployment: Deployment) -> str:
    response = httpx.post(
        f"{deployment.auth_url}/token",
        json={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def tamper(token: str) -> str:
    """Same header and signature, a payload claiming another subject."""
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = "someone-else"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


def receive_one(deployment: Deployment) -> dict[str, Any]:
    sqs = deployment.aws("sqs")
    for _ in range(10):
        messages = sqs.receive_message(
            QueueUrl=deployment.queue_url, MaxNumberOfMessages=1, WaitTimeSeconds=1
        ).get("Messages", [])
        if messages:
            sqs.delete_message(
                QueueUrl=deployment.queue_url, ReceiptHandle=messages[0]["ReceiptHandle"]
            )
            envelope: dict[str, Any] = json.loads(messages[0]["Body"])
            return envelope
    raise AssertionError("nothing was delivered to the subscribed queue")


@pytest.mark.parametrize(
    ("url_attribute", "service"),
    [
        ("api_url", "api-service"),
        ("auth_url", "auth-service"),
        ("notification_url", "notification-service"),
    ],
)
def test_health_reports_ok_with_service_identity(
    deployment: Deployment, url_attribute: str, service: str
) -> None:
    # WHEN
    response = httpx.get(f"{getattr(deployment, url_attribute)}/health")

    # THEN
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["service"] == service
    assert body["version"]
    assert body["commit"]


def test_auth_service_refuses_a_wrong_client_secret(deployment: Deployment) -> None:
    # WHEN
    response = httpx.post(
        f"{deployment.auth_url}/token", json={"client_id": CLIENT_ID, "client_secret": "wrong"}
    )

    # THEN
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_auth_service_publishes_the_key_that_signs_its_tokens(deployment: Deployment) -> None:
    # GIVEN
    token = get_token(deployment)
    kid = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))["kid"]

    # WHEN
    published = deployment.aws("ssm").get_parameter(Name=JWKS_PARAMETER)["Parameter"]["Value"]

    # THEN
    assert kid in {key["kid"] for key in json.loads(published)["keys"]}


def test_api_service_serves_a_caller_with_a_token(deployment: Deployment) -> None:
    # GIVEN
    token = get_token(deployment)

    # WHEN
    created = httpx.post(
        f"{deployment.api_url}/items", json={"name": "lamp"}, headers=bearer(token)
    )
    listed = httpx.get(f"{deployment.api_url}/items", headers=bearer(token))

    # THEN
    assert created.status_code == 201, created.text
    assert created.json()["owner"] == CLIENT_ID
    assert created.json() in listed.json()["items"]


def test_api_service_refuses_a_caller_without_a_token(deployment: Deployment) -> None:
    # WHEN
    response = httpx.get(f"{deployment.api_url}/items")

    # THEN
    assert response.status_code == 401
    assert response.json()["error"] == "missing_token"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_api_service_refuses_a_tampered_token(deployment: Deployment) -> None:
    # GIVEN
    forged = tamper(get_token(deployment))

    # WHEN
    response = httpx.get(f"{deployment.api_url}/items", headers=bearer(forged))

    # THEN
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"


def test_auth_service_verify_reports_a_tampered_token_inactive(deployment: Deployment) -> None:
    # GIVEN
    token = get_token(deployment)

    # WHEN
    good = httpx.post(f"{deployment.auth_url}/verify", json={"token": token})
    bad = httpx.post(f"{deployment.auth_url}/verify", json={"token": tamper(token)})

    # THEN
    assert good.json()["active"] is True
    assert good.json()["sub"] == CLIENT_ID
    assert bad.json()["active"] is False


def test_notification_reaches_the_subscribed_queue_with_its_request_id(
    deployment: Deployment,
) -> None:
    # GIVEN
    request_id = "contract-notification-1"

    # WHEN a holder of an auth-service token sends one
    response = httpx.post(
        f"{deployment.notification_url}/notifications",
        json={"subject": "Deployed", "message": "api-service v2 is live"},
        headers={"X-Request-ID": request_id, **bearer(get_token(deployment))},
    )

    # THEN
    assert response.status_code == 202, response.text
    assert response.headers["X-Request-ID"] == request_id
    envelope = receive_one(deployment)
    assert envelope["MessageId"] == response.json()["message_id"]
    assert envelope["Message"] == "api-service v2 is live"
    assert envelope["Subject"] == "Deployed"
    assert envelope["MessageAttributes"]["request_id"]["Value"] == request_id


def test_notification_without_a_message_is_refused_with_a_json_error(
    deployment: Deployment,
) -> None:
    # WHEN
    response = httpx.post(
        f"{deployment.notification_url}/notifications",
        json={"subject": "x"},
        headers=bearer(get_token(deployment)),
    )

    # THEN
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "invalid_request"
    assert {"field": "body.message", "problem": "Field required"} in body["details"]


def test_a_request_id_is_created_when_the_caller_sends_none(deployment: Deployment) -> None:
    # WHEN
    response = httpx.get(f"{deployment.auth_url}/.well-known/jwks.json")

    # THEN
    assert len(response.headers["X-Request-ID"]) == 32


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer not-a-token"}],
    ids=["anonymous", "forged"],
)
def test_notification_service_refuses_a_sender_without_a_valid_token(
    deployment: Deployment, headers: dict[str, str]
) -> None:
    # WHEN someone on the internet posts to the public listener without auth-service's token
    response = httpx.post(
        f"{deployment.notification_url}/notifications",
        json={"subject": "Deployed", "message": "click here"},
        headers={"X-Request-ID": "contract-anonymous-1", **headers},
    )

    # THEN refused with a Bearer challenge, and nothing reaches the topic's subscribers
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    messages = (
        deployment.aws("sqs")
        .receive_message(
            QueueUrl=deployment.queue_url, MessageAttributeNames=["All"], WaitTimeSeconds=1
        )
        .get("Messages", [])
    )
    assert not [m for m in messages if "contract-anonymous-1" in m["Body"]]


def test_a_tampered_token_is_refused_by_notification_service(deployment: Deployment) -> None:
    forged = tamper(get_token(deployment))
    response = httpx.post(
        f"{deployment.notification_url}/notifications",
        json={"message": "x"},
        headers=bearer(forged),
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"
