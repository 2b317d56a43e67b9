"""What one run checks and how it judges each service: plain functions over an injected HTTP
client, so every decision is testable without a network or AWS."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from http import HTTPStatus
from typing import Any, Protocol
from urllib.parse import urlsplit

AUTH, API, NOTIFICATION = "auth-service", "api-service", "notification-service"
SERVICES = (API, AUTH, NOTIFICATION)

# Marks of the bootstrap image (registry.k8s.io echoserver, docs/runtime.md), which answers any
# path with a plain-text echo of the request. A service still on it has no release to judge, so
# the run publishes nothing for it rather than failing a service nobody has deployed yet.
BOOTSTRAP_MARKS = ("Request Information:", "server_version=nginx")


@dataclass(frozen=True)
class Reply:
    """One HTTP exchange as the run saw it; status None means no answer (refused, timeout)."""

    status: int | None
    body: bytes
    seconds: float
    error: str = ""

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            return None


class Http(Protocol):
    def __call__(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None
    ) -> Reply: ...


@dataclass(frozen=True)
class Credentials:
    """The synthetic client's auth-service credentials (its Secrets Manager secret)."""

    client_id: str
    client_secret: str = field(repr=False)


class Route(Enum):
    """Which listener a run's requests went through: the `Route` dimension of its metrics.

    LIVE is the production listener, what users get (during a canary, mostly the original task
    set). REPLACEMENT is the test listener: during a blue/green deployment CodeDeploy routes it
    to the replacement task set only, from before AfterAllowTestTraffic until the deployment
    ends, and otherwise it forwards to the live target group like the production listener
    (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/update-blue-green-deployment-v2.html,
    https://docs.aws.amazon.com/codedeploy/latest/userguide/reference-appspec-file-structure-hooks.html#appspec-hooks-ecs).
    So every run judges the new release on its own, however little production traffic it has.
    """

    LIVE = "live"
    REPLACEMENT = "replacement"


class Outcome(Enum):
    PASSED = "passed"
    FAILED = "failed"
    # Nothing to judge: still on the bootstrap image, or its flow step could not start.
    UNJUDGED = "unjudged"


@dataclass
class ServiceResult:
    service: str
    failures: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)
    bootstrap: bool = False
    slowest_seconds: float | None = None

    @property
    def outcome(self) -> Outcome:
        if self.failures:
            return Outcome.FAILED
        if self.bootstrap or self.blocked:
            return Outcome.UNJUDGED
        return Outcome.PASSED

    def saw(self, reply: Reply) -> Reply:
        if self.slowest_seconds is None or reply.seconds > self.slowest_seconds:
            self.slowest_seconds = reply.seconds
        return reply


def describe(reply: Reply) -> str:
    if reply.status is None:
        return f"no answer ({reply.error})"
    return f"HTTP {reply.status}: {reply.body[:200].decode('utf-8', 'replace')}"


def is_bootstrap(reply: Reply) -> bool:
    text = reply.body.decode("utf-8", "replace")
    return reply.status == HTTPStatus.OK and all(mark in text for mark in BOOTSTRAP_MARKS)


def check_health(http: Http, service: str, base_url: str, result: ServiceResult) -> None:
    reply = result.saw(http("GET", f"{base_url}/health", {}, None))
    if is_bootstrap(reply):
        result.bootstrap = True
        return
    body = reply.json()
    if reply.status != HTTPStatus.OK or not isinstance(body, dict) or body.get("status") != "ok":
        result.failures.append(f"GET /health: {describe(reply)}")
    elif body.get("service") != service:
        result.failures.append(f"GET /health names {body.get('service')!r}, not {service!r}")


def check_smoke_paths(
    http: Http, base_url: str, paths: Sequence[str], result: ServiceResult
) -> None:
    for path in paths:
        if path == "/health":
            continue  # checked with its body above
        reply = result.saw(http("GET", f"{base_url}{path}", {}, None))
        if reply.status != HTTPStatus.OK:
            result.failures.append(f"GET {path}: {describe(reply)}")


def get_token(
    http: Http, base_url: str, credentials: Credentials, result: ServiceResult
) -> str | None:
    request = {
        "grant_type": "client_credentials",
        "client_id": credentials.client_id,
        "client_secret": credentials.client_secret,
    }
    reply = result.saw(
        http(
            "POST",
            f"{base_url}/token",
            {"Content-Type": "application/json"},
            json.dumps(request).encode(),
        )
    )
    body = reply.json()
    token = body.get("access_token") if isinstance(body, dict) else None
    if reply.status != HTTPStatus.OK or not isinstance(token, str) or not token:
        result.failures.append(f"POST /token: {describe(reply)}")
        return None
    return token


