"""The only module that creates AWS clients, with the function's retries and timeouts.

Clients are created on first use (never at import) and then reused by every invocation of the
execution environment.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar

import boto3
from botocore.client import BaseClient
from botocore.config import Config
from botocore.exceptions import BotoCoreError

if TYPE_CHECKING:
    from mypy_boto3_application_autoscaling import ApplicationAutoScalingClient
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_codedeploy import CodeDeployClient
    from mypy_boto3_codepipeline import CodePipelineClient
    from mypy_boto3_ecr import ECRClient
    from mypy_boto3_ecs import ECSClient
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_ssm import SSMClient

ClientT = TypeVar("ClientT", bound=BaseClient)

# Worst case per call: 4 attempts x (2 s connect + 5 s read) plus backoff, about 40 s, so even
# a check whose every call times out still reports its failure inside the 300 s timeout.
# Adaptive mode also slows down client-side when AWS throttles, instead of burning attempts.
CLIENT_CONFIG = Config(
    connect_timeout=2,
    read_timeout=5,
    retries={"mode": "adaptive", "total_max_attempts": 4},
)
# The job result is the call that must get through, after the reads have used their time: its
# own budget, worst case 3 attempts x (2 s + 4 s) plus at most 3 s of backoff (21 s), inside the
# REPORT_MARGIN_SECONDS the job keeps for it.
REPORT_CONFIG = Config(
    connect_timeout=2,
    read_timeout=4,
    retries={"mode": "standard", "total_max_attempts": 3},
)


class OutOfTimeError(BotoCoreError):
    """A call refused because the invocation's deadline has passed (no attempt is sent)."""

    fmt = "out of time: {operation} not sent before the function's deadline"


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
        # Set for the length of one invocation (job.run_job): every call but the job result is
        # refused once it has passed, so the result is always reported in time.
        self.out_of_time: Callable[[], bool] = lambda: False

    def _governed(self, client: ClientT) -> ClientT:
        client.meta.events.register_first("before-send", self._refuse_when_out_of_time)
        return client

    def _refuse_when_out_of_time(self, model: Any = None, **_: object) -> None:
        """botocore `before-send`: no attempt (first or retry) starts past the deadline."""
        if self.out_of_time():
            name = getattr(model, "name", "the call")
            raise OutOfTimeError(operation=name)

    @cached_property
    def autoscaling(self) -> ApplicationAutoScalingClient:
        return self._governed(
            self._session.client(
                "application-autoscaling", endpoint_url=self._endpoint_url, config=self._config
            )
        )

    @cached_property
    def cloudwatch(self) -> CloudWatchClient:
        return self._governed(
            self._session.client("cloudwatch", endpoint_url=self._endpoint_url, config=self._config)
        )

    @cached_property
    def ecs(self) -> ECSClient:
        return self._governed(
            self._session.client("ecs", endpoint_url=self._endpoint_url, config=self._config)
        )

    @cached_property
    def sns(self) -> SNSClient:
        return self._governed(
            self._session.client("sns", endpoint_url=self._endpoint_url, config=self._config)
        )

    @cached_property
    def ssm(self) -> SSMClient:
        return self._governed(
            self._session.client("ssm", endpoint_url=self._endpoint_url, config=self._config)
        )

    @cached_property
    def ecr(self) -> ECRClient:
        return self._governed(
            self._session.client("ecr", endpoint_url=self._endpoint_url, config=self._config)
        )

    @cached_property
    def codedeploy(self) -> CodeDeployClient:
        return self._governed(
            self._session.client("codedeploy", endpoint_url=self._endpoint_url, config=self._config)
        )

    @cached_property
    def codepipeline(self) -> CodePipelineClient:
        """The job result's client: never refused by the deadline, with its own retry budget."""
        return self._session.client(
            "codepipeline", endpoint_url=self._endpoint_url, config=REPORT_CONFIG
        )
