"""After a release, from a rehearsal's timeline: each environment's watch window and who put
users back on a known-good release (the timeline and the chart show both).

- A watch window opens when an environment's ValidateHealth succeeds (the release is recorded
  known-good then) and lasts the health check's WATCH_WINDOW_MINUTES, read from the template.
- A restore is a production-listener change that takes users off a release: a CodeDeploy
  rollback (labelled with whoever stopped the deployment it undoes: the release responder, the
  health check, CodeDeploy's own alarm monitoring) or a redeploy of the known-good release
  (labelled with the function that created it).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tools.rehearsal.system import System
    from tools.rehearsal.world import Event

_CREATED = re.compile(
    r"(?P<id>d-\w+) created by (?P<creator>.+?)(?: \(rollback of (?P<of>d-\w+)\))?: "
    r"(?P<group>\S+) -> (?P<release>\S+)"
)
_STOP_REQUESTED = re.compile(r"StopDeployment (?P<id>d-\w+)")
_STOPPED_ON_ALARM = re.compile(r"(?P<id>d-\w+): stopped: alarm ")
_LISTENER = re.compile(r"(?P<env>[\w-]+)/(?P<service>[\w-]+): production listener -> (?P<to>.+)")
_VALIDATED = re.compile(r"(?P<stage>\w+)\.ValidateHealth succeeded")
_ROLLBACK_CREATOR = "codeDeployRollback"


@dataclass(frozen=True)
class WatchWindow:
    environment: str
    start: float
    end: float


@dataclass(frozen=True)
class Restore:
    at: float
    environment: str
    service: str
    to: str
    actor: str


def watch_minutes(system: System) -> float:
    """WATCH_WINDOW_MINUTES of the functions that watch (0 when none is configured)."""
    for function in system.functions.values():
        value = function.environment.get("WATCH_WINDOW_MINUTES")
        if value is not None:
            return float(value)
    return 0.0


def watch_windows(events: Iterable[Event], system: System) -> list[WatchWindow]:
    seconds = 60 * watch_minutes(system)
    windows = []
    for event in events:
        m = _VALIDATED.match(event.text) if event.actor == "CodePipeline" else None
        environment = m["stage"].lower() if m else None
        if seconds and environment in system.environments:
            windows.append(WatchWindow(str(environment), event.at, event.at + seconds))
    return windows


def restores(events: Iterable[Event]) -> list[Restore]:
    creators: dict[str, str] = {}
    rollback_of: dict[str, str] = {}
    stopped_by: dict[str, str] = {}
    found = []
    for event in events:
        if event.actor == "CodeDeploy" and (m := _CREATED.match(event.text)):
            creators[m["id"]] = m["creator"]
            if m["of"]:
                rollback_of[m["id"]] = m["of"]
        elif event.actor == "CodeDeploy" and (m := _STOPPED_ON_ALARM.match(event.text)):
            stopped_by.setdefault(m["id"], "CodeDeploy alarm monitoring")
        elif m := _STOP_REQUESTED.match(event.text):
            stopped_by.setdefault(m["id"], event.actor)
        elif event.actor.startswith("CodeDeploy ") and (m := _LISTENER.match(event.text)):
            deployment = event.actor.rsplit(" ", 1)[-1]
            actor = _restorer(deployment, creators, rollback_of, stopped_by)
            if actor is not None:
                found.append(Restore(event.at, m["env"], m["service"], m["to"], actor))
    return found


def _restorer(
    deployment: str,
    creators: dict[str, str],
    rollback_of: dict[str, str],
    stopped_by: dict[str, str],
) -> str | None:
    creator = creators.get(deployment, "")
    if creator == _ROLLBACK_CREATOR:
        stopper = stopped_by.get(rollback_of.get(deployment, ""), "a failed deployment")
        return f"CodeDeploy rollback after {stopper}"
    if creator.endswith(" restore"):
        return f"{creator.removesuffix(' restore')} (redeploy)"
    return None


def describe(events: list[Event], system: System, clock: Callable[[float], str]) -> list[str]:
    """The timeline's lines: each watch window and each restore with who made it."""
    lines = [
        f"watch window: {w.environment} {clock(w.start)} to {clock(w.end)}"
        for w in watch_windows(events, system)
    ]
    lines += [
        f"restored: {r.environment}/{r.service} -> {r.to} at {clock(r.at)} by {r.actor}"
        for r in restores(events)
    ]
    return lines
