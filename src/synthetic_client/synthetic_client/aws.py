"""The only module that creates AWS clients: the client's secret, the services' smoke paths and
the load balancer's private addresses."""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cached_property, lru_cache
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

from synthetic_client.run import Credentials
from synthetic_client.transport import LoadBalancerAddresses

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_elbv2 import ElasticLoadBalancingv2Client
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_ssm import SSMClient

# A run every minute must finish inside its 60 s timeout even when AWS is slow.
CLIENT_CONFIG = Config(
    connect_timeout=2, read_timeout=5, retries={"mode": "standard", "total_max_attempts": 3}
)


class ConfigError(ValueError):
    """A secret or a service configuration does not have the documented shape."""


class AwsGateway:
    def __init__(self, session: boto3.Session | None = None) -> None:
        self._session = session or boto3.Session()

    @cached_property
    def secrets(self) -> SecretsManagerClient:
        return self._session.client("secretsmanager", config=CLIENT_CONFIG)

    @cached_property
    def ssm(self) -> SSMClient:
        return self._session.client("ssm", config=CLIENT_CONFIG)

    @cached_property
    def ec2(self) -> EC2Client:
        return self._session.client("ec2", config=CLIENT_CONFIG)

    @cached_property
    def elbv2(self) -> ElasticLoadBalancingv2Client:
        return self._session.client("elbv2", config=CLIENT_CONFIG)

    def load_balancer_addresses(self, load_balancer_arn: str) -> LoadBalancerAddresses:
        """Its DNS name and the private addresses of the interfaces ELB describes as
        `ELB app/<name>/<id>` (one per subnet of the load balancer), as the smoke hook finds them
        (src/hooks/codedeploy_hooks/checks/network.py)."""
        balancers = self.elbv2.describe_load_balancers(LoadBalancerArns=[load_balancer_arn])
        if not balancers["LoadBalancers"]:
            raise ConfigError(f"load balancer {load_balancer_arn} not found")
        interfaces = self.ec2.describe_network_interfaces(
            Filters=[{"Name": "description", "Values": [interface_description(load_balancer_arn)]}]
        )["NetworkInterfaces"]
        addresses = tuple(
            sorted({i["PrivateIpAddress"] for i in interfaces if i.get("PrivateIpAddress")})
        )
        if not addresses:
            raise ConfigError(f"no private address found for {load_balancer_arn}")
        return LoadBalancerAddresses(balancers["LoadBalancers"][0]["DNSName"], addresses)

    def credentials(self, secret_id: str) -> Credentials:
        value = self.secrets.get_secret_value(SecretId=secret_id)["SecretString"]
        return parse_credentials(value)

    def smoke_paths(self, environment: str, services: Sequence[str]) -> dict[str, list[str]]:
        """`smoke_paths` of each service's /pipeline/{environment}/{service}/config."""
        names = {f"/pipeline/{environment}/{service}/config": service for service in services}
        reply = self.ssm.get_parameters(Names=list(names))
        if reply.get("InvalidParameters"):
            raise ConfigError(f"missing service configuration: {reply['InvalidParameters']}")
        return {
            names[parameter["Name"]]: parse_smoke_paths(parameter["Value"])
            for parameter in reply["Parameters"]
        }


def interface_description(load_balancer_arn: str) -> str:
    """arn:...:loadbalancer/app/<name>/<id> -> `ELB app/<name>/<id>`."""
    _, _, resource = load_balancer_arn.partition(":loadbalancer/")
    kind, _, rest = resource.partition("/")
    name, _, balancer_id = rest.partition("/")
    if kind != "app" or not name or not balancer_id or "/" in balancer_id:
        raise ConfigError(f"{load_balancer_arn!r} is not an application load balancer ARN")
    return f"ELB app/{name}/{balancer_id}"


def parse_credentials(secret_string: str) -> Credentials:
    try:
        value: Any = json.loads(secret_string)
        return Credentials(str(value["client_id"]), str(value["client_secret"]))
    except (ValueError, KeyError, TypeError):
        raise ConfigError("the secret must be JSON with client_id and client_secret") from None


def parse_smoke_paths(config: str) -> list[str]:
    try:
        paths: Any = json.loads(config).get("smoke_paths", [])
    except (ValueError, AttributeError):
        raise ConfigError("a service configuration is not a JSON object") from None
    if not isinstance(paths, list) or not all(
        isinstance(path, str) and path.startswith("/") for path in paths
    ):
        raise ConfigError(f"smoke_paths must be a list of paths, got {paths!r}")
    return paths


@lru_cache(maxsize=1)
def default_gateway() -> AwsGateway:
    """The Lambda's gateway: created once per container, reused by every invocation."""
    return AwsGateway()
