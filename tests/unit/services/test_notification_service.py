"""notification-service: publishing to SNS (moto) and reporting failures to the caller."""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest
from auth_service.keys import KeyRing, issue_token
from botocore.config import Config
from botocore.exceptions import (
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)
from botocore.stub import Stubber
from fastapi.testclient import TestClient
from moto import mock_aws
from notification_service.config import NotificationConfig
from notification_service.main import build_app, create_app
from notification_service.topic import Topic, TopicUnreachable
from service_kit import aws
from service_kit.config import Identity
from service_kit.key_sources import KeySourceError
from service_kit.serve import GRACEFUL_SHUTDOWN_SECONDS

from tests.support import serving

IDENTITY = Identity("notification-service", "1", "abc")
TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:service-messages-test"
RING = KeyRing.from_seeds("notification-unit-test-seed")


class StaticKeys:
    """auth-service's published key set, or None for a key source that cannot be read."""

    def __init__(self, jwks: dict[str, Any] | None) -> None:
        self.jwks = jwks

    def fetch(self) -> dict[str, Any]:
        if self.jwks is None:
            raise KeySourceError("unreachable")
        return self.jwks


def _token(ring: KeyRing = RING, audience: str | list[str] = "notification-service") -> str:
    return issue_token(
        ring,
        subject="synthetic-client",
        issuer="auth-service",
        audience=audience,
        ttl_seconds=300,
        now=int(time.time()),
    )


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def messaging() -> Iterator[tuple[Any, str, str]]:
    """SNS client, topic ARN, and the URL of a queue subscribed to the topic."""
    with mock_aws():
        sns, sqs = boto3.client("sns"), boto3.client("sqs")
        topic_arn = sns.create_topic(Name="service-messages-test")["TopicArn"]
        queue_url = sqs.create_queue(QueueName="reader")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
        yield sns, topic_arn, queue_url


def _app(sns: Any, topic_arn: str | None, keys: StaticKeys | None = None) -> Any:
    config = NotificationConfig(topic_arn=topic_arn)
    return build_app(config, IDENTITY, sns, key_source=keys or StaticKeys(RING.jwks()))


def _client(sns: Any, topic_arn: str | None) -> TestClient:
    """A caller holding a valid token of auth-service's, as every legitimate sender does."""
    return TestClient(_app(sns, topic_arn), headers=_bearer(_token()))


def test_a_notification_is_published_and_delivered(messaging: tuple[Any, str, str]) -> None:
    # GIVEN
    sns, topic_arn, queue_url = messaging

    # WHEN
    response = _client(sns, topic_arn).post(
        "/notifications",
        json={"subject": "Hi", "message": "hello"},
        headers={"X-Request-ID": "req-42"},
    )

    # THEN
    assert response.status_code == 202
    body = json.loads(
        boto3.client("sqs").receive_message(QueueUrl=queue_url)["Messages"][0]["Body"]
    )
    assert (body["Message"], body["Subject"]) == ("hello", "Hi")
    assert body["MessageId"] == response.json()["message_id"]
    assert body["MessageAttributes"]["request_id"]["Value"] == "req-42"


def test_a_publish_to_a_missing_topic_is_a_502(messaging: tuple[Any, str, str]) -> None:
    # GIVEN
    sns, topic_arn, _ = messaging

    # WHEN
    response = _client(sns, topic_arn + "-gone").post("/notifications", json={"message": "x"})

    # THEN
    assert response.status_code == 502
    assert response.json()["error"] == "publish_failed"


def test_without_a_configured_topic_publishing_is_a_502_and_health_503() -> None:
    # GIVEN
    client = _client(boto3.client("sns"), None)

    # WHEN
    response = client.post("/notifications", json={"message": "x"})
    health = client.get("/health")

    # THEN
    assert response.status_code == 502
    assert health.status_code == 503


def test_an_unreachable_sns_is_reported_as_such() -> None:
    # GIVEN an SNS endpoint where nothing listens
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    sns = boto3.client(
        "sns",
        endpoint_url=f"http://127.0.0.1:{closed_port}",
        config=Config(retries={"max_attempts": 1}),
    )
    topic = Topic(sns, "arn:aws:sns:us-east-1:123456789012:t", check_every=30)

    # WHEN / THEN
    with pytest.raises(TopicUnreachable):
        topic.publish("x", None, None)


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"message": ""},
        {"message": "x", "subject": "two\nlines"},
        {"message": "x", "subject": ""},
    ],
)
def test_an_invalid_notification_is_refused_with_422(
    messaging: tuple[Any, str, str], payload: dict[str, Any]
) -> None:
    # GIVEN
    sns, topic_arn, _ = messaging

    # WHEN
    response = _client(sns, topic_arn).post("/notifications", json=payload)

    # THEN
    assert response.status_code == 422
    assert response.json()["error"] == "invalid_request"


