"""notification-service: publishing to SNS (moto) and reporting failures to the caller."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from fastapi.testclient import TestClient
from moto import mock_aws
from notification_service.config import NotificationConfig
from notification_service.main import build_app
from notification_service.topic import Topic, TopicUnreachable
from service_kit.config import Identity

IDENTITY = Identity("notification-service", "1", "abc")


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


def _client(sns: Any, topic_arn: str | None) -> TestClient:
    return TestClient(build_app(NotificationConfig(topic_arn=topic_arn), IDENTITY, sns))


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
    assert health.json()["checks"] == {"topic": "failing"}
