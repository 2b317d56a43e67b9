"""The client's AWS reads, against moto: its secret and the services' smoke paths."""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws
from synthetic_client.aws import AwsGateway, ConfigError
from synthetic_client.run import Credentials


@pytest.fixture
def gateway() -> Iterator[AwsGateway]:
    with mock_aws():
        yield AwsGateway(boto3.Session(region_name="us-east-1"))


def put_config(environment: str, service: str, config: dict[str, object]) -> None:
    boto3.client("ssm", region_name="us-east-1").put_parameter(
        Name=f"/pipeline/{environment}/{service}/config", Type="String", Value=json.dumps(config)
    )


def test_credentials_come_from_the_secret(gateway: AwsGateway) -> None:
    boto3.client("secretsmanager", region_name="us-east-1").create_secret(
        Name="synthetic-client-staging-dev",
        SecretString=json.dumps({"client_id": "synthetic-client", "client_secret": "abc"}),
    )
    assert gateway.credentials("synthetic-client-staging-dev") == Credentials(
        "synthetic-client", "abc"
    )


def test_a_secret_without_a_client_secret_is_a_config_error(gateway: AwsGateway) -> None:
    boto3.client("secretsmanager", region_name="us-east-1").create_secret(
        Name="s", SecretString=json.dumps({"client_id": "synthetic-client"})
    )
    with pytest.raises(ConfigError, match="client_id and client_secret"):
        gateway.credentials("s")


def test_smoke_paths_come_from_each_services_configuration(gateway: AwsGateway) -> None:
    put_config("staging", "auth-service", {"smoke_paths": ["/health", "/.well-known/jwks.json"]})
    put_config("staging", "api-service", {"smoke_paths": ["/health"]})
    paths = gateway.smoke_paths("staging", ["auth-service", "api-service"])
    assert paths == {
        "auth-service": ["/health", "/.well-known/jwks.json"],
        "api-service": ["/health"],
    }


def test_a_missing_configuration_fails_the_run(gateway: AwsGateway) -> None:
    put_config("staging", "api-service", {"smoke_paths": ["/health"]})
    with pytest.raises(ConfigError, match="notification-service"):
        gateway.smoke_paths("staging", ["api-service", "notification-service"])


def test_smoke_paths_that_are_not_paths_fail_the_run(gateway: AwsGateway) -> None:
    put_config("staging", "api-service", {"smoke_paths": "health"})
    with pytest.raises(ConfigError, match="smoke_paths"):
        gateway.smoke_paths("staging", ["api-service"])