def test_health_is_200_when_the_topic_answers(messaging: tuple[Any, str, str]) -> None:
    sns, topic_arn, _ = messaging
    assert _client(sns, topic_arn).get("/health").status_code == 200


def test_health_reuses_a_recent_topic_check(messaging: tuple[Any, str, str]) -> None:
    # GIVEN a topic check that passed, then the topic disappears
    sns, topic_arn, _ = messaging
    client = _client(sns, topic_arn)
    client.get("/health")
    sns.delete_topic(TopicArn=topic_arn)

    # WHEN
    health = client.get("/health")

    # THEN the cached answer stands until the next check is due (30 s by default)
    assert health.status_code == 200


def test_health_is_503_when_the_topic_is_gone(messaging: tuple[Any, str, str]) -> None:
    # GIVEN
    sns, topic_arn, _ = messaging
    sns.delete_topic(TopicArn=topic_arn)

    # WHEN
    health = _client(sns, topic_arn).get("/health")

    # THEN
    assert health.status_code == 503
    assert health.json()["checks"] == {"topic": "failing", "signing_keys": "ok"}


class FailingSns:
    """An SNS client whose Publish fails the way the network made it fail."""

    def __init__(self, error: Exception) -> None:
        self.error = error
        self.publishes = 0

    def publish(self, **_: Any) -> dict[str, Any]:
        self.publishes += 1
        raise self.error


class HangUpAfterRequest:
    """An endpoint that reads each whole request and closes without answering.

    SNS may have acted on such a request, so it counts how many times the message was sent.
    """

    def __init__(self) -> None:
        self.requests = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            with connection:
                data = b""
                while b"\r\n\r\n" not in data and (chunk := connection.recv(65536)):
                    data += chunk
                head, _, body = data.partition(b"\r\n\r\n")
                length = re.search(rb"(?i)content-length: *(\d+)", head)
                while length and len(body) < int(length[1]) and (chunk := connection.recv(65536)):
                    body += chunk
                self.requests += 1

    def close(self) -> None:
        self._listener.close()


def _post(sns: Any, request_id: str = "req-7") -> Any:
    return _client(sns, TOPIC_ARN).post(
        "/notifications", json={"message": "x"}, headers={"X-Request-ID": request_id}
    )


@pytest.mark.parametrize(
    "error",
    [
        ReadTimeoutError(endpoint_url="https://sns.us-east-1.amazonaws.com/"),
        ConnectionClosedError(endpoint_url="https://sns.us-east-1.amazonaws.com/"),
    ],
    ids=["read timeout", "connection closed after sending"],
)
def test_a_publish_without_an_answer_is_a_504_that_may_have_been_published(
    error: Exception,
) -> None:
    # GIVEN SNS received the request but its answer never arrived
    sns = FailingSns(error)

    # WHEN
    response = _post(sns, request_id="req-7")

    # THEN the caller is told the truth and given the id to look for before retrying
    assert response.status_code == 504
    assert response.json()["error"] == "outcome_unknown"
    assert "may have been published" in response.json()["message"]
    assert "req-7" in response.json()["message"]
    assert sns.publishes == 1


@pytest.mark.parametrize(
    "error",
    [
        EndpointConnectionError(endpoint_url="https://sns.us-east-1.amazonaws.com/"),
        ConnectTimeoutError(endpoint_url="https://sns.us-east-1.amazonaws.com/"),
    ],
    ids=["connection refused", "connect timeout"],
)
def test_a_publish_that_never_reached_sns_is_a_503_not_published(error: Exception) -> None:
    # WHEN
    response = _post(FailingSns(error))

    # THEN
    assert response.status_code == 503
    assert response.json()["error"] == "topic_unreachable"
    assert "not published" in response.json()["message"]


def test_a_publish_sns_refuses_is_a_502_not_published() -> None:
    # GIVEN SNS answers with a refusal
    sns = boto3.client("sns")
    stubber = Stubber(sns)
    stubber.add_client_error("publish", "Throttling", "Rate exceeded", 400)

    # WHEN
    with stubber:
        response = _post(sns)

    # THEN
    assert response.status_code == 502
    assert response.json()["error"] == "publish_failed"
    assert "not published" in response.json()["message"]
    stubber.assert_no_pending_responses()


