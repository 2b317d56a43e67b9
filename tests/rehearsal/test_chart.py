"""The rehearsal's chart: what it draws is what the scenario produced.

The drawing is read back through its artists (each series carries an SVG id, `chart.gid`), never
by pixels; the markers' rules are checked on hand-written timelines first, then on real runs.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.text import Text
from matplotlib.transforms import Bbox

from tools.rehearsal import __main__ as cli
from tools.rehearsal import chart
from tools.rehearsal.chart import Band, Marker, bands, chart_of, draw, markers, step_series
from tools.rehearsal.run import Result, run
from tools.rehearsal.scenario import load
from tools.rehearsal.system import System, load_system
from tools.rehearsal.world import Event, Sample

SCENARIOS = chart.REPO_ROOT / "scenarios"


# ---------------------------------------------------------------- pure pieces
def test_alarm_bands_start_in_the_state_the_warm_up_left_and_end_at_the_chart_end() -> None:
    # GIVEN an alarm history in simulation time, with a 600 s warm-up before scenario time 0
    history = [(60.0, "ALARM"), (180.0, "OK"), (2640.0, "ALARM"), (2820.0, "OK")]
    # WHEN it becomes bands up to scenario time 3000
    drawn = bands(history, origin=600.0, end=3000.0)
    # THEN the warm-up's flapping only decides the first state
    assert drawn == [
        Band(0.0, 2040.0, "OK"),
        Band(2040.0, 2220.0, "ALARM"),
        Band(2220.0, 3000.0, "OK"),
    ]


def test_an_alarm_that_never_reported_is_insufficient_data_throughout() -> None:
    assert bands([], origin=600.0, end=100.0) == [Band(0.0, 100.0, "INSUFFICIENT_DATA")]


def _sample(at: float, shares: dict[str, float], error_rates: dict[str, float]) -> Sample:
    return Sample(
        at=at,
        environment="production",
        service="api-service",
        shares=shares,
        bad_share=0.0,
        healthy_hosts={"blue": 2, "green": 0},
        error_rates=error_rates,
    )


def test_step_series_keeps_the_changes_and_reaches_the_last_sample() -> None:
    samples = [
        _sample(0, {"r0": 1.0}, {"blue": 0.0}),
        _sample(5, {"r0": 1.0}, {"blue": 0.0}),
        _sample(10, {"r0": 0.9, "r1": 0.1}, {"blue": 0.0, "green": 0.8}),
        _sample(15, {"r0": 1.0}, {"blue": 0.0}),
        _sample(20, {"r0": 1.0}, {"blue": 0.0}),
    ]
    shares = step_series(samples, lambda s: s.shares, default=0.0)
    rates = step_series(samples, lambda s: s.error_rates, default=None)
    assert shares["r0"] == [(0, 1.0), (10, 0.9), (15, 1.0), (20, 1.0)]
    assert shares["r1"] == [(0, 0.0), (10, 0.1), (15, 0.0), (20, 0.0)]
    # A target group without user traffic has no 5XX rate: a gap, not a zero.
    assert rates["green"] == [(0, None), (10, 0.8), (15, None), (20, None)]


# ---------------------------------------------------------------- markers from a timeline
@pytest.fixture(scope="module")
def system() -> System:
    return load_system()


def _group(system: System, environment: str, service: str = "api-service") -> str:
    return str(system.environments[environment][service].deployment_group.name)


def _read(system: System, *lines: tuple[float, str, str]) -> list[Marker]:
    return markers([Event(at, actor, text) for at, actor, text in lines], system)


def test_a_deployments_events_land_in_the_environment_of_its_deployment_group(
    system: System,
) -> None:
    group = _group(system, "production")
    found = _read(
        system,
        (
            10,
            "CodeDeploy",
            f"d-9 created by CodePipeline Production.DeployApiService: {group} -> r1",
        ),
        (70, "CodeDeploy", "d-9: AfterAllowTestTraffic -> invoke CodeDeployHook_SmokeTest-dev"),
        (71, "CodeDeploy", "d-9: AfterAllowTestTraffic hook reported Succeeded"),
        (80, "CodeDeploy d-9", "production/api-service: production listener -> r1 10%, r0 90%"),
        (200, "CodeDeploy", "d-9: stopped: alarm dev-production-api-service-5xx-rate in ALARM"),
    )
    assert [(m.at, m.environment, m.kind, m.outcome) for m in found] == [
        (10, "production", "lifecycle", "info"),
        (70, "production", "lifecycle", "info"),
        (71, "production", "hook", "ok"),
        (80, "production", "lifecycle", "info"),
        (200, "production", "lifecycle", "failed"),
    ]


def test_a_hook_that_reported_failed_is_a_failed_hook_verdict_and_a_failed_deployment(
    system: System,
) -> None:
    group = _group(system, "staging")
    found = _read(
        system,
        (0, "CodeDeploy", f"d-3 created by CodePipeline Staging.DeployApiService: {group} -> r1"),
        (90, "CodeDeploy", "d-3: failed: AfterAllowTestTraffic hook reported Failed"),
    )
    assert [(m.kind, m.outcome, m.environment) for m in found[1:]] == [
        ("hook", "failed", "staging"),
        ("lifecycle", "failed", "staging"),
    ]


def test_validator_verdicts_belong_to_the_environment_their_stage_deploys(system: System) -> None:
    found = _read(
        system,
        (100, "CodePipeline", "Staging.ValidateHealth succeeded: healthy after a 300s bake"),
        (900, "CodePipeline", "Production.ValidateHealth failed: alarm in ALARM"),
        (950, "CodePipeline", "Production.ValidateHealth: no job result in 1200 s: times out"),
    )
    assert [(m.at, m.environment, m.kind, m.outcome) for m in found] == [
        (100, "staging", "validator", "ok"),
        (900, "production", "validator", "failed"),
        (950, "production", "validator", "failed"),
    ]


def test_approval_gates_the_next_environment_and_its_decision_is_a_marker(system: System) -> None:
    found = _read(
        system,
        (300, "CodePipeline", "ApproveRelease: waiting for a human (r1)"),
        (900, "human", "approves r1"),
        (1900, "CodePipeline", "ApproveRelease: waiting for a human (r2)"),
        (2900, "human", "nobody approved r2: the approval expired"),
    )
    assert [(m.at, m.environment, m.kind, m.outcome) for m in found] == [
        (300, "production", "approval", "info"),
        (900, "production", "approval", "ok"),
        (1900, "production", "approval", "info"),
        (2900, "production", "approval", "failed"),
    ]


def test_codedeploys_rollback_and_a_stage_rollback_are_restores(system: System) -> None:
    found = _read(
        system,
        (500, "CodeDeploy rollback", "production/api-service: production listener -> r0 100%"),
        (600, "CodePipeline", "Staging: rolling back to r0 (execution 0003)"),
    )
    assert [(m.at, m.environment, m.kind) for m in found] == [
        (500, "production", "restore"),
        (600, "staging", "restore"),
    ]


def test_alarm_changes_retries_and_unknown_deployments_are_no_markers(system: System) -> None:
    found = _read(
        system,
        (60, "CloudWatch", "dev-production-api-service-5xx-rate -> ALARM (1 of 1 breaching)"),
        (61, "Lambda", "health-check-dev: TimeoutError; retry 1 in 60 s"),
        (62, "CodeDeploy", "d-404: AfterAllowTraffic hook reported Succeeded"),
        (63, "developer", "commit of r1"),
    )
    assert found == []


# ---------------------------------------------------------------- a real scenario, drawn
def _runs(name: str) -> list[Result]:
    scenario = load(SCENARIOS / f"{name}.yaml")
    return [run(scenario, design) for design in ("current", "original")]


@pytest.fixture(scope="module")
def canary() -> list[Result]:
    return _runs("canary-5xx")


@pytest.fixture(scope="module")
def bake() -> list[Result]:
    return _runs("bake-5xx")


@pytest.fixture(scope="module")
def canary_figure(canary: list[Result]) -> Figure:
    return draw([chart_of(result) for result in canary])


ArtistsById = dict[str, list[Artist]]


@pytest.fixture(scope="module")
def artists(canary_figure: Figure) -> ArtistsById:
    """The figure's artists by SVG id (looked up thousands of times below)."""
    index: ArtistsById = {}
    for artist in canary_figure.findobj(lambda artist: artist.get_gid() is not None):
        index.setdefault(str(artist.get_gid()), []).append(artist)
    return index


