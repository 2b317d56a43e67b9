"""The function's own configuration: the one environment it checks, that environment's
endpoints on both routes, the load balancer they belong to and its client secret, from the
variables its template sets (one function per environment, docs/staging-gates.md).

Nothing comes from the event. Whoever can invoke the function chooses neither where the client
secret is sent nor which environment a heartbeat or a verdict is published for
(docs/security.md, "What a caller of the synthetic client can do").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from synthetic_client.run import SERVICES, Route

ENVIRONMENTS = ("staging", "production")
ENVIRONMENT_VARIABLE = "ENVIRONMENT_NAME"
# The name of the variable holding the secret's ARN, not a secret.
SECRET_VARIABLE = "CLIENT_SECRET_ARN"  # noqa: S105  # pragma: allowlist secret
LOAD_BALANCER_VARIABLE = "LOAD_BALANCER_ARN"
TIMEOUT_VARIABLE = "REQUEST_TIMEOUT_SECONDS"
# The DNS name the load balancer's certificate covers (root parameter DomainName), or empty: with
# a certificate the endpoints name it, since none can cover the load balancer's own name.
PUBLIC_HOST_VARIABLE = "PUBLIC_HOST_NAME"
DEFAULT_TIMEOUT_SECONDS = 5.0


def endpoint_variable(service: str, route: Route = Route.LIVE) -> str:
    """api-service -> API_SERVICE_ENDPOINT (live), API_SERVICE_TEST_ENDPOINT (replacement)."""
    stem = service.upper().replace("-", "_")
    return f"{stem}_ENDPOINT" if route is Route.LIVE else f"{stem}_TEST_ENDPOINT"


class ConfigurationError(ValueError):
    """The function's variables are not what its template sets: the run cannot start."""


@dataclass(frozen=True)
class Settings:
    environment: str
    # Per route, per service: the production listener (live) and the test listener
    # (replacement), which CodeDeploy points at the replacement task set during a deployment.
    routes: dict[Route, dict[str, str]]
    client_secret_id: str
    load_balancer_arn: str
    request_timeout_seconds: float
    public_host_name: str | None = None

    @property
    def endpoints(self) -> dict[str, str]:
        return self.routes[Route.LIVE]


def load_settings(variables: Mapping[str, str]) -> Settings:
    """Checked strictly: a missing or malformed variable stops the run, never a default that
    points somewhere else."""
    environment = variables.get(ENVIRONMENT_VARIABLE, "")
    if environment not in ENVIRONMENTS:
        raise ConfigurationError(
            f"{ENVIRONMENT_VARIABLE} must be one of {list(ENVIRONMENTS)}, got {environment!r}"
        )
    secret_id = variables.get(SECRET_VARIABLE, "")
    if not secret_id:
        raise ConfigurationError(f"{SECRET_VARIABLE} must name the environment's client secret")
    load_balancer = variables.get(LOAD_BALANCER_VARIABLE, "")
    if ":loadbalancer/app/" not in load_balancer:
        raise ConfigurationError(
            f"{LOAD_BALANCER_VARIABLE} must be an application load balancer ARN, "
            f"got {load_balancer!r}"
        )
    routes = {
        route: {service: _endpoint(variables, service, route) for service in SERVICES}
        for route in Route
    }
    try:
        timeout = float(variables.get(TIMEOUT_VARIABLE, DEFAULT_TIMEOUT_SECONDS))
    except ValueError:
        raise ConfigurationError(f"{TIMEOUT_VARIABLE} must be a number of seconds") from None
    public_host_name = variables.get(PUBLIC_HOST_VARIABLE, "").strip() or None
    return Settings(environment, routes, secret_id, load_balancer, timeout, public_host_name)


def _endpoint(variables: Mapping[str, str], service: str, route: Route) -> str:
    name = endpoint_variable(service, route)
    url = variables.get(name, "")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigurationError(f"{name} is not an http(s) URL: {url!r}")
    return url.rstrip("/")
