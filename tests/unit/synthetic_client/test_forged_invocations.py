"""Attacks on the synthetic client by whoever can invoke it (issue 28, item 3), each with the
control that shows the scheduled run still works.

The function is configured for one environment by its own variables (endpoints, secret, name);
a caller's event must change none of it: an event naming an attacker's endpoints gets no secret,
and a forged event cannot publish a heartbeat or a verdict for the other environment. The
services and the attacker are HTTP servers on 127.0.0.1; Secrets Manager and SSM are moto.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest
from moto import mock_aws
from synthetic_client.aws import default_gateway
from synthetic_client.handler import lambda_handler

from tests.support import load_event, serving
from tests.unit.synthetic_client.fakes import (
    FakeContext,
    configure,
    emf_metrics,
    fake_load_balancer,
)

SERVICES = ("api-service", "auth-service", "notification-service")
STAGING_SECRET = "staging-client-secret"  # pragma: allowlist secret
PRODUCTION_SECRET = "production-client-secret"  # pragma: allowlist secret


@dataclass
class Recorder:
    """What one fake host was sent: (method, path, body) per request."""

    requests: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)

    def secrets_seen(self) -> list[str]:
        return [body["client_secret"] for _, _, body in self.requests if "client_secret" in body]


class HealthyService(BaseHTTPRequestHandler):
    """Any of the three services, healthy, answering as a good release does: what an attacker's
    server answers too, to fake a healthy heartbeat."""

    server: Host

    def do_GET(self) -> None:
        self.server.recorder.requests.append(("GET", self.path, {}))
        if self.path == "/health":
            self._json(200, {"status": "ok", "service": self.server.service})
        elif self.path == "/items":
            self._json(200, {"items": []})
        else:
            self._json(200, {})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        self.server.recorder.requests.append(("POST", self.path, body))
        if self.path == "/token":
            self._json(200, {"access_token": "tok"})  # pragma: allowlist secret
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


class Host(ThreadingHTTPServer):
    def __init__(self, service: str, recorder: Recorder) -> None:
        super().__init__(("127.0.0.1", 0), HealthyService)
        self.service = service
        self.recorder = recorder


@contextlib.contextmanager
def three_services(recorder: Recorder) -> Iterator[dict[str, str]]:
    """The three services on 127.0.0.1, each on its own port, all recording into `recorder`."""
    with contextlib.ExitStack() as stack:
        urls = {}
        for service in SERVICES:
            host = stack.enter_context(serving(Host(service, recorder)))
            urls[service] = f"http://127.0.0.1:{host.server_address[1]}"
        yield urls


@dataclass
class Deployment:
    """The staging function as its template configures it, with both environments' secrets."""

    staging: Recorder
    # Staging's test listeners (the replacement route): its own services too.
    staging_replacement: Recorder
    attacker: Recorder
    attacker_endpoints: dict[str, str]
    secret_arns: dict[str, str]


@pytest.fixture
def deployment(monkeypatch: pytest.MonkeyPatch) -> Iterator[Deployment]:
    staging, replacement, attacker = Recorder(), Recorder(), Recorder()
    with (
        mock_aws(),
        three_services(staging) as staging_endpoints,
        three_services(replacement) as replacement_endpoints,
        three_services(attacker) as attacker_endpoints,
    ):
        default_gateway.cache_clear()
        secrets = boto3.client("secretsmanager")
        arns = {
            environment: secrets.create_secret(
                Name=f"synthetic-client-{environment}-dev",
                SecretString=json.dumps({"client_id": "synthetic-client", "client_secret": value}),
            )["ARN"]
            for environment, value in (
                ("staging", STAGING_SECRET),
                ("production", PRODUCTION_SECRET),
            )
        }
        for environment in ("staging", "production"):
            for service in SERVICES:
                boto3.client("ssm").put_parameter(
                    Name=f"/pipeline/{environment}/{service}/config",
                    Type="String",
                    Value=json.dumps({"smoke_paths": ["/health"]}),
                )
        configure(
            monkeypatch,
            "staging",
            arns["staging"],
            staging_endpoints,
            load_balancer=fake_load_balancer(),
            test_endpoints=replacement_endpoints,
        )
        yield Deployment(staging, replacement, attacker, attacker_endpoints, arns)
        default_gateway.cache_clear()