def _line(artists: ArtistsById, gid: str) -> Line2D:
    (line,) = artists[gid]
    assert isinstance(line, Line2D)
    return line


def _step_value(line: Line2D, at: float) -> float:
    """The value a steps-post line shows at `at`."""
    times, values = _floats(line.get_xdata()), _floats(line.get_ydata())
    return values[bisect.bisect_right(times, at) - 1]


def _floats(values: object) -> list[float]:
    return [float(v) for v in np.asarray(values, dtype=float)]


def _same(drawn: float, sampled: float | None) -> bool:
    return math.isnan(drawn) if sampled is None else drawn == sampled


def _samples(results: list[Result]) -> Iterator[tuple[str, Sample]]:
    for result in results:
        for sample in result.samples:
            yield result.design, sample


def test_the_5xx_rate_of_every_target_group_is_drawn_as_sampled(
    canary: list[Result], artists: ArtistsById
) -> None:
    seen_errors = False
    for design, sample in _samples(canary):
        for colour in ("blue", "green"):
            ids = (design, sample.environment, "5xx-rate", sample.service, colour)
            sampled = sample.error_rates.get(colour)
            drawn = _step_value(_line(artists, chart.gid(*ids)), sample.at)
            assert _same(drawn, sampled), (ids, sample.at, drawn, sampled)
            seen_errors = seen_errors or bool(sampled)
    assert seen_errors, "the canary's green target group answers 5XX: the chart must show it"


