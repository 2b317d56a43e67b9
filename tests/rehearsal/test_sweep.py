"""The sweep (`make rehearse ARGS=--sweep`) and the failed-requests figure: rows come from real
runs of the scenarios the sweep builds, and are judged by issue 25's figures.

A full sweep takes half a minute: these play one to three points.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest
from matplotlib.lines import Line2D

from tools.rehearsal import __main__ as cli
from tools.rehearsal import detection_curve, sweep
from tools.rehearsal.behaviour import HEALTHY_LATENCY_MS
from tools.rehearsal.run import Result, base_assumptions, run, system_for
from tools.rehearsal.scenario import Expect, load

CANARY = sweep.DEFAULT_BASE
ONE = "api-service"
POINTS = (
    sweep.Point("error_rate", 0.8, ONE),
    sweep.Point("latency", 1000.0, sweep.ALL_SERVICES),
)


@pytest.fixture(scope="module")
def base() -> sweep.Base:
    return sweep.Base.of(load(CANARY))


@pytest.fixture(scope="module")
def rows(base: sweep.Base) -> list[sweep.Row]:
    return sweep.sweep(base, POINTS)


@pytest.fixture(scope="module")
def played(base: sweep.Base) -> dict[tuple[sweep.Point, str], Result]:
    """The same points' scenarios, each run on its own as `make rehearse` runs a file."""
    wanted = [(POINTS[0], "current"), (POINTS[0], "original"), (POINTS[1], "current")]
    return {
        (point, design): run(sweep.scenario_for(base, point), design) for point, design in wanted
    }


# ---------------------------------------------------------------- the scenarios it builds
def test_the_base_is_the_committed_release_and_its_failing_service(base: sweep.Base) -> None:
    assert (base.release, base.service) == ("r1", ONE)
    assert base.services == system_for(base.scenario).services


def test_every_service_fails_at_the_rate_in_the_all_services_scenario(base: sweep.Base) -> None:
    scenario = sweep.scenario_for(base, sweep.Point("error_rate", 0.05, sweep.ALL_SERVICES))
    failing = scenario.releases["r1"]
    assert set(failing) == set(base.services)
    assert len(base.services) == 3
    for behaviour in failing.values():
        # The base's other settings are kept: errors only in production, from first traffic.
        assert behaviour == base.behaviour.model_copy(update={"error_rate": 0.05})


def test_a_latency_point_is_slow_by_that_much_and_fails_nothing(base: sweep.Base) -> None:
    scenario = sweep.scenario_for(base, sweep.Point("latency", 250.0, ONE))
    behaviour = scenario.releases["r1"][ONE]
    assert behaviour.latency_ms == HEALTHY_LATENCY_MS + 250
    assert (behaviour.error_rate, behaviour.failing_paths) == (0.0, ())
    assert behaviour.environments == base.behaviour.environments


def test_the_generated_scenario_is_judged_by_the_sweep_not_the_bases_expect(
    base: sweep.Base,
) -> None:
    scenario = sweep.scenario_for(base, sweep.Point("error_rate", 0.02, ONE))
    assert scenario.expect == Expect()
    assert scenario.commits == base.scenario.commits


# ---------------------------------------------------------------- rows from real runs
def test_a_5xx_rows_figures_are_its_scenarios_run(
    rows: list[sweep.Row], played: dict[tuple[sweep.Point, str], Result]
) -> None:
    for row in (r for r in rows if (r.point, r.design) in played and r.point.kind == "error_rate"):
        figures = played[(row.point, row.design)].figures
        assert (
            row.peak_bad_share,
            row.detect_seconds,
            row.restore_seconds,
            row.exposure_request_seconds,
            row.failed_requests,
        ) == (
            figures.peak_bad_share,
            figures.detect_seconds,
            figures.restore_seconds,
            figures.exposure_request_seconds,
            figures.failed_requests,
        )


def test_a_slow_rows_bad_share_is_the_users_on_the_slow_release(
    rows: list[sweep.Row], played: dict[tuple[sweep.Point, str], Result]
) -> None:
    # GIVEN the run of the +1000 ms point, every service slow
    for row in (r for r in rows if (r.point, r.design) in played and r.point.kind == "latency"):
        result = played[(row.point, row.design)]
        production = [s for s in result.samples if s.environment == "production"]
        on_it = [(s.at, s.shares.get("r1", 0.0)) for s in production]
        first = min(at for at, share in on_it if share > 0)
        signal = min(at for at, _, _ in result.world.detections if at >= first)
        # THEN its figures count users on r1 (which fails nothing) and the first signal after
        assert row.peak_bad_share == pytest.approx(max(share for _, share in on_it), abs=1e-3)
        assert row.peak_bad_share > 0
        assert row.detect_seconds == pytest.approx(signal - first, abs=0.1)
        assert row.failed_requests == 0
        assert row.judged  # 1040 ms is above the templates' 0.5 s latency objective


def test_the_rows_are_judged_by_the_issues_figures(rows: list[sweep.Row]) -> None:
    for row in rows:
        reaction = row.reaction_seconds
        held = row.peak_bad_share <= sweep.MAX_PEAK_BAD_SHARE
        back = row.peak_bad_share == 0 or (
            reaction is not None and reaction <= sweep.MAX_REACTION_SECONDS
        )
        assert row.met == (held and back), row


