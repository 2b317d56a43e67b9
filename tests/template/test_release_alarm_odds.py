"""The production 5XX alarms' defaults against chance (docs/release-alarms.md): real requests fail
at random, so a threshold is a trade between catching a bad canary and stopping a good one.

Binomial counts per minute, exactly as docs/release-alarms.md states them: at the rehearsal's
production traffic (tools/rehearsal/assumptions.yaml) a 10 % canary's group serves n requests a
minute, the group it replaces the rest; each request fails independently with the release's rate
plus the background (A11). The 5xx-canary alarm fires in a minute when the canary's rate exceeds
the other group's by more than CanaryErrorMarginPercent points.
"""

from __future__ import annotations

from math import comb, floor
from typing import Any

import yaml

from tests.support import PIPELINE_DIR, REPO_ROOT, load_template
from tools.rehearsal.fleet import with_background

CANARY_SHARE = 0.10  # CodeDeployDefault.ECSCanary10Percent5Minutes
CANARY_FULL_MINUTES = 4  # a 5-minute canary that starts mid-minute holds 4 whole minutes
CANARY_MINUTES = 5
SMALLEST_FAILURE_TO_CATCH = 0.02  # issue 25: every release failing >= 2 % held at 10 %
MIN_DETECTION = 0.999
MAX_FALSE_STOPS = 0.005  # of healthy releases, per canary


def _pmf(n: int, p: float, k: int) -> float:
    return comb(n, k) * p**k * (1 - p) ** (n - k)


def _more_than(n: int, p: float, k: float) -> float:
    """P(X > k) for X ~ Binomial(n, p)."""
    return 1.0 - sum(_pmf(n, p, i) for i in range(floor(k) + 1)) if k >= 0 else 1.0


def canary_fires(
    canary: int, other: int, canary_rate: float, other_rate: float, margin: float
) -> float:
    """P(one minute breaches): the canary's share of 5XX above the other's by `margin` points."""
    return sum(
        _pmf(other, other_rate, b)
        * _more_than(canary, canary_rate, canary * (margin / 100 + b / other))
        for b in range(other + 1)
        if b <= other * other_rate + 60  # beyond, the terms are far below float precision
    )


def _defaults() -> tuple[int, int, float, float]:
    service: dict[str, Any] = load_template(PIPELINE_DIR / "service.yaml")["Parameters"]
    model = yaml.safe_load((REPO_ROOT / "tools/rehearsal/assumptions.yaml").read_text())
    per_minute = int(model["user_requests_per_second"]["production"] * 60)
    canary = round(per_minute * CANARY_SHARE)
    assert canary >= service["ProductionRequestFloor"]["Default"], "the canary is never judged"
    return (
        canary,
        per_minute - canary,
        float(service["CanaryErrorMarginPercent"]["Default"]),
        float(model["background_error_rate"]),
    )


def test_a_canary_failing_2_percent_is_caught_within_the_canary_almost_surely() -> None:
    canary, other, margin, background = _defaults()
    bad = with_background(SMALLEST_FAILURE_TO_CATCH, background)
    per_minute = canary_fires(canary, other, bad, background, margin)
    assert 1 - (1 - per_minute) ** CANARY_FULL_MINUTES >= MIN_DETECTION


def test_a_healthy_canary_at_the_background_rate_is_rarely_stopped() -> None:
    canary, other, margin, background = _defaults()
    per_minute = canary_fires(canary, other, background, background, margin)
    assert 1 - (1 - per_minute) ** CANARY_MINUTES <= MAX_FALSE_STOPS


def test_the_binomial_tail_is_right_on_a_case_worked_by_hand() -> None:
    # 4 or more of 300 at 0.1 %: 1 - P(0..3), about 2.6e-4 (Poisson(0.3) gives 2.66e-4)
    assert abs(_more_than(300, 0.001, 3) - 2.6e-4) < 0.1e-4