def test_the_healthy_hosts_of_every_target_group_are_drawn_as_sampled(
    canary: list[Result], artists: ArtistsById
) -> None:
    for design, sample in _samples(canary):
        for colour, count in sample.healthy_hosts.items():
            ids = (design, sample.environment, "healthy-hosts", sample.service, colour)
            assert _step_value(_line(artists, chart.gid(*ids)), sample.at) == count


def test_the_traffic_on_each_release_is_charted_as_sampled_and_drawn_per_release(
    canary: list[Result], artists: ArtistsById
) -> None:
    for result in canary:
        charted = chart_of(result)
        for sample in result.samples:
            traffic = charted.environments[sample.environment].traffic[sample.service]
            for release, points in traffic.items():
                shown = next(v for t, v in reversed(points) if t <= sample.at)
                assert shown == sample.shares.get(release, 0.0)
                ids = (result.design, sample.environment, "traffic", sample.service, release)
                assert artists.get(chart.gid(*ids))
    production = [s for s in canary[0].samples if s.environment == "production"]
    assert any(s.shares.get("r1", 0.0) > 0 for s in production), "the canary took traffic"


def _alarm_spans(result: Result, name: str) -> list[tuple[float, float]]:
    """The alarm's ALARM periods in scenario time, read straight from its history."""
    world = result.world
    end = max(s.at for s in result.samples)
    spans, start = [], None
    for at, state in world.alarms[name].history:
        t = max(0.0, at - world.origin)
        if state == "ALARM" and start is None:
            start = t
        elif state != "ALARM" and start is not None:
            if t > start:
                spans.append((start, min(t, end)))
            start = None
    if start is not None:
        spans.append((start, end))
    return spans


def _drawn_spans(artists: ArtistsById, gid: str) -> list[tuple[float, float]]:
    spans = []
    for collection in artists.get(gid, []):
        assert isinstance(collection, PolyCollection)
        for path in collection.get_paths():
            xs = _floats(np.asarray(path.vertices, dtype=float)[:, 0])
            spans.append((min(xs), max(xs)))
    return sorted(spans)


def test_every_alarm_is_a_band_that_is_red_exactly_while_it_was_in_alarm(
    canary: list[Result], artists: ArtistsById
) -> None:
    alarmed = []
    for result in canary:
        for environment, services in result.world.system.environments.items():
            for spec in services.values():
                for alarm in spec.alarms:
                    ids = (result.design, str(environment), "alarm", str(alarm.name))
                    expected = _alarm_spans(result, alarm.name)
                    drawn = _drawn_spans(artists, chart.gid(*ids, "ALARM"))
                    assert drawn == expected, alarm.name
                    alarmed += [alarm.name] * bool(expected)
                    states = [chart.gid(*ids, state) for state in chart.STATE_COLOURS]
                    assert any(gid in artists for gid in states)
    assert alarmed, "the canary's errors put the 5XX alarm in ALARM: the chart must show it"


def _marker_times(artists: ArtistsById, design: str, environment: str, kind: str) -> list[float]:
    times: list[float] = []
    for outcome in chart.OUTCOME_COLOURS:
        for line in artists.get(chart.gid(design, environment, "marker", kind, outcome), []):
            assert isinstance(line, Line2D)
            times += _floats(line.get_xdata())
    return sorted(times)


