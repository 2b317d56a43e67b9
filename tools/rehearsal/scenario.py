"""A rehearsal scenario: the commits, what each release does, the faults, and what must happen.

Scenarios are YAML files in scenarios/ (schema in docs/rehearsal.md); pydantic validates them,
so a typo is an error naming the field, not a silently ignored key.
"""

from __future__ import annotations

import difflib
import types
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from tools.rehearsal.behaviour import HEALTHY_LATENCY_MS, Behaviour, BrokenWith

REPO_ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = REPO_ROOT / "scenarios"


class ScenarioError(ValueError):
    """A scenario file that cannot be rehearsed, with the reason."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BrokenWithModel(_Strict):
    service: str
    release: str


class BehaviourModel(_Strict):
    starts: bool = True
    failing_paths: tuple[str, ...] = ()
    error_rate: float = Field(0.0, ge=0, le=1)
    errors_after_seconds: float = Field(0.0, ge=0)
    errors_after: Literal["first_traffic", "full_traffic"] = "first_traffic"
    broken_with: BrokenWithModel | None = None
    failing_flow: bool = False
    latency_ms: float = Field(HEALTHY_LATENCY_MS, gt=0)
    environments: tuple[Literal["staging", "production"], ...] = ()

    def behaviour(self) -> Behaviour:
        return Behaviour(
            starts=self.starts,
            failing_paths=self.failing_paths,
            error_rate=self.error_rate,
            errors_after_seconds=self.errors_after_seconds,
            errors_after=self.errors_after,
            broken_with=None
            if self.broken_with is None
            else BrokenWith(self.broken_with.service, self.broken_with.release),
            failing_flow=self.failing_flow,
            latency_ms=self.latency_ms,
            environments=self.environments,
        )


class Commit(_Strict):
    release: str
    at: float = Field(0.0, ge=0)


class Approval(_Strict):
    decision: Literal["approve", "reject", "expire"] = "approve"
    after_seconds: float = Field(600.0, ge=0)


class Fault(_Strict):
    """throttle: the function's invocations are throttled; unavailable: every call to an AWS
    service fails (ServiceUnavailable); crash: the next `count` invocations of the function fail
    before its code runs (an init error, out of memory)."""

    kind: Literal["throttle", "unavailable", "crash"]
    function: str | None = None
    service: str | None = None
    start: float = Field(0.0, ge=0, alias="from")
    until: float = Field(float("inf"), ge=0)
    count: int = Field(1, ge=1)

    @model_validator(mode="after")
    def _target(self) -> Fault:
        if self.kind in {"throttle", "crash"} and not self.function:
            raise ValueError(f"a {self.kind} fault names its function")
        if self.kind == "unavailable" and not self.service:
            raise ValueError(
                "an unavailable fault names its AWS service (cloudwatch, codedeploy, ...)"
            )
        return self


class ScalingEvent(_Strict):
    """At `at`, a scaling policy of `environment`/`service` asks for `desired` tasks."""

    at: float = Field(ge=0)
    environment: Literal["staging", "production"] = "production"
    service: str
    desired: int = Field(ge=1)


class Expect(_Strict):
    # Environment -> the release serving all its services, or service -> release.
    serving: dict[str, str | dict[str, str]] = {}
    # Release -> stage -> Succeeded | Failed | RolledBack | NotReached | ...
    stages: dict[str, dict[str, str]] = {}
    human_needed: bool | None = None
    max_exposure_request_seconds: float | None = None
    # User requests answered 5XX by the failing release (error rate x share x seconds x rate).
    max_failed_requests: float | None = None
    max_peak_bad_share: float | None = None
    # Users back on a good release at most this long after the failure was first detected.
    max_reaction_seconds: float | None = None


class Scenario(_Strict):
    name: str
    description: str
    baseline: str = "r0"
    releases: dict[str, dict[str, BehaviourModel]] = {}
    commits: tuple[Commit, ...]
    approvals: dict[str, Approval] = {}
    faults: tuple[Fault, ...] = ()
    parameters: dict[str, Any] = {}
    # false: rehearse the templates without the synthetic client and its alarms
    synthetic_client: bool = True
    # true: the stack was just created. The baseline is the bootstrap image (its tasks start only
    # where the egress mode can make the first pull through its cache rule), and no release has
    # passed a gate yet (no known-good record to restore).
    first_deploy: bool = False
    # Releases whose task definitions someone deregistered before time 0 (INACTIVE: running tasks
    # go on, no new task starts from them), the baseline's included.
    deregistered: tuple[str, ...] = ()
    # Application Auto Scaling changing a service's desired count (a scale-out or scale-in).
    scaling: tuple[ScalingEvent, ...] = ()
    model: dict[str, Any] = {}
    expect: Expect
    expected_to_fail: str | None = None
    horizon_seconds: float = Field(4 * 3600, gt=0)

    @model_validator(mode="after")
    def _consistent(self) -> Scenario:
        known = {self.baseline, *self.releases}
        for commit in self.commits:
            if commit.release not in known:
                raise ValueError(f"commit of unknown release {commit.release!r}")
        for release in self.deregistered:
            if release not in known:
                raise ValueError(f"deregistered release {release!r} is not in the scenario")
        return self

    def behaviours(self) -> dict[str, dict[str, Behaviour]]:
        return {
            release: {s: b.behaviour() for s, b in services.items()}
            for release, services in self.releases.items()
        }

    def approval_for(self, release: str) -> Approval:
        return self.approvals.get(release) or Approval.model_validate({})


class Faults:
    """The scenario's faults as the model asks about them."""

    def __init__(self, faults: tuple[Fault, ...]) -> None:
        self._faults = faults
        self._crashes_left = {id(f): f.count for f in faults if f.kind == "crash"}

    def _active(self, kind: str, now: float) -> list[Fault]:
        return [f for f in self._faults if f.kind == kind and f.start <= now < f.until]

    def throttled(self, function: str, now: float) -> bool:
        return any(function.startswith(f.function or "") for f in self._active("throttle", now))

    def unavailable(self, service: str, now: float) -> bool:
        return any(f.service == service for f in self._active("unavailable", now))

    def take_crash(self, function: str, now: float) -> str | None:
        for fault in self._active("crash", now):
            if function.startswith(fault.function or "") and self._crashes_left[id(fault)] > 0:
                self._crashes_left[id(fault)] -= 1
                return f"{function} crashed before its code ran"
        return None


