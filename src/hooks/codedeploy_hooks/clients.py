"""The only module that creates AWS clients, with the hooks' retries and timeouts.

Clients are created on first use (never at import) and then reused by every invocation of the
execution environment; `default_clients()` holds the Lambda's own set.
"""

from __future__ import annotations

from functools import cache, cached_property
from typing import TYPE_CHECKING, TypeVar

import boto3
from botocore.client import BaseClient
from botocore.config import Config

from codedeploy_hooks.deadline import refuse_calls_past_deadline

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_codedeploy import CodeDeployClient
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_elbv2 import ElasticLoadBalancingv2Client
    from mypy_boto3_ssm import SSMClient

ClientT = TypeVar("ClientT", bound=BaseClient)

# Reads fail fast so that a stuck endpoint costs seconds of the hook's budget, not minutes; the
# check that made the read then reports Failed, which CodeDeploy turns into a rollback.
# total_max_attempts counts the first attempt; botocore's `max_attempts` would count retries
# only (3 meaning 4 attempts).
READS = Config(
    connect_timeout=2,
    read_timeout=5,
    retries={"mode": "standard", "total_max_attempts": 3},
)
# The status call is the one that must get through (without it CodeDeploy waits an hour), so it
# keeps its own client; its worst case (3 attempts x 6 s plus at most 1 + 2 s of backoff, 21 s)
# fits inside runner.SAFETY_MARGIN_SECONDS (tests/reliability/test_hook_faults.py).
STATUS = Config(
    connect_timeout=2,
    read_timeout=4,
    retries={"mode": "standard", "total_max_attempts": 3},
)


class AwsClients:
    """The hooks' clients of one boto3 session. The checks' reads stop at their check's deadline
    or cancellation; the status client does not (it reports after the deadline, from the
    handler's own thread)."""

    def __init__(self, session: boto3.Session | None = None) -> None:
        self._session = session or boto3.Session()

    @cached_property
    def codedeploy(self) -> CodeDeployClient:
        return self._reads(self._session.client("codedeploy", config=READS))

    @cached_property
    def codedeploy_status(self) -> CodeDeployClient:
        """PutLifecycleEventHookExecutionStatus, with its own retry budget."""
        return self._session.client("codedeploy", config=STATUS)

    @cached_property
    def elbv2(self) -> ElasticLoadBalancingv2Client:
        return self._reads(self._session.client("elbv2", config=READS))

    @cached_property
    def ec2(self) -> EC2Client:
        return self._reads(self._session.client("ec2", config=READS))

    @cached_property
    def ssm(self) -> SSMClient:
        return self._reads(self._session.client("ssm", config=READS))

    @cached_property
    def cloudwatch(self) -> CloudWatchClient:
        return self._reads(self._session.client("cloudwatch", config=READS))

    @staticmethod
    def _reads(client: ClientT) -> ClientT:
        client.meta.events.register_first("before-send", refuse_calls_past_deadline)
        return client


@cache
def default_clients() -> AwsClients:
    """The Lambda's clients: created on the first invocation, reused by the next ones."""
    return AwsClients()