def test_codedeploys_rollback_is_drawn_as_the_restore_in_production(
    canary: list[Result], artists: ArtistsById
) -> None:
    current = canary[0]
    rollbacks = [e.at for e in current.events if e.actor.startswith("CodeDeploy rollback")]
    assert rollbacks, "this design rolls the canary back"
    assert _marker_times(artists, "current", "production", "restore") == rollbacks


def test_the_approval_and_its_decision_are_drawn_in_production(
    canary: list[Result], artists: ArtistsById
) -> None:
    for result in canary:
        asked = [e.at for e in result.events if "waiting for a human" in e.text]
        decided = [e.at for e in result.events if e.actor == "human"]
        assert decided, "the scenario's release is approved"
        drawn = _marker_times(artists, result.design, "production", "approval")
        assert drawn == sorted(asked + decided)
        assert _marker_times(artists, result.design, "staging", "approval") == []


def test_every_hook_and_validator_verdict_is_drawn(
    canary: list[Result], artists: ArtistsById
) -> None:
    for result in canary:
        hooks = sorted(e.at for e in result.events if " hook reported " in e.text)
        validator = sorted(
            e.at for e in result.events if e.actor == "CodePipeline" and ".ValidateHealth" in e.text
        )
        drawn_hooks, drawn_validator = [], []
        for environment in ("staging", "production"):
            drawn_hooks += _marker_times(artists, result.design, environment, "hook")
            drawn_validator += _marker_times(artists, result.design, environment, "validator")
        assert sorted(drawn_hooks) == hooks
        assert sorted(drawn_validator) == validator
    assert any(" hook reported " in e.text for e in canary[0].events), "this design has hooks"


def test_every_codedeploy_event_is_a_marker(canary: list[Result], artists: ArtistsById) -> None:
    for result in canary:
        drawn: list[float] = []
        for environment in ("staging", "production"):
            for kind in chart.KINDS:
                drawn += _marker_times(artists, result.design, environment, kind)
        events = [e.at for e in result.events if e.actor.startswith("CodeDeploy")]
        assert events
        assert set(events) <= set(drawn)


def _panels(figure: Figure, *parts: str) -> list[Axes]:
    """The figure's axes whose SVG id starts with these parts."""
    prefix = chart.gid(*parts)
    return [ax for ax in figure.axes if str(ax.get_gid()).startswith(prefix)]


def test_both_designs_are_drawn_side_by_side_on_one_time_axis(canary_figure: Figure) -> None:
    texts = {text.get_text() for text in canary_figure.findobj(Text)}
    assert {"this design", "original design"} <= texts
    # Zoomed per environment (issue 29), but every panel of an environment, in both designs,
    # on one time axis; and the whole-run strips on one.
    for prefix in ("staging/panel", "production/panel", "whole-run"):
        axes = [ax for ax in canary_figure.axes if prefix in str(ax.get_gid())]
        assert len(axes) >= 2, prefix
        assert len({ax.get_xlim() for ax in axes}) == 1, prefix


def test_the_whole_run_strip_shades_the_minutes_each_environments_panels_show(
    canary_figure: Figure, artists: ArtistsById
) -> None:
    for design in ("current", "original"):
        for environment in ("staging", "production"):
            (traffic,) = _panels(canary_figure, design, environment, "panel", "traffic")
            spans = _drawn_spans(artists, chart.gid(design, "whole-run", environment))
            assert spans == [traffic.get_xlim()], (design, environment)


def _canary_seconds(result: Result) -> float:
    """How long the new release carried part, not all, of production's api-service traffic."""
    points = chart_of(result).environments["production"].traffic["api-service"]["r1"]
    return sum(
        end - start
        for (start, share), (end, _) in itertools.pairwise(points)
        if share is not None and 0 < share < 1
    )


def test_the_production_panels_show_the_canary_over_a_sixth_of_their_width(
    canary: list[Result], canary_figure: Figure
) -> None:
    # GIVEN this design's canary: 10 % of production's traffic for a few minutes of a long run
    seconds = _canary_seconds(canary[0])
    assert 0 < seconds < canary[0].samples[-1].at / 10
    # THEN the production panels are zoomed so that it takes a sixth of their width or more
    (traffic,) = _panels(canary_figure, "current", "production", "panel", "traffic")
    left, right = traffic.get_xlim()
    assert seconds / (right - left) >= 1 / 6