def list_items(http: Http, base_url: str, token: str, result: ServiceResult) -> int | None:
    reply = result.saw(http("GET", f"{base_url}/items", {"Authorization": f"Bearer {token}"}, None))
    body = reply.json()
    items = body.get("items") if isinstance(body, dict) else None
    if reply.status != HTTPStatus.OK or not isinstance(items, list):
        result.failures.append(f"GET /items: {describe(reply)}")
        return None
    return len(items)


def notify(
    http: Http, base_url: str, token: str, summary: str, result: ServiceResult, *, request_id: str
) -> None:
    # Subject and request id both say "synthetic": subscribers of the production message topic
    # can filter these out (the request id travels as the request_id message attribute).
    payload = {"subject": "synthetic check", "message": summary}
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/json",
        "X-Request-ID": request_id,
    }
    reply = result.saw(
        http("POST", f"{base_url}/notifications", headers, json.dumps(payload).encode())
    )
    body = reply.json()
    published = isinstance(body, dict) and bool(body.get("message_id"))
    if reply.status != HTTPStatus.ACCEPTED or not published:
        result.failures.append(f"POST /notifications: {describe(reply)}")


def plain_http_refusal(
    environment: str, endpoints: Mapping[str, str], route: Route = Route.LIVE
) -> str | None:
    """Why the flow must not run, or None. Every step of the flow carries a credential (the
    client secret, then the bearer token), and production's listeners are public: there they go
    over HTTPS only. A stack that opted out of HTTPS (AllowPlainHttpProduction) still gets its
    health and smoke paths checked, and its heartbeat.

    The test listeners are plain HTTP by design in every stack (the smoke hook expects it) and
    are not public: only the hooks' and this client's security groups reach them, and the
    transport sends only to the configured load balancer's private addresses, so the request
    never leaves the VPC (docs/security.md, "The synthetic client's replacement route")."""
    if environment != "production" or route is Route.REPLACEMENT:
        return None
    plain = sorted(s for s, url in endpoints.items() if urlsplit(url).scheme != "https")
    if not plain:
        return None
    return f"production endpoints of {', '.join(plain)} are not https: no credential is sent"


def run_checks(
    http: Http,
    endpoints: Mapping[str, str],
    smoke_paths: Mapping[str, Sequence[str]],
    credentials: Callable[[], Credentials],
    request_id: str,
    *,
    environment: str,
    route: Route = Route.LIVE,
) -> dict[str, ServiceResult]:
    """Every service's health and smoke paths, then the business flow, through one route's
    endpoints; one result per service.

    `credentials` is called only when auth-service is live and the endpoints may carry them, so
    a stack still on the bootstrap image needs no registered client yet.
    """
    results = {service: ServiceResult(service) for service in SERVICES}
    for service in SERVICES:
        result = results[service]
        check_health(http, service, endpoints[service], result)
        if not result.bootstrap:
            check_smoke_paths(http, endpoints[service], smoke_paths.get(service, ()), result)

    auth, api, notification = results[AUTH], results[API], results[NOTIFICATION]
    refusal = plain_http_refusal(environment, endpoints, route)
    if refusal is not None:
        auth.blocked.append(f"POST /token: {refusal}")
        api.blocked.append(f"GET /items: {refusal}")
        notification.blocked.append(f"POST /notifications: {refusal}")
        return results
    token = None
    if auth.bootstrap:
        api.blocked.append("GET /items: auth-service is still on the bootstrap image")
    else:
        token = get_token(http, endpoints[AUTH], credentials(), auth)
        if token is None:
            api.blocked.append("GET /items: no token from auth-service")
    count = None
    if token is not None and not api.bootstrap:
        count = list_items(http, endpoints[API], token, api)
    if notification.bootstrap:
        return results
    # notification-service takes messages from token holders only (service_kit.bearer).
    if token is None:
        notification.blocked.append("POST /notifications: no token from auth-service")
        return results
    summary = f"synthetic flow {request_id}: token ok, {count} items listed"
    if count is None:
        summary = f"synthetic flow {request_id}: items step failed or skipped"
    notify(http, endpoints[NOTIFICATION], token, summary, notification, request_id=request_id)
    return results
