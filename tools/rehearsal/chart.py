"""The rehearsal as a picture: one scenario on its virtual time axis, per environment, for one or
both designs side by side.

A strip of the whole run first, then per environment, zoomed to the minutes of its deployments
(so a canary of a few minutes is not a hairline on an hour's axis), top to bottom: the share of
user traffic on each release, the 5XX rate of each target group, the healthy hosts of each
target group (one lane per service in each), every alarm's state as a band, and markers for the
lifecycle events, hook verdicts, validator verdicts, approval and the restore, the failures,
approvals and restores labelled in rows that never overlap.

`chart_of(result)` is the data the drawing shows (tests read it, and the drawing's artists carry
the same values under SVG ids); `draw` lays it out; `write` saves SVG or PNG.
`python -m tools.rehearsal.chart` redraws the README's charts (`make charts`).
"""

from __future__ import annotations

import io
import math
import re
import sys
import textwrap
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from pathlib import Path

import matplotlib as mpl
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.gridspec import GridSpec
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.text import Annotation
from matplotlib.ticker import FuncFormatter, MultipleLocator
from matplotlib.transforms import Affine2D, Transform

from tools.rehearsal import restores
from tools.rehearsal.run import Result, run
from tools.rehearsal.scenario import load
from tools.rehearsal.system import System
from tools.rehearsal.world import Event, Sample

REPO_ROOT = Path(__file__).resolve().parents[2]
# The README's charts and the scenario each one draws (this design beside the original).
README_CHARTS = {
    Path("docs/images/canary-5xx.svg"): Path("scenarios/canary-5xx.yaml"),
    Path("docs/images/bake-5xx.svg"): Path("scenarios/bake-5xx.yaml"),
}

KINDS = ("lifecycle", "hook", "validator", "approval", "restore")
KIND_LABELS = {
    "lifecycle": "lifecycle events",
    "hook": "hook verdicts",
    "validator": "validator verdicts",
    "approval": "approval",
    "restore": "restore",
}
DESIGN_TITLES = {"current": "this design", "original": "original design"}

# One point is 1/72 in; at 9 in wide the SVG fills a 900 px README column at 1.39 px per point.
WIDTH_INCHES = 9.0
FONT_SIZE = 7.0
LANE = 0.8  # the height of one lane; the rest of each unit is the gap to the next
RELEASE_COLOURS = ("#9aa5b1", "#f28e2b", "#b07aa1", "#76b7b2", "#edc948")
GROUP_COLOURS = {"blue": "#4e79a7", "green": "#59a14f"}
STATE_COLOURS = {"OK": "#cfe8cf", "ALARM": "#e15759", "INSUFFICIENT_DATA": "#d9d9d9"}
OUTCOME_COLOURS = {"ok": "#59a14f", "failed": "#e15759", "info": "#6b6b6b"}
KIND_MARKERS = {"lifecycle": "|", "hook": "^", "validator": "D", "approval": "o", "restore": "*"}
# The same thing happening to several services within this many seconds is one label.
LABEL_GAP = 120.0
LABEL_OFFSET = 4.0  # points between an event label's symbol and its text
UNIT_INCHES = 0.124  # the height of one lane of events, or of one row of their labels
# An environment's panels, top to bottom (their SVG ids end in these).
PANELS = ("traffic", "5xx-rate", "healthy-hosts", "alarms", "events")
WATCH_COLOUR = "#e0b000"  # the watch window's band
WINDOW_MARGIN = 60.0  # seconds shown before an environment's first marker and after its last
# Time ticks: whole minutes apart, the shortest of these steps that makes at most MOST_TICKS.
TICK_STEPS = (60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0, 7200.0, 14400.0, 86400.0)
MOST_TICKS = 8


# ---------------------------------------------------------------- the data a chart shows
Point = tuple[float, float | None]
_Values = Callable[[Sample], Mapping[str, float | None]]


@dataclass(frozen=True)
class Band:
    start: float
    end: float
    state: str


@dataclass(frozen=True)
class Marker:
    at: float
    environment: str
    kind: str  # one of KINDS
    outcome: str  # ok, failed or info
    label: str


@dataclass
class EnvironmentChart:
    environment: str
    # Step series as change points (a value holds until the next point), in scenario seconds.
    traffic: dict[str, dict[str, list[Point]]] = field(default_factory=dict)  # service/release
    error_rates: dict[str, dict[str, list[Point]]] = field(default_factory=dict)  # service/colour
    healthy_hosts: dict[str, dict[str, list[Point]]] = field(default_factory=dict)
    alarms: dict[str, list[Band]] = field(default_factory=dict)
    markers: list[Marker] = field(default_factory=list)
    # From each release's end (its validation passed) for WatchWindowMinutes: an alarm then
    # restores the release before at once (restores.py).
    watch_windows: list[tuple[float, float]] = field(default_factory=list)


@dataclass
class RunChart:
    scenario: str
    description: str
    design: str
    summary: str
    end: float
    environments: dict[str, EnvironmentChart]