def _label_boxes(figure: Figure) -> list[tuple[str, Bbox]]:
    """The labels' extents (events', canary shares') as drawn, in pixels, in the chart's style."""
    with chart.style():
        canvas = FigureCanvasAgg(figure)
        canvas.draw()
        renderer = canvas.get_renderer()
        return [
            (text.get_text(), text.get_window_extent(renderer))
            for text in figure.findobj(Text)
            if "/label/" in str(text.get_gid()) and text.get_visible()
        ]


@pytest.mark.parametrize("scenario", ["canary", "bake"])
def test_no_two_event_labels_overlap(
    scenario: str, canary: list[Result], bake: list[Result]
) -> None:
    runs = {"canary": canary, "bake": bake}[scenario]
    boxes = _label_boxes(draw([chart_of(result) for result in runs]))
    assert len(boxes) >= 4, "both designs' approvals and restores are labelled"
    for (one, a), (other, b) in itertools.combinations(boxes, 2):
        assert not a.overlaps(b), (one, other)


def test_the_same_event_of_every_service_at_once_is_one_label() -> None:
    # GIVEN the three services of an environment stopped within a few seconds, one of them twice
    env = chart.EnvironmentChart("production")
    env.traffic = {service: {} for service in ("api", "auth", "notification")}
    env.markers = [
        Marker(100, "production", "lifecycle", "failed", f"{service} stopped")
        for service in ("auth", "api", "notification")
    ]
    env.markers.append(Marker(900, "production", "lifecycle", "failed", "api stopped"))
    # WHEN they are labelled
    found = chart.labels(env)
    # THEN one label names them all, the later stop its own
    assert [(label.at, label.text) for label in found] == [
        (100, "all services stopped"),
        (900, "api stopped"),
    ]


def test_a_label_goes_to_the_first_row_whose_last_label_ends_before_it_starts() -> None:
    spans = [(0.0, 50.0), (40.0, 90.0), (55.0, 70.0), (60.0, 80.0), (95.0, 99.0)]
    assert chart.pack(spans, gap=5.0) == [0, 1, 0, 2, 0]


# ---------------------------------------------------------------- the command and the README
def test_the_rehearse_command_writes_the_scenarios_chart(
    canary: list[Result], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the engine's run of the scenario (already made above: the command only wires it)
    runs = {result.design: result for result in canary}
    monkeypatch.setattr(cli, "run", lambda scenario, design: runs[design])
    target = tmp_path / "canary.svg"
    # WHEN the command draws it
    cli.main(["--scenario", str(SCENARIOS / "canary-5xx.yaml"), "--chart", str(target)])
    # THEN the SVG holds both designs' series under their ids
    svg = target.read_text()
    assert 'id="current/production/5xx-rate/api-service/green"' in svg
    assert 'id="original/production/5xx-rate/api-service/green"' in svg


def test_chart_without_a_scenario_is_refused_before_anything_runs(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--chart", "library.svg"])
    assert exit_info.value.code == 2
    assert "--scenario" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.parametrize("image", sorted(chart.README_CHARTS), ids=str)
def test_the_readme_charts_are_what_the_current_code_draws(
    image: Path, canary: list[Result], bake: list[Result]
) -> None:
    runs = {"canary-5xx": canary, "bake-5xx": bake}[chart.README_CHARTS[image].stem]
    drawn = chart.render([chart_of(result) for result in runs])
    committed = (chart.REPO_ROOT / image).read_bytes()
    assert drawn == committed, f"{image} is stale: `make charts` redraws it"


def test_clip_paths_are_named_by_their_shape_not_by_matplotlibs_float_hash() -> None:
    # GIVEN one drawing written twice, matplotlib hashing the same rectangle two ways (its float
    # bounds differed in bits the file does not show), and a second rectangle
    def svg(first: str, second: str) -> bytes:
        return (
            f'<defs><clipPath id="{first}">\n <rect x="1" y="2" width="3" height="4"/>\n'
            f'</clipPath><clipPath id="{second}"> <rect x="5" y="6" width="7" height="8"/>'
            f'</clipPath></defs><path clip-path="url(#{first})"/><path clip-path="url(#{second})"/>'
        ).encode()

    # WHEN both are made stable
    one = chart.stable_clip_ids(svg("p0c838b7f5b", "p1111111111"))
    other = chart.stable_clip_ids(svg("p91960f34bb", "p2222222222"))

    # THEN they are the same file, each shape under one name, every reference kept
    assert one == other
    assert one.count(b"<clipPath") == 2
    assert b"url(#clip1)" in one
    assert b"url(#clip2)" in one