def forged(deployment: Deployment, environment: str, secret: str) -> dict[str, Any]:
    """The event an attacker sends: their endpoints, the secret they want, an environment."""
    return {
        "environment": environment,
        "client_secret_id": deployment.secret_arns[secret],
        "endpoints": deployment.attacker_endpoints,
    }


def run(event: Any, capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    """Invoke the function with `event` (raising or not) and return the metrics it published."""
    with contextlib.suppress(Exception):
        lambda_handler(event, FakeContext())
    return emf_metrics(capsys.readouterr().out)


# ---------------------------------------------------------------- controls
def test_the_scheduled_run_sends_its_own_secret_to_its_own_auth_service(
    deployment: Deployment, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN EventBridge's scheduled event, which carries nothing the run needs
    event = load_event("synthetic_client_scheduled.json")

    # WHEN the schedule invokes the staging function
    published = run(event, capsys)

    # THEN staging's auth-service got staging's secret on each route (its production listener,
    # then its test listener), and every service passed in staging
    assert deployment.staging.secrets_seen() == [STAGING_SECRET]
    assert deployment.staging_replacement.secrets_seen() == [STAGING_SECRET]
    assert {(m["name"], m["value"]) for m in published} >= {("SyntheticRuns", 1)}
    success = {
        m["dimensions"]["Service"]: m["value"] for m in published if m["name"] == "SyntheticSuccess"
    }
    assert success == dict.fromkeys(SERVICES, 1)
    assert {m["dimensions"]["Environment"] for m in published} == {"staging"}


def test_the_scheduled_run_publishes_exactly_one_heartbeat_for_its_environment(
    deployment: Deployment, capsys: pytest.CaptureFixture[str]
) -> None:
    published = run(load_event("synthetic_client_scheduled.json"), capsys)
    beats = [m for m in published if m["name"] == "SyntheticRuns"]
    assert beats == [
        {"name": "SyntheticRuns", "value": 1, "dimensions": {"Environment": "staging"}}
    ]


# ---------------------------------------------------------------- attacks
@pytest.mark.parametrize("secret", ["staging", "production"])
def test_an_event_naming_an_attackers_endpoints_gets_them_no_secret(
    deployment: Deployment, capsys: pytest.CaptureFixture[str], secret: str
) -> None:
    # GIVEN an event that names the attacker's servers as the three services and a secret
    event = forged(deployment, "staging", secret)

    # WHEN someone who may invoke the function sends it
    run(event, capsys)

    # THEN the attacker's servers are never called, and the run went to staging's own services
    # with staging's own secret (never production's, whatever the event names)
    assert deployment.attacker.requests == []
    assert deployment.staging.secrets_seen() == [STAGING_SECRET]
    assert deployment.staging_replacement.secrets_seen() == [STAGING_SECRET]


def test_a_forged_event_cannot_publish_a_heartbeat_for_the_other_environment(
    deployment: Deployment, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN an event naming production, with the attacker's always-healthy servers as endpoints
    event = forged(deployment, "production", "production")

    # WHEN it is sent to the staging function
    published = run(event, capsys)

    # THEN nothing is published for production: no heartbeat, no verdict, no latency; the run
    # was staging's own, with its own heartbeat
    assert [m for m in published if m["dimensions"]["Environment"] != "staging"] == []
    assert deployment.attacker.requests == []
    assert [m["dimensions"] for m in published if m["name"] == "SyntheticRuns"] == [
        {"Environment": "staging"}
    ]


@pytest.mark.parametrize(
    "event",
    [
        None,
        "staging",
        [],
        {"environment": "production"},
        {"detail-type": "Scheduled Event", "detail": {"environment": "production"}},
    ],
    ids=["null", "string", "list", "environment-only", "nested"],
)
def test_whatever_the_event_the_run_is_the_configured_one(
    deployment: Deployment, capsys: pytest.CaptureFixture[str], event: Any
) -> None:
    # GIVEN any event at all, well-formed or not
    # WHEN the function is invoked with it
    published = run(event, capsys)

    # THEN it ran staging's checks with staging's secret, as the schedule's run does
    assert deployment.staging.secrets_seen() == [STAGING_SECRET]
    assert {m["dimensions"]["Environment"] for m in published} == {"staging"}