def chart_of(result: Result) -> RunChart:
    world = result.world
    system = world.system
    end = max((s.at for s in result.samples), default=0.0)
    by_fleet: dict[tuple[str, str], list[Sample]] = {}
    for sample in result.samples:
        by_fleet.setdefault((sample.environment, sample.service), []).append(sample)
    environments = {}
    # Names read from the templates are YAML nodes that remember their line; the chart keeps
    # plain strings (and can be pickled or compared).
    for environment, services in system.environments.items():
        env = EnvironmentChart(str(environment))
        for service, spec in services.items():
            samples = by_fleet.get((environment, service), [])
            env.traffic[str(service)] = step_series(samples, lambda s: s.shares, default=0.0)
            # Every target group has a series; one without user requests has no rate (a gap).
            env.error_rates[str(service)] = step_series(
                samples, lambda s: {g: s.error_rates.get(g) for g in s.healthy_hosts}, default=None
            )
            env.healthy_hosts[str(service)] = step_series(
                samples, lambda s: {k: float(v) for k, v in s.healthy_hosts.items()}, default=0.0
            )
            for alarm in spec.alarms:
                history = world.alarms[alarm.name].history
                env.alarms[str(alarm.name)] = bands(history, world.origin, end)
        environments[env.environment] = env
    # Who restored (restores.py): CodeDeploy's rollbacks are restore markers already; a redeploy
    # of the known-good release is one too.
    restorers = {(r.at, r.environment, r.service): r for r in restores.restores(result.events)}
    for read in markers(result.events, system):
        key = (read.at, read.environment, read.label.split(" ", 1)[0])
        found = restorers.pop(key, None) if read.kind == "restore" else None
        shown = read if found is None else replace(read, label=f"{read.label} ({found.actor})")
        environments[read.environment].markers.append(shown)
    for found in restorers.values():
        label = f"{found.service} -> {found.to} ({found.actor})"
        environments[found.environment].markers.append(
            Marker(found.at, found.environment, "restore", "ok", label)
        )
    for window in restores.watch_windows(result.events, system):
        environments[window.environment].watch_windows.append((window.start, window.end))
    return RunChart(
        scenario=str(result.scenario.name),
        description=str(result.scenario.description),
        design=result.design,
        summary=_summary(result),
        end=end,
        environments=environments,
    )


def step_series(
    samples: Sequence[Sample],
    values: _Values,
    default: float | None,
) -> dict[str, list[Point]]:
    """Per key (a release, a target group colour), the change points of its value over the
    samples, and the last sample's value so the line reaches the end. A key missing from a
    sample takes `default` (no traffic: share 0; no requests: no 5XX rate, a gap)."""
    keys: list[str] = []
    for sample in samples:
        keys += [k for k in sorted(values(sample)) if k not in keys]
    series: dict[str, list[Point]] = {}
    for key in keys:
        points: list[Point] = []
        for sample in samples:
            value = values(sample).get(key, default)
            if not points or points[-1][1] != value:
                points.append((sample.at, value))
        if samples and points[-1][0] != samples[-1].at:
            points.append((samples[-1].at, points[-1][1]))
        series[key] = points
    return series


def bands(history: Sequence[tuple[float, str]], origin: float, end: float) -> list[Band]:
    """An alarm's states from scenario time 0 to `end`. History is in simulation time (the
    warm-up before the scenario included): what happened before 0 only sets the first state."""
    state = "INSUFFICIENT_DATA"
    changes: list[tuple[float, str]] = []
    for at, new in history:
        if at - origin <= 0:
            state = new
        else:
            changes.append((at - origin, new))
    result: list[Band] = []
    start = 0.0
    for at, new in changes:
        if new == state:
            continue
        if at > start:
            result.append(Band(start, min(at, end), state))
        start, state = at, new
    if end > start or not result:
        result.append(Band(start, max(start, end), state))
    return result


def _summary(result: Result) -> str:
    f = result.figures

    def seconds(value: float | None) -> str:
        return "-" if value is None else f"{value:g} s"

    return (
        f"peak bad share {100 * f.peak_bad_share:.0f}%, exposure "
        f"{f.exposure_request_seconds:g} req-s, detect {seconds(f.detect_seconds)}, "
        f"restore {seconds(f.restore_seconds)}"
    )


# ---------------------------------------------------------------- markers from the timeline
# The timeline's text is the engine's record of what happened; these patterns read it.
_CREATED = re.compile(r"(?P<id>d-\w+) created by .+?: (?P<group>\S+) -> (?P<release>\S+)")
_DEPLOYMENT_ID = re.compile(r"d-\w+")
_ENDED = re.compile(r"(?P<id>d-\w+): (?P<how>stopped|failed): (?P<reason>.+)")
_HOOK_REASON = re.compile(r"(?P<event>\w+) hook (?:reported Failed|did not report)")
# A deployment's other lines: pattern, marker kind, outcome, label (filled from the match).
_DEPLOYMENT_LINES = (
    (re.compile(r"d-\w+: (?P<event>\w+) -> invoke "), "lifecycle", "info", "{event}"),
    (
        re.compile(r"d-\w+: (?P<event>\w+) hook reported Succeeded"),
        "hook",
        "ok",
        "{event} Succeeded",
    ),
    (re.compile(r"d-\w+: traffic on (?P<release>\S+);"), "lifecycle", "info", "on {release}"),
    (re.compile(r"d-\w+: Succeeded "), "lifecycle", "ok", "Succeeded"),
    (re.compile(r"d-\w+: no automatic rollback"), "lifecycle", "failed", "no rollback"),
)
_LISTENER = re.compile(r"(?P<env>[\w-]+)/(?P<service>[\w-]+): production listener -> (?P<to>.+)")
_TASK_EXITED = re.compile(r"(?P<env>[\w-]+)/(?P<service>[\w-]+): task of \S+ exited")
_ACTION_VERDICT = re.compile(
    r"(?P<stage>\w+)\.(?P<action>\w+)(?: (?P<verdict>succeeded|failed)|: no job result)"
)
_STAGE_ROLLBACK = re.compile(r"(?P<stage>\w+): rolling back to (?P<release>\S+)")
_WAITING = re.compile(r"(?P<action>\w+): waiting for a human \((?P<release>[^)]+)\)")
_DECISION = re.compile(r"(?P<decision>approve|reject)s (?P<release>\S+)")
_EXPIRED = re.compile(r"nobody approved (?P<release>\S+)")


