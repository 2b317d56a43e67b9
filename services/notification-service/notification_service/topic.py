"""The SNS topic: publishing, and a cached reachability check for /health."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    HTTPClientError,
    ProxyConnectionError,
    SSLError,
)

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient

logger = logging.getLogger(__name__)

# Failures while opening the connection: the request was never sent.
_NOT_SENT = (EndpointConnectionError, ConnectTimeoutError, ProxyConnectionError, SSLError)


class PublishFailed(Exception):
    """SNS refused the message (permissions, missing topic, throttling): it was not published."""


class TopicUnreachable(Exception):
    """SNS could not be reached at all, so the message was not published; retry later."""


class PublishOutcomeUnknown(Exception):
    """The request was sent but no answer came (read timeout, connection dropped): SNS may
    have published the message, so neither "published" nor "not published" would be true."""


class Topic:
    def __init__(
        self,
        sns: SNSClient,
        topic_arn: str | None,
        check_every: float,
        clock: Callable[[], float] = time.monotonic,
        probe_sns: SNSClient | None = None,
    ) -> None:
        self._sns = sns
        self._probe_sns = probe_sns or sns
        self._topic_arn = topic_arn
        self._check_every = check_every
        self._clock = clock
        self._reachable = False
        self._checked_at: float | None = None
        self._lock = asyncio.Lock()

    def publish(self, message: str, subject: str | None, request_id: str | None) -> str:
        """Return SNS's message id; raise rather than return when the message was not taken."""
        if self._topic_arn is None:
            raise PublishFailed("topic_arn is not configured")
        request: dict[str, Any] = {"TopicArn": self._topic_arn, "Message": message}
        if subject:
            request["Subject"] = subject
        if request_id:
            # Subscribers can tie what they receive to the request that sent it.
            request["MessageAttributes"] = {
                "request_id": {"DataType": "String", "StringValue": request_id}
            }
        # One attempt only (the client is made with retry=False): a retry after the request
        # was sent could publish the message twice.
        try:
            response = self._sns.publish(**request)
        except _NOT_SENT as error:
            raise TopicUnreachable(type(error).__name__) from None
        except HTTPClientError as error:
            logger.warning("publish outcome unknown", extra={"error": type(error).__name__})
            raise PublishOutcomeUnknown(type(error).__name__) from None
        except (BotoCoreError, ClientError) as error:
            raise PublishFailed(type(error).__name__) from None
        return str(response["MessageId"])

    def _probe(self) -> bool:
        if self._topic_arn is None:
            logger.error("topic_arn is missing from SERVICE_CONFIG")
            return False
        try:
            self._probe_sns.get_topic_attributes(TopicArn=self._topic_arn)
        except (BotoCoreError, ClientError) as error:
            logger.warning("topic check failed", extra={"error": type(error).__name__})
            return False
        return True

    async def reachable(self) -> bool:
        """The last check's answer, re-checked at most once per `check_every` seconds."""
        if self._checked_at is not None and self._clock() - self._checked_at < self._check_every:
            return self._reachable
        async with self._lock:
            if self._checked_at is None or self._clock() - self._checked_at >= self._check_every:
                self._reachable = await asyncio.to_thread(self._probe)
                self._checked_at = self._clock()
        return self._reachable
