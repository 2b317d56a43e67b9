"""The Lambda end to end: a scheduled event in, checks over HTTP against local stand-ins of the
three services, AWS reads against moto, and the EMF records the alarms read."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest
from moto import mock_aws
from synthetic_client.aws import default_gateway
from synthetic_client.handler import lambda_handler
from synthetic_client.params import BadEvent

from tests.support import serving

SERVICE_BY_PORT: dict[int, str] = {}


@dataclass
class FakeContext:
    function_name: str = "synthetic-client-dev"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = (
        "arn:aws:lambda:us-east-1:123456789012:function:synthetic-client-dev"
    )
    aws_request_id: str = "req-1"


class Service(BaseHTTPRequestHandler):
    """One of the three services, by the port it listens on; items are broken on purpose."""

    def do_GET(self) -> None:
        service = SERVICE_BY_PORT[self.server.server_address[1]]
        if self.path == "/health":
            self._json(200, {"status": "ok", "service": service})
        elif self.path == "/items":
            self._json(500, {"error": "internal"})
        else:
            self._json(200, {})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        body = json.loads(self.rfile.read(length))
        if self.path == "/token":
            ok = body.get("client_secret") == "abc"
            self._json(200 if ok else 401, {"access_token": "tok"} if ok else {"error": "no"})
        else:
            self._json(202, {"message_id": "m-1"})

    def _json(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def endpoints() -> Iterator[dict[str, str]]:
    urls = {}
    with contextlib.ExitStack() as servers:
        for service in ("api-service", "auth-service", "notification-service"):
            server = servers.enter_context(serving(ThreadingHTTPServer(("127.0.0.1", 0), Service)))
            SERVICE_BY_PORT[server.server_address[1]] = service
            urls[service] = f"http://127.0.0.1:{server.server_address[1]}"
        yield urls


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        default_gateway.cache_clear()
        boto3.client("secretsmanager").create_secret(
            Name="synthetic-client-staging-dev",
            SecretString=json.dumps({"client_id": "synthetic-client", "client_secret": "abc"}),
        )
        for service in ("api-service", "auth-service", "notification-service"):
            boto3.client("ssm").put_parameter(
                Name=f"/pipeline/staging/{service}/config",
                Type="String",
                Value=json.dumps({"smoke_paths": ["/health"]}),
            )
        yield
        default_gateway.cache_clear()


def metrics(output: str) -> list[dict[str, Any]]:
    """(name, value, dimensions) of each EMF record in the captured output."""
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


def test_a_run_publishes_each_services_verdict_and_the_heartbeat(
    aws: None, endpoints: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN staging where api-service answers /health but breaks GET /items
    event = {
        "environment": "staging",
        "client_secret_id": "synthetic-client-staging-dev",
        "endpoints": endpoints,
    }

    # WHEN the scheduled run happens
    result = lambda_handler(event, FakeContext())

    # THEN api-service failed on its flow step, the others passed, and the metrics say so
    outcomes = {service: r["outcome"] for service, r in result["results"].items()}
    assert outcomes == {
        "api-service": "failed",
        "auth-service": "passed",
        "notification-service": "passed",
    }
    success = {
        m["dimensions"]["Service"]: m["value"]
        for m in metrics(capsys.readouterr().out)
        if m["name"] == "SyntheticSuccess"
    }
    assert success == {"api-service": 0, "auth-service": 1, "notification-service": 1}


def test_the_heartbeat_is_published_once_per_completed_run(
    aws: None, endpoints: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    event = {
        "environment": "staging",
        "client_secret_id": "synthetic-client-staging-dev",
        "endpoints": endpoints,
    }
    lambda_handler(event, FakeContext())
    runs = [m for m in metrics(capsys.readouterr().out) if m["name"] == "SyntheticRuns"]
    assert runs == [{"name": "SyntheticRuns", "value": 1, "dimensions": {"Environment": "staging"}}]


def test_a_bad_event_fails_the_invocation_and_publishes_nothing(
    aws: None, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(BadEvent):
        lambda_handler({"environment": "staging"}, FakeContext())
    assert metrics(capsys.readouterr().out) == []