@dataclass
class _Reader:
    """Reads events in order: which environment a deployment, stage or approval belongs to is
    learnt from the events before (a deployment's creation names its group) and the templates."""

    system: System
    deployments: dict[str, tuple[str, str]] = field(default_factory=dict)
    approval_environment: str | None = None

    def read(self, event: Event) -> list[Marker]:  # noqa: PLR0911 - one return per actor
        if event.actor == "CodeDeploy":
            return self._deployment(event)
        if event.actor.startswith("CodeDeploy"):  # "CodeDeploy d-…" or "CodeDeploy rollback"
            return self._listener(event)
        if event.actor == "CodePipeline":
            for read in (self._action_verdict, self._stage_rollback, self._waiting):
                if found := read(event):
                    return [found]
            return []
        if event.actor == "human":
            return [found] if (found := self._decision(event)) else []
        if event.actor == "ECS" and (m := _TASK_EXITED.match(event.text)):
            return [
                Marker(event.at, m["env"], "lifecycle", "failed", f"{m['service']} task exited")
            ]
        return []

    # ------------------------------------------------------------ the templates' structure
    def stage_environment(self, stage_name: str) -> str | None:
        """The environment a stage deploys to; a stage that deploys nothing (the approval)
        belongs to the next stage that does, the one it gates."""
        names = [stage.name for stage in self.system.stages]
        if stage_name not in names:
            return None
        for stage in self.system.stages[names.index(stage_name) :]:
            for action in stage.actions:
                group = action.configuration.get("DeploymentGroupName")
                if action.provider == "CodeDeployToECS" and group:
                    return self.system.service_environment(str(group)).environment
        return None

    def stage_of(self, action_name: str, provider: str, stage_name: str = "") -> str | None:
        """The stage holding an action of this name and provider (in `stage_name`, if given)."""
        for stage in self.system.stages:
            for action in stage.actions:
                if (
                    action.name == action_name
                    and action.provider == provider
                    and stage_name in {stage.name, ""}
                ):
                    return stage.name
        return None

    # ------------------------------------------------------------ CodeDeploy
    def _deployment(self, event: Event) -> list[Marker]:
        text, at = event.text, event.at
        if m := _CREATED.match(text):
            spec = self.system.service_environment(m["group"])
            self.deployments[m["id"]] = (spec.environment, spec.service)
            label = f"{spec.service} deploys {m['release']}"
            return [Marker(at, spec.environment, "lifecycle", "info", label)]
        deployment = _DEPLOYMENT_ID.match(text)
        if deployment is None or deployment[0] not in self.deployments:
            return []
        environment, service = self.deployments[deployment[0]]
        if m := _ENDED.match(text):
            ended = Marker(at, environment, "lifecycle", "failed", f"{service} {m['how']}")
            if hook := _HOOK_REASON.match(m["reason"]):
                label = f"{service} {hook['event']} Failed"
                return [Marker(at, environment, "hook", "failed", label), ended]
            return [ended]
        for pattern, kind, outcome, label in _DEPLOYMENT_LINES:
            if m := pattern.match(text):
                filled = f"{service} {label.format(**m.groupdict())}"
                return [Marker(at, environment, kind, outcome, filled)]
        return []

    def _listener(self, event: Event) -> list[Marker]:
        """A change of a production listener: a traffic shift, or CodeDeploy's rollback."""
        m = _LISTENER.match(event.text)
        if m is None:
            return []
        label = f"{m['service']} -> {m['to']}"
        if event.actor.startswith("CodeDeploy rollback"):  # "CodeDeploy rollback d-…"
            return [Marker(event.at, m["env"], "restore", "ok", label)]
        return [Marker(event.at, m["env"], "lifecycle", "info", label)]

    # ------------------------------------------------------------ CodePipeline and people
    def _action_verdict(self, event: Event) -> Marker | None:
        """A Lambda action's verdict (the health validator's): succeeded, failed, timed out."""
        m = _ACTION_VERDICT.match(event.text)
        if m is not None and m["action"] == "WaitForIdle":
            return None  # the gate before the deployments: no verdict on the release
        stage = m and self.stage_of(m["action"], "Lambda", m["stage"])
        environment = self.stage_environment(stage) if m and stage else None
        if m is None or environment is None:
            return None
        outcome = "ok" if m["verdict"] == "succeeded" else "failed"
        label = f"{m['action']} {m['verdict'] or 'timed out'}"
        return Marker(event.at, environment, "validator", outcome, label)

    def _stage_rollback(self, event: Event) -> Marker | None:
        m = _STAGE_ROLLBACK.match(event.text)
        environment = self.stage_environment(m["stage"]) if m else None
        if m is None or environment is None:
            return None
        label = f"{m['stage']} rolls back to {m['release']}"
        return Marker(event.at, environment, "restore", "ok", label)

    def _waiting(self, event: Event) -> Marker | None:
        m = _WAITING.match(event.text)
        if m is None:
            return None
        stage = self.stage_of(m["action"], "Manual")
        self.approval_environment = self.stage_environment(stage) if stage else None
        if self.approval_environment is None:
            return None
        label = f"waiting ({m['release']})"
        return Marker(event.at, self.approval_environment, "approval", "info", label)

    def _decision(self, event: Event) -> Marker | None:
        environment = self.approval_environment
        if environment is None:
            return None
        if m := _DECISION.match(event.text):
            outcome = "ok" if m["decision"] == "approve" else "failed"
            return Marker(event.at, environment, "approval", outcome, f"{m['decision']}s")
        if _EXPIRED.match(event.text):
            return Marker(event.at, environment, "approval", "failed", "expired")
        return None


