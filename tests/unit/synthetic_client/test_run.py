"""The synthetic client's decisions: which service passed, failed, or could not be judged."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from synthetic_client.run import (
    Credentials,
    Outcome,
    Reply,
    Route,
    ServiceResult,
    plain_http_refusal,
    run_checks,
)

from tests.unit.synthetic_client.fakes import (
    BOOTSTRAP_BODY,
    CREDENTIALS,
    ENDPOINTS,
    HTTPS_ENDPOINTS,
    FakeHttp,
    json_reply,
)

SMOKE = {"auth-service": ["/health", "/.well-known/jwks.json"]}


def run(http: FakeHttp, smoke: dict[str, list[str]] | None = None) -> dict[str, ServiceResult]:
    return run_checks(
        http, ENDPOINTS, smoke or SMOKE, lambda: CREDENTIALS, "synthetic-1", environment="staging"
    )


def outcomes(results: dict[str, ServiceResult]) -> dict[str, Outcome]:
    return {service: result.outcome for service, result in results.items()}


def test_a_healthy_environment_passes_every_service_and_walks_the_whole_flow() -> None:
    # GIVEN every service answering as a good release does
    http = FakeHttp()

    # WHEN the client runs
    results = run(http)

    # THEN each service passed, and the flow went token -> items -> notification in that order
    assert set(outcomes(results).values()) == {Outcome.PASSED}
    flow = [(method, url) for method, url, _, _ in http.calls if not url.endswith("/health")]
    assert flow == [
        ("GET", "http://alb.example:8181/.well-known/jwks.json"),
        ("POST", "http://alb.example:8181/token"),
        ("GET", "http://alb.example:8180/items"),
        ("POST", "http://alb.example:8182/notifications"),
    ]


def test_the_token_request_carries_the_clients_credentials() -> None:
    http = FakeHttp()
    run(http)
    (body,) = [body for _, url, _, body in http.calls if url.endswith("/token")]
    assert body == {
        "grant_type": "client_credentials",
        "client_id": "synthetic-client",
        "client_secret": "s3cret",
    }


def test_notifications_are_marked_synthetic_for_subscribers_to_filter() -> None:
    http = FakeHttp()
    run(http)
    (headers,) = [h for _, url, h, _ in http.calls if url.endswith("/notifications")]
    assert headers["X-Request-ID"] == "synthetic-1"


def test_a_broken_business_flow_fails_the_service_even_with_a_healthy_health_endpoint() -> None:
    # GIVEN api-service answering /health but failing its flow step
    http = FakeHttp().reply("api-service", "GET", "/items", json_reply(500, {"error": "boom"}))

    # WHEN the client runs
    results = run(http)

    # THEN only api-service failed, and its failure names the step and the status
    assert outcomes(results) == {
        "api-service": Outcome.FAILED,
        "auth-service": Outcome.PASSED,
        "notification-service": Outcome.PASSED,
    }
    assert results["api-service"].failures == ['GET /items: HTTP 500: {"error": "boom"}']


def test_a_failed_token_fails_auth_and_leaves_api_and_notification_unjudged() -> None:
    # GIVEN auth-service rejecting the client (say, its credentials are not registered)
    http = FakeHttp().reply("auth-service", "POST", "/token", json_reply(401, {"error": "no"}))

    # WHEN the client runs
    results = run(http)

    # THEN auth-service failed; the steps that need its token never ran, so they are not blamed
    # (notification-service takes messages from token holders only)
    assert results["auth-service"].outcome is Outcome.FAILED
    assert results["api-service"].outcome is Outcome.UNJUDGED
    assert results["api-service"].blocked == ["GET /items: no token from auth-service"]
    assert results["notification-service"].outcome is Outcome.UNJUDGED
    assert results["notification-service"].blocked == [
        "POST /notifications: no token from auth-service"
    ]
    assert not [url for _, url, _, _ in http.calls if url.endswith("/notifications")]


def test_the_notification_carries_the_token_auth_service_issued() -> None:
    http = FakeHttp()
    results = run(http)
    (headers,) = [h for _, url, h, _ in http.calls if url.endswith("/notifications")]
    assert headers["Authorization"] == "Bearer tok"
    assert results["notification-service"].outcome is Outcome.PASSED


def test_a_notification_refused_for_its_token_fails_notification_service() -> None:
    http = FakeHttp().reply(
        "notification-service", "POST", "/notifications", json_reply(401, {"error": "x"})
    )
    results = run(http)
    assert results["notification-service"].outcome is Outcome.FAILED


@pytest.mark.parametrize(
    "health",
    [
        json_reply(503, {"status": "unavailable", "service": "notification-service"}),
        json_reply(200, {"status": "ok", "service": "api-service"}),
        Reply(200, b"not json", 0.01),
        Reply(None, b"", 5.0, error="TimeoutError: timed out"),
    ],
    ids=["unavailable", "wrong-service", "not-json", "no-answer"],
)
def test_a_health_endpoint_that_is_not_this_service_answering_ok_fails(health: Reply) -> None:
    http = FakeHttp().reply("notification-service", "GET", "/health", health)
    results = run(http)
    assert results["notification-service"].outcome is Outcome.FAILED


def test_a_failing_smoke_path_fails_its_service() -> None:
    http = FakeHttp().reply(
        "auth-service", "GET", "/.well-known/jwks.json", json_reply(500, {"error": "x"})
    )
    results = run(http)
    assert results["auth-service"].outcome is Outcome.FAILED


def test_a_service_on_the_bootstrap_image_is_unjudged_and_not_called_further() -> None:
    # GIVEN a fresh stack: auth-service still runs the bootstrap echo server
    http = FakeHttp().bootstrap("auth-service")
    asked: list[str] = []

    def credentials() -> Credentials:
        asked.append("credentials")
        return CREDENTIALS

    # WHEN the client runs
    results = run_checks(http, ENDPOINTS, SMOKE, credentials, "synthetic-1", environment="staging")

    # THEN auth-service and the step that needs its token are unjudged, no token is asked for,
    # and the secret is not even read (no client needs registering before the first release)
    assert results["auth-service"].outcome is Outcome.UNJUDGED
    assert results["api-service"].outcome is Outcome.UNJUDGED
    assert not [url for _, url, _, _ in http.calls if "8181" in url and "/health" not in url]
    assert asked == []


def test_a_bootstrap_lookalike_answering_an_error_is_not_taken_for_the_bootstrap_image() -> None:
    http = FakeHttp().reply("api-service", "GET", "/health", Reply(500, BOOTSTRAP_BODY, 0.01))
    assert run(http)["api-service"].outcome is Outcome.FAILED


def test_the_slowest_request_of_each_service_is_its_latency() -> None:
    # GIVEN api-service slow on /items only
    http = FakeHttp().reply("api-service", "GET", "/items", json_reply(200, {"items": []}, 2.5))

    # WHEN the client runs
    results = run(http)

    # THEN api-service's latency is that request's, the others' their own slowest
    assert results["api-service"].slowest_seconds == 2.5
    assert results["auth-service"].slowest_seconds == 0.01


# ---------------------------------------------------------------- production speaks HTTPS only


@dataclass
class Run:
    http: FakeHttp
    results: dict[str, ServiceResult]
    secret_reads: int


def run_in(environment: str, endpoints: dict[str, str], route: Route = Route.LIVE) -> Run:
    http = FakeHttp(endpoints=endpoints)
    reads: list[None] = []

    def credentials() -> Credentials:
        reads.append(None)
        return CREDENTIALS

    results = run_checks(
        http, endpoints, SMOKE, credentials, "synthetic-1", environment=environment, route=route
    )
    return Run(http, results, len(reads))


def test_production_over_plain_http_never_reads_or_sends_a_credential() -> None:
    # GIVEN production endpoints on http:// (a stack deployed with AllowPlainHttpProduction)
    # WHEN the client runs
    run = run_in("production", ENDPOINTS)

    # THEN the secret was never read, no token request, item read or notification was sent,
    # and the flow is unjudged (not failed: the heartbeat and health checks still count)
    assert run.secret_reads == 0
    sent = {url.rsplit("/", 1)[-1] for _, url, _, _ in run.http.calls}
    assert sent.isdisjoint({"token", "items", "notifications"})
    assert all("not https" in result.blocked[0] for result in run.results.values())
    assert set(outcomes(run.results).values()) == {Outcome.UNJUDGED}


def test_one_plain_http_production_endpoint_is_enough_to_keep_credentials_home() -> None:
    endpoints = {**HTTPS_ENDPOINTS, "api-service": ENDPOINTS["api-service"]}
    run = run_in("production", endpoints)
    assert run.secret_reads == 0
    assert "api-service" in run.results["auth-service"].blocked[0]


def test_production_over_https_walks_the_whole_flow() -> None:
    run = run_in("production", HTTPS_ENDPOINTS)
    assert run.secret_reads == 1
    assert set(outcomes(run.results).values()) == {Outcome.PASSED}


def test_staging_behind_the_vpc_boundary_may_use_plain_http() -> None:
    # Staging listeners are closed to the internet unless StagingIngressCidr opens them.
    assert set(outcomes(run_in("staging", ENDPOINTS).results).values()) == {Outcome.PASSED}


@pytest.mark.parametrize(
    ("environment", "endpoints", "refused"),
    [
        ("production", ENDPOINTS, True),
        ("production", HTTPS_ENDPOINTS, False),
        ("staging", ENDPOINTS, False),
    ],
)
def test_plain_http_refusal_is_one_decision_over_environment_and_schemes(
    environment: str, endpoints: dict[str, str], refused: bool
) -> None:
    assert (plain_http_refusal(environment, endpoints) is not None) is refused


def test_productions_test_listeners_walk_the_whole_flow_over_their_plain_http() -> None:
    # GIVEN production's test listeners, plain HTTP by design and reachable inside the VPC only
    # WHEN the client runs the replacement route
    run = run_in("production", ENDPOINTS, Route.REPLACEMENT)
    # THEN the flow is walked and judged there: the replacement task set's business flow is
    # exactly what the route is for
    assert run.secret_reads == 1
    assert set(outcomes(run.results).values()) == {Outcome.PASSED}


def test_the_live_route_is_the_default_and_keeps_productions_https_rule() -> None:
    assert plain_http_refusal("production", ENDPOINTS) is not None
    assert plain_http_refusal("production", ENDPOINTS, Route.REPLACEMENT) is None