class RunScenario:
    """A scenario ready to run: validated model plus the mutable fault state of one run."""

    def __init__(self, scenario: Scenario) -> None:
        self.spec = scenario
        self.baseline = scenario.baseline
        self.releases = scenario.behaviours()
        self.faults = Faults(scenario.faults)

    def approval_for(self, release: str) -> Approval:
        return self.spec.approval_for(release)


def load(path: Path) -> Scenario:
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise ScenarioError(f"{path}: {error}") from None
    try:
        return Scenario.model_validate(raw)
    except ValidationError as error:
        hints = "".join(f"\n  {hint}" for hint in did_you_mean(error))
        raise ScenarioError(f"{path}: {error}{hints}") from None


def did_you_mean(error: ValidationError) -> list[str]:
    """For each unknown key, the closest key the schema allows at that place, if one is close."""
    hints = []
    for item in error.errors():
        if item["type"] != "extra_forbidden":
            continue
        *where, key = item["loc"]
        close = difflib.get_close_matches(str(key), _keys_at(where), n=1)
        if close:
            hints.append(f"{'.'.join(map(str, item['loc']))}: did you mean {close[0]!r}?")
    return hints


def _alternatives(annotation: Any) -> list[Any]:
    if get_origin(annotation) in (Union, types.UnionType):
        return [a for arg in get_args(annotation) for a in _alternatives(arg)]
    return [annotation]


def _models(annotation: Any) -> list[type[BaseModel]]:
    return [
        a for a in _alternatives(annotation) if isinstance(a, type) and issubclass(a, BaseModel)
    ]


def _step(annotation: Any, part: str | int) -> Any:
    """The annotation one step down a validation error's location."""
    for candidate in _alternatives(annotation):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            if part == candidate.__name__:  # pydantic names the member of a union it tried
                return candidate
            for name, field in candidate.model_fields.items():
                if part in (name, field.alias):
                    return field.annotation
        elif get_origin(candidate) is dict:
            return get_args(candidate)[1]
        elif get_origin(candidate) is tuple:
            return get_args(candidate)[0]
    return None


def _keys_at(location: list[str | int]) -> list[str]:
    annotation: Any = Scenario
    for part in location:
        annotation = _step(annotation, part)
    return [
        field.alias or name
        for model in _models(annotation)
        for name, field in model.model_fields.items()
    ]


def library() -> list[Path]:
    return sorted(SCENARIOS.glob("*.yaml"))