def markers(events: Iterable[Event], system: System) -> list[Marker]:
    """The markers a timeline's events make; events that are no marker (alarms, which are
    bands, and the Lambda service's retries) make none."""
    reader = _Reader(system)
    return [marker for event in events for marker in reader.read(event)]


# ---------------------------------------------------------------- drawing
def gid(*parts: str) -> str:
    """The SVG id of an artist: the design, the environment, the series (tests look them up)."""
    return "/".join(parts)


def draw(runs: Sequence[RunChart]) -> Figure:
    """One column per run (this design, then the original): a strip of the whole run, then one
    block of panels per environment, zoomed to that environment's span (`_window`); both columns
    share every time axis, so the designs compare at a glance."""
    if not runs:
        raise ValueError("nothing to draw: no rehearsal runs")
    with style():
        return _draw(runs)


def _draw(runs: Sequence[RunChart]) -> Figure:
    environments = list(runs[0].environments)
    alarm_lanes = max(len(env.alarms) for chart in runs for env in chart.environments.values())
    block = [0.62, 0.62, 0.55, max(0.4, 0.1 * alarm_lanes), len(KINDS) * UNIT_INCHES]
    heights = [0.3, 0.2 + 0.12 * len(environments)]  # the column's header, the whole run
    for number in range(len(environments)):
        heights += [0.2 * (number > 0) + 0.1, *block]  # the block's gap holds its tick labels
    figure = Figure(figsize=(WIDTH_INCHES, sum(heights) + 0.9), layout="constrained")
    grid = figure.add_gridspec(len(heights), len(runs), height_ratios=heights)
    scale = _Scale(
        end=max(chart.end for chart in runs),
        releases=_releases(runs),
        hosts=_most_hosts(runs),
        windows={environment: _window(runs, environment) for environment in environments},
    )
    events: dict[int, list[tuple[Axes, list[Label]]]] = {}  # the events panels by grid row
    for column, chart in enumerate(runs):
        _header(figure.add_subplot(grid[0, column]), chart)
        _whole_run(figure.add_subplot(grid[1, column]), chart, scale, lane_names=column == 0)
        for number, environment in enumerate(environments):
            first = 3 + number * (len(block) + 1)
            axes = [figure.add_subplot(grid[first + row, column]) for row in range(len(block))]
            _environment(
                axes,
                chart.environments[environment],
                (chart.design, environment),
                scale,
                lane_names=column == 0,
                time_label=number == len(environments) - 1,
            )
            events.setdefault(first + len(block) - 1, []).append(
                (axes[-1], labels(chart.environments[environment]))
            )
    figure.suptitle(
        textwrap.fill(f"{runs[0].scenario}: {runs[0].description}", 150), fontsize=FONT_SIZE + 1.5
    )
    figure.legend(
        handles=_legend(scale.releases), loc="outside lower center", ncols=6, frameon=False
    )
    _lay_out_labels(figure, grid, heights, events)
    return figure


@dataclass(frozen=True)
class _Scale:
    """What every column shares, so the two designs read on the same scales."""

    end: float
    releases: list[str]
    hosts: float
    windows: dict[str, tuple[float, float]]  # each environment's time axis


def _window(runs: Sequence[RunChart], environment: str) -> tuple[float, float]:
    """The span an environment's panels show: from its first to its last marker in either run,
    and a margin. The approval's request is left out: the wait for a human comes before the
    environment's deployment and would shrink a 10 % canary of a few minutes back to a hairline
    (the whole-run strip shows it)."""
    end = max(*(chart.end for chart in runs), 60.0)
    times = [
        m.at
        for chart in runs
        for m in chart.environments[environment].markers
        if not (m.kind == "approval" and m.outcome == "info")
    ]
    if not times:
        return 0.0, end
    margin = max(WINDOW_MARGIN, 0.15 * (max(times) - min(times)))
    return max(0.0, min(times) - margin), min(end, max(times) + margin)


