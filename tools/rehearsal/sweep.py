"""`make rehearse ARGS=--sweep`: how sensitive detection is, not one point.

A base scenario (scenarios/canary-5xx.yaml unless `--scenario` names another) is replayed with
its failing release failing at each rate of ERROR_RATES, then slow by each of ADDED_LATENCIES_MS,
for its one failing service and for every service at once, under both designs. Each point is a
scenario built in memory and played by `run.run`, like any file of the library.

Each row is judged against issue 25's figures: a release failing at least 2 % of requests (or
slower than the templates' latency objective, LatencyThresholdSeconds) is held at 10 % of users
at most, and users are back on a good release at most 60 s after it was detected. Rows below
those points are played and shown, not judged.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from tools.rehearsal.behaviour import HEALTHY_LATENCY_MS
from tools.rehearsal.run import Result, first_signal, run, system_for, time_to_restore
from tools.rehearsal.scenario import SCENARIOS, BehaviourModel, Expect, Scenario, ScenarioError
from tools.rehearsal.world import Sample

DEFAULT_BASE = SCENARIOS / "canary-5xx.yaml"
Kind = Literal["error_rate", "latency"]
KINDS: tuple[Kind, ...] = ("error_rate", "latency")
ERROR_RATES = (0.01, 0.02, 0.05, 0.10, 0.20, 0.40, 0.60, 0.80)
ADDED_LATENCIES_MS = (100.0, 250.0, 500.0, 1000.0, 2000.0)
DESIGNS = ("current", "original")
ALL_SERVICES = "all services"

# Issue 25's figures.
JUDGED_FROM_ERROR_RATE = 0.02
MAX_PEAK_BAD_SHARE = 0.10
MAX_REACTION_SECONDS = 60.0


@dataclass(frozen=True)
class Point:
    kind: Kind
    value: float  # the share of requests failing, or the milliseconds added to each request
    scope: str  # the one failing service, or ALL_SERVICES

    @property
    def label(self) -> str:
        if self.kind == "error_rate":
            return f"{100 * self.value:g} % 5XX"
        return f"+{self.value:g} ms"


@dataclass(frozen=True)
class Row:
    point: Point
    design: str
    # For a slow release, "bad" is being on it: peak share and request-seconds on the slow
    # release (run.measure counts 5XX answers only; a slow answer is not a failed one).
    peak_bad_share: float
    detect_seconds: float | None
    restore_seconds: float | None
    exposure_request_seconds: float
    failed_requests: float
    judged: bool
    misses: tuple[str, ...]

    @property
    def reaction_seconds(self) -> float | None:
        if self.detect_seconds is None or self.restore_seconds is None:
            return None
        return round(self.restore_seconds - self.detect_seconds, 1)

    @property
    def met(self) -> bool:
        return not self.misses


# ---------------------------------------------------------------- the scenarios
@dataclass(frozen=True)
class Base:
    """The base scenario and what fails in it: the release and its first failing service."""

    scenario: Scenario
    release: str
    service: str
    services: tuple[str, ...]  # every service of the templates

    @classmethod
    def of(cls, scenario: Scenario) -> Base:
        for commit in scenario.commits:
            for service in scenario.releases.get(commit.release, {}):
                return cls(scenario, commit.release, service, system_for(scenario).services)
        raise ScenarioError(
            f"{scenario.name}: a sweep needs a committed release with a behaviour to vary"
        )

    @property
    def behaviour(self) -> BehaviourModel:
        return self.scenario.releases[self.release][self.service]

    def latency_objective_seconds(self) -> float:
        """The threshold of the failing service's production latency alarms, as the templates
        set it (LatencyThresholdSeconds): slower than that is a failure the figures judge."""
        spec = system_for(self.scenario).environments["production"][self.service]
        return float(
            min(
                alarm.threshold
                for alarm in spec.alarms
                if any(q.metric_name == "TargetResponseTime" for q in alarm.queries)
            )
        )


def points(kinds: Iterable[Kind], base: Base) -> list[Point]:
    values = {"error_rate": ERROR_RATES, "latency": ADDED_LATENCIES_MS}
    return [
        Point(kind, value, scope)
        for kind in kinds
        for scope in (base.service, ALL_SERVICES)
        for value in values[kind]
    ]


def scenario_for(base: Base, point: Point) -> Scenario:
    """The base scenario with its failing release failing at `point`: only the swept quantity
    varies (a 5XX point is not slow, a slow point has no errors); the rest of the behaviour
    (environments, when the errors begin) is the base's."""
    if point.kind == "error_rate":
        change: dict[str, Any] = {"error_rate": point.value, "latency_ms": HEALTHY_LATENCY_MS}
    else:
        change = {
            "error_rate": 0.0,
            "failing_paths": (),
            "latency_ms": HEALTHY_LATENCY_MS + point.value,
        }
    behaviour = base.behaviour.model_copy(update=change)
    services = base.services if point.scope == ALL_SERVICES else (point.scope,)
    release = {**base.scenario.releases[base.release], **dict.fromkeys(services, behaviour)}
    return base.scenario.model_copy(
        update={
            "name": f"{base.scenario.name} at {point.label}, {point.scope}",
            "releases": {**base.scenario.releases, base.release: release},
            # The sweep judges every row by the figures, not the base's `expect`.
            "expect": Expect(),
            "expected_to_fail": None,
        }
    )


