"""The function's configuration, read once from its environment variables."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from health_check.errors import ConfigurationError
from health_check.targets import ReleaseTargets

DEFAULT_WATCH_WINDOW_MINUTES = 60


@dataclass(frozen=True)
class Settings:
    notification_topic_arn: str
    codedeploy_application: str
    # The hooks a restore deploys with, as every release does (the build's appspec.yaml).
    smoke_test_hook_arn: str
    traffic_guard_hook_arn: str
    # How long after a release passed its health check an alarm restores the release before it
    # (watch.py); 0 turns the window off.
    watch_window_seconds: int = 60 * DEFAULT_WATCH_WINDOW_MINUTES
    # The function whose failed events (its on-failure destination's invocation records) the
    # health check takes over; empty: none.
    release_responder_name: str = ""
    # Each environment's cluster, services, alarms and what its releases may be (targets.py);
    # None when RELEASE_TARGETS is not set, and then nothing is validated, recorded or restored.
    targets: ReleaseTargets | None = None

    def release_targets(self) -> ReleaseTargets:
        """The configured targets; ConfigurationError (fail closed) when there are none."""
        if self.targets is None:
            raise ConfigurationError("environment variable(s) not set: RELEASE_TARGETS")
        return self.targets

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Settings:
        """Every value is required; ConfigurationError names the missing ones."""
        values = {
            "notification_topic_arn": environ.get("NOTIFICATION_TOPIC_ARN", ""),
            "codedeploy_application": environ.get("CODEDEPLOY_APPLICATION", ""),
            "smoke_test_hook_arn": environ.get("SMOKE_TEST_HOOK_ARN", ""),
            "traffic_guard_hook_arn": environ.get("TRAFFIC_GUARD_HOOK_ARN", ""),
        }
        missing = [name.upper() for name, value in values.items() if not value]
        if missing:
            raise ConfigurationError(f"environment variable(s) not set: {', '.join(missing)}")
        raw_window = environ.get("WATCH_WINDOW_MINUTES", str(DEFAULT_WATCH_WINDOW_MINUTES))
        # str.isdigit alone also takes digits int() refuses, such as '²'.
        if not (raw_window.isascii() and raw_window.isdigit()):
            raise ConfigurationError(
                f"WATCH_WINDOW_MINUTES must be a whole number of minutes, got {raw_window!r}"
            )
        raw_targets = environ.get("RELEASE_TARGETS", "")
        return cls(
            **values,
            watch_window_seconds=60 * int(raw_window),
            release_responder_name=environ.get("RELEASE_RESPONDER_NAME", ""),
            targets=ReleaseTargets.from_json(raw_targets) if raw_targets else None,
        )