def _header(ax: Axes, chart: RunChart) -> None:
    ax.axis("off")
    title = DESIGN_TITLES.get(chart.design, chart.design)
    ax.text(
        0, 1, title, transform=ax.transAxes, va="top", fontweight="bold", fontsize=FONT_SIZE + 1
    )
    ax.text(0, 0, chart.summary, transform=ax.transAxes, va="bottom")


def _whole_run(ax: Axes, chart: RunChart, scale: _Scale, *, lane_names: bool) -> None:
    """The whole run on one axis: per environment, the span its panels below show (shaded)
    and a tick for each of its markers, so a zoomed panel keeps its place in the run."""
    whole = (0.0, max(scale.end, 60.0))
    _time_axis(ax, whole, step=_tick_step(whole))
    ax.set_gid(gid(chart.design, "whole-run"))
    names = list(chart.environments)
    for environment, bottom in zip(names, _lanes(ax, names), strict=True):
        start, stop = scale.windows[environment]
        ax.broken_barh(
            [(start, stop - start)],
            (bottom, LANE),
            facecolors="#e8e8e8",
            edgecolors="#9a9a9a",
            linewidth=0.5,
            gid=gid(chart.design, "whole-run", environment),
        )
        for outcome, colour in OUTCOME_COLOURS.items():
            times = [m.at for m in chart.environments[environment].markers if m.outcome == outcome]
            ax.plot(
                times,
                [bottom + LANE / 2] * len(times),
                linestyle="none",
                marker="|",
                markersize=4,
                color=colour,
            )
    ax.set_title("the whole run (shaded: the minutes drawn below)", loc="left")
    if lane_names:
        ax.set_ylabel("run", rotation=0, ha="right", va="center")
    else:
        ax.set_yticklabels([])


def _environment(
    axes: Sequence[Axes],
    env: EnvironmentChart,
    ids: tuple[str, str],
    scale: _Scale,
    *,
    lane_names: bool,
    time_label: bool,
) -> None:
    services = list(env.traffic)
    window = scale.windows[env.environment]
    for ax, panel in zip(axes, PANELS, strict=True):
        _time_axis(ax, window, step=_tick_step(window), ticks=ax is axes[-1])
        ax.set_gid(gid(*ids, "panel", panel))
    if time_label:
        axes[-1].set_xlabel("minutes after the commit (scenario time)")
    _traffic(axes[0], env, services, scale.releases, ids)
    _lines(axes[1], env.error_rates, services, 1.0, (*ids, "5xx-rate"))
    _lines(axes[2], env.healthy_hosts, services, scale.hosts, (*ids, "healthy-hosts"))
    _alarms(axes[3], env, ids)
    _markers(axes[4], env, ids)
    for ax in axes:
        _guides(ax, env)
        _watch_windows(ax, env, ids)
    start, stop = window
    axes[0].set_title(
        f"{env.environment}: minutes {start / 60:.0f}-{stop / 60:.0f}",
        loc="left",
        fontweight="bold",
    )
    texts = (
        "traffic by\nrelease",
        "5XX rate by\ntarget group\n(lane: 0-100 %)",
        f"healthy hosts\n(lane: 0-{scale.hosts:g})",
        "alarms",
        "events",
    )
    for ax, text in zip(axes, texts, strict=True):
        if lane_names:
            ax.set_ylabel(text, rotation=0, ha="right", va="center")
        else:
            ax.set_yticklabels([])


def _watch_windows(ax: Axes, env: EnvironmentChart, ids: tuple[str, ...]) -> None:
    """A light band over every panel for each watch window."""
    for number, (start, end) in enumerate(env.watch_windows):
        band = ax.axvspan(start, end, color=WATCH_COLOUR, alpha=0.12, zorder=0, lw=0)
        band.set_gid(gid(*ids, "watch-window", str(number)))


def _releases(runs: Sequence[RunChart]) -> list[str]:
    """Every release, in the order it first took traffic (so colours follow the story)."""
    first: dict[str, float] = {}
    for chart in runs:
        for env in chart.environments.values():
            for by_release in env.traffic.values():
                for release, points in by_release.items():
                    carried = [t for t, share in points if share]
                    first[release] = min(first.get(release, math.inf), *carried, math.inf)
    return sorted(first, key=lambda release: (first[release], release))


def _most_hosts(runs: Sequence[RunChart]) -> float:
    """The lanes of healthy hosts share one scale, so a count reads the same in every lane."""
    counts = [
        value or 0.0
        for chart in runs
        for env in chart.environments.values()
        for by_colour in env.healthy_hosts.values()
        for points in by_colour.values()
        for _, value in points
    ]
    return max([1.0, *counts])


def _time_axis(ax: Axes, window: tuple[float, float], *, step: float, ticks: bool = True) -> None:
    ax.set_xlim(*window)
    ax.xaxis.set_major_locator(MultipleLocator(step))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x / 60:.0f}"))
    ax.tick_params(axis="both", length=2, pad=1)
    ax.grid(axis="x", which="major", color="#e6e6e6", linewidth=0.5)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    if not ticks:
        ax.tick_params(axis="x", labelbottom=False)