# ---------------------------------------------------------------- the rows
def row_of(point: Point, result: Result, latency_objective_seconds: float) -> Row:
    figures = result.figures
    if point.kind == "error_rate":
        peak, exposure = figures.peak_bad_share, figures.exposure_request_seconds
        detect, restore = figures.detect_seconds, figures.restore_seconds
        judged = point.value >= JUDGED_FROM_ERROR_RATE
    else:
        peak, exposure, detect, restore = _on_slow_release(result)
        judged = HEALTHY_LATENCY_MS + point.value > 1000 * latency_objective_seconds
    row = Row(
        point=point,
        design=result.design,
        peak_bad_share=peak,
        detect_seconds=detect,
        restore_seconds=restore,
        exposure_request_seconds=exposure,
        failed_requests=figures.failed_requests,
        judged=judged,
        misses=(),
    )
    return dataclasses.replace(row, misses=tuple(misses(row)) if judged else ())


def _on_slow_release(result: Result) -> tuple[float, float, float | None, float | None]:
    """Peak share, request-seconds, detect and restore for users on a slower release, with
    run.measure's definitions: from the first user on it to the first signal, and to the
    first moment nobody is on it."""
    world = result.world
    samples = [s for s in result.samples if s.environment == "production"]

    def slow_share(sample: Sample) -> float:
        return sum(
            share
            for release, share in sample.shares.items()
            if world.behaviour(sample.service, release).latency_in(sample.environment)
            > HEALTHY_LATENCY_MS
        )

    shares = [(s.at, slow_share(s)) for s in samples]
    bad_times = [at for at, share in shares if share > 0]
    tick = float(world.assumptions["traffic_tick_seconds"])
    exposure = round(sum(share for _, share in shares) * tick, 1)
    peak = round(max((share for _, share in shares), default=0.0), 3)
    if not bad_times:
        return peak, exposure, None, None
    signal = first_signal(world, since=bad_times[0])
    detect = None if signal is None else round(signal - bad_times[0], 1)
    restore = time_to_restore(samples, bad_times)
    return peak, exposure, detect, None if restore is None else round(restore, 1)


def misses(row: Row) -> list[str]:
    """Where a row misses the issue's figures (users held at 10 %, back within 60 s)."""
    found = []
    if row.peak_bad_share > MAX_PEAK_BAD_SHARE:
        found.append(f"{100 * row.peak_bad_share:.0f} % of users on it")
    if row.peak_bad_share > 0:  # users were on it: they must be back soon after detection
        reaction = row.reaction_seconds
        if row.detect_seconds is None:
            found.append("never detected")
        elif reaction is None:
            found.append("users never back on a good release")
        elif reaction > MAX_REACTION_SECONDS:
            found.append(f"reaction {reaction:g} s")
    return found


