"""The function's own configuration is checked strictly: a missing or malformed variable stops
the run, never a default that points somewhere else."""

from __future__ import annotations

import pytest
from synthetic_client.config import ConfigurationError, Settings, load_settings
from synthetic_client.run import Route

SECRET_ARN = (
    "arn:aws:secretsmanager:eu-west-1:123456789012:secret:synthetic-client-staging-dev-AbCdEf"
)
LOAD_BALANCER_ARN = (
    "arn:aws:elasticloadbalancing:eu-west-1:123456789012:"
    "loadbalancer/app/microservices-dev/50dc6c495c0c9188"
)
STAGING = {
    "ENVIRONMENT_NAME": "staging",
    "CLIENT_SECRET_ARN": SECRET_ARN,
    "API_SERVICE_ENDPOINT": "http://alb.example:8180",
    "AUTH_SERVICE_ENDPOINT": "http://alb.example:8181",
    "NOTIFICATION_SERVICE_ENDPOINT": "http://alb.example:8182",
    "API_SERVICE_TEST_ENDPOINT": "http://alb.example:9180",
    "AUTH_SERVICE_TEST_ENDPOINT": "http://alb.example:9181",
    "NOTIFICATION_SERVICE_TEST_ENDPOINT": "http://alb.example:9182",
    "LOAD_BALANCER_ARN": LOAD_BALANCER_ARN,
    "REQUEST_TIMEOUT_SECONDS": "5",
}


def test_the_templates_variables_make_the_environments_settings() -> None:
    assert load_settings(STAGING) == Settings(
        environment="staging",
        routes={
            Route.LIVE: {
                "api-service": "http://alb.example:8180",
                "auth-service": "http://alb.example:8181",
                "notification-service": "http://alb.example:8182",
            },
            Route.REPLACEMENT: {
                "api-service": "http://alb.example:9180",
                "auth-service": "http://alb.example:9181",
                "notification-service": "http://alb.example:9182",
            },
        },
        client_secret_id=STAGING["CLIENT_SECRET_ARN"],
        load_balancer_arn=LOAD_BALANCER_ARN,
        request_timeout_seconds=5.0,
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"ENVIRONMENT_NAME": "prod"}, "ENVIRONMENT_NAME must be one of"),
        ({"ENVIRONMENT_NAME": None}, "ENVIRONMENT_NAME must be one of"),
        ({"CLIENT_SECRET_ARN": ""}, "CLIENT_SECRET_ARN"),
        ({"NOTIFICATION_SERVICE_ENDPOINT": None}, "NOTIFICATION_SERVICE_ENDPOINT"),
        ({"API_SERVICE_ENDPOINT": "file:///etc/passwd"}, "API_SERVICE_ENDPOINT is not an http"),
        ({"AUTH_SERVICE_ENDPOINT": "http://"}, "AUTH_SERVICE_ENDPOINT is not an http"),
        ({"REQUEST_TIMEOUT_SECONDS": "soon"}, "REQUEST_TIMEOUT_SECONDS"),
        ({"AUTH_SERVICE_TEST_ENDPOINT": None}, "AUTH_SERVICE_TEST_ENDPOINT"),
        ({"LOAD_BALANCER_ARN": None}, "LOAD_BALANCER_ARN"),
        ({"LOAD_BALANCER_ARN": "alb.example"}, "LOAD_BALANCER_ARN"),
    ],
    ids=[
        "unknown-environment",
        "no-environment",
        "no-secret",
        "no-endpoint",
        "not-http",
        "no-host",
        "bad-timeout",
        "no-test-endpoint",
        "no-load-balancer",
        "load-balancer-not-an-arn",
    ],
)
def test_a_bad_variable_is_rejected_with_its_name(
    change: dict[str, str | None], message: str
) -> None:
    variables = {k: v for k, v in (STAGING | change).items() if v is not None}
    with pytest.raises(ConfigurationError, match=message):
        load_settings(variables)


def test_a_trailing_slash_is_dropped_so_paths_join_cleanly() -> None:
    variables = STAGING | {"API_SERVICE_ENDPOINT": "http://alb.example:8180/"}
    assert load_settings(variables).endpoints["api-service"] == "http://alb.example:8180"


def test_the_timeout_defaults_to_five_seconds() -> None:
    variables = {k: v for k, v in STAGING.items() if k != "REQUEST_TIMEOUT_SECONDS"}
    assert load_settings(variables).request_timeout_seconds == 5.0


def test_the_public_host_name_is_read_when_set_and_none_when_empty() -> None:
    # The template passes the root's DomainName, empty when the stack has none.
    assert load_settings(STAGING | {"PUBLIC_HOST_NAME": "api.example.com"}).public_host_name == (
        "api.example.com"
    )
    assert load_settings(STAGING | {"PUBLIC_HOST_NAME": ""}).public_host_name is None
    assert load_settings(STAGING).public_host_name is None
