"""1,000 hostile events through the health-check Lambda entry point (handler.lambda_handler, with
its Powertools decorators), against an in-memory AWS whose alarms and services are drawn too.

Promise: an event with a job id gets exactly one job result, for that id; success (including
"keep baking") only when no alarm is in ALARM, a continuation of a failed environment's restore
only once the environment failed; an event without a job id raises NotAJobEventError and calls
nothing at all.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from health_check.errors import NotAJobEventError
from health_check.gateway import default_gateway
from health_check.params import encode_token, new_token, parse_user_parameters
from hypothesis import HealthCheck, given, settings
from hypothesis import event as label
from hypothesis import strategies as st

from health_check import handler
from tests.reliability.canned_aws import CannedAws
from tests.reliability.health_check_world import (
    ENVIRON,
    USER_PARAMETERS,
    World,
    arrange,
    attach,
    job_event,
    job_results,
    restoring_token,
)
from tests.reliability.strategies import (
    HOSTILE_TEXT_VALUES,
    HOSTILE_VALUES,
    JSON_VALUES,
    truncations,
)

EXAMPLES = 1_000
VALID_TEXT = json.dumps(USER_PARAMETERS)
PARAMETER_KEYS = sorted(USER_PARAMETERS)


@dataclass
class FakeContext:
    function_name: str = "health-check-dev"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:health-check-dev"
    aws_request_id: str = "request-1"

    def get_remaining_time_in_millis(self) -> int:
        return 300_000


# What may follow the job result: the notification of a failed environment, once restored.
AFTER_REPORT = {"Publish"}
# After CodePipeline accepted the final success: recording the known-good release (its services'
# task definitions and images), and the notification of a release refused as known-good.
AFTER_SUCCESS = {
    "GetParameter",
    "DescribeServices",
    "DescribeTaskDefinition",
    "PutParameter",
    "BatchGetImage",
    "PutImage",
    "Publish",
}
# After a restore step's continuation confirmed the job: the step itself (it acts only then).
AFTER_CONFIRMATION = {
    "DescribeServices",
    "GetParameter",
    "PutParameter",
    "ListDeployments",
    "GetDeployment",
    "StopDeployment",
    "DescribeTaskDefinition",
    "RegisterTaskDefinition",
    "CreateDeployment",
}
# A bake healthy so far, or waiting to become healthy: no alarm may be in ALARM.
HEALTHY_OUTCOMES = {"succeeded", "baking", "waiting"}


def _valid_token() -> str:
    return encode_token(new_token(parse_user_parameters(VALID_TEXT), int(time.time())))


def _valid_restoring_token() -> str:
    return restoring_token(time.time() - 60)


valid_job_ids = st.text(min_size=1, max_size=40).filter(str.strip) | st.builds(
    lambda n: "j" * n, st.integers(1_000, 100_000)
)
invalid_job_ids = st.sampled_from(["", "   ", "\n"]) | JSON_VALUES.filter(
    lambda value: not isinstance(value, str)
)
user_parameters = st.one_of(
    st.just(USER_PARAMETERS),
    # one to three keys replaced by anything, or an unknown key added
    st.builds(
        lambda changes: {**USER_PARAMETERS, **changes},
        st.dictionaries(
            st.sampled_from([*PARAMETER_KEYS, "extra"]), HOSTILE_TEXT_VALUES, max_size=3
        ),
    ),
    # keys dropped
    st.builds(
        lambda dropped: {k: v for k, v in USER_PARAMETERS.items() if k not in dropped},
        st.sets(st.sampled_from(PARAMETER_KEYS), min_size=1),
    ),
    truncations(VALID_TEXT),
    HOSTILE_TEXT_VALUES,
)
tokens = st.one_of(
    st.none(),
    st.builds(_valid_token),
    st.builds(_valid_token).flatmap(truncations),
    st.builds(_valid_restoring_token),
    st.builds(_valid_restoring_token).flatmap(truncations),
    HOSTILE_TEXT_VALUES,
)
well_formed_jobs = st.builds(
    job_event,
    valid_job_ids,
    st.sampled_from([USER_PARAMETERS, {**USER_PARAMETERS, "bake_seconds": 0}]),
    st.none(),
)
hostile_jobs = st.builds(job_event, valid_job_ids, user_parameters, tokens)
not_jobs = st.one_of(
    st.builds(job_event, invalid_job_ids, user_parameters, tokens),
    st.builds(lambda job_id, data: {"CodePipeline.job": {"id": job_id, "data": data}},
              valid_job_ids | invalid_job_ids, HOSTILE_VALUES),
    st.builds(lambda job: {"CodePipeline.job": job}, HOSTILE_VALUES),
    HOSTILE_VALUES,
)  # fmt: skip
# one_of flattens nested alternatives and picks among all of them; choosing the family first
# keeps 80 % of the cases jobs (well-formed, or with hostile fields) that reach the checks.
events = st.sampled_from([well_formed_jobs, hostile_jobs, hostile_jobs, hostile_jobs, not_jobs])
events = events.flatmap(lambda family: family)
alarm_pages = st.lists(
    st.lists(st.sampled_from(["OK", "ALARM", "INSUFFICIENT_DATA"]), max_size=4), max_size=3
)
worlds = st.builds(
    World,
    services_steady=st.booleans(),
    busy=st.booleans(),
    on_known_good=st.booleans(),
    task_definition_status=st.sampled_from(["ACTIVE", "INACTIVE"]),
    scalable=st.booleans(),
)


@pytest.fixture
def canned(monkeypatch: pytest.MonkeyPatch) -> Iterator[CannedAws]:
    """The Lambda's own cached gateway, its clients answered in memory."""
    for name, value in ENVIRON.items():
        monkeypatch.setenv(name, value)
    default_gateway.cache_clear()
    aws = CannedAws()
    attach(default_gateway(), aws)
    yield aws
    default_gateway.cache_clear()


