"""The health check's and the responder's configuration, read once from their environment."""

from __future__ import annotations

import pytest
from health_check.errors import ConfigurationError
from health_check.settings import Settings

from tests.unit.health_check.fakes import APPLICATION, SMOKE_TEST_HOOK_ARN, TRAFFIC_GUARD_HOOK_ARN

REQUIRED = {
    "NOTIFICATION_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:pipeline-notifications-dev",
    "CODEDEPLOY_APPLICATION": APPLICATION,
    "SMOKE_TEST_HOOK_ARN": SMOKE_TEST_HOOK_ARN,
    "TRAFFIC_GUARD_HOOK_ARN": TRAFFIC_GUARD_HOOK_ARN,
}


def test_the_watch_window_is_an_hour_when_not_set() -> None:
    assert Settings.from_environ(REQUIRED).watch_window_seconds == 3_600


@pytest.mark.parametrize(("minutes", "seconds"), [("15", 900), ("0", 0)])
def test_the_watch_window_is_read_in_minutes(minutes: str, seconds: int) -> None:
    settings = Settings.from_environ(REQUIRED | {"WATCH_WINDOW_MINUTES": minutes})
    assert settings.watch_window_seconds == seconds


@pytest.mark.parametrize("minutes", ["", "an hour", "-5", "1.5", " 15", "\u00b2"])
def test_a_watch_window_that_is_not_whole_minutes_is_rejected_naming_the_variable(
    minutes: str,
) -> None:
    with pytest.raises(ConfigurationError, match="WATCH_WINDOW_MINUTES"):
        Settings.from_environ(REQUIRED | {"WATCH_WINDOW_MINUTES": minutes})


def test_no_responder_is_taken_over_from_when_none_is_named() -> None:
    assert Settings.from_environ(REQUIRED).release_responder_name == ""


def test_the_responder_taken_over_from_is_read_from_the_environment() -> None:
    settings = Settings.from_environ(REQUIRED | {"RELEASE_RESPONDER_NAME": "release-responder-dev"})
    assert settings.release_responder_name == "release-responder-dev"


@pytest.mark.parametrize("name", sorted(REQUIRED))
def test_a_missing_required_variable_is_named(name: str) -> None:
    environ = {key: value for key, value in REQUIRED.items() if key != name}
    with pytest.raises(ConfigurationError, match=name):
        Settings.from_environ(environ)
