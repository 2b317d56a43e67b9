"""Attacks on the validator (issue 28, items 1 and 2), each beside the legitimate path it must
leave working: forged job parameters, poisoned known-good records, forged or replayed job ids.

Each attack succeeded before the fix: the restore deployed whatever the known-good record named,
the event's cluster and services were followed, and a result CodePipeline refused was taken for
"already reported" while the restore went on and the known-good record was written.
"""

from __future__ import annotations

from typing import Any

import pytest
from health_check.deployments import restore_parameter
from health_check.errors import JobNotLiveError
from health_check.job import JobResult, Runtime, run_job
from health_check.params import CheckParameters
from health_check.release import KnownGood, RestoreState, restore
from health_check.settings import Settings
from health_check.verdict import Outcome

from tests.unit.health_check.conftest import Aws
from tests.unit.health_check.fakes import (
    PLENTY_MS,
    Clock,
    job_event,
    pinned,
    repository,
    role,
    task_definition_arguments,
)

RECORDED_AT = "2026-11-29T10:00:00+00:00"
# What the pipeline sent before the fix; it still agrees with the configuration, so it is taken.
PRODUCTION = {
    "environment": "production",
    "alarm_prefix": "dev-production-",
    "cluster": "production-cluster-dev",
    "services": ["api-service-dev"],
    "bake_seconds": 0,
}


def run(aws: Aws, clock: Clock, event: dict[str, Any]) -> JobResult:
    return run_job(event, Runtime(aws.gateway, clock, aws.environ), lambda: PLENTY_MS)


def _released(aws: Aws, monkeypatch: pytest.MonkeyPatch, environment: str) -> str:
    """`environment`'s api-service steady on a release the pipeline built, its alarm OK; the
    function configured for api-service only. Returns the running task definition."""
    aws.configure(staging=("api-service",), production=("api-service",))
    monkeypatch.setenv("MOTO_ECS_SERVICE_RUNNING", "1")
    running = aws.task_definition(environment, "api-service")
    aws.released(environment, "api-service", running)
    aws.alarm(f"dev-{environment}-api-service-5xx", "OK")
    return running


def _register(aws: Aws, **changes: Any) -> str:
    """A production api-service task definition with `changes` to what the pipeline builds."""
    arguments = {**task_definition_arguments("production", "api-service", "poison"), **changes}
    return str(
        aws.gateway.clients.ecs.register_task_definition(**arguments)["taskDefinition"][
            "taskDefinitionArn"
        ]
    )


def _container(image: str) -> list[dict[str, Any]]:
    return [{"name": "api-service", "image": image, "memory": 512}]


