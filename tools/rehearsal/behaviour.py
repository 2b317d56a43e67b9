"""What one release of one service does when it runs: the scenario's description of a release,
turned into the answers the model needs (does a task start, what does a request get)."""

from __future__ import annotations

from dataclasses import dataclass

HEALTHY_LATENCY_MS = 40.0


@dataclass(frozen=True)
class BrokenWith:
    """Fails only while another service in the same environment serves a given release."""

    service: str
    release: str


@dataclass(frozen=True)
class Behaviour:
    starts: bool = True
    # Paths (smoke paths included) that answer 500; /health still answers 200.
    failing_paths: tuple[str, ...] = ()
    # Share of user requests answered 5XX once the errors begin.
    error_rate: float = 0.0
    # When the errors begin: seconds after the release first serves users, or after it serves
    # all of them (errors_after: full_traffic).
    errors_after_seconds: float = 0.0
    errors_after: str = "first_traffic"
    broken_with: BrokenWith | None = None
    # Its step of the business flow (token, items, notification with a bearer token) fails, so
    # every synthetic check of it fails; /health and the smoke paths the hooks request still
    # answer 200. Users see `error_rate` (the share of their requests on that flow).
    failing_flow: bool = False
    latency_ms: float = HEALTHY_LATENCY_MS
    # Environments where it fails or is slow (empty: all); [production] is a defect that only
    # production's data or load brings out.
    environments: tuple[str, ...] = ()

    @property
    def defective(self) -> bool:
        return (
            not self.starts or bool(self.failing_paths) or self.failing_flow or self.error_rate > 0
        )

    def flow_fails_in(self, environment: str) -> bool:
        """Whether the synthetic client's business flow fails on this release here."""
        return self.failing_flow and (not self.environments or environment in self.environments)

    def latency_in(self, environment: str) -> float:
        """Milliseconds per request in this environment (a healthy release's elsewhere)."""
        if self.environments and environment not in self.environments:
            return HEALTHY_LATENCY_MS
        return self.latency_ms

    def user_error_rate(
        self, *, environment: str, seconds_since_trigger: float | None, partner_serves: bool
    ) -> float:
        """Share of user requests that fail now; `seconds_since_trigger` is None until the
        release reached its `errors_after` point in this environment."""
        if self.environments and environment not in self.environments:
            return 0.0
        if self.broken_with is not None and not partner_serves:
            return 0.0
        rate = self.error_rate
        if self.failing_paths and rate == 0:
            rate = 1.0 / (len(self.failing_paths) + 1)  # the failing path's share of requests
        if rate and (
            seconds_since_trigger is None or seconds_since_trigger < self.errors_after_seconds
        ):
            return 0.0
        return rate

    def answers(self, path: str, health_path: str) -> int:
        """Status of one request through the test listener (the hooks' smoke requests)."""
        if path == health_path:
            return 200
        return 500 if path in self.failing_paths else 200


HEALTHY = Behaviour()
