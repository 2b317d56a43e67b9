"""The function's configuration, read once from its environment variables."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from health_check.errors import ConfigurationError


@dataclass(frozen=True)
class Settings:
    notification_topic_arn: str
    codedeploy_application: str

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Settings:
        """Both values are required; ConfigurationError names the missing ones."""
        values = {
            "notification_topic_arn": environ.get("NOTIFICATION_TOPIC_ARN", ""),
            "codedeploy_application": environ.get("CODEDEPLOY_APPLICATION", ""),
        }
        missing = [name.upper() for name, value in values.items() if not value]
        if missing:
            raise ConfigurationError(f"environment variable(s) not set: {', '.join(missing)}")
        return cls(**values)
