"""The only place AWS clients are made: bounded timeouts so no request waits on AWS for long."""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

# Short timeouts and few retries: a caller (or a 5 s health check) should get an answer from
# this service well before the load balancer gives up on it. AWS_ENDPOINT_URL (moto in tests)
# is honoured by boto3 itself.
CLIENT_CONFIG = Config(
    connect_timeout=2,
    read_timeout=5,
    retries={"mode": "standard", "max_attempts": 3},
)

# For calls whose caller retries anyway (health probes, key-set refreshes) and that may sit on
# the path of a 5 s load-balancer health check: one quick attempt; failing is an answer too.
FAST_FAIL_CONFIG = Config(
    connect_timeout=1, read_timeout=2, retries={"mode": "standard", "max_attempts": 1}
)


@cache
def client(service_name: str, fast_fail: bool = False) -> Any:
    config = FAST_FAIL_CONFIG if fast_fail else CLIENT_CONFIG
    return boto3.session.Session().client(service_name, config=config)  # type: ignore[call-overload]
