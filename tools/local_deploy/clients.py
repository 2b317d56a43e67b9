"""The one place that makes AWS clients for the local deployment, and only for a local endpoint.

Every client gets the emulator's endpoint and fixed fake credentials, so even a mistyped endpoint
cannot sign a request with someone's real credentials.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import boto3
from botocore.config import Config

REGION = "us-east-1"
# moto's default account: resources the emulator creates live in it.
ACCOUNT_ID = "123456789012"
FAKE_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})

# One attempt: the emulator is on this machine, and its 500s are deterministic (a model's bug or
# a template it cannot create): a retry only doubles the wait before the same error.
_CONFIG = Config(
    retries={"total_max_attempts": 1, "mode": "standard"}, connect_timeout=5, read_timeout=60
)


class NotLocalEndpointError(ValueError):
    """The tooling was pointed at something other than an emulator on this machine."""


def require_local_endpoint(endpoint_url: str | None) -> str:
    """The endpoint, if it is http(s) on a loopback address; refuses anything else."""
    if not endpoint_url:
        raise NotLocalEndpointError(
            "no local endpoint given: the local deployment only talks to an emulator on "
            "127.0.0.1 (use `make deploy ENV=<env>` for an AWS account)"
        )
    parts = urlsplit(endpoint_url)
    if parts.scheme not in {"http", "https"} or parts.hostname not in LOCAL_HOSTS:
        raise NotLocalEndpointError(
            f"{endpoint_url!r} is not a local endpoint: expected http://127.0.0.1:<port>"
        )
    return endpoint_url


def export_line(endpoint_url: str) -> str:
    """The shell line that points the AWS CLI (and any SDK) at the emulator."""
    return "export " + " ".join(
        f"{name}={value}" for name, value in local_environment(endpoint_url).items()
    )


def local_environment(endpoint_url: str) -> dict[str, str]:
    """Environment variables that point a child process's AWS SDK at the emulator only."""
    return {
        "AWS_ENDPOINT_URL": require_local_endpoint(endpoint_url),
        "AWS_ACCESS_KEY_ID": FAKE_CREDENTIALS["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": FAKE_CREDENTIALS["aws_secret_access_key"],
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
    }


def local_session() -> boto3.session.Session:
    """A session that can only sign with the fake credentials (creating it calls nothing)."""
    return boto3.session.Session(
        aws_access_key_id=FAKE_CREDENTIALS["aws_access_key_id"],
        aws_secret_access_key=FAKE_CREDENTIALS["aws_secret_access_key"],
        region_name=REGION,
    )


def local_client(service: str, endpoint_url: str) -> Any:
    return local_session().client(
        service,  # type: ignore[call-overload]
        endpoint_url=require_local_endpoint(endpoint_url),
        config=_CONFIG,
    )
