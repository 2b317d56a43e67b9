"""Fault injection across every AWS call each hook makes x throttling, 5xx, access denied,
connect timeout and read timeout; plus a call that never returns.

Promises: a failed call never yields Succeeded; exactly one status report is attempted, for the
event's ids; the reads made, each costed at its worst under the hooks' real client configuration,
fit the check's budget (Lambda timeout minus the safety margin kept for the report), and the
report's own worst case fits that margin. If the report itself fails, the invocation fails
loudly: CodeDeploy then never sees Succeeded, and its hook timeout fails the deployment.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, replace

import pytest
from codedeploy_hooks import clients as hook_configs
from codedeploy_hooks.errors import StatusReportError
from codedeploy_hooks.handlers import smoke_test, traffic_guard
from codedeploy_hooks.observability import metrics
from codedeploy_hooks.runner import CHECK_GRACE_SECONDS, SAFETY_MARGIN_SECONDS

from tests.reliability.canned_aws import FAULT_KINDS, CannedAws, Fault, worst_case_seconds
from tests.reliability.hook_world import (
    SETTINGS,
    STATUS_CALL,
    GreenTasksServer,
    HookClients,
    World,
    arrange,
    green_tasks,
    hook_clients,
    statuses,
)
from tests.support import REPO_ROOT, load_template

EVENT = {"DeploymentId": "d-FAULT1234", "LifecycleEventHookExecutionId": "exec-1"}
HOOKS = {"SmokeTest": smoke_test.handle, "TrafficGuard": traffic_guard.handle}
FUNCTIONS = {"SmokeTest": "SmokeTestHookFunction", "TrafficGuard": "TrafficGuardHookFunction"}
_ROOT = load_template(REPO_ROOT / "template.yaml")["Resources"]
LAMBDA_TIMEOUT_SECONDS = {
    hook: float(_ROOT[function]["Properties"]["Timeout"]) for hook, function in FUNCTIONS.items()
}
# AfterAllowTraffic bakes for a while; short here, on the real clock.
WATCHING = replace(SETTINGS, watch_seconds=0.05, watch_interval_seconds=0.005)


@dataclass(frozen=True)
class FaultCase:
    hook: str
    operation: str
    from_call: int = 0
    after_allow_traffic: bool = False

    def __str__(self) -> str:
        phase = "-after" if self.after_allow_traffic else ""
        return f"{self.hook}-{self.operation}-{self.from_call}{phase}"


CALLS = [
    FaultCase("SmokeTest", "GetDeployment"),
    FaultCase("SmokeTest", "GetDeploymentGroup"),
    # The health check's restore record (is this deployment its restore?), then the service's
    # smoke configuration.
    FaultCase("SmokeTest", "GetParameter", 0),
    FaultCase("SmokeTest", "GetParameter", 1),
    FaultCase("SmokeTest", "DescribeListeners"),
    FaultCase("SmokeTest", "DescribeLoadBalancers"),
    FaultCase("SmokeTest", "DescribeNetworkInterfaces"),
    FaultCase("SmokeTest", STATUS_CALL),
    FaultCase("TrafficGuard", "GetDeployment"),
    FaultCase("TrafficGuard", "GetDeploymentGroup"),
    FaultCase("TrafficGuard", "GetParameter"),  # the health check's restore record
    FaultCase("TrafficGuard", "DescribeListeners", 0),  # the production listener
    FaultCase("TrafficGuard", "DescribeListeners", 1),  # the test listener
    FaultCase("TrafficGuard", "DescribeTargetGroups"),
    FaultCase("TrafficGuard", "DescribeTargetHealth"),
    # The bake, after AllowTraffic: green's targets again, green's own metrics, the alarms.
    FaultCase("TrafficGuard", "DescribeTargetHealth", 1, after_allow_traffic=True),
    FaultCase("TrafficGuard", "GetMetricData", after_allow_traffic=True),
    FaultCase("TrafficGuard", "DescribeAlarms", after_allow_traffic=True),
    FaultCase("TrafficGuard", STATUS_CALL),
]


@dataclass
class FakeContext:
    remaining_ms: int
    function_name: str = "CodeDeployHook_Test-dev"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:Hook-dev"
    aws_request_id: str = "request-1"

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


@pytest.fixture(scope="module")
def tasks() -> Iterator[GreenTasksServer]:
    with green_tasks() as server:
        yield server


@pytest.fixture(scope="module")
def canned() -> CannedAws:
    return CannedAws()


@dataclass(frozen=True)
class Clients(HookClients):
    port: int  # of the green tasks


@pytest.fixture(scope="module")
def clients(canned: CannedAws, tasks: GreenTasksServer) -> Clients:
    built = hook_clients(canned)
    return Clients(built.dependencies, built.reporter, port=tasks.server_address[1])


@pytest.fixture(autouse=True)
def _fresh_metrics() -> Iterator[None]:
    metrics.clear_metrics()
    yield
    metrics.clear_metrics()


def invoke(
    case: FaultCase, canned: CannedAws, clients: Clients, remaining_ms: int, kind: str = ""
) -> dict[str, str]:
    """Run the case's hook on a healthy world, its call failing with `kind` (if given)."""
    arrange(canned, World(smoke_port=clients.port, after_allow_traffic=case.after_allow_traffic))
    if kind:
        canned.faults.append(Fault(kind, case.operation, case.from_call))
    return HOOKS[case.hook](EVENT, FakeContext(remaining_ms), clients.runtime(WATCHING))