# ---------------------------------------------------------------- judging and the exit status
def _row(design: str = "current", *, rate: float = 0.05, peak: float, judged: bool) -> sweep.Row:
    return sweep.Row(
        point=sweep.Point("error_rate", rate, ONE),
        design=design,
        peak_bad_share=peak,
        detect_seconds=100.0,
        restore_seconds=120.0,
        exposure_request_seconds=1.0,
        failed_requests=1.0,
        judged=judged,
        misses=(),
    )


def test_a_release_reaching_every_user_misses_and_one_held_at_the_canary_meets() -> None:
    assert sweep.misses(_row(peak=1.0, judged=True)) == ["100 % of users on it"]
    assert sweep.misses(_row(peak=0.1, judged=True)) == []


def test_users_left_on_a_release_nothing_detected_is_a_miss() -> None:
    row = dataclasses.replace(_row(peak=0.1, judged=True), detect_seconds=None)
    assert sweep.misses(row) == ["never detected"]


def test_only_this_designs_judged_rows_decide_the_exit_status() -> None:
    def failing(row: sweep.Row) -> sweep.Row:
        return dataclasses.replace(row, misses=tuple(sweep.misses(row)))

    below_two_percent = failing(_row(rate=0.01, peak=1.0, judged=False))
    original = failing(_row("original", peak=1.0, judged=True))
    assert sweep.missed([below_two_percent, original]) == []
    judged = failing(_row(peak=1.0, judged=True))
    assert sweep.missed([below_two_percent, original, judged]) == [judged]


def test_the_sweep_command_exits_by_the_figures_of_its_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a sweep of one rate (one service and every service), this design only
    monkeypatch.setattr(sweep, "ERROR_RATES", (0.05,))
    target = tmp_path / "sweep.json"
    # WHEN the command plays it
    status = cli.main(["--sweep", "error_rate", "--design", "current", "--json", str(target)])
    # THEN it exits 1 exactly when a judged row misses, and names those rows
    printed = json.loads(target.read_text())
    assert [(r["scope"], r["value"], r["judged"]) for r in printed] == [
        (ONE, 0.05, True),
        (sweep.ALL_SERVICES, 0.05, True),
    ]
    missing = [r for r in printed if r["met"] is False]
    assert status == (1 if missing else 0)
    stderr = capsys.readouterr().err
    assert stderr.count("MISSED") == len(missing)


def test_a_base_without_a_failing_release_is_a_bad_file(tmp_path: Path) -> None:
    path = tmp_path / "nothing.yaml"
    path.write_text("name: n\ndescription: d\ncommits: [{release: r0}]\nexpect: {}\n")
    assert cli.main(["--sweep", "--scenario", str(path)]) == 2


# ---------------------------------------------------------------- the failed-requests figure
def test_failed_requests_are_the_failing_releases_share_times_its_rate_times_the_traffic() -> None:
    # GIVEN canary-5xx (r1 fails 80 % of api-service's production requests from first traffic)
    # and a ceiling of no failed request
    scenario = load(CANARY)
    scenario = scenario.model_copy(update={"expect": Expect(max_failed_requests=0)})
    rate = scenario.releases["r1"][ONE].error_rate
    # WHEN it runs
    result = run(scenario)
    # THEN the figure is what the traffic series says: r1's share of each tick's requests, at r1's
    # error rate
    assumptions = base_assumptions()
    requests_per_tick = (
        assumptions["user_requests_per_second"]["production"] * assumptions["traffic_tick_seconds"]
    )
    on_r1 = sum(
        s.shares.get("r1", 0.0)
        for s in result.samples
        if s.environment == "production" and s.service == ONE
    )
    assert on_r1 > 0
    assert result.figures.failed_requests == pytest.approx(on_r1 * rate * requests_per_tick)
    # ... and the ceiling is checked like the other figures
    assert any("failed requests" in miss for miss in result.misses)


# ---------------------------------------------------------------- the detection curve
def test_the_curve_draws_every_rows_figures(rows: list[sweep.Row]) -> None:
    figure = detection_curve.draw(detection_curve.curve_of(rows))
    lines = {str(a.get_gid()): a for a in figure.findobj(Line2D) if a.get_gid()}
    for row in rows:
        scope = (
            detection_curve.EVERY_SERVICE
            if row.point.scope == sweep.ALL_SERVICES
            else detection_curve.ONE_SERVICE
        )
        x = 100 * row.point.value if row.point.kind == "error_rate" else row.point.value
        for panel, value in (
            ("peak", 100 * row.peak_bad_share),
            ("detect", row.detect_seconds),
            ("reaction", row.reaction_seconds),
        ):
            line = lines[f"{row.point.kind}/{panel}/{scope}/{row.design}"]
            xs = np.asarray(line.get_xdata(), dtype=float).tolist()
            ys = np.asarray(line.get_ydata(), dtype=float).tolist()
            drawn = ys[xs.index(x)]
            assert math.isnan(drawn) if value is None else drawn == value, (row, panel)


def test_a_point_never_detected_is_a_cross_on_the_top_edge() -> None:
    never = dataclasses.replace(
        _row(peak=1.0, judged=False), detect_seconds=None, restore_seconds=None
    )
    figure = detection_curve.draw(detection_curve.curve_of([never]))
    (cross,) = [
        a
        for a in figure.findobj(Line2D)
        if a.get_gid() == f"error_rate/detect/{detection_curve.ONE_SERVICE}/current/never"
    ]
    assert list(cross.get_xdata()) == [5.0]  # type: ignore[arg-type]
    assert list(cross.get_ydata()) == [1.0]  # type: ignore[arg-type]
