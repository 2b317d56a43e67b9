"""A scripted HTTP client for the synthetic client's run: answers by (method, URL path)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from synthetic_client.config import (
    ENVIRONMENT_VARIABLE,
    LOAD_BALANCER_VARIABLE,
    SECRET_VARIABLE,
    endpoint_variable,
)
from synthetic_client.run import Credentials, Reply, Route

ENDPOINTS = {
    "api-service": "http://alb.example:8180",
    "auth-service": "http://alb.example:8181",
    "notification-service": "http://alb.example:8182",
}
HTTPS_ENDPOINTS = {
    service: url.replace("http://", "https://") for service, url in ENDPOINTS.items()
}
CREDENTIALS = Credentials("synthetic-client", "s3cret")
BOOTSTRAP_BODY = (
    b"\n\nHostname: ip-10-0-1-2\n\nPod Information:\n\t-no pod information available-\n\n"
    b"Server values:\n\tserver_version=nginx: 1.13.3 - lua: 10008\n\n"
    b"Request Information:\n\tclient_address=10.0.0.5\n\tmethod=GET\n"
)


def json_reply(status: int, body: Any, seconds: float = 0.01) -> Reply:
    return Reply(status, json.dumps(body).encode(), seconds)


def healthy(service: str) -> Reply:
    return json_reply(200, {"status": "ok", "service": service, "version": "v1", "checks": {}})


@dataclass
class FakeHttp:
    """Every service healthy and the flow working, unless a reply is overridden."""

    overrides: dict[tuple[str, str, str], Reply] = field(default_factory=dict)
    endpoints: Mapping[str, str] = field(default_factory=lambda: dict(ENDPOINTS))
    calls: list[tuple[str, str, dict[str, str], Any]] = field(default_factory=list)

    def reply(self, service: str, method: str, path: str, reply: Reply) -> FakeHttp:
        self.overrides[(service, method, path)] = reply
        return self

    def bootstrap(self, service: str) -> FakeHttp:
        return self.reply(service, "GET", "/health", Reply(200, BOOTSTRAP_BODY, 0.01))

    def __call__(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None
    ) -> Reply:
        parts = urlsplit(url)
        service = next(s for s, base in self.endpoints.items() if url.startswith(base))
        self.calls.append((method, url, dict(headers), json.loads(body) if body else None))
        override = self.overrides.get((service, method, parts.path))
        if override is not None:
            return override
        if parts.path == "/health":
            return healthy(service)
        return self.default(service, method, parts.path, headers)

    @staticmethod
    def default(service: str, method: str, path: str, headers: Mapping[str, str]) -> Reply:
        if (service, method, path) == ("auth-service", "POST", "/token"):
            return json_reply(200, {"access_token": "tok", "token_type": "Bearer"})
        if (service, method, path) == ("api-service", "GET", "/items"):
            ok = headers.get("Authorization") == "Bearer tok"
            return json_reply(200, {"items": []}) if ok else json_reply(401, {"error": "x"})
        if (service, method, path) == ("notification-service", "POST", "/notifications"):
            if headers.get("Authorization") != "Bearer tok":
                return json_reply(401, {"error": "missing_token"})
            return json_reply(202, {"message_id": "m-1", "status": "published"})
        if method == "GET":
            return json_reply(200, {})
        return json_reply(404, {"error": "not_found"})


@dataclass
class FakeContext:
    function_name: str = "synthetic-client-staging-dev"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = (
        "arn:aws:lambda:us-east-1:123456789012:function:synthetic-client-staging-dev"
    )
    aws_request_id: str = "req-1"


@dataclass(frozen=True)
class FakeLoadBalancer:
    arn: str
    dns_name: str

    def url(self, local_url: str) -> str:
        """http://127.0.0.1:port -> http://<its DNS name>:port: a listener of this load
        balancer, whose private address (moto's interface) is 127.0.0.1."""
        return local_url.replace("127.0.0.1", self.dns_name)


def fake_load_balancer() -> FakeLoadBalancer:
    """Inside mock_aws: an application load balancer whose network interface, described as ELB
    describes its own, has the private address 127.0.0.1, where the tests' services listen."""
    ec2, elbv2 = boto3.client("ec2"), boto3.client("elbv2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{n}.0/24", AvailabilityZone=f"us-east-1{z}")[
            "Subnet"
        ]["SubnetId"]
        for n, z in ((0, "a"), (1, "b"))
    ]
    balancer = elbv2.create_load_balancer(Name="microservices-dev", Subnets=subnets)[
        "LoadBalancers"
    ][0]
    arn = balancer["LoadBalancerArn"]
    ec2.create_network_interface(
        SubnetId=subnets[0],
        PrivateIpAddress="127.0.0.1",
        Description="ELB " + arn.partition(":loadbalancer/")[2],
    )
    return FakeLoadBalancer(arn, balancer["DNSName"])


def configure(
    monkeypatch: pytest.MonkeyPatch,
    environment: str,
    secret_arn: str,
    endpoints: Mapping[str, str],
    *,
    load_balancer: FakeLoadBalancer,
    test_endpoints: Mapping[str, str] | None = None,
) -> None:
    """The variables template.yaml gives the environment's synthetic client function; endpoints
    on 127.0.0.1 become the load balancer's listeners. Without `test_endpoints` the test
    listeners answer like the production ones, as outside a deployment."""
    monkeypatch.setenv(ENVIRONMENT_VARIABLE, environment)
    monkeypatch.setenv(SECRET_VARIABLE, secret_arn)
    monkeypatch.setenv(LOAD_BALANCER_VARIABLE, load_balancer.arn)
    routes = {Route.LIVE: endpoints, Route.REPLACEMENT: test_endpoints or endpoints}
    for route, urls in routes.items():
        for service, url in urls.items():
            monkeypatch.setenv(endpoint_variable(service, route), load_balancer.url(url))


def emf_metrics(output: str) -> list[dict[str, Any]]:
    """{name, value, dimensions} of each EMF record in captured output (other lines skipped)."""
    found = []
    for line in output.splitlines():
        record = json.loads(line)
        if "_aws" not in record:
            continue
        (directive,) = record["_aws"]["CloudWatchMetrics"]
        (metric,) = directive["Metrics"]
        value = record[metric["Name"]]
        (value,) = value if isinstance(value, list) else [value]
        dims = {name: record[name] for name in directive["Dimensions"][0]}
        found.append({"name": metric["Name"], "value": value, "dimensions": dims})
    return found