def test_the_worst_case_of_the_status_call_fits_the_safety_margin() -> None:
    # The margin is what is left to report Failed when the check runs out of time.
    assert worst_case_seconds(hook_configs.STATUS) <= SAFETY_MARGIN_SECONDS


@pytest.mark.parametrize("hook", sorted(HOOKS))
def test_the_fault_table_covers_every_call_each_hook_makes(
    hook: str, canned: CannedAws, clients: Clients
) -> None:
    # GIVEN a healthy world, before and after AllowTraffic, without faults
    made: set[str] = set()
    for after in (False, True):
        case = FaultCase(hook, "", after_allow_traffic=after)
        response = invoke(case, canned, clients, 300_000)
        assert response["status"] == "Succeeded", response["reason"]
        made |= {call.operation for call in canned.calls}
    # THEN every call made has its fault cases, and no case names a call never made
    assert made == {case.operation for case in CALLS if case.hook == hook}


@pytest.mark.parametrize("kind", FAULT_KINDS)
@pytest.mark.parametrize("case", CALLS, ids=str)
def test_a_failed_call_never_yields_succeeded_and_fits_the_time_budget(
    canned: CannedAws,
    clients: Clients,
    case: FaultCase,
    kind: str,
) -> None:
    # GIVEN a healthy world (a fault must spoil a would-be Succeeded) and one call failing
    timeout = LAMBDA_TIMEOUT_SECONDS[case.hook]
    # WHEN the hook runs with its full Lambda time
    error: StatusReportError | None = None
    response: dict[str, str] | None = None
    try:
        response = invoke(case, canned, clients, int(timeout * 1000), kind)
    except StatusReportError as raised:
        error = raised
    # THEN exactly one report was attempted, for the event's ids, and none said Succeeded
    # unless the report itself failed
    [(deployment, execution, status, failed)] = statuses(canned)
    assert (deployment, execution) == (
        EVENT["DeploymentId"],
        EVENT["LifecycleEventHookExecutionId"],
    )
    if case.operation == STATUS_CALL:
        assert failed
        assert error is not None
        assert EVENT["DeploymentId"] in str(error)
    else:
        assert response is not None
        assert (status, response["status"]) == ("Failed", "Failed")
        assert not failed
    assert canned.unexpected == []
    # AND the reads fit the check's budget, the report fits the margin kept for it
    reads = sum(call.cost for call in canned.calls if call.operation != STATUS_CALL)
    report = sum(call.cost for call in canned.calls if call.operation == STATUS_CALL)
    assert reads <= timeout - SAFETY_MARGIN_SECONDS - CHECK_GRACE_SECONDS, reads
    assert report <= SAFETY_MARGIN_SECONDS, report


@pytest.mark.parametrize(
    ("hook", "operation"),
    [("SmokeTest", "DescribeNetworkInterfaces"), ("TrafficGuard", "DescribeTargetHealth")],
)
def test_a_call_that_never_returns_is_reported_failed_at_the_deadline(
    canned: CannedAws, clients: Clients, hook: str, operation: str
) -> None:
    # GIVEN a read that hangs, and 0.2 s left once the safety margin is kept back
    canned.hang = threading.Event()
    remaining_ms = int((SAFETY_MARGIN_SECONDS + 0.2) * 1000)
    try:
        # WHEN the hook runs
        response = invoke(FaultCase(hook, operation), canned, clients, remaining_ms, "hang")
        reports = statuses(canned)
    finally:
        canned.hang.set()
        for thread in threading.enumerate():
            if thread.name.startswith("hook-check-"):
                thread.join(timeout=5)
        canned.hang = None
    # THEN the watchdog reported Failed, once, without waiting for the call
    assert [status for _, _, status, _ in reports] == ["Failed"]
    assert "time budget exhausted" in response["reason"]