def test_the_service_sends_a_message_to_sns_once_even_when_the_connection_drops(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN the service as its image starts it, against an SNS that hangs up after each request
    sns = HangUpAfterRequest()
    monkeypatch.setenv("AWS_ENDPOINT_URL", sns.url)
    monkeypatch.setenv("SERVICE_CONFIG", json.dumps({"topic_arn": TOPIC_ARN}))

    # WHEN
    try:
        with serving(ThreadingHTTPServer(("127.0.0.1", 0), JwksHandler)) as jwks:
            monkeypatch.setenv("AUTH_JWKS_URL", f"http://127.0.0.1:{jwks.server_address[1]}/")
            response = TestClient(create_app()).post(
                "/notifications", json={"message": "x"}, headers=_bearer(_token())
            )
    finally:
        sns.close()

    # THEN no retry re-sent a message SNS may already have published
    assert response.status_code == 504
    assert sns.requests == 1


def test_the_publish_client_makes_one_attempt_that_ends_within_graceful_shutdown() -> None:
    # WHEN
    config = aws.AwsClients().sns_single_attempt.meta.config

    # THEN SIGTERM's grace period covers a publish that has just started
    assert config.retries["total_max_attempts"] == 1
    assert config.connect_timeout + config.read_timeout < GRACEFUL_SHUTDOWN_SECONDS


def test_the_fast_fail_client_makes_one_attempt() -> None:
    assert aws.AwsClients().sns_fast_fail.meta.config.retries["total_max_attempts"] == 1


class JwksHandler(BaseHTTPRequestHandler):
    """auth-service's /.well-known/jwks.json, on 127.0.0.1."""

    def do_GET(self) -> None:
        body = json.dumps(RING.jwks()).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        pass


# ---------------------------------------------------------------- who may publish


def _published(queue_url: str) -> list[dict[str, Any]]:
    return boto3.client("sqs").receive_message(QueueUrl=queue_url).get("Messages", [])


@pytest.mark.parametrize(
    ("headers", "error"),
    [
        ({}, "missing_token"),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, "missing_token"),
        (_bearer("not-a-jwt"), "invalid_token"),
        # signed by a key auth-service never published
        (_bearer(_token(KeyRing.from_seeds("an-attackers-own-seed"))), "invalid_token"),
        # a genuine token, but for another service only
        (_bearer(_token(audience="api-service")), "invalid_token"),
    ],
    ids=["anonymous", "basic-auth", "garbage", "foreign-key", "other-audience"],
)
def test_a_sender_without_a_valid_token_publishes_nothing(
    messaging: tuple[Any, str, str], headers: dict[str, str], error: str
) -> None:
    # GIVEN the public production listener and a caller without a good token
    sns, topic_arn, queue_url = messaging

    # WHEN
    response = TestClient(_app(sns, topic_arn)).post(
        "/notifications", json={"message": "spam"}, headers=headers
    )

    # THEN refused with a Bearer challenge, and nothing reached the topic
    assert response.status_code == 401
    assert response.json()["error"] == error
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="notification-service"'
    assert _published(queue_url) == []


def test_a_token_naming_several_audiences_including_this_service_publishes(
    messaging: tuple[Any, str, str],
) -> None:
    # GIVEN a token as auth-service issues them: for every service that checks tokens
    sns, topic_arn, queue_url = messaging
    token = _token(audience=["api-service", "notification-service"])

    # WHEN
    response = TestClient(_app(sns, topic_arn)).post(
        "/notifications", json={"message": "hello"}, headers=_bearer(token)
    )

    # THEN
    assert response.status_code == 202
    assert len(_published(queue_url)) == 1


def test_without_a_key_set_every_message_is_refused_and_health_fails(
    messaging: tuple[Any, str, str],
) -> None:
    # GIVEN a key source that cannot be read (auth-service has not published yet)
    sns, topic_arn, queue_url = messaging
    client = TestClient(_app(sns, topic_arn, StaticKeys(None)), headers=_bearer(_token()))

    # WHEN
    response = client.post("/notifications", json={"message": "x"})
    health = client.get("/health")

    # THEN nothing is published on a token nobody could check
    assert response.status_code == 503
    assert response.json()["error"] == "keys_unavailable"
    assert _published(queue_url) == []
    assert health.status_code == 503
    assert health.json()["checks"]["signing_keys"] == "failing"
