"""The three services wired together against moto's server, or the pipeline's running images.

Locally, moto's server and the services run as processes on 127.0.0.1. When the CONTRACT_*_URL
variables are set (the pipeline's test stage, after `docker compose up` of
services/docker-compose.yml) the same tests run against those endpoints instead.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from auth_service.config import AuthConfig
from auth_service.keys import KeyRing, issue_token
from moto.server import ThreadedMotoServer

from tests.contract.processes import FAKE_AWS_ENV, ServiceProcess, free_port, wait_for_health

ENVIRONMENT = "test"
TOPIC_NAME = "service-messages-test-contract"
JWKS_PARAMETER = f"/pipeline/{ENVIRONMENT}/auth-service/jwks"
# The same values are in services/docker-compose.yml; the secret is a test fixture, not a key.
CLIENT_ID = "contract-tests"
CLIENT_SECRET = "contract-tests-client-secret"  # pragma: allowlist secret
SIGNING_SEED = "contract-tests-signing-seed-not-a-real-one"
REMOTE_VARIABLES = (
    "CONTRACT_API_URL",
    "CONTRACT_AUTH_URL",
    "CONTRACT_NOTIFICATION_URL",
    "CONTRACT_AWS_ENDPOINT_URL",
)


def remote_mode() -> bool:
    return all(os.environ.get(name) for name in REMOTE_VARIABLES)


local_only = pytest.mark.skipif(
    remote_mode(), reason="stops and starts processes; the pipeline runs fixed containers"
)


def aws_client(service: str, endpoint: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=FAKE_AWS_ENV["AWS_REGION"],
        aws_access_key_id=FAKE_AWS_ENV["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_AWS_ENV["AWS_SECRET_ACCESS_KEY"],
    )


def auth_secret(signing_seed: str = SIGNING_SEED, previous: str | None = None) -> str:
    secret: dict[str, Any] = {
        "signing_seed": signing_seed,
        "clients": {CLIENT_ID: hashlib.sha256(CLIENT_SECRET.encode()).hexdigest()},
    }
    if previous:
        secret["previous_signing_seed"] = previous
    return json.dumps(secret)


def local_token(endpoint: str) -> str:
    """auth-service's key set published to the SSM at `endpoint`, as auth-service would, and a
    token it would issue: for tests that start notification-service without auth-service."""
    ring = KeyRing.from_seeds(SIGNING_SEED)
    aws_client("ssm", endpoint).put_parameter(
        Name=JWKS_PARAMETER, Value=json.dumps(ring.jwks()), Type="String", Overwrite=True
    )
    config = AuthConfig()
    return issue_token(
        ring,
        subject=CLIENT_ID,
        issuer=config.issuer,
        audience=config.audience,
        ttl_seconds=config.token_ttl_seconds,
        now=int(time.time()),
    )


def service_config(service: str, **extra: Any) -> str:
    return json.dumps(
        {"environment": ENVIRONMENT, "service": service, "log_level": "DEBUG", **extra}
    )


@dataclass(frozen=True)
class Deployment:
    api_url: str
    auth_url: str
    notification_url: str
    aws_endpoint: str
    queue_url: str
    topic_arn: str

    def aws(self, service: str) -> Any:
        return aws_client(service, self.aws_endpoint)


def create_messaging(endpoint: str) -> tuple[str, str]:
    """Topic, and a queue subscribed to it to read deliveries back (idempotent)."""
    sns, sqs = aws_client("sns", endpoint), aws_client("sqs", endpoint)
    topic_arn = sns.create_topic(Name=TOPIC_NAME)["TopicArn"]
    queue_url = sqs.create_queue(QueueName=f"{TOPIC_NAME}-reader")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    return topic_arn, queue_url


def configs_through_ssm(endpoint: str, configs: dict[str, str]) -> dict[str, str]:
    """Store each config as /pipeline/test/{service}/config and read it back, as ECS does."""
    ssm = aws_client("ssm", endpoint)
    injected = {}
    for service, value in configs.items():
        name = f"/pipeline/{ENVIRONMENT}/{service}/config"
        ssm.put_parameter(Name=name, Value=value, Type="String", Overwrite=True)
        injected[service] = ssm.get_parameter(Name=name)["Parameter"]["Value"]
    return injected


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    if remote_mode():
        yield os.environ["CONTRACT_AWS_ENDPOINT_URL"]
        return
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture(scope="session")
def start_service(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[..., ServiceProcess]]:
    """Start a service process; every one started is stopped when the session ends."""
    started: list[ServiceProcess] = []
    logs = tmp_path_factory.mktemp("service-logs")

    def start(service: str, **env: str) -> ServiceProcess:
        log_path = Path(logs) / f"{service}-{len(started)}.log"
        process = ServiceProcess(service, env, log_path)
        started.append(process)
        return process.start()

    try:
        yield start
    finally:
        for process in started:
            process.stop()


@pytest.fixture(scope="session")
def deployment(moto_endpoint: str, start_service: Callable[..., ServiceProcess]) -> Deployment:
    topic_arn, queue_url = create_messaging(moto_endpoint)
    if remote_mode():
        urls = [os.environ[name] for name in REMOTE_VARIABLES[:3]]
    else:
        configs = configs_through_ssm(
            moto_endpoint,
            {
                "auth-service": service_config("auth-service", jwks_parameter=JWKS_PARAMETER),
                # Re-read quickly while auth-service is still publishing its first key set.
                "api-service": service_config(
                    "api-service", jwks_parameter=JWKS_PARAMETER, jwks_min_refresh_seconds=0.5
                ),
                "notification-service": service_config(
                    "notification-service",
                    topic_arn=topic_arn,
                    jwks_parameter=JWKS_PARAMETER,
                    jwks_min_refresh_seconds=0.5,
                ),
            },
        )
        common = {"AWS_ENDPOINT_URL": moto_endpoint}
        auth = start_service(
            "auth-service",
            SERVICE_CONFIG=configs["auth-service"],
            SERVICE_SECRET=auth_secret(),
            **common,
        )
        api = start_service("api-service", SERVICE_CONFIG=configs["api-service"], **common)
        notification = start_service(
            "notification-service", SERVICE_CONFIG=configs["notification-service"], **common
        )
        urls = [api.url, auth.url, notification.url]
    # auth-service first: api-service and notification-service are healthy only once the key
    # set they read is published.
    for url in (urls[1], urls[0], urls[2]):
        wait_for_health(url, 200)
    return Deployment(urls[0], urls[1], urls[2], moto_endpoint, queue_url, topic_arn)
