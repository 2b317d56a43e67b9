"""Run one scenario under one design: build the world from the templates, play the commits, and
measure what the users went through."""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import warnings
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import simpy
import yaml

from tools.rehearsal import design as designs
from tools.rehearsal.autoscaling import AutoScaling
from tools.rehearsal.clock import LambdaKilled
from tools.rehearsal.codedeploy import CodeDeploy
from tools.rehearsal.eventbridge import EventBus
from tools.rehearsal.fake_aws import FakeAws, answering
from tools.rehearsal.lambdas import LambdaService
from tools.rehearsal.pipeline import CodePipeline
from tools.rehearsal.scenario import Expect, RunScenario, Scenario
from tools.rehearsal.system import System, load_system
from tools.rehearsal.world import Event, Sample, World

ASSUMPTIONS = Path(__file__).with_name("assumptions.yaml")
# After the last execution ends and no deployment runs, keep watching this long: alarms settle,
# a late restore shows.
SETTLE_SECONDS = 900.0
QUIET_CHECK_SECONDS = 60.0
# The system runs this long before the scenario's time 0: gauges published, alarms settled.
WARMUP_SECONDS = 600.0


@dataclass
class Figures:
    exposure_request_seconds: float
    # User requests the failing release answered 5XX: its error rate x share x seconds x requests
    # per second (request-seconds count a user on it whether or not their request failed).
    failed_requests: float
    peak_bad_share: float
    detect_seconds: float | None
    restore_seconds: float | None
    lead_time_seconds: float | None
    actors: list[str]
    human_needed: bool


@dataclass
class Result:
    scenario: Scenario
    design: str
    figures: Figures
    misses: list[str]
    events: list[Event]
    samples: list[Sample] = field(repr=False)
    unmodelled_calls: list[str]
    world: World = field(repr=False)
    # "quiet": nothing ran and no release behaviour was still to come; "horizon": the scenario's
    # horizon_seconds came first.
    ended_by: str = "quiet"

    @property
    def met(self) -> bool:
        return not self.misses


@cache
def base_assumptions() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(ASSUMPTIONS.read_text())
    return loaded


@cache
def _system(parameters: tuple[tuple[str, Any], ...]) -> System:
    return load_system(dict(parameters))


def system_for(scenario: Scenario) -> System:
    """The templates as the scenario's parameters render them (before a design is applied)."""
    return _system(tuple(sorted(scenario.parameters.items())))


@dataclass
class Rehearsal:
    """One scenario's model, assembled from the templates; `running()` lets it run."""

    scenario: Scenario
    design: str
    world: World
    lambdas: LambdaService
    codedeploy: CodeDeploy
    pipeline: CodePipeline
    autoscaling: AutoScaling
    fake: FakeAws

    @classmethod
    def build(cls, scenario: Scenario, design: str = "current") -> Rehearsal:
        unknown = set(scenario.model) - set(base_assumptions())
        if unknown:
            raise ValueError(f"{scenario.name}: unknown model setting(s) {sorted(unknown)}")
        assumptions = designs.assumptions(design, {**base_assumptions(), **scenario.model})
        system = designs.apply(design, system_for(scenario))
        if not scenario.synthetic_client:
            system = designs.without_synthetic_client(system)
        world = World(
            system=system,
            scenario=RunScenario(scenario),
            assumptions=assumptions,
            origin=WARMUP_SECONDS,
        )
        lambdas = LambdaService(world, probe=_probe_for(world))
        world.bus = EventBus(world, lambdas)
        codedeploy = CodeDeploy(world, lambdas)
        pipeline = CodePipeline(world, codedeploy, lambdas)
        autoscaling = AutoScaling(world, codedeploy)
        return cls(
            scenario,
            design,
            world,
            lambdas,
            codedeploy,
            pipeline,
            autoscaling,
            FakeAws(world, codedeploy, pipeline, autoscaling),
        )

    @contextmanager
    def running(self) -> Iterator[World]:
        """The model's actors started, AWS answered by the model; `world.env.run` inside."""
        with _isolated_process(self.world), answering(self.fake):
            self.world.start()
            self.autoscaling.start()
            yield self.world