def sweep(
    base: Base,
    swept: Sequence[Point],
    designs: Sequence[str] = DESIGNS,
    progress: Callable[[str], None] | None = None,
) -> list[Row]:
    """Each point (`points(kinds, base)`, or a chosen few) under each design, in order; each
    point's label goes to `progress` before it plays."""
    objective = base.latency_objective_seconds()
    rows = []
    for number, point in enumerate(swept, start=1):
        if progress is not None:
            progress(f"[{number}/{len(swept)}] {point.label}, {point.scope}")
        scenario = scenario_for(base, point)
        rows += [row_of(point, run(scenario, design), objective) for design in designs]
    return rows


# ---------------------------------------------------------------- what it prints
def missed(rows: Iterable[Row]) -> list[Row]:
    """The rows that decide the exit status: this design's judged rows that miss."""
    return [r for r in rows if r.design == "current" and r.judged and not r.met]


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}s"


def _cells(rows: Sequence[Row], value: Any) -> str:
    return " / ".join(value(r) for r in rows)


def table(rows: Sequence[Row], base: Base) -> str:
    """One line per point: this design's figures beside the original's (the designs played)."""
    by_point: dict[Point, list[Row]] = {}
    for row in rows:
        by_point.setdefault(row.point, []).append(row)
    designs = " / ".join(r.design for r in next(iter(by_point.values()), []))
    header = (
        f"{'failure':<12} {'services':<14} {'met':<4} {'peak bad':>11} {'detect':>13} "
        f"{'reaction':>11} {'restore':>13} {'exposure (req-s)':>17} {'failed requests':>16}"
    )
    lines = [
        f"sweep of {base.scenario.name}: {base.release} of {base.service}, then of every service",
        header,
        "-" * len(header),
    ]
    for point, played in by_point.items():
        current = next((r for r in played if r.design == "current"), None)
        met = "-" if current is None or not current.judged else ("yes" if current.met else "NO")
        lines.append(
            f"{point.label:<12} {point.scope:<14} {met:<4} "
            f"{_cells(played, lambda r: f'{100 * r.peak_bad_share:.0f}%'):>11} "
            f"{_cells(played, lambda r: _seconds(r.detect_seconds)):>13} "
            f"{_cells(played, lambda r: _seconds(r.reaction_seconds)):>11} "
            f"{_cells(played, lambda r: _seconds(r.restore_seconds)):>13} "
            f"{_cells(played, lambda r: f'{r.exposure_request_seconds:.0f}'):>17} "
            f"{_cells(played, lambda r: f'{r.failed_requests:.0f}'):>16}"
        )
    lines += [
        f"each cell: {designs} design (-: does not apply; detect -: never detected)",
        f"met: this design holds users at <= {100 * MAX_PEAK_BAD_SHARE:.0f} % and brings them back "
        f"<= {MAX_REACTION_SECONDS:.0f} s after detection (issue 25); judged from "
        f"{100 * JUDGED_FROM_ERROR_RATE:.0f} % 5XX and above the latency objective (-: not judged)",
        "a slow release's peak bad and exposure count users on it; its failed requests stay 0",
    ]
    return "\n".join(lines)


def as_json(rows: Iterable[Row]) -> list[dict[str, Any]]:
    return [
        {
            "kind": r.point.kind,
            "value": r.point.value,
            "scope": r.point.scope,
            "design": r.design,
            "peak_bad_share": r.peak_bad_share,
            "detect_seconds": r.detect_seconds,
            "reaction_seconds": r.reaction_seconds,
            "restore_seconds": r.restore_seconds,
            "exposure_request_seconds": r.exposure_request_seconds,
            "failed_requests": r.failed_requests,
            "judged": r.judged,
            "met": r.met if r.design == "current" and r.judged else None,
            "misses": list(r.misses),
        }
        for r in rows
    ]
