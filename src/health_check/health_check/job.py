"""One CodePipeline job: parse it, gather the facts, decide, act on a failure, report once."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol

from aws_lambda_powertools.utilities.data_classes import CodePipelineJobEvent

from health_check.errors import (
    AwsCallError,
    ConfigurationError,
    HealthCheckError,
    NotAJobEventError,
    ParameterError,
    TokenError,
)
from health_check.gateway import AwsGateway, default_gateway
from health_check.observability import logger
from health_check.params import (
    CheckParameters,
    decode_token,
    encode_token,
    new_token,
    parse_user_parameters,
)
from health_check.release import record_known_good, restore
from health_check.settings import Settings
from health_check.verdict import AlarmFact, BakeClock, Outcome, ServiceFact, Verdict, decide

# The one place errors become outcomes: matched by isinstance, most specific type first, so a
# subclass maps like its parent; a HealthCheckError outside the table is a bug, so internal.
_OUTCOME_OF_ERROR: tuple[tuple[type[HealthCheckError], Outcome], ...] = (
    (ParameterError, Outcome.FAILED_PARAMETERS),
    (TokenError, Outcome.FAILED_CONTINUATION),
    (ConfigurationError, Outcome.FAILED_MISCONFIGURED),
    (AwsCallError, Outcome.FAILED_AWS_ERROR),
)


def outcome_of(error: HealthCheckError) -> Outcome:
    for kind, outcome in _OUTCOME_OF_ERROR:
        if isinstance(error, kind):
            return outcome
    return Outcome.FAILED_INTERNAL


@dataclass(frozen=True)
class JobResult:
    job_id: str
    outcome: Outcome
    message: str
    percent_complete: int = 0
    continuation_token: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "outcome": self.outcome.value,
            "message": self.message,
            "continuation_token": self.continuation_token,
        }


class Clock(Protocol):
    def time(self) -> float:
        """Epoch seconds: what the bake and its continuation token are measured in."""
        ...

    def monotonic(self) -> float:
        """For durations."""
        ...


class SystemClock:
    """The real clock."""

    def time(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()


@dataclass(frozen=True)
class Runtime:
    """What a job runs against: the AWS gateway, the clock and the function's environment."""

    gateway: AwsGateway
    clock: Clock
    environ: Mapping[str, str]

    @classmethod
    def from_aws(cls) -> Runtime:
        return cls(gateway=default_gateway(), clock=SystemClock(), environ=os.environ)


def parse_job(event: object) -> CodePipelineJobEvent:
    """The event as Powertools' data class, once it is known to carry a job id; without one there
    is nothing to report to (NotAJobEventError). Stricter than the data class, which takes any
    value for the id."""
    not_a_job = NotAJobEventError(
        "not a CodePipeline job event: expected {'CodePipeline.job': {'id': ...}}; "
        "no job result can be reported"
    )
    if not isinstance(event, dict):
        raise not_a_job
    try:
        job = CodePipelineJobEvent(event)
        job_id = job.get_id
    except (KeyError, TypeError):
        raise not_a_job from None
    if not isinstance(job_id, str) or not job_id.strip():
        raise not_a_job
    return job


def collect_facts(
    gateway: AwsGateway, params: CheckParameters
) -> tuple[list[AlarmFact], list[ServiceFact]]:
    alarms = gateway.describe_alarms(params.alarm_prefix)
    services = gateway.describe_services(params.cluster, params.services) if params.cluster else []
    return alarms, services


# Kept back from the Lambda timeout for the job result, whose worst case is 21 s
# (clients.REPORT_CONFIG): no read is sent after that point.
REPORT_MARGIN_SECONDS = 30.0
# What the actions after the report (restore, notification) leave before the timeout: they stop
# sending calls then, so the function ends on its own instead of being killed mid-call.
ACTIONS_MARGIN_SECONDS = 5.0