def run(scenario: Scenario, design: str = "current") -> Result:
    rehearsal = Rehearsal.build(scenario, design)
    world, pipeline, codedeploy = rehearsal.world, rehearsal.pipeline, rehearsal.codedeploy
    with rehearsal.running():
        for commit in scenario.commits:
            world.env.process(
                _commit_at(world, pipeline, commit.release, WARMUP_SECONDS + commit.at)
            )
        done = world.env.event()
        world.env.process(_until_quiet(world, pipeline, codedeploy, scenario, done))
        horizon = world.env.timeout(WARMUP_SECONDS + scenario.horizon_seconds)
        world.env.run(until=simpy.AnyOf(world.env, [done, horizon]))
    ended_by = "quiet" if done.triggered else "horizon"
    world.log("rehearsal", f"ended by the {'horizon' if ended_by == 'horizon' else 'quiet'}")
    figures = measure(world, pipeline, codedeploy)
    return Result(
        scenario=scenario,
        design=design,
        figures=figures,
        misses=check(scenario, world, pipeline, figures) if design == "current" else [],
        events=world.events,
        samples=world.samples,
        unmodelled_calls=sorted(set(world.unmodelled_calls)),
        world=world,
        ended_by=ended_by,
    )


def _commit_at(
    world: World, pipeline: CodePipeline, release: str, at: float
) -> Generator[simpy.Event, Any, None]:
    yield world.env.timeout(at)
    world.log("developer", f"commit of {release}")
    pipeline.start(release)


def _until_quiet(
    world: World,
    pipeline: CodePipeline,
    codedeploy: CodeDeploy,
    scenario: Scenario,
    done: simpy.Event,
) -> Generator[simpy.Event, Any, None]:
    last_commit = max(c.at for c in scenario.commits)
    yield world.env.timeout(WARMUP_SECONDS + last_commit + QUIET_CHECK_SECONDS)

    def busy() -> bool:
        return (
            any(e.status == "InProgress" for e in pipeline.executions)
            or any(d.active for d in codedeploy.deployments.values())
            or _behaviour_pending(world)
        )

    while True:
        if not busy():
            yield world.env.timeout(SETTLE_SECONDS)
            # A restore that began while settling (the watch window) runs to its end first.
            if not busy():
                done.succeed()
                return
        yield world.env.timeout(QUIET_CHECK_SECONDS)


def _behaviour_pending(world: World) -> bool:
    """A release serving users whose errors are still to come (`errors_after_seconds` not
    reached yet): the run must go on to see what the system does then."""
    for (environment, service), fleet in world.fleets.items():
        for group in fleet.shares():
            release = fleet.release_on(group)
            if release is None:
                continue
            behaviour = world.behaviour(service, release)
            if not behaviour.error_rate or behaviour.broken_with is not None:
                continue
            if behaviour.environments and environment not in behaviour.environments:
                continue
            if fleet.error_rate(release, behaviour) == 0:
                return True
    return False


def _probe_for(world: World) -> Any:
    """The smoke test's HTTP request, answered by the model: test listener -> target group ->
    a healthy target's release."""

    def probe(endpoint: Any, path: str, timeout: float) -> Any:
        world.clock.check_alive()
        fleet = next(
            (f for f in world.fleets.values() if f.spec.test_listener.port == endpoint.port), None
        )
        result_type = _probe_result_type()
        if fleet is None:
            return result_type(status=None, error=f"connection refused on port {endpoint.port}")
        healthy = fleet.healthy(fleet.test_target_group)
        if not healthy:
            return result_type(status=503)
        behaviour = world.behaviour(fleet.spec.service, healthy[0].task.release)
        return result_type(
            status=behaviour.answers(path, fleet.groups[fleet.test_target_group].health_check.path)
        )

    return probe


def _probe_result_type() -> Any:
    import importlib  # noqa: PLC0415 - the hooks package is imported afresh per rehearsal

    return importlib.import_module("codedeploy_hooks.checks.http_probe").ProbeResult


