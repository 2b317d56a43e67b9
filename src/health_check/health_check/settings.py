"""The function's configuration, read once from its environment variables."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from health_check.errors import ConfigurationError


@dataclass(frozen=True)
class Settings:
    notification_topic_arn: str
    codedeploy_application: str
    # The hooks a restore deploys with, as every release does (the build's appspec.yaml).
    smoke_test_hook_arn: str
    traffic_guard_hook_arn: str

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
        return cls(**values)