def _tick_step(window: tuple[float, float]) -> float:
    """The step between a window's time ticks."""
    width = window[1] - window[0]
    return next((step for step in TICK_STEPS if width / step <= MOST_TICKS), TICK_STEPS[-1])


def _lanes(ax: Axes, labels: Sequence[str]) -> list[float]:
    """One lane per label, the first at the top; returns each lane's bottom."""
    bottoms = [float(len(labels) - 1 - i) for i in range(len(labels))]
    ax.set_ylim(-0.1, len(labels) - 0.1)
    ax.set_yticks([b + LANE / 2 for b in bottoms], list(labels))
    return bottoms


def _lane_transform(ax: Axes, bottom: float, top_value: float) -> Transform:
    """Draw a series in its own units (0..top_value) inside a lane: the artist keeps the
    series' values as its data."""
    return Affine2D().scale(1.0, LANE / top_value).translate(0.0, bottom) + ax.transData


def _xy(points: Sequence[Point]) -> tuple[list[float], list[float]]:
    return [t for t, _ in points], [math.nan if v is None else v for _, v in points]


def _traffic(
    ax: Axes,
    env: EnvironmentChart,
    services: Sequence[str],
    releases: Sequence[str],
    ids: tuple[str, ...],
) -> None:
    for service, bottom in zip(services, _lanes(ax, services), strict=True):
        transform = _lane_transform(ax, bottom, 1.0)
        by_release = env.traffic.get(service, {})
        times = sorted({t for points in by_release.values() for t, _ in points})
        stacked = [0.0] * len(times)
        for release in releases:
            if release not in by_release:
                continue
            share = _at(by_release[release], times)
            top = [s + v for s, v in zip(stacked, share, strict=True)]
            ax.fill_between(
                times,
                stacked,
                top,
                step="post",
                transform=transform,
                color=RELEASE_COLOURS[releases.index(release) % len(RELEASE_COLOURS)],
                linewidth=0,
                gid=gid(*ids, "traffic", service, release),
            )
            stacked = top
            _canary_shares(ax, by_release[release], release, bottom, (*ids, "traffic", service))


def _canary_shares(
    ax: Axes, points: Sequence[Point], release: str, bottom: float, ids: tuple[str, ...]
) -> None:
    """A release's minority share written where it starts ("r1 10%"): a canary's band is a
    tenth of its lane high, easy to miss without its number."""
    left, right = ax.get_xlim()
    before: float | None = None
    for at, share in points:
        if share and _minority(share) and not _minority(before) and left <= at < right:
            ax.annotate(
                f"{release} {share:.0%}",
                (at, bottom + LANE / 2),
                xytext=(LABEL_OFFSET / 2, 0),
                textcoords="offset points",
                fontsize=FONT_SIZE - 1.5,
                va="center",
                color="#222222",
                gid=gid(*ids, "label", f"{at:g}"),
            )
        before = share


def _minority(share: float | None) -> bool:
    return share is not None and 0 < share < 0.5  # noqa: PLR2004 - less than half


def _at(points: Sequence[Point], times: Sequence[float]) -> list[float]:
    """A step series' value at each of `times`."""
    values, index = [], 0
    for t in times:
        while index + 1 < len(points) and points[index + 1][0] <= t:
            index += 1
        value = points[index][1] if points and points[index][0] <= t else 0.0
        values.append(value or 0.0)
    return values


def _lines(
    ax: Axes,
    series: dict[str, dict[str, list[Point]]],
    services: Sequence[str],
    top_value: float,
    ids: tuple[str, ...],
) -> None:
    for service, bottom in zip(services, _lanes(ax, services), strict=True):
        transform = _lane_transform(ax, bottom, top_value)
        ax.axhline(bottom, color="#bbbbbb", linewidth=0.4)
        ax.axhline(bottom + LANE, color="#dddddd", linewidth=0.4, linestyle=":")
        for colour, points in series.get(service, {}).items():
            x, y = _xy(points)
            ax.plot(
                x,
                y,
                drawstyle="steps-post",
                transform=transform,
                linewidth=1.0,
                color=GROUP_COLOURS.get(colour, "black"),
                gid=gid(*ids, service, colour),
            )


def _alarms(ax: Axes, env: EnvironmentChart, ids: tuple[str, ...]) -> None:
    names = list(env.alarms)
    # The lane's label drops the name's prefix up to the environment, which the block names.
    labels = [name.split(f"-{env.environment}-", 1)[-1] for name in names]
    for name, bottom in zip(names, _lanes(ax, labels), strict=True):
        for state, colour in STATE_COLOURS.items():
            spans = [(b.start, b.end - b.start) for b in env.alarms[name] if b.state == state]
            if spans:
                ax.broken_barh(
                    spans,
                    (bottom, LANE),
                    facecolors=colour,
                    gid=gid(*ids, "alarm", name, state),
                )
    ax.tick_params(axis="y", labelsize=FONT_SIZE - 1)


def _markers(ax: Axes, env: EnvironmentChart, ids: tuple[str, ...]) -> None:
    bottoms = dict(zip(KINDS, _lanes(ax, [KIND_LABELS[k] for k in KINDS]), strict=True))
    for kind in KINDS:
        for outcome in OUTCOME_COLOURS:
            times = [m.at for m in env.markers if m.kind == kind and m.outcome == outcome]
            if times:
                _symbols(ax, times, bottoms[kind] + LANE / 2, kind, outcome).set_gid(
                    gid(*ids, "marker", kind, outcome)
                )


