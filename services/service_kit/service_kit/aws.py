"""The only place AWS clients are made: bounded timeouts so no request waits on AWS for long."""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

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


@cache
def client(service_name: str, fast_fail: bool = False, retry: bool = True) -> Any:
    """A client for `service_name`; `retry=False` for calls that must not be repeated."""
    if fast_fail:
        config = FAST_FAIL_CONFIG
    elif not retry:
        config = SINGLE_ATTEMPT_CONFIG
    else:
        config = CLIENT_CONFIG
    return boto3.session.Session().client(service_name, config=config)  # type: ignore[call-overload]