def run_job(event: object, runtime: Runtime, remaining_millis: Callable[[], int]) -> JobResult:
    """Exactly one job result for every event that has a job id, before the Lambda times out
    whatever AWS does; raises NotAJobEventError for an event without one.

    Order: decide (every read refused once the deadline has passed, which fails the job), record
    the known-good release on a final success, report, and only then act on a failed
    environment (restore, notify). Reporting first means a retry of this invocation finds the
    job reported and repeats nothing but the idempotent restore; the notification goes last.
    """
    job = parse_job(event)
    job_id = job.get_id
    logger.append_keys(job_id=job_id)
    gateway, clock = runtime.gateway, runtime.clock
    ends_at = clock.monotonic() + _seconds_left(remaining_millis)
    deadline = ends_at - REPORT_MARGIN_SECONDS
    settings: Settings | None = None
    params: CheckParameters | None = None
    verdict: Verdict | None = None
    with gateway.within(lambda: clock.monotonic() >= deadline):
        try:
            settings = Settings.from_environ(runtime.environ)
            params, verdict, result = _check(job, gateway, clock.time())
            if result.outcome is Outcome.SUCCEEDED:
                note = record_known_good(gateway, settings, params, job_id, clock.time())
                result = replace(result, message=result.message + note)
        except HealthCheckError as error:
            result = JobResult(job_id, outcome_of(error), str(error))
        except Exception as error:
            # Fail closed on a bug too: a check that did not finish must never pass.
            logger.exception("unexpected error while checking")
            result = JobResult(job_id, Outcome.FAILED_INTERNAL, f"internal error: {error!r}")
    logger.info("verdict", outcome=result.outcome.value, verdict_message=result.message)
    # Outside the try on purpose: if CodePipeline refuses the result the error propagates, the
    # asynchronous invocation is retried by Lambda and, failing that, the action times out.
    # Either way the stage fails; catching it here would leave the job unreported.
    if result.outcome.succeeded:
        reported = gateway.put_job_success(
            job_id, result.message, result.percent_complete, result.continuation_token
        )
    else:
        reported = gateway.put_job_failure(job_id, result.message)
    if not reported:
        logger.info("job already had its result: an earlier attempt reported it")
    failed_environment = verdict is not None and verdict.outcome.environment_unhealthy
    if failed_environment and settings is not None and params is not None and verdict is not None:
        with gateway.within(lambda: clock.monotonic() >= ends_at - ACTIONS_MARGIN_SECONDS):
            _act_on_failure(gateway, settings, params, job_id, verdict)
    return result


def _seconds_left(remaining_millis: Callable[[], int]) -> float:
    try:
        return remaining_millis() / 1000
    except Exception:  # a context that cannot tell: assume the least, report at once
        logger.exception("remaining time unknown")
        return 0.0


def _check(
    job: CodePipelineJobEvent, gateway: AwsGateway, checked_at: float
) -> tuple[CheckParameters, Verdict, JobResult]:
    raw_parameters, raw_token = _job_inputs(job)
    params = parse_user_parameters(raw_parameters)
    logger.append_keys(environment=params.environment)
    if raw_token is None:
        token = new_token(params, int(checked_at))
    elif isinstance(raw_token, str):
        token = decode_token(raw_token, params, checked_at)
    else:
        raise TokenError("continuation token is not a string")
    alarms, services = collect_facts(gateway, params)
    clock = BakeClock(checked_at, token.started_at, token.healthy_since)
    verdict = decide(alarms, services, params.bake_seconds, clock)
    message = verdict.message
    if verdict.outcome.environment_unhealthy:
        message += "; restoring the environment's last known-good release"
    result = JobResult(
        job.get_id,
        verdict.outcome,
        message,
        verdict.percent_complete,
        encode_token(token.with_streak(verdict.healthy_since))
        if verdict.outcome.continues
        else None,
    )
    return params, verdict, result


def _job_inputs(job: CodePipelineJobEvent) -> tuple[object, object]:
    """UserParameters and the continuation token, as the job carries them (checked by their
    parsers); a job without the configuration to read them from is a ParameterError."""
    try:
        return job.user_parameters, job.data.continuation_token
    except (KeyError, TypeError, AttributeError):
        raise ParameterError(
            "job has no data.actionConfiguration.configuration to read UserParameters from"
        ) from None


def _act_on_failure(
    gateway: AwsGateway,
    settings: Settings,
    params: CheckParameters,
    job_id: str,
    verdict: Verdict,
) -> None:
    """After the failure is reported: restore the known-good release, then notify with what was
    done. Neither raises: a retry would repeat the notification, and what could not be done is
    in the message a human reads."""
    notes = restore(gateway, settings, params)
    breached = "\n".join(f"  - {name}" for name in verdict.breached_alarms) or "  (none)"
    restored = "\n".join(f"  - {note}" for note in notes) or "  (nothing to restore)"
    try:
        gateway.publish(
            settings.notification_topic_arn,
            f"Health check failed: {params.environment}",
            f"Environment: {params.environment}\nPipeline job: {job_id}\n"
            f"Breached alarms:\n{breached}\nVerdict: {verdict.message}\n"
            f"Restore:\n{restored}\n",
        )
    except AwsCallError as error:
        logger.error("notification not sent", extra={"error": str(error), "restore": notes})