def _symbols(ax: Axes, times: Sequence[float], y: float, kind: str, outcome: str) -> Line2D:
    colour = OUTCOME_COLOURS[outcome]
    filled = kind != "approval" or outcome != "info"
    (line,) = ax.plot(
        times,
        [y] * len(times),
        linestyle="none",
        marker=KIND_MARKERS[kind],
        markersize=7 if kind == "restore" else 4.5,
        color=colour,
        markerfacecolor=colour if filled else "white",
    )
    return line


# ---------------------------------------------------------------- event labels
@dataclass(frozen=True)
class Label:
    """The text beside one or more markers of one kind and outcome."""

    at: float
    kind: str
    outcome: str
    text: str


def labels(env: EnvironmentChart) -> list[Label]:
    """The labelled markers (failures, the approval, restores), one label for the same thing
    happening to several services within LABEL_GAP seconds ("all services stopped"), in time
    order."""
    services = list(env.traffic)
    groups: dict[tuple[str, str, str], list[tuple[float, set[str]]]] = {}
    for m in env.markers:
        if m.outcome != "failed" and m.kind not in {"approval", "restore"}:
            continue
        service = next((s for s in services if m.label.startswith(f"{s} ")), "")
        what = m.label.removeprefix(f"{service} ") if service else m.label
        spans = groups.setdefault((m.kind, m.outcome, what), [])
        if spans and m.at - spans[-1][0] < LABEL_GAP:
            spans[-1][1].add(service)
        else:
            spans.append((m.at, {service}))
    found = []
    for (kind, outcome, what), spans in groups.items():
        for at, named in spans:
            who = sorted(named - {""}, key=services.index)
            if len(who) > 1 and len(who) == len(services):
                who = ["all services"]
            found.append(Label(at, kind, outcome, " ".join([", ".join(who), what]).strip()))
    return sorted(found, key=lambda label: (label.at, KINDS.index(label.kind), label.text))


def pack(spans: Sequence[tuple[float, float]], gap: float) -> list[int]:
    """The row of each span (start, end), taken in order: the first row whose last span ends
    `gap` before this one starts, else a new row."""
    ends: list[float] = []
    rows = []
    for start, end in spans:
        row = next((i for i, last in enumerate(ends) if last + gap <= start), len(ends))
        if row == len(ends):
            ends.append(end)
        ends[row] = end
        rows.append(row)
    return rows


def _lay_out_labels(
    figure: Figure,
    grid: GridSpec,
    heights: list[float],
    events: Mapping[int, Sequence[tuple[Axes, Sequence[Label]]]],
) -> None:
    """Each events panel's labels in rows under its marker lanes, a symbol at the event's time
    and the text beside it, no two overlapping. Widths are measured in pixels once the layout
    has placed the axes; the rows then grow the panels' height, which moves no axis sideways."""
    figure.draw_without_rendering()
    for grid_row, panels in events.items():
        rows = 0
        for ax, found in panels:
            rows = max(rows, _label_rows(ax, found))
        for ax, _ in panels:
            ax.set_ylim(-rows - 0.1, len(KINDS) - 0.1)
        heights[grid_row] += rows * UNIT_INCHES
    grid.set_height_ratios(heights)
    figure.set_size_inches(WIDTH_INCHES, sum(heights) + 0.9)


def _label_rows(ax: Axes, found: Sequence[Label]) -> int:
    """Draws the labels in rows below the lanes (row r centred at -r - 1 + LANE / 2); returns
    how many rows they take."""
    left, right = ax.get_xlim()
    box = ax.get_window_extent()
    spans: list[tuple[float, float]] = []
    texts: list[tuple[Label, Annotation]] = []
    for label in found:
        if not left <= label.at <= right:
            continue  # the whole-run strip shows it
        text = ax.annotate(
            label.text,
            (label.at, 0.0),
            xytext=(LABEL_OFFSET, 0),
            textcoords="offset points",
            fontsize=FONT_SIZE - 1.5,
            va="center",
            color="#333333",
            gid=gid(str(ax.get_gid()), "label", str(len(texts))),
        )
        extent = text.get_window_extent()
        if extent.x1 > box.x1:  # no room to the right: the text ends at the symbol instead
            text.set_position((-LABEL_OFFSET, 0))
            text.set_horizontalalignment("right")
            extent = text.get_window_extent()
        x = float(ax.transData.transform((label.at, 0.0))[0])
        half_symbol = _pixels(ax, LABEL_OFFSET)  # the widest symbol (the restore's) is 7 pt
        spans.append((min(extent.x0, x - half_symbol), max(extent.x1, x + half_symbol)))
        texts.append((label, text))
    rows = pack(spans, gap=_pixels(ax, LABEL_OFFSET))
    for (label, text), row in zip(texts, rows, strict=True):
        y = -row - 1 + LANE / 2
        text.xy = (label.at, y)
        _symbols(ax, [label.at], y, label.kind, label.outcome)
    return max(rows, default=-1) + 1


def _pixels(ax: Axes, points: float) -> float:
    """Points in the figure's pixels."""
    return points * ax.figure.dpi / 72


