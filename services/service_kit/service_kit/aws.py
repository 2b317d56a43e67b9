"""The only place AWS clients are made: bounded timeouts so no request waits on AWS for long."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_ssm import SSMClient

# botocore's `max_attempts` counts retries (3 means 4 sends); `total_max_attempts` counts sends.

# Short timeouts and few retries: a caller (or a 5 s health check) should get an answer from
# this service well before the load balancer gives up on it. AWS_ENDPOINT_URL (moto in tests)
# is honoured by boto3 itself.
CLIENT_CONFIG = Config(
    connect_timeout=2,
    read_timeout=5,
    retries={"mode": "standard", "total_max_attempts": 3},
)

# For calls whose caller retries anyway (health probes, key-set refreshes) and that may sit on
# the path of a 5 s load-balancer health check: one quick attempt; failing is an answer too.
FAST_FAIL_CONFIG = Config(
    connect_timeout=1, read_timeout=2, retries={"mode": "standard", "total_max_attempts": 1}
)

# For calls that must not run twice (SNS Publish): a retry after a read timeout or a dropped
# connection re-sends a request AWS may already have carried out. One attempt, and connect plus
# read (5 s) end inside the 8 s SIGTERM grace period (service_kit.serve), so a request in flight
# at shutdown still gets its answer.
SINGLE_ATTEMPT_CONFIG = Config(
    connect_timeout=2, read_timeout=3, retries={"mode": "standard", "total_max_attempts": 1}
)


class AwsClients:
    """The clients the services use, named for their retry policy, each created on first use.
    An app factory makes one set (create_app runs once per process)."""

    def __init__(self, session: boto3.Session | None = None) -> None:
        self._session = session or boto3.Session()

    @cached_property
    def ssm(self) -> SSMClient:
        return self._session.client("ssm", config=CLIENT_CONFIG)

    @cached_property
    def ssm_fast_fail(self) -> SSMClient:
        return self._session.client("ssm", config=FAST_FAIL_CONFIG)

    @cached_property
    def sns_single_attempt(self) -> SNSClient:
        """For Publish: never repeated."""
        return self._session.client("sns", config=SINGLE_ATTEMPT_CONFIG)

    @cached_property
    def sns_fast_fail(self) -> SNSClient:
        return self._session.client("sns", config=FAST_FAIL_CONFIG)