# The function packages as the rehearsal imports them: its own copies, kept for the next run in
# this process, so their cached clients and state never meet the copies tests import directly.
_FUNCTION_PACKAGES = ("codedeploy_hooks", "health_check")
_REHEARSAL_MODULES: dict[str, Any] = {}


def _swap_in(modules: dict[str, Any]) -> dict[str, Any]:
    """Put `modules` in sys.modules in place of the function packages' current ones; return
    those."""
    current = {n: m for n, m in sys.modules.items() if n.split(".")[0] in _FUNCTION_PACKAGES}
    for name in current:
        del sys.modules[name]
    sys.modules.update(modules)
    return current


@contextmanager
def _isolated_process(world: World) -> Iterator[None]:
    """The function code reads os.environ, writes its logs to standard output (CloudWatch Logs
    in Lambda) and runs threads: keep its logs with the world and give the process back after."""
    environ = dict(os.environ)
    previous_hook = threading.excepthook

    def quiet_kills(args: threading.ExceptHookArgs) -> None:
        if not isinstance(args.exc_value, LambdaKilled):
            previous_hook(args)

    threading.excepthook = quiet_kills
    saved = _swap_in(_REHEARSAL_MODULES)
    try:
        with contextlib.redirect_stdout(world.function_logs), warnings.catch_warnings():
            # Metrics are flushed by the Lambda handler's decorator, which the rehearsal's
            # call of `handle` bypasses: repeated dimensions are expected here.
            warnings.simplefilter("ignore")
            yield
    finally:
        _REHEARSAL_MODULES.update(_swap_in(saved))
        threading.excepthook = previous_hook
        os.environ.clear()
        os.environ.update(environ)


# ---------------------------------------------------------------- figures
def _production(world: World) -> list[Sample]:
    return [s for s in world.samples if s.environment == "production"]


def _defective(world: World, service: str, release: str) -> bool:
    return world.behaviour(service, release).defective


def first_signal(world: World, since: float) -> float | None:
    """When something first named a bad release (an alarm, a hook, a verdict), from `since`."""
    return min((at for at, _, _ in world.detections if at >= since), default=None)


def time_to_restore(samples: list[Sample], bad_times: list[float]) -> float | None:
    """From the first moment users were on a bad release to the first sample with none on it
    (None: users never were, or still are at the end)."""
    if not bad_times:
        return None
    restored_at = next((s.at for s in samples if s.at > bad_times[-1]), None)
    return None if restored_at is None else restored_at - bad_times[0]


def measure(world: World, pipeline: CodePipeline, codedeploy: CodeDeploy) -> Figures:
    samples = _production(world)
    tick = float(world.assumptions["traffic_tick_seconds"])
    exposure = sum(s.bad_share for s in samples) * tick
    rates = world.assumptions["user_requests_per_second"]
    failed = sum(s.failed_share * float(rates.get(s.environment, 0)) for s in samples) * tick
    peak = max((s.bad_share for s in samples), default=0.0)
    bad_times = [s.at for s in samples if s.bad_share > 0]
    bad_deployments = [
        d
        for d in codedeploy.deployments.values()
        if _defective(world, d.fleet.spec.service, d.release)
    ]
    if bad_times:
        origin: float | None = bad_times[0]
    elif bad_deployments:
        origin = min(d.created_at for d in bad_deployments)
    else:
        origin = None
    detect = None
    if origin is not None:
        first_bad = min((d.created_at for d in bad_deployments), default=origin)
        signal = first_signal(world, since=first_bad)
        detect = None if signal is None else signal - origin
    restore = time_to_restore(samples, bad_times)
    final = _final_serving(world)
    still_bad = any(
        _defective(world, service, release)
        and world.fleet(env, service).error_rate(release, world.behaviour(service, release)) > 0
        for (env, service), release in final.items()
        if release
    )
    stuck = any(e.status == "InProgress" for e in pipeline.executions) or any(
        d.active for d in codedeploy.deployments.values()
    )
    seen: list[str] = []
    for _, actor in world.actors:
        if actor != "human approval" and actor not in seen:
            seen.append(actor)
    return Figures(
        exposure_request_seconds=round(exposure, 1),
        failed_requests=round(failed, 1),
        peak_bad_share=round(peak, 3),
        detect_seconds=None if detect is None else round(detect, 1),
        restore_seconds=None if restore is None else round(restore, 1),
        lead_time_seconds=_lead_time(world, pipeline),
        actors=seen,
        human_needed=still_bad or stuck,
    )


