"""notification-service's HTTP interface: thin handlers over notification_service.topic."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from pydantic import BaseModel, Field
from service_kit.app import create_service_app
from service_kit.aws import AwsClients
from service_kit.config import Identity, load_config
from service_kit.errors import ServiceError
from service_kit.request_context import current_request_id

from notification_service.config import NotificationConfig
from notification_service.topic import (
    PublishFailed,
    PublishOutcomeUnknown,
    Topic,
    TopicUnreachable,
)

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient


class Notification(BaseModel):
    # SNS subjects: printable ASCII on one line, under 100 characters (e-mail subscribers).
    subject: str | None = Field(default=None, min_length=1, max_length=99, pattern=r"^[ -~]+$")
    # SNS caps a message at 256 KiB; characters are counted here, so leave room for UTF-8.
    message: str = Field(min_length=1, max_length=65_536)


def build_app(
    config: NotificationConfig,
    identity: Identity,
    sns: SNSClient,
    probe_sns: SNSClient | None = None,
) -> FastAPI:
    topic = Topic(sns, config.topic_arn, config.health_check_seconds, probe_sns=probe_sns)

    async def health_checks() -> dict[str, bool]:
        return {"topic": await topic.reachable()}

    app = create_service_app(identity, config, health_checks)

    @app.post("/notifications", status_code=202)
    async def notify(notification: Notification) -> dict[str, Any]:
        request_id = current_request_id()
        try:
            message_id = await asyncio.to_thread(
                topic.publish, notification.message, notification.subject, request_id
            )
        except TopicUnreachable:
            raise ServiceError(
                503, "topic_unreachable", "SNS cannot be reached; not published, retry later"
            ) from None
        except PublishFailed:
            raise ServiceError(
                502, "publish_failed", "SNS did not accept the message; not published"
            ) from None
        except PublishOutcomeUnknown:
            # A blind retry could deliver twice; subscribers see the id as the request_id
            # message attribute, so the caller can check for it or let them deduplicate.
            raise ServiceError(
                504,
                "outcome_unknown",
                "SNS did not answer in time; the message may have been published. Before "
                f"retrying, check for request_id {request_id} (the message attribute), or "
                "retry with the same X-Request-ID so subscribers can deduplicate.",
            ) from None
        return {"message_id": message_id, "status": "published"}

    return app


def create_app() -> FastAPI:
    """Factory uvicorn calls (service_kit.serve): reads the environment the task injects."""
    clients = AwsClients()
    return build_app(
        config=load_config(NotificationConfig),
        identity=Identity.from_env("notification-service"),
        sns=clients.sns_single_attempt,
        probe_sns=clients.sns_fast_fail,
    )
