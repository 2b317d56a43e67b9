"""Settings read once from the function's environment."""

from __future__ import annotations

import pytest
from codedeploy_hooks.settings import Settings


def test_defaults_apply_when_nothing_is_set() -> None:
    assert Settings.from_environ({}) == Settings()


def test_watch_seconds_comes_from_the_environment() -> None:
    settings = Settings.from_environ({"WATCH_SECONDS": "120", "TARGET_SETTLE_SECONDS": "30"})
    assert (settings.watch_seconds, settings.target_settle_seconds) == (120.0, 30.0)


@pytest.mark.parametrize("value", ["a minute", "-1"])
def test_a_bad_value_is_rejected_naming_the_variable(value: str) -> None:
    with pytest.raises(ValueError, match="WATCH_SECONDS"):
        Settings.from_environ({"WATCH_SECONDS": value})
