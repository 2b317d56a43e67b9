"""Pure readings of what AWS returned: each turns raw API data into an outcome.

The checks in tests/integration/test_assumptions.py only fetch; these decide, so they can be
tested without AWS (tests/integration/test_acceptance_kit.py).
"""

from __future__ import annotations

import itertools
import json
import statistics
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from tests.integration.acceptance.report import Outcome

T = TypeVar("T")

# The bake's arithmetic (docs/health-check.md) tolerates re-invocations between these bounds.
CONTINUATION_INTERVAL_S = (30.0, 120.0)


def wait_until(
    probe: Callable[[], T | None],
    timeout_s: float,
    interval_s: float,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> T | None:
    """Call `probe` until it returns something, or None once `timeout_s` has passed."""
    deadline = clock() + timeout_s
    while True:
        found = probe()
        if found is not None:
            return found
        remaining = deadline - clock()
        if remaining <= 0:
            return None
        sleep(min(interval_s, remaining))


def invocation_mode(async_events: float, invocations: float) -> Outcome:
    """A1: Lambda counts AsyncEventsReceived only for asynchronous invocations."""
    if invocations <= 0:
        return Outcome.UNSETTLED
    return Outcome.HELD if async_events > 0 else Outcome.BROKEN


def deployment_outcome(status: str, error_code: str | None) -> Outcome:
    """A2: a deployment run under INSUFFICIENT_DATA alarms either completes or stops on them."""
    if status == "Succeeded":
        return Outcome.HELD
    if error_code == "ALARM_ACTIVE":
        return Outcome.BROKEN
    return Outcome.UNSETTLED


def forward_weights(listener: Mapping[str, Any]) -> dict[str, int]:
    """Target group ARN -> weight of a listener's default forward action (DescribeListeners)."""
    weights: dict[str, int] = {}
    for action in listener.get("DefaultActions", []):
        if action.get("Type") != "forward":
            continue
        groups = action.get("ForwardConfig", {}).get("TargetGroups", [])
        if groups:
            weights.update({g["TargetGroupArn"]: int(g.get("Weight", 1)) for g in groups})
        elif "TargetGroupArn" in action:
            weights[action["TargetGroupArn"]] = 1
    return weights


def forward_outcome(weights: Mapping[str, int]) -> Outcome:
    """A3: both groups listed, exactly one carrying traffic."""
    if not weights:
        return Outcome.UNSETTLED
    live = [arn for arn, weight in weights.items() if weight > 0]
    return Outcome.HELD if len(weights) == 2 and len(live) == 1 else Outcome.BROKEN


# The health check's verdicts that ask CodePipeline to invoke it again (health_check.verdict).
CONTINUING_OUTCOMES = frozenset({"baking", "waiting"})


def continuation_intervals(events: Iterable[Mapping[str, Any]]) -> list[float]:
    """A5: seconds from a verdict that asked to be invoked again to the next invocation's verdict.

    `events` are CloudWatch Logs events of the health-check function whose JSON message is the
    `verdict` line (with `outcome` and `environment`). CodePipeline answers a continuation with a
    new job, so job ids cannot link the invocations; one environment's validation runs one at a
    time, so its next verdict after a continuing one is the re-invocation's.
    """
    verdicts: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for event in events:
        try:
            message = json.loads(event["message"])
        except (TypeError, ValueError):
            continue
        if not isinstance(message, dict) or message.get("message") != "verdict":
            continue
        environment, outcome = message.get("environment"), message.get("outcome")
        if isinstance(environment, str) and isinstance(outcome, str):
            verdicts[environment].append((int(event["timestamp"]), outcome))
    intervals: list[float] = []
    for sequence in verdicts.values():
        sequence.sort()
        intervals += [
            (later - earlier) / 1000
            for (earlier, outcome), (later, _) in itertools.pairwise(sequence)
            if outcome in CONTINUING_OUTCOMES
        ]
    return intervals


def interval_outcome(intervals: list[float]) -> tuple[Outcome, dict[str, float]]:
    if not intervals:
        return Outcome.UNSETTLED, {}
    observed = {
        "median_s": round(statistics.median(intervals), 1),
        "max_s": round(max(intervals), 1),
        "samples": float(len(intervals)),
    }
    low, high = CONTINUATION_INTERVAL_S
    held = low <= observed["median_s"] <= high and observed["max_s"] <= high
    return (Outcome.HELD if held else Outcome.BROKEN), observed


def overtaking_outcome(rollback_end: float | None, next_stage_start: float | None) -> Outcome:
    """A4: the queued execution must enter the stage only after the rollback has left it."""
    if rollback_end is None or next_stage_start is None:
        return Outcome.UNSETTLED
    return Outcome.HELD if next_stage_start >= rollback_end else Outcome.BROKEN


# --- A7-A10: the blue termination wait and rollback deployments ------------------------------

TERMINAL_DEPLOYMENT = frozenset({"Succeeded", "Failed", "Stopped"})
# The last lifecycle event of an ECS deployment; after it the original task set waits out
# TerminationWaitTimeInMinutes (API_BlueInstanceTerminationOption).
LAST_LIFECYCLE_EVENT = "AfterAllowTraffic"
# CodeDeploy's error code for a deployment its alarm monitoring stopped (ErrorInformation).
ALARM_STOP_CODE = "ALARM_ACTIVE"
# StopDeployment's answer for a deployment it counts as over.
ALREADY_COMPLETED = "DeploymentAlreadyCompletedException"
# StopDeployment errors that say nothing about the deployment: the kit could not ask.
UNANSWERED_STOP_ERRORS = frozenset({"AccessDeniedException", "ThrottlingException"})


def target_group_name(arn: str) -> str:
    """`arn:...:targetgroup/<name>/<id>` -> `<name>` (the name says blue or green)."""
    return arn.split("/")[-2] if arn.count("/") >= 2 else arn


def live_target_group(weights: Mapping[str, int]) -> str | None:
    """The name of the one target group a listener sends traffic to; None when none or several."""
    live = [target_group_name(arn) for arn, weight in weights.items() if weight > 0]
    return live[0] if len(live) == 1 else None


def lifecycle_statuses(deployment_target: Mapping[str, Any]) -> dict[str, str]:
    """Lifecycle event -> status of an ECS deployment target (GetDeploymentTarget)."""
    events = deployment_target.get("ecsTarget", {}).get("lifecycleEvents", [])
    return {str(e["lifecycleEventName"]): str(e.get("status", "")) for e in events}


def in_termination_wait(
    status: str, lifecycle: Mapping[str, str], live_group: str | None, original_group: str
) -> bool:
    """A deployment not over whose lifecycle events have all run, with production traffic on the
    replacement: its original task set is waiting out its termination."""
    return (
        status not in TERMINAL_DEPLOYMENT
        and lifecycle.get(LAST_LIFECYCLE_EVENT) == "Succeeded"
        and live_group is not None
        and live_group != original_group
    )


def termination_wait_alarm_outcome(
    status: str, error_code: str | None, traffic_back: bool
) -> Outcome:
    """A7: an alarm in ALARM during the termination wait stops the deployment and traffic returns.

    Stopped by anything but the alarm monitoring (the release responder, an operator) says nothing
    about it. Stopped by the alarm but with traffic left on the replacement is, for users, what
    `ignored` means: nobody is moved back.
    """
    if status == "Succeeded":
        return Outcome.BROKEN
    if status not in ("Stopped", "Failed") or error_code != ALARM_STOP_CODE:
        return Outcome.UNSETTLED
    return Outcome.HELD if traffic_back else Outcome.BROKEN


def termination_wait_stop_outcome(stop_error: str | None, traffic_back: bool) -> Outcome:
    """A8: StopDeployment with rollback during the termination wait moves traffic back."""
    if stop_error in UNANSWERED_STOP_ERRORS:
        return Outcome.UNSETTLED
    if stop_error is not None:  # DeploymentAlreadyCompletedException, or another refusal
        return Outcome.BROKEN
    return Outcome.HELD if traffic_back else Outcome.BROKEN


def mentions(events: Iterable[Mapping[str, Any]], deployment_id: str) -> int:
    """How many CloudWatch Logs events name the deployment (the hooks log `deployment_id`)."""
    return sum(1 for event in events if deployment_id in str(event.get("message", "")))


def rollback_hooks_outcome(mentions_by_rollback: Mapping[str, int]) -> Outcome:
    """A9: no hook function's log names a rollback deployment; unsettled without a rollback."""
    if not mentions_by_rollback:
        return Outcome.UNSETTLED
    return Outcome.BROKEN if any(mentions_by_rollback.values()) else Outcome.HELD


def rollback_stop_outcome(
    status_before: str, stop_error: str | None, final_status: str | None
) -> Outcome:
    """A10: StopDeployment on a rollback deployment in progress stops it (`stops`) or errors
    (`refused`). A rollback over before the call, or one that completed anyway, settles nothing."""
    if status_before in TERMINAL_DEPLOYMENT:
        return Outcome.UNSETTLED
    if stop_error == ALREADY_COMPLETED or stop_error in UNANSWERED_STOP_ERRORS:
        return Outcome.UNSETTLED
    if stop_error is not None:
        return Outcome.BROKEN
    return Outcome.HELD if final_status == "Stopped" else Outcome.UNSETTLED
