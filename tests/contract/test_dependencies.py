"""Health follows hard dependencies, failures reach the caller, and SIGTERM drains requests.

These start and stop their own processes, so they run only locally (see conftest.local_only).
"""

from __future__ import annotations

import json
import signal
import subprocess
import threading
from collections.abc import Callable, Iterator

import httpx
import pytest
from moto.server import ThreadedMotoServer

from tests.contract.conftest import (
    JWKS_PARAMETER,
    auth_secret,
    aws_client,
    create_messaging,
    local_only,
    local_token,
    service_config,
)
from tests.contract.processes import DelayingProxy, ServiceProcess, free_port, wait_for_health

pytestmark = local_only

# After SIGTERM, ECS kills the container once its StopTimeout (pipeline/service.yaml) is up.
STOP_TIMEOUT_SECONDS = 10


@pytest.fixture
def own_moto() -> Iterator[tuple[ThreadedMotoServer, str]]:
    """A moto server this test may stop without disturbing the session's services."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield server, f"http://{host}:{port}"
    finally:
        server.stop()


def test_api_service_health_turns_503_when_its_key_source_stops(
    start_service: Callable[..., ServiceProcess],
) -> None:
    # GIVEN api-service reading auth-service's JWKS over HTTP, trusting it for one second
    auth = start_service(
        "auth-service", SERVICE_CONFIG=service_config("auth-service"), SERVICE_SECRET=auth_secret()
    )
    api = start_service(
        "api-service",
        SERVICE_CONFIG=service_config(
            "api-service", jwks_cache_seconds=1, jwks_min_refresh_seconds=0
        ),
        AUTH_JWKS_URL=f"{auth.url}/.well-known/jwks.json",
    )
    wait_for_health(auth.url, 200)
    wait_for_health(api.url, 200)

    # WHEN
    auth.stop()

    # THEN
    body = json.loads(wait_for_health(api.url, 503))
    assert body["checks"] == {"signing_keys": "failing"}


def test_notification_service_fails_loudly_when_sns_is_unreachable(
    start_service: Callable[..., ServiceProcess], own_moto: tuple[ThreadedMotoServer, str]
) -> None:
    # GIVEN
    server, endpoint = own_moto
    topic_arn, _ = create_messaging(endpoint)
    token = local_token(endpoint)
    notification = start_service(
        "notification-service",
        SERVICE_CONFIG=service_config(
            "notification-service",
            topic_arn=topic_arn,
            health_check_seconds=0,
            jwks_parameter=JWKS_PARAMETER,
        ),
        AWS_ENDPOINT_URL=endpoint,
    )
    wait_for_health(notification.url, 200)

    # WHEN
    server.stop()

    # THEN the health check and a sender both hear about it
    body = json.loads(wait_for_health(notification.url, 503))
    assert body["checks"] == {"topic": "failing", "signing_keys": "ok"}
    response = httpx.post(
        f"{notification.url}/notifications",
        json={"message": "lost?"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert response.status_code == 503
    assert response.json()["error"] == "topic_unreachable"


def test_auth_service_is_unhealthy_until_its_key_set_is_published(
    start_service: Callable[..., ServiceProcess],
) -> None:
    # GIVEN an SSM endpoint that is not up yet
    port = free_port()
    auth = start_service(
        "auth-service",
        SERVICE_CONFIG=service_config("auth-service", jwks_parameter="/pipeline/test/late/jwks"),
        SERVICE_SECRET=auth_secret(),
        AWS_ENDPOINT_URL=f"http://127.0.0.1:{port}",
    )
    wait_for_health(auth.url, 503)

    # WHEN SSM comes up
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        # THEN the background retry publishes and health recovers
        wait_for_health(auth.url, 200, deadline=60)
        published = aws_client("ssm", f"http://127.0.0.1:{port}").get_parameter(
            Name="/pipeline/test/late/jwks"
        )
    finally:
        server.stop()
    assert json.loads(published["Parameter"]["Value"])["keys"]


def test_a_publish_sns_answers_too_late_is_a_504_and_was_in_fact_published(
    start_service: Callable[..., ServiceProcess], own_moto: tuple[ThreadedMotoServer, str]
) -> None:
    # GIVEN a path to SNS that holds each publish longer than the service's 3 s read timeout
    _, endpoint = own_moto
    topic_arn, queue_url = create_messaging(endpoint)
    token = local_token(endpoint)
    with DelayingProxy(endpoint) as proxy:
        notification = start_service(
            "notification-service",
            SERVICE_CONFIG=service_config(
                "notification-service", topic_arn=topic_arn, jwks_parameter=JWKS_PARAMETER
            ),
            AWS_ENDPOINT_URL=proxy.url,
        )
        wait_for_health(notification.url, 200)
        proxy.delay = 4.0

        # WHEN
        response = httpx.post(
            f"{notification.url}/notifications",
            json={"message": "late"},
            headers={"X-Request-ID": "late-publish-1", "Authorization": f"Bearer {token}"},
            timeout=30,
        )
        messages = aws_client("sqs", endpoint).receive_message(
            QueueUrl=queue_url, MessageAttributeNames=["All"], WaitTimeSeconds=10
        )["Messages"]

    # THEN the caller heard "may have been published" and the id that lets it find out
    assert response.status_code == 504
    assert response.json()["error"] == "outcome_unknown"
    assert "late-publish-1" in response.json()["message"]
    envelope = json.loads(messages[0]["Body"])
    assert envelope["MessageAttributes"]["request_id"]["Value"] == "late-publish-1"


def test_sigterm_lets_an_in_flight_request_finish_before_exit(
    start_service: Callable[..., ServiceProcess], own_moto: tuple[ThreadedMotoServer, str]
) -> None:
    # GIVEN a publish held in flight by a slow path to SNS
    _, endpoint = own_moto
    topic_arn, _ = create_messaging(endpoint)
    token = local_token(endpoint)
    with DelayingProxy(endpoint) as proxy:
        notification = start_service(
            "notification-service",
            SERVICE_CONFIG=service_config(
                "notification-service", topic_arn=topic_arn, jwks_parameter=JWKS_PARAMETER
            ),
            AWS_ENDPOINT_URL=proxy.url,
        )
        wait_for_health(notification.url, 200)
        proxy.delay = 2.0
        replies: list[httpx.Response] = []
        sender = threading.Thread(
            target=lambda: replies.append(
                httpx.post(
                    f"{notification.url}/notifications",
                    json={"message": "drain me"},
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=30,
                )
            )
        )
        sender.start()
        assert proxy.request_arrived.wait(timeout=10), "the publish never reached SNS"

        # WHEN ECS stops the task
        notification.signal(signal.SIGTERM)

        # THEN the request completes and the process exits cleanly before ECS would kill it
        sender.join(timeout=STOP_TIMEOUT_SECONDS)
        assert notification.process is not None
        try:
            exit_code = notification.process.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            pytest.fail("the service did not exit within the StopTimeout")
    assert [reply.status_code for reply in replies] == [202]
    # uvicorn finishes its graceful shutdown, then re-raises the signal it caught.
    assert exit_code in {0, -signal.SIGTERM}
    assert '"Shutting down"' in notification.logs()