def _guides(ax: Axes, env: EnvironmentChart) -> None:
    """A thin line through every panel where a restore or the approval's decision happened."""
    for m in env.markers:
        if m.kind == "restore" or (m.kind == "approval" and m.outcome != "info"):
            ax.axvline(
                m.at,
                color=OUTCOME_COLOURS[m.outcome] if m.kind == "approval" else "#b07aa1",
                linewidth=0.6,
                linestyle=":",
            )


def _legend(releases: Sequence[str]) -> list[Patch | Line2D]:
    handles: list[Patch | Line2D] = [
        Patch(color=RELEASE_COLOURS[i % len(RELEASE_COLOURS)], label=f"traffic on {r}")
        for i, r in enumerate(releases)
    ]
    handles += [
        Line2D([], [], color=c, label=f"{name} target group") for name, c in GROUP_COLOURS.items()
    ]
    handles += [Patch(color=c, label=f"alarm {s}") for s, c in STATE_COLOURS.items()]
    meanings = {"ok": "passed, approved, restored", "failed": "failed, stopped", "info": "event"}
    handles += [
        Line2D([], [], linestyle="none", marker="o", color=OUTCOME_COLOURS[outcome], label=text)
        for outcome, text in meanings.items()
    ]
    return handles


# ---------------------------------------------------------------- files
def style() -> AbstractContextManager[None]:
    """The chart's fonts. Drawing reads them too (ticks are made as they are drawn): whatever
    draws or measures a chart's figure does it in this style."""
    return mpl.rc_context(
        {
            "font.family": "sans-serif",
            "font.size": FONT_SIZE,
            "axes.titlesize": FONT_SIZE + 1,
            "axes.labelsize": FONT_SIZE,
            "xtick.labelsize": FONT_SIZE,
            "ytick.labelsize": FONT_SIZE,
            "legend.fontsize": FONT_SIZE,
        }
    )


def render(runs: Sequence[RunChart], fmt: str = "svg") -> bytes:
    return save(lambda: draw(runs), fmt)


def save(make: Callable[[], Figure], fmt: str = "svg") -> bytes:
    """The figure `make` draws, as SVG or PNG bytes."""
    # Drawn deterministically so a test can compare the committed images with what the code
    # draws: a fixed salt for the ids matplotlib hashes, no date or matplotlib version in the
    # metadata (below), text kept as text (smaller, and searchable in the SVG).
    with mpl.rc_context({"svg.hashsalt": "rehearsal-chart", "svg.fonttype": "none"}), style():
        figure = make()
        buffer = io.BytesIO()
        metadata = {"Date": None, "Creator": None} if fmt == "svg" else {}
        figure.savefig(buffer, format=fmt, metadata=metadata, dpi=100)
    return stable_clip_ids(buffer.getvalue()) if fmt == "svg" else buffer.getvalue()


CLIP_PATH = re.compile(rb'<clipPath id="(p[0-9a-f]+)">\s*(.*?)\s*</clipPath>', re.DOTALL)


def stable_clip_ids(svg: bytes) -> bytes:
    """The SVG with each clip path named by what it draws, in order of first appearance.

    matplotlib names a clip rectangle by a hash of its exact float bounds, and the last bits of
    those bounds depend on the process's state (text metrics cached by earlier drawings): the
    same chart, drawn after other charts, came out with other ids for rectangles whose written
    bounds were identical. Naming by the written shape makes the file depend only on the drawing.
    """
    names: dict[bytes, bytes] = {}
    renamed: dict[bytes, bytes] = {}
    for old, shape in CLIP_PATH.findall(svg):
        renamed[old] = names.setdefault(shape, b"clip%d" % (len(names) + 1))
    seen: set[bytes] = set()

    def definition(match: re.Match[bytes]) -> bytes:
        name = renamed[match.group(1)]
        if name in seen:
            return b""  # the same shape defined again under another hash: once is enough
        seen.add(name)
        return match.group(0).replace(match.group(1), name, 1)

    svg = CLIP_PATH.sub(definition, svg)
    return re.sub(rb"url\(#(p[0-9a-f]+)\)", lambda m: b"url(#%s)" % renamed[m.group(1)], svg)


def image_format(path: Path) -> str:
    """svg or png, by the file's suffix."""
    fmt = path.suffix.lstrip(".").lower() or "svg"
    if fmt not in {"svg", "png"}:
        raise ValueError(f"{path}: the chart is written as .svg or .png")
    return fmt


def write(results: Sequence[Result], path: Path) -> None:
    """The chart of these runs (one column each) to `path`: SVG, or PNG by the suffix."""
    path.write_bytes(render([chart_of(r) for r in results], image_format(path)))


def readme_chart(scenario: Path) -> bytes:
    """A README chart: the scenario under this design beside the original."""
    loaded = load(REPO_ROOT / scenario)
    return render([chart_of(run(loaded, design)) for design in ("current", "original")])


def main() -> int:
    for image, scenario in README_CHARTS.items():
        (REPO_ROOT / image).parent.mkdir(parents=True, exist_ok=True)
        (REPO_ROOT / image).write_bytes(readme_chart(scenario))
        print(f"wrote {image} from {scenario}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