def _final_serving(world: World) -> dict[tuple[str, str], str | None]:
    serving: dict[tuple[str, str], str | None] = {}
    for key, fleet in world.fleets.items():
        shares = fleet.shares()
        releases = {fleet.release_on(group) for group in shares}
        serving[key] = releases.pop() if len(releases) == 1 else None
    return serving


def _lead_time(world: World, pipeline: CodePipeline) -> float | None:
    """Commit to production serving it everywhere, approval time excluded (the last release
    production kept)."""
    services = world.system.services
    best = None
    for execution in pipeline.executions:
        # Only a release that production kept: one briefly served and then rolled back is not
        # delivered.
        if execution.kind != "commit" or execution.stages.get("Production") != "Succeeded":
            continue
        served = next(
            (
                t
                for t in _times(world)
                if all(world_share(world, t, s) == {execution.release: 1.0} for s in services)
            ),
            None,
        )
        if served is not None and served >= execution.started_at:
            best = round(served - execution.started_at - execution.approval_seconds, 1)
    return best


def _times(world: World) -> list[float]:
    return sorted({s.at for s in _production(world)})


def world_share(world: World, at: float, service: str) -> dict[str, float]:
    index = world.sample_index()
    sample = index.get((at, "production", service))
    return {} if sample is None else {k: round(v, 3) for k, v in sample.shares.items()}


# ---------------------------------------------------------------- expectations
def check(scenario: Scenario, world: World, pipeline: CodePipeline, figures: Figures) -> list[str]:
    expect = scenario.expect
    misses = []
    final = _final_serving(world)
    for environment, wanted in expect.serving.items():
        for service in world.system.services:
            release = wanted if isinstance(wanted, str) else wanted.get(service)
            if release is None:
                continue
            actual = final[(environment, service)]
            if actual != release:
                misses.append(
                    f"{environment}/{service} serves {actual or 'a mix'}, expected {release}"
                )
    for release, stages in expect.stages.items():
        execution = next(
            (e for e in pipeline.executions if e.release == release and e.kind == "commit"), None
        )
        for stage, wanted_status in stages.items():
            actual = execution.stages.get(stage, "NotReached") if execution else "NotReached"
            if actual != wanted_status:
                misses.append(f"{release} {stage}: {actual}, expected {wanted_status}")
    if expect.human_needed is not None and figures.human_needed != expect.human_needed:
        misses.append(f"human needed: {figures.human_needed}, expected {expect.human_needed}")
    misses += _ceilings(expect, figures)
    if expect.max_reaction_seconds is not None:
        reaction = (
            None
            if figures.restore_seconds is None or figures.detect_seconds is None
            else figures.restore_seconds - figures.detect_seconds
        )
        if reaction is None or reaction > expect.max_reaction_seconds:
            misses.append(
                f"reaction (restore - detect) {reaction} s, "
                f"expected <= {expect.max_reaction_seconds}"
            )
    return misses


def _ceilings(expect: Expect, figures: Figures) -> list[str]:
    """The figures above the ceilings `expect` sets (exposure, failed requests, peak share)."""
    ceilings = (
        (
            "exposure",
            "request-seconds",
            figures.exposure_request_seconds,
            expect.max_exposure_request_seconds,
        ),
        ("failed requests", "", figures.failed_requests, expect.max_failed_requests),
        ("peak bad share", "", figures.peak_bad_share, expect.max_peak_bad_share),
    )
    return [
        f"{name} {value:g}{' ' + unit if unit else ''}, expected <= {ceiling:g}"
        for name, unit, value, ceiling in ceilings
        if ceiling is not None and value > ceiling
    ]
