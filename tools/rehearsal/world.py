"""The state of one rehearsal: the model's clock, the fleets, CloudWatch, and what happened.

Every actor (CodePipeline, CodeDeploy, Lambda, the load balancer, CloudWatch, the users) reads
and changes this one object; the fake AWS answers the Lambda code's API calls from it.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import simpy

from tools.rehearsal import synthetic
from tools.rehearsal.behaviour import HEALTHY, Behaviour
from tools.rehearsal.clock import VirtualClock
from tools.rehearsal.cloudwatch import AlarmState, MetricStore, metric_key, next_state
from tools.rehearsal.fleet import Fleet

if TYPE_CHECKING:
    from tools.rehearsal.scenario import RunScenario
    from tools.rehearsal.system import System


@dataclass(frozen=True)
class Event:
    at: float
    actor: str
    text: str


@dataclass
class Sample:
    """What the users and the alarms saw at one instant (for figures and charts)."""

    at: float
    environment: str
    service: str
    shares: dict[str, float]  # release -> share of the service's user traffic
    bad_share: float
    healthy_hosts: dict[str, int]  # target group colour -> healthy targets
    # Target group colour -> share of its user requests answered 5XX (colours with traffic only).
    error_rates: dict[str, float] = field(default_factory=dict)
    # Share of the service's user requests answered 5XX by the failing release (its own errors).
    failed_share: float = 0.0


@dataclass
class World:
    system: System
    scenario: RunScenario
    assumptions: dict[str, Any]
    env: simpy.Environment = field(default_factory=simpy.Environment)
    events: list[Event] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    fleets: dict[tuple[str, str], Fleet] = field(default_factory=dict)
    alarms: dict[str, AlarmState] = field(default_factory=dict)
    task_definition_releases: dict[str, str] = field(default_factory=dict)
    # Image digest -> the release it is (world.image_of pins every image by digest).
    image_releases: dict[str, str] = field(default_factory=dict)
    # Task definitions deregistered (ECS: INACTIVE; no new task starts from them).
    inactive_task_definitions: set[str] = field(default_factory=set)
    ssm: dict[str, str] = field(default_factory=dict)
    notifications: list[dict[str, str]] = field(default_factory=list)
    unmodelled_calls: list[str] = field(default_factory=list)
    # Signals that something found the bad release: (time, who, what).
    detections: list[tuple[float, str, str]] = field(default_factory=list)
    actors: list[tuple[float, str]] = field(default_factory=list)
    # What the function code wrote to standard output (its CloudWatch Logs).
    function_logs: io.StringIO = field(default_factory=io.StringIO, repr=False)
    pulled_images: set[tuple[str, str]] = field(default_factory=set)
    _index: dict[tuple[float, str, str], Sample] = field(default_factory=dict, repr=False)
    # The system runs this long before the scenario starts, so alarms and gauges are settled.
    origin: float = 0.0
    clock: VirtualClock = field(init=False)
    metrics: MetricStore = field(init=False)
    active_deployments: int = 0
    _quiet: tuple[float, bool] = (-1.0, False)
    # Where AWS's events go (EventBridge); None: nobody listens.
    bus: Any = None
    _wake: simpy.Event = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.clock = VirtualClock(self.env)
        self._wake = self.env.event()
        self.metrics = MetricStore(delay=float(self.assumptions["metric_delay_seconds"]))
        baseline = self.scenario.baseline
        for environment, services in self.system.environments.items():
            for service, spec in services.items():
                fleet = Fleet(self, spec, baseline)
                self.fleets[(environment, service)] = fleet
                self.ssm[spec.config_parameter] = spec.config_value
                if self.scenario.spec.first_deploy:
                    continue  # nothing has passed a gate on a new stack
                # The system ran the baseline before the scenario: it passed its validation then.
                self.ssm[f"/pipeline/{environment}/{service}/known-good"] = json.dumps(
                    {
                        "task_definition": fleet.primary.task_definition,
                        "image": self.image_of(service, baseline),
                        "recorded_at": "2026-01-01T00:00:00+00:00",
                        "job_id": "before-the-scenario",
                    }
                )
        for alarm in self.system.all_alarms():
            self.alarms[alarm.name] = AlarmState(spec=alarm)
        deregistered = set(self.scenario.spec.deregistered)
        self.inactive_task_definitions = {
            arn for arn, release in self.task_definition_releases.items() if release in deregistered
        }

    # ------------------------------------------------------------ basics
    @property
    def now(self) -> float:
        """Simulation time, warm-up included (what the model's actors schedule on)."""
        return float(self.env.now)

    @property
    def t(self) -> float:
        """Scenario time: seconds since the warm-up ended (what every record and figure uses)."""
        return self.now - self.origin

    def log(self, actor: str, text: str) -> None:
        if self.t >= 0:
            self.events.append(Event(self.t, actor, text))

    def acted(self, actor: str) -> None:
        self.actors.append((self.t, actor))

    def detected(self, who: str, what: str) -> None:
        if self.t >= 0:
            self.detections.append((self.t, who, what))

    def sample_index(self) -> dict[tuple[float, str, str], Sample]:
        if len(self._index) != len(self.samples):
            self._index = {(s.at, s.environment, s.service): s for s in self.samples}
        return self._index

    def task_definition_inactive(self, arn: str) -> bool:
        return arn in self.inactive_task_definitions

    def image_of(self, service: str, release: str) -> str:
        """The release's image as the build deploys it: the service's repository, pinned by
        digest (buildspecs/build.yml writes {repository}@{digest})."""
        digest = f"sha256:{hashlib.sha256(f'{service}/{release}'.encode()).hexdigest()}"
        self.image_releases[digest] = release
        repository = f"123456789012.dkr.ecr.eu-west-1.amazonaws.com/{service}-{self.system.suffix}"
        return f"{repository}@{digest}"

    def release_of(self, image: str) -> str:
        """The release an image of this system is (by digest, or a tag naming it)."""
        reference = image.rpartition("@")[2] if "@" in image else image.rsplit(":", 1)[-1]
        return self.image_releases.get(reference, reference)

    def fleet(self, environment: str, service: str) -> Fleet:
        return self.fleets[(environment, service)]

    def behaviour(self, service: str, release: str) -> Behaviour:
        return self.scenario.releases.get(release, {}).get(service, HEALTHY)

    def is_bootstrap(self, release: str) -> bool:
        """The image a new stack's task definitions run until the first release."""
        return self.scenario.spec.first_deploy and release == self.scenario.baseline

    def pull_error(self, release: str) -> str | None:
        """Why a task of `release` cannot pull its image, if it cannot: the bootstrap image
        comes through an ECR pull-through cache rule, whose first pull needs an internet path
        (System.bootstrap_pull_possible); the pipeline's images are in the service's own
        repository, reachable over the endpoints.

        The ECR guide says that first pull needs a NAT route when ECR is reached over interface
        endpoints; what a new stack then goes through is assumption A6 (docs/assumptions.md).
        `works_over_endpoints` replays a first pull that succeeds without one."""
        needs_internet = self.assumptions["bootstrap_first_pull"] == "needs_internet_path"
        if (
            self.is_bootstrap(release)
            and needs_internet
            and not self.system.bootstrap_pull_possible
        ):
            return "CannotPullContainerError (first pull through the cache rule, no internet path)"
        return None

    def start_seconds(self, service: str, release: str) -> float:
        """Image pull and start-up; the first pull of an image (through ECR) takes longer."""
        seconds = float(self.assumptions["task_start_seconds"])
        if (service, release) not in self.pulled_images:
            self.pulled_images.add((service, release))
            seconds += float(self.assumptions["first_image_pull_extra_seconds"])
        return seconds

    def put_metric(
        self, namespace: str, name: str, dimensions: dict[str, str], value: float
    ) -> None:
        self.metrics.put(metric_key(namespace, name, dimensions), self.now, value)

    def note_traffic(self, fleet: Fleet, release: str, share: float) -> None:
        fleet.first_traffic.setdefault(release, self.now)
        if share >= 1.0:
            fleet.full_traffic.setdefault(release, self.now)

    # ------------------------------------------------------------ quiet periods
    # While nothing can change (no deployment, no task starting, no latent error), the users and
    # the health checkers step a minute at a time; any change wakes them at once. A three-day
    # approval wait then costs seconds, not minutes, and nothing observable differs.
    QUIET_STEP_SECONDS = 60.0
    QUIET_ALARM_SECONDS = 600.0

    def quiet(self) -> bool:
        """Cached per instant: every actor asks at the same moments."""
        if self._quiet[0] != self.now:
            self._quiet = (self.now, self._compute_quiet())
        return self._quiet[1]

    def _compute_quiet(self) -> bool:
        for fleet in self.fleets.values():
            if (
                len(fleet.weights) > 1
                or any(
                    t.state in {"initial", "draining"} or t.task.state != "RUNNING"
                    for ts in fleet.targets.values()
                    for t in ts
                )
                or any(task.state == "PROVISIONING" for ts in fleet.task_sets for task in ts.tasks)
            ):
                return False
            for group in fleet.shares():
                release = fleet.release_on(group)
                if release is not None and self.behaviour(fleet.spec.service, release).defective:
                    return False
        return self.active_deployments == 0

    def pause(self, seconds: float) -> simpy.Event:
        """`seconds` normally; a quiet minute (cut short by any change) when nothing can change."""
        if seconds < self.QUIET_STEP_SECONDS and self.quiet():
            return self.env.timeout(self.QUIET_STEP_SECONDS) | self._wake
        return self.env.timeout(seconds)

    def nudge(self) -> None:
        """Something changed: end every quiet pause now."""
        self._quiet = (-1.0, False)
        if not self._wake.triggered:
            self._wake.succeed()
        self._wake = self.env.event()

    # ------------------------------------------------------------ running actors
    def start(self) -> None:
        for fleet in self.fleets.values():
            for group in fleet.groups:
                self.env.process(fleet.health_checks(group))
        self.env.process(self._users())
        self.env.process(self._alarm_evaluation())
        if synthetic.scheduled(self):
            self.env.process(synthetic.run(self))

    def _users(self) -> Generator[simpy.Event, Any, None]:
        """User requests through every production listener, and the gauges, every tick."""
        tick = float(self.assumptions["traffic_tick_seconds"])
        rates = self.assumptions["user_requests_per_second"]
        next_gauge = 0.0
        while True:
            for (environment, service), fleet in self.fleets.items():
                result = fleet.serve(tick, float(rates.get(environment, 0)))
                if self.now >= next_gauge:
                    fleet.sample()
                if self.t < 0:
                    continue
                colours = {fleet.spec.blue.arn: "blue", fleet.spec.green.arn: "green"}
                self.samples.append(
                    Sample(
                        at=self.t,
                        environment=environment,
                        service=service,
                        shares=result["served"],
                        bad_share=result["bad_share"],
                        healthy_hosts={colours[g]: len(fleet.healthy(g)) for g in fleet.groups},
                        error_rates={colours[g]: r for g, r in result["error_rates"].items()},
                        failed_share=result["failed_share"],
                    )
                )
            if self.now >= next_gauge:
                next_gauge += 60.0
            yield self.pause(tick)

    def _alarm_evaluation(self) -> Generator[simpy.Event, Any, None]:
        interval = float(self.assumptions["alarm_evaluation_interval_seconds"])
        changed_at = 0.0
        while True:
            if self.quiet() and self.now - changed_at > self.QUIET_ALARM_SECONDS:
                # Nothing can change and nothing has for a while: the data is steady, so is
                # every state. Look again in a while, or at the first change, on the minute.
                yield self.env.timeout(self.QUIET_ALARM_SECONDS) | self._wake
                yield self.env.timeout(interval - self.now % interval)
            else:
                yield self.env.timeout(interval)
            for alarm in self.alarms.values():
                state, reason = next_state(alarm, self.metrics, self.now)
                if state != alarm.state:
                    changed_at = self.now
                    alarm.state, alarm.reason, alarm.updated_at = state, reason, self.now
                    alarm.history.append((self.now, state))
                    self.log("CloudWatch", f"{alarm.spec.name} -> {state} ({reason})")
                    if state == "ALARM":
                        self.detected("CloudWatch alarm", alarm.spec.name)
                    if self.bus is not None:
                        self.bus.publish(
                            "aws.cloudwatch",
                            "CloudWatch Alarm State Change",
                            {
                                "alarmName": alarm.spec.name,
                                "state": {"value": state, "reason": reason},
                            },
                        )