def job_id_of(event: Any) -> str | None:
    job = event.get("CodePipeline.job") if isinstance(event, dict) else None
    job_id = job.get("id") if isinstance(job, dict) else None
    return job_id if isinstance(job_id, str) and job_id.strip() else None


@pytest.mark.filterwarnings("ignore:No application metrics to publish")
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(event=events, pages=alarm_pages, world=worlds)
def test_every_event_gets_one_result_for_its_job_or_raises_without_calling_aws(
    canned: CannedAws, event: Any, pages: list[list[str]], world: World
) -> None:
    # GIVEN any event, and a world with any alarm states
    arrange(canned, pages, world=world)
    job_id = job_id_of(event)
    # WHEN the Lambda handles it
    try:
        reply = handler.lambda_handler(event, FakeContext())  # type: ignore[arg-type]
    except NotAJobEventError:
        # THEN without a job id: a clear error, and not a single AWS call
        assert job_id is None
        assert canned.calls == []
        label("no job id: raised, nothing called")
        return
    # THEN with one: exactly one job result, for this job
    assert job_id is not None
    assert canned.unexpected == []
    [(operation, params)] = job_results(canned)
    assert params["jobId"] == job_id
    # everything is decided before the report: after it, only a failed environment's
    # notification, the known-good record of an accepted success, or the restore step that the
    # accepted continuation confirmed
    operations = [call.operation for call in canned.calls]
    after = set(operations[operations.index(operation) + 1 :])
    if after:
        allowed = {
            "failed_alarm": AFTER_REPORT,
            "failed_unhealthy": AFTER_REPORT,
            "succeeded": AFTER_SUCCESS,
            "restoring": AFTER_CONFIRMATION,
        }
        assert reply["outcome"] in allowed
        assert after <= allowed[reply["outcome"]], after
    label(f"outcome {reply['outcome']}")
    # every hostile input has a named outcome: none falls through to the catch-all for bugs
    assert reply["outcome"] != "failed_internal", reply["message"]
    restoring = reply["outcome"] == "restoring"
    succeeded = reply["outcome"] in HEALTHY_OUTCOMES
    assert (operation == "PutJobSuccessResult") == (succeeded or restoring)
    # AND success, even "keep baking", never while an alarm is in ALARM or none exists
    states = [state for page in pages for state in page]
    if succeeded:
        assert states
        assert "ALARM" not in states
    if reply["outcome"] == "succeeded":
        assert set(states) == {"OK"}
        assert world.services_steady
    # AND a restore carries on only with a token that says when it began
    if restoring:
        assert json.loads(params["continuationToken"])["restoring_since"] is not None
