"""notification-service's HTTP interface: thin handlers over notification_service.topic."""

# No `from __future__ import annotations` here: FastAPI must see the real `Caller` type, which
# is local to build_app and so cannot be resolved from a string annotation later.
import asyncio
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, FastAPI
from pydantic import BaseModel, Field
from service_kit.app import create_service_app
from service_kit.aws import AwsClients
from service_kit.bearer import bearer_guard, key_cache_for, key_source_for
from service_kit.config import Identity, load_config
from service_kit.errors import ServiceError
from service_kit.key_sources import KeySource
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
    sns: "SNSClient",
    key_source: KeySource,
    probe_sns: "SNSClient | None" = None,
) -> FastAPI:
    topic = Topic(sns, config.topic_arn, config.health_check_seconds, probe_sns=probe_sns)
    keys = key_cache_for(config, key_source)

    async def health_checks() -> dict[str, bool]:
        # A service that cannot verify tokens refuses every message: not healthy either.
        await keys.refresh_if_due()
        return {"topic": await topic.reachable(), "signing_keys": keys.is_fresh()}

    app = create_service_app(identity, config, health_checks)

    Caller = Annotated[str, Depends(bearer_guard(keys, config, realm="notification-service"))]

    # The listener is public in production: only holders of an auth-service token may publish
    # to the topic (each message costs, and subscribers act on it).
    @app.post("/notifications", status_code=202)
    async def notify(notification: Notification, _caller: Caller) -> dict[str, Any]:
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
    config = load_config(NotificationConfig)
    return build_app(
        config=config,
        identity=Identity.from_env("notification-service"),
        sns=clients.sns_single_attempt,
        key_source=key_source_for(config),
        probe_sns=clients.sns_fast_fail,
    )
