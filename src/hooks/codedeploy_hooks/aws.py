"""The only module that creates AWS clients: each is built once per execution environment."""

from __future__ import annotations

from functools import lru_cache
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
_READS = Config(
    connect_timeout=2,
    read_timeout=5,
    retries={"mode": "standard", "total_max_attempts": 3},
)
# The status call is the one that must get through (without it CodeDeploy waits an hour), so it
# keeps its own client; its worst case (3 attempts x 6 s plus at most 1 + 2 s of backoff, 21 s)
# fits inside settings.SAFETY_MARGIN_SECONDS (tests/reliability/test_hook_faults.py).
_STATUS = Config(
    connect_timeout=2,
    read_timeout=4,
    retries={"mode": "standard", "total_max_attempts": 3},
)


def _obeying_deadlines(client: ClientT) -> ClientT:
    """The checks' reads stop at their check's deadline or cancellation (the status call does not:
    it is made after the deadline, from the handler's own thread)."""
    client.meta.events.register_first("before-send", refuse_calls_past_deadline)
    return client


@lru_cache(maxsize=1)
def codedeploy() -> CodeDeployClient:
    return _obeying_deadlines(boto3.client("codedeploy", config=_READS))


@lru_cache(maxsize=1)
def codedeploy_status() -> CodeDeployClient:
    """A separate client for PutLifecycleEventHookExecutionStatus, with its own retry budget."""
    return boto3.client("codedeploy", config=_STATUS)


@lru_cache(maxsize=1)
def elbv2() -> ElasticLoadBalancingv2Client:
    return _obeying_deadlines(boto3.client("elbv2", config=_READS))


@lru_cache(maxsize=1)
def ec2() -> EC2Client:
    return _obeying_deadlines(boto3.client("ec2", config=_READS))


@lru_cache(maxsize=1)
def ssm() -> SSMClient:
    return _obeying_deadlines(boto3.client("ssm", config=_READS))


@lru_cache(maxsize=1)
def cloudwatch() -> CloudWatchClient:
    return _obeying_deadlines(boto3.client("cloudwatch", config=_READS))


def clear_cache() -> None:
    """Forget every client (tests that switch between moto and stubs between cases)."""
    for factory in (codedeploy, codedeploy_status, elbv2, ec2, ssm, cloudwatch):
        factory.cache_clear()
