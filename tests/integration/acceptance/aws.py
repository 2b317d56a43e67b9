"""The one place the acceptance kit makes AWS clients: bounded retries and timeouts."""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

CONFIG = Config(retries={"mode": "adaptive", "max_attempts": 5}, connect_timeout=5, read_timeout=30)


@cache
def client(service: str, region: str | None = None) -> Any:
    """A client in `region`, or the environment's (AWS_REGION, AWS_PROFILE, samconfig's)."""
    return boto3.client(service, region_name=region, config=CONFIG)  # type: ignore[call-overload]