# ---------------------------------------------------------------- forged job parameters
def test_an_event_naming_production_with_stagings_cluster_is_refused_and_records_nothing(
    aws: Aws, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN staging healthy on its release, and an event for production that names staging's
    # cluster and alarms (item 2: staging's release would become production's known-good)
    _released(aws, monkeypatch, "staging")
    forged = {
        "environment": "production",
        "alarm_prefix": "dev-staging-",
        "cluster": "staging-cluster-dev",
        "services": ["api-service-dev"],
        "bake_seconds": 0,
    }
    # WHEN the validator runs it
    result = run(aws, clock, job_event(forged))
    # THEN the job fails naming the disagreement, and production has no known-good record
    assert result.outcome is Outcome.FAILED_PARAMETERS
    assert "cluster 'staging-cluster-dev' is not production's cluster" in result.message
    assert aws.known_good("production", "api-service") is None


def test_control_the_pipelines_event_for_production_records_productions_release(
    aws: Aws, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    running = _released(aws, monkeypatch, "production")
    result = run(aws, clock, job_event(PRODUCTION))
    assert result.outcome is Outcome.SUCCEEDED
    recorded = aws.known_good("production", "api-service")
    assert recorded is not None
    assert recorded.task_definition == running


def test_an_environment_the_function_is_not_configured_for_is_refused(
    aws: Aws, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    _released(aws, monkeypatch, "staging")
    aws.configure(staging=("api-service",))  # production is not this function's
    result = run(aws, clock, job_event(PRODUCTION))
    assert result.outcome is Outcome.FAILED_PARAMETERS
    assert "not one this function is configured for" in result.message


# ---------------------------------------------------------------- poisoned known-good records
POISONS = {
    "another service's family": {"family": "auth-service-production-dev"},
    "staging's family": {"family": "api-service-staging-dev"},
    "an image of another repository": {
        "containerDefinitions": _container(
            f"{repository('api-service').replace('api-service', 'evil')}@sha256:{'a' * 64}"
        )
    },
    "an image by tag, not digest": {
        "containerDefinitions": _container(f"{repository('api-service')}:latest")
    },
    "a second container from elsewhere": {
        "containerDefinitions": [
            *_container(pinned("api-service")),
            {"name": "sidecar", "image": "public.ecr.aws/evil/miner:1", "memory": 128},
        ]
    },
    "staging's task role": {"taskRoleArn": role("staging", "api-service", "task")},
    "another service's execution role": {
        "executionRoleArn": role("production", "auth-service", "execution")
    },
}


def _poisoned_production(
    aws: Aws, monkeypatch: pytest.MonkeyPatch, changes: dict[str, Any] | None
) -> str:
    """production's api-service off its known-good release, whose record names a task
    definition with `changes` (None: the pipeline's own). Returns what the record names."""
    _released(aws, monkeypatch, "production")
    named = _register(aws, **changes) if changes is not None else _register(aws)
    aws.put_known_good("production", "api-service", KnownGood(named, "-", RECORDED_AT, "x"))
    return named


def _restore_step(aws: Aws, clock: Clock) -> RestoreState:
    settings = Settings.from_environ(aws.environ)
    params = CheckParameters(
        environment="production",
        alarm_prefix="dev-production-",
        cluster="production-cluster-dev",
        services=("api-service-dev",),
    )
    [step] = restore(aws.gateway, settings, params, clock.now, clock.now)
    return step.state


@pytest.mark.parametrize("changes", POISONS.values(), ids=list(POISONS))
def test_a_poisoned_known_good_record_is_never_restored(
    aws: Aws, clock: Clock, monkeypatch: pytest.MonkeyPatch, changes: dict[str, Any]
) -> None:
    # GIVEN a known-good record naming a task definition the pipeline did not build for
    # production's api-service (any principal with ssm:PutParameter could write it)
    _poisoned_production(aws, monkeypatch, changes)
    # WHEN a restore step runs (the validator's or the responder's watch window)
    state = _restore_step(aws, clock)
    # THEN nothing is deployed, nothing is recorded as a restore: a human decides
    assert state is RestoreState.NEEDS_HUMAN
    assert aws.deployments_of("production-api-service") == []
    assert aws.gateway.read_parameter(restore_parameter("production-api-service")) is None


def test_control_the_pipelines_own_release_is_restored(
    aws: Aws, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    named = _poisoned_production(aws, monkeypatch, None)
    assert _restore_step(aws, clock) is RestoreState.STARTED
    [deployment] = aws.deployments_of("production-api-service")
    assert aws.deployed_task_definition(deployment) == named


def test_a_failed_environment_with_a_poisoned_record_fails_naming_it_and_notifies(
    aws: Aws, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN production in ALARM, its known-good record naming staging's task role
    named = _poisoned_production(aws, monkeypatch, POISONS["staging's task role"])
    aws.alarm("dev-production-api-service-5xx", "ALARM")
    # WHEN the validator finds it failed
    result = run(aws, clock, job_event(PRODUCTION))
    # THEN the job fails (no restore to wait for), naming the refused record, and a human is told
    assert result.outcome is Outcome.FAILED_ALARM
    assert f"known-good record refused, nothing restored ({named}: taskRoleArn" in result.message
    (notification,) = aws.notifications()
    assert "known-good record refused" in notification["Message"]
    assert aws.deployments_of("production-api-service") == []


def test_a_release_that_fails_the_cross_checks_is_not_recorded_known_good(
    aws: Aws, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN production healthy, but running an image by tag (not what the pipeline deploys)
    aws.configure(production=("api-service",))
    monkeypatch.setenv("MOTO_ECS_SERVICE_RUNNING", "1")
    tagged = _register(aws, **POISONS["an image by tag, not digest"])
    aws.released("production", "api-service", tagged)
    aws.alarm("dev-production-api-service-5xx", "OK")
    # WHEN its validation passes
    result = run(aws, clock, job_event(PRODUCTION))
    # THEN the release passes, but is not recorded: the refusal is named and notified
    assert result.outcome is Outcome.SUCCEEDED
    assert aws.known_good("production", "api-service") is None
    (notification,) = aws.notifications()
    assert "not recorded" in notification["Message"]


# ---------------------------------------------------------------- forged or replayed job ids
def _failed_production(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    """production in ALARM, off its (genuine) known-good release: a restore to make."""
    _poisoned_production(aws, monkeypatch, None)
    aws.alarm("dev-production-api-service-5xx", "ALARM")


@pytest.mark.parametrize("refusal", ["InvalidJobStateException", "JobNotFoundException"])
def test_a_job_codepipeline_refuses_restores_nothing(
    aws: Aws, clock: Clock, monkeypatch: pytest.MonkeyPatch, refusal: str
) -> None:
    # GIVEN a failed environment, and an event whose job CodePipeline refuses (a finished job's
    # id replayed, or one it never had)
    _failed_production(aws, monkeypatch)
    aws.reports.errors["PutJobSuccessResult"] = refusal
    aws.reports.errors["PutJobFailureResult"] = refusal
    # WHEN the validator runs it
    result = run(aws, clock, job_event(PRODUCTION))
    # THEN nothing is restored, stopped or recorded, and nobody is notified
    assert result.outcome is Outcome.JOB_NOT_LIVE
    assert aws.deployments_of("production-api-service") == []
    assert aws.gateway.read_parameter(restore_parameter("production-api-service")) is None
    assert aws.notifications() == []


def test_control_a_live_job_confirms_then_restores(
    aws: Aws, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    _failed_production(aws, monkeypatch)
    calls = aws.every_call()
    result = run(aws, clock, job_event(PRODUCTION))
    assert result.outcome is Outcome.RESTORING
    assert len(aws.deployments_of("production-api-service")) == 1
    # the continuation was accepted before the restore was created, and reported once
    names = [name for name, _ in calls.calls]
    assert names.index("PutJobSuccessResult") < names.index("CreateDeployment")
    assert names.count("PutJobSuccessResult") == 1


@pytest.mark.parametrize("refusal", ["InvalidJobStateException", "JobNotFoundException"])
def test_a_success_codepipeline_refuses_records_nothing(
    aws: Aws, clock: Clock, monkeypatch: pytest.MonkeyPatch, refusal: str
) -> None:
    # GIVEN production healthy, and a job CodePipeline refuses
    _released(aws, monkeypatch, "production")
    aws.reports.errors["PutJobSuccessResult"] = refusal
    # WHEN the validator runs it (JobNotFound raises for Lambda to retry; InvalidJobState ends)
    if refusal == "JobNotFoundException":
        with pytest.raises(JobNotLiveError, match="JobNotFound"):
            run(aws, clock, job_event(PRODUCTION))
    else:
        assert run(aws, clock, job_event(PRODUCTION)).outcome is Outcome.SUCCEEDED
    # THEN no known-good release is recorded
    assert aws.known_good("production", "api-service") is None


def test_known_good_is_written_only_after_codepipeline_accepted_the_success(
    aws: Aws, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    _released(aws, monkeypatch, "production")
    calls = aws.every_call()
    run(aws, clock, job_event(PRODUCTION))
    names = [name for name, _ in calls.calls]
    assert names.index("PutJobSuccessResult") < names.index("PutParameter")
