"""The only module that creates AWS clients, with the function's retries and timeouts.

Clients are created on first use (never at import) and then reused by every invocation of the
execution environment.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_codedeploy import CodeDeployClient
    from mypy_boto3_codepipeline import CodePipelineClient
    from mypy_boto3_ecs import ECSClient
    from mypy_boto3_sns import SNSClient

# Worst case per call: 4 attempts x (2 s connect + 5 s read) plus backoff, about 40 s, so even
# a check whose every call times out still reports its failure inside the 300 s timeout.
# Adaptive mode also slows down client-side when AWS throttles, instead of burning attempts.
CLIENT_CONFIG = Config(
    connect_timeout=2,
    read_timeout=5,
    retries={"mode": "adaptive", "total_max_attempts": 4},
)


class AwsClients:
    """The function's clients of one boto3 session (and endpoint, for the CLI against an
    emulator)."""

    def __init__(
        self,
        session: boto3.Session | None = None,
        endpoint_url: str | None = None,
        config: Config = CLIENT_CONFIG,
    ) -> None:
        self._session = session or boto3.Session()
        self._endpoint_url = endpoint_url
        self._config = config

    @cached_property
    def cloudwatch(self) -> CloudWatchClient:
        return self._session.client(
            "cloudwatch", endpoint_url=self._endpoint_url, config=self._config
        )

    @cached_property
    def ecs(self) -> ECSClient:
        return self._session.client("ecs", endpoint_url=self._endpoint_url, config=self._config)

    @cached_property
    def sns(self) -> SNSClient:
        return self._session.client("sns", endpoint_url=self._endpoint_url, config=self._config)

    @cached_property
    def codedeploy(self) -> CodeDeployClient:
        return self._session.client(
            "codedeploy", endpoint_url=self._endpoint_url, config=self._config
        )

    @cached_property
    def codepipeline(self) -> CodePipelineClient:
        return self._session.client(
            "codepipeline", endpoint_url=self._endpoint_url, config=self._config
        )
