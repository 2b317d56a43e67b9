"""1,000 hostile cases through the CodeDeploy hook handlers (smoke test and traffic guard), each
with a hostile world too: malformed deployment descriptions and configuration, alarms in any
state, targets in any state, green tasks answering 200 or 500.

Promise: an event with string DeploymentId and LifecycleEventHookExecutionId gets exactly one
status report, for those ids, and Succeeded only when the facts are good; any other event raises
InvalidHookEvent without a single AWS call.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from codedeploy_hooks.errors import InvalidHookEvent
from codedeploy_hooks.handlers import smoke_test, traffic_guard
from codedeploy_hooks.observability import metrics
from hypothesis import HealthCheck, given, settings
from hypothesis import event as label
from hypothesis import strategies as st

from tests.reliability.canned_aws import CannedAws
from tests.reliability.hook_world import (
    ALARMS,
    GROUP_INFO,
    GreenTasksServer,
    HookClients,
    World,
    arrange,
    green_tasks,
    hook_clients,
    statuses,
)
from tests.reliability.strategies import (
    DEEP_JSON_TEXT,
    HOSTILE_TEXT_VALUES,
    HOSTILE_VALUES,
    HUGE_TEXT,
    JSON_VALUES,
    truncations,
)

EXAMPLES = 1_000
HOOKS: dict[str, Callable[..., dict[str, str]]] = {
    "SmokeTest": smoke_test.handle,
    "TrafficGuard": traffic_guard.handle,
}
VALID_CONFIG = json.dumps({"smoke_paths": ["/v1/ping"]})


@dataclass
class FakeContext:
    function_name: str = "CodeDeployHook_Test-dev"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:Hook-dev"
    aws_request_id: str = "request-1"

    def get_remaining_time_in_millis(self) -> int:
        return 300_000


valid_ids = st.text(min_size=1, max_size=40) | st.builds(
    lambda n: "d" * n, st.integers(1_000, 100_000)
)
well_formed = st.builds(
    lambda deployment, execution, extra: {
        **extra,
        "DeploymentId": deployment,
        "LifecycleEventHookExecutionId": execution,
    },
    valid_ids,
    valid_ids,
    st.dictionaries(st.text(max_size=8), HOSTILE_VALUES, max_size=2),
)
hostile_ids = st.fixed_dictionaries(
    {},
    optional={
        "DeploymentId": valid_ids | HOSTILE_VALUES,
        "LifecycleEventHookExecutionId": valid_ids | HOSTILE_VALUES,
    },
)
# one_of flattens nested alternatives; choosing the family first keeps most cases reportable.
events = st.sampled_from([well_formed, well_formed, well_formed, hostile_ids, HOSTILE_VALUES])
events = events.flatmap(lambda family: family)


def _mutated(base: dict[str, Any]) -> st.SearchStrategy[Any]:
    """`base` (most often), with keys replaced by anything, or anything at all."""
    keys = st.sampled_from(sorted(base))
    changed = st.dictionaries(keys, JSON_VALUES, min_size=1, max_size=2)
    return st.sampled_from(["same", "same", "changed", "any"]).flatmap(
        lambda kind: {
            "same": st.none(),
            "changed": changed.map(lambda changes: {**base, **changes}),
            "any": JSON_VALUES,
        }[kind]
    )


worlds = st.builds(
    World,
    smoke_port=st.just(0),  # set to the green tasks' port in the test
    after_allow_traffic=st.booleans(),
    alarm_states=st.just(dict.fromkeys(ALARMS, "OK"))
    | st.dictionaries(
        st.sampled_from(ALARMS), st.sampled_from(["OK", "ALARM", "INSUFFICIENT_DATA"])
    ),
    target_states=st.just(("healthy", "healthy"))
    | st.lists(st.sampled_from(["healthy", "unhealthy", "initial", "draining"]), max_size=3).map(
        tuple
    ),
    deployment_info=_mutated(
        {
            "applicationName": "microservices-dev",
            "deploymentGroupName": "staging-api-service",
            "computePlatform": "ECS",
        }
    ),
    group_info=_mutated(GROUP_INFO),
    config_value=st.one_of(
        st.none(),
        st.none(),
        truncations(VALID_CONFIG),
        HUGE_TEXT,
        DEEP_JSON_TEXT,
        HOSTILE_TEXT_VALUES.map(json.dumps),
    ),
)


@pytest.fixture(scope="module")
def tasks() -> Iterator[GreenTasksServer]:
    with green_tasks() as server:
        yield server


@pytest.fixture(scope="module")
def canned() -> CannedAws:
    return CannedAws()


@pytest.fixture(scope="module")
def clients(canned: CannedAws) -> HookClients:
    return hook_clients(canned)


def ids_of(event: Any) -> tuple[str, str] | None:
    if not isinstance(event, dict):
        return None
    deployment, execution = event.get("DeploymentId"), event.get("LifecycleEventHookExecutionId")
    # Blank ids are no ids (runner.parse_event).
    if (
        isinstance(deployment, str)
        and isinstance(execution, str)
        and deployment.strip()
        and execution.strip()
    ):
        return deployment, execution
    return None


@dataclass(frozen=True)
class Case:
    hook: str
    event: Any
    world: World
    answer: int  # what the green tasks answer


cases = st.builds(
    Case,
    hook=st.sampled_from(sorted(HOOKS)),
    event=events,
    world=worlds,
    answer=st.sampled_from([200, 500]),
)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(case=cases)
def test_every_event_gets_one_report_for_its_ids_or_raises_without_calling_aws(
    canned: CannedAws, clients: HookClients, tasks: GreenTasksServer, case: Case
) -> None:
    hook, event, world, answer = case.hook, case.event, case.world, case.answer
    # GIVEN any event, a world of any shape, and green tasks answering 200 or 500
    metrics.clear_metrics()
    world.smoke_port = tasks.server_address[1]
    tasks.status = answer
    arrange(canned, world)
    ids = ids_of(event)
    # WHEN the hook handles it
    try:
        response = HOOKS[hook](event, FakeContext(), clients.runtime())
    except InvalidHookEvent:
        # THEN without both ids: a clear error, and not a single AWS call
        assert ids is None
        assert canned.calls == []
        label("no ids: raised, nothing called")
        return
    # THEN with them: exactly one report, for these ids, the last call made
    assert ids is not None
    assert canned.unexpected == []
    [(deployment, execution, status, _)] = statuses(canned)
    assert (deployment, execution) == ids
    assert canned.calls[-1].operation == "PutLifecycleEventHookExecutionStatus"
    assert response["status"] == status
    label(f"{hook} {status}")
    # AND Succeeded only on good facts
    if status == "Succeeded":
        if hook == "TrafficGuard":
            # green by its own signals always; the environment's alarms in the bake, after
            # traffic moved (before, they measure the release being replaced)
            assert world.green_healthy
            if world.after_allow_traffic:
                assert world.environment_quiet
        else:
            assert answer == 200
