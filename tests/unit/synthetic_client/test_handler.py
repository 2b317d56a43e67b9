"""The Lambda end to end: a scheduled event in, checks over HTTP against local stand-ins of the
three services, AWS reads against moto, and the EMF records the alarms read. Attacks through the
event are in test_forged_invocations.py."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import pytest
from moto import mock_aws
from synthetic_client.aws import default_gateway
from synthetic_client.config import ConfigurationError
from synthetic_client.handler import lambda_handler

from tests.support import load_event, serving
from tests.unit.synthetic_client.fakes import (
    FakeContext,
    FakeLoadBalancer,
    configure,
    emf_metrics,
    fake_load_balancer,
)

SERVICE_BY_PORT: dict[int, str] = {}
ITEMS_WORK_ON: set[int] = set()  # ports whose GET /items works (a good release)


class Service(BaseHTTPRequestHandler):
    """One of the three services, by the port it listens on; items are broken on purpose
    unless the port is a good release's."""

    def do_GET(self) -> None:
        port = self.server.server_address[1]
        service = SERVICE_BY_PORT[port]
        if self.path == "/health":
            self._json(200, {"status": "ok", "service": service})
        elif self.path == "/items" and port in ITEMS_WORK_ON:
            self._json(200, {"items": []})
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


@contextlib.contextmanager
def three_services(*, items_work: bool) -> Iterator[dict[str, str]]:
    urls = {}
    with contextlib.ExitStack() as servers:
        for service in ("api-service", "auth-service", "notification-service"):
            server = servers.enter_context(serving(ThreadingHTTPServer(("127.0.0.1", 0), Service)))
            port = server.server_address[1]
            SERVICE_BY_PORT[port] = service
            if items_work:
                ITEMS_WORK_ON.add(port)
            urls[service] = f"http://127.0.0.1:{port}"
        yield urls


@pytest.fixture
def endpoints() -> Iterator[dict[str, str]]:
    with three_services(items_work=False) as urls:
        yield urls


@dataclass(frozen=True)
class Aws:
    secret_arn: str
    load_balancer: FakeLoadBalancer


@pytest.fixture
def aws() -> Iterator[Aws]:
    """moto with the staging secret, service configurations and load balancer."""
    with mock_aws():
        default_gateway.cache_clear()
        arn = boto3.client("secretsmanager").create_secret(
            Name="synthetic-client-staging-dev",
            SecretString=json.dumps({"client_id": "synthetic-client", "client_secret": "abc"}),
        )["ARN"]
        for service in ("api-service", "auth-service", "notification-service"):
            boto3.client("ssm").put_parameter(
                Name=f"/pipeline/staging/{service}/config",
                Type="String",
                Value=json.dumps({"smoke_paths": ["/health"]}),
            )
        yield Aws(arn, fake_load_balancer())
        default_gateway.cache_clear()


SCHEDULED = load_event("synthetic_client_scheduled.json")


def test_a_run_publishes_each_services_verdict_and_the_heartbeat(
    aws: Aws,
    endpoints: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # GIVEN the staging function, where api-service answers /health but breaks GET /items
    configure(monkeypatch, "staging", aws.secret_arn, endpoints, load_balancer=aws.load_balancer)

    # WHEN the scheduled run happens
    result = lambda_handler(SCHEDULED, FakeContext())

    # THEN api-service failed on its flow step, the others passed, and the metrics say so
    outcomes = {service: r["outcome"] for service, r in result["results"]["live"].items()}
    assert outcomes == {
        "api-service": "failed",
        "auth-service": "passed",
        "notification-service": "passed",
    }
    success = {
        m["dimensions"]["Service"]: m["value"]
        for m in emf_metrics(capsys.readouterr().out)
        if m["name"] == "SyntheticSuccess" and m["dimensions"]["Route"] == "live"
    }
    assert success == {"api-service": 0, "auth-service": 1, "notification-service": 1}


def test_the_heartbeat_is_published_once_per_completed_run(
    aws: Aws,
    endpoints: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure(monkeypatch, "staging", aws.secret_arn, endpoints, load_balancer=aws.load_balancer)
    lambda_handler(SCHEDULED, FakeContext())
    runs = [m for m in emf_metrics(capsys.readouterr().out) if m["name"] == "SyntheticRuns"]
    assert runs == [{"name": "SyntheticRuns", "value": 1, "dimensions": {"Environment": "staging"}}]


def test_a_function_without_its_configuration_fails_and_publishes_nothing(
    aws: Aws,
    endpoints: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # GIVEN a function whose endpoint variable for auth-service is missing
    configure(monkeypatch, "staging", aws.secret_arn, endpoints, load_balancer=aws.load_balancer)
    monkeypatch.delenv("AUTH_SERVICE_ENDPOINT")
    # WHEN it is invoked, THEN it fails naming the variable, before any request or metric
    with pytest.raises(ConfigurationError, match="AUTH_SERVICE_ENDPOINT"):
        lambda_handler(SCHEDULED, FakeContext())
    assert emf_metrics(capsys.readouterr().out) == []


def test_during_a_deployment_each_route_is_judged_and_published_on_its_own(
    aws: Aws, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a canary: the production listeners still serve the good release, while the test
    # listeners serve a replacement whose GET /items is broken
    with (
        three_services(items_work=True) as live,
        three_services(items_work=False) as replacement,
    ):
        configure(
            monkeypatch,
            "staging",
            aws.secret_arn,
            live,
            load_balancer=aws.load_balancer,
            test_endpoints=replacement,
        )

        # WHEN the scheduled run happens
        result = lambda_handler(SCHEDULED, FakeContext())

    # THEN the live route passed, the replacement's api-service failed, and the metrics carry
    # the route, so an alarm can read the replacement task set alone
    assert result["results"]["live"]["api-service"]["outcome"] == "passed"
    assert result["results"]["replacement"]["api-service"]["outcome"] == "failed"
    success = {
        (m["dimensions"]["Route"], m["dimensions"]["Service"]): m["value"]
        for m in emf_metrics(capsys.readouterr().out)
        if m["name"] == "SyntheticSuccess"
    }
    assert success == {
        ("live", "api-service"): 1,
        ("live", "auth-service"): 1,
        ("live", "notification-service"): 1,
        ("replacement", "api-service"): 0,
        ("replacement", "auth-service"): 1,
        ("replacement", "notification-service"): 1,
    }


def test_both_routes_and_the_heartbeat_of_a_run_carry_the_runs_start_as_their_time(
    aws: Aws,
    endpoints: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # GIVEN a run whose routes take a while (the replacement alarm compares the two routes'
    # verdicts minute by minute: stamped when printed, a run straddling a minute's end would set
    # one run's live verdict against the next one's replacement verdict)
    configure(monkeypatch, "staging", aws.secret_arn, endpoints, load_balancer=aws.load_balancer)
    before = int(time.time() * 1000)

    # WHEN the scheduled run happens
    lambda_handler(SCHEDULED, FakeContext())

    # THEN every datapoint of the run has one and the same timestamp, taken when it began
    stamps = {
        json.loads(line)["_aws"]["Timestamp"]
        for line in capsys.readouterr().out.splitlines()
        if line.startswith("{") and "CloudWatchMetrics" in line
    }
    (stamp,) = stamps
    assert before - 1000 <= stamp <= int(time.time() * 1000)
