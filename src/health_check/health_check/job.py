"""One CodePipeline job: parse it, gather the facts, decide, act on a failure, report once."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from aws_lambda_powertools.utilities.data_classes import CodePipelineJobEvent

from health_check.errors import (
    ActionRefusedError,
    AwsCallError,
    ConfigurationError,
    HealthCheckError,
    JobNotLiveError,
    NotAJobEventError,
    ParameterError,
    ReportError,
    TokenError,
)
from health_check.gateway import AwsGateway, default_gateway
from health_check.observability import logger
from health_check.params import (
    BakeToken,
    CheckParameters,
    configured,
    decode_token,
    encode_token,
    new_token,
    parse_user_parameters,
)
from health_check.release import record_known_good, restore, suffix_of
from health_check.rollout import judge, observe
from health_check.scaling import resume_environment
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


# How long WaitForIdle waits for the environment's deployments (a rollback, a restore, another
# execution's deployment) to end before it fails the stage instead of colliding with them.
IDLE_LIMIT_SECONDS = 1800
# A restore that has not brought every service back to its known-good release this long after
# it began is handed to a human (the job then fails saying what is still in progress).
RESTORE_LIMIT_SECONDS = 900


def run_job(event: object, runtime: Runtime, remaining_millis: Callable[[], int]) -> JobResult:
    """Exactly one job result for every event that has a job id, before the Lambda times out
    whatever AWS does; raises NotAJobEventError for an event without one.

    Order: decide (every read refused once the deadline has passed, which fails the job); on a
    final success record the known-good release; on a failed environment take one idempotent
    step of its restore; report; notify once the failure is final. While a restore is under way
    the job answers with a continuation, so this execution keeps the stage (QUEUED mode runs one
    execution per stage) and no queued release deploys into a group the restore needs. A retry
    of this invocation repeats nothing but the idempotent restore step.
    """
    job = parse_job(event)
    job_id = job.get_id
    logger.append_keys(job_id=job_id)
    gateway, clock = runtime.gateway, runtime.clock
    ends_at = clock.monotonic() + _seconds_left(remaining_millis)
    deadline = ends_at - REPORT_MARGIN_SECONDS
    notification: tuple[str, str] | None = None
    live = LiveJob(gateway, job_id)
    checked: tuple[Settings, CheckParameters] | None = None
    with gateway.within(lambda: clock.monotonic() >= deadline):
        try:
            settings = Settings.from_environ(runtime.environ)
            params, token, result = _check(job, gateway, settings, clock.time())
            checked = settings, params
            if params.check == "idle":
                result = _idle_gate(
                    gateway, settings, params=params, job_id=job_id, token=token, now=clock.time()
                )
            elif token.restoring_since is not None:
                result, notification = _restore_step(
                    gateway, settings, params=params, live=live, token=token, now=clock.time()
                )
            if params.check == "health" and not result.outcome.continues:
                _resume_scaling(gateway, settings, params.environment)
        except JobNotLiveError as error:
            result = JobResult(job_id, Outcome.JOB_NOT_LIVE, f"{error}: nothing restored")
        except ReportError:
            # The restore step's continuation could not be sent (a throttled or failed call, not
            # a refusal): nothing was done, and a second report would make two results for one
            # invocation. Raised, so Lambda retries the invocation (as _report's own failure).
            raise
        except HealthCheckError as error:
            result = JobResult(job_id, outcome_of(error), str(error))
        except Exception as error:
            # Fail closed on a bug too: a check that did not finish must never pass.
            logger.exception("unexpected error while checking")
            result = JobResult(job_id, Outcome.FAILED_INTERNAL, f"internal error: {error!r}")
    logger.info("verdict", outcome=result.outcome.value, verdict_message=result.message)
    reported = _report(gateway, result, live)
    with gateway.within(lambda: clock.monotonic() >= ends_at - ACTIONS_MARGIN_SECONDS):
        if reported and result.outcome is Outcome.SUCCEEDED and checked is not None:
            result, notification = _record_known_good(gateway, *checked, result, clock.time())
        if notification is not None and reported:
            _notify(gateway, runtime.environ, *notification)
    return result


@dataclass
class LiveJob:
    """The job's side of a restore step (release.Confirmation): before the step's first action
    that changes the environment, its continuation is reported, and the step acts only once
    CodePipeline accepted it, that is once the job is one of an action in progress. A job
    CodePipeline refuses (InvalidJobState, JobNotFound: a forged or replayed event) raises
    JobNotLiveError, and nothing is done. GetJobDetails would say the same without reporting,
    but it is "Used for custom actions only" (CodePipeline API reference, GetJobDetails:
    https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_GetJobDetails.html), not
    for a Lambda invoke action's job."""

    gateway: AwsGateway
    job_id: str
    # What the continuation carries (set by the restore step before it acts).
    continuation_token: str | None = None
    summary: str = ""
    # Set when the step may no longer act (its time is up): every action is refused.
    refusal: str | None = None
    # True once CodePipeline accepted the continuation: the invocation has reported.
    continued: bool = field(default=False, init=False)

    def confirm(self, action: str) -> None:
        if self.refusal is not None:
            raise ActionRefusedError(f"{action}: not done, {self.refusal}")
        if self.continued:
            return
        if self.continuation_token is None:
            raise JobNotLiveError("no continuation to confirm the job with: nothing done")
        accepted = self.gateway.put_job_success(
            self.job_id, f"{self.summary}: {action}", 0, self.continuation_token
        )
        if not accepted:
            raise JobNotLiveError(
                f"CodePipeline refused a result for job {self.job_id} (InvalidJobState)"
            )
        self.continued = True


def _report(gateway: AwsGateway, result: JobResult, live: LiveJob) -> bool:
    """Report the result once; True if CodePipeline accepted it (in this invocation: also by
    the restore step's confirmation). Not inside the check's try on purpose: if CodePipeline
    refuses the result the error propagates, the asynchronous invocation is retried by Lambda
    and, failing that, the action times out. Either way the stage fails; catching it here would
    leave the job unreported."""
    if result.outcome is Outcome.JOB_NOT_LIVE:
        logger.error("job refused by CodePipeline: nothing done", extra={"why": result.message})
        return False
    if live.continued:
        if not result.outcome.continues:
            logger.warning("final result after the continuation went out: the next reports it")
        return True
    if result.outcome.succeeded:
        reported = gateway.put_job_success(
            result.job_id, result.message, result.percent_complete, result.continuation_token
        )
    else:
        reported = gateway.put_job_failure(result.job_id, result.message)
    if not reported:
        logger.info("job already had its result: an earlier attempt reported it")
    return reported


def _record_known_good(
    gateway: AwsGateway, settings: Settings, params: CheckParameters, result: JobResult, now: float
) -> tuple[JobResult, tuple[str, str] | None]:
    """After CodePipeline accepted the final success (never before: a success it refuses is no
    job's), record the known-good release; a refused record is notified."""
    note, refused = record_known_good(gateway, settings, params, result.job_id, now)
    logger.info("known-good release", extra={"note": note})
    notification = None
    if refused:
        subject = f"Known-good release refused: {params.environment}"
        body = (
            f"Environment: {params.environment}\nPipeline job: {result.job_id}\n"
            "Not recorded as known-good (targets.refusal):\n"
            + "\n".join(f"  - {line}" for line in refused)
            + "\n"
        )
        notification = (subject, body)
    return replace(result, message=result.message + note), notification


def _resume_scaling(gateway: AwsGateway, settings: Settings, environment: str) -> None:
    """The responder resumes scaling when a deployment ends; this is the safety net for an event
    it missed (docs/pipeline.md). It never changes the verdict, whatever it meets."""
    try:
        notes = resume_environment(gateway, settings, environment)
    except Exception:
        logger.exception("scaling not resumed after the check")
        return
    logger.info("scaling after the check", extra={"scaling": notes})


def _seconds_left(remaining_millis: Callable[[], int]) -> float:
    try:
        return remaining_millis() / 1000
    except Exception:  # a context that cannot tell: assume the least, report at once
        logger.exception("remaining time unknown")
        return 0.0


def _check(
    job: CodePipelineJobEvent, gateway: AwsGateway, settings: Settings, checked_at: float
) -> tuple[CheckParameters, BakeToken, JobResult]:
    """The verdict as a job result; the token it came with, or the one a failed environment's
    restore goes on with (`restoring_since` set), in which case nothing is decided again. A
    check beside the stage's deployments judges their rollout too (rollout.py)."""
    raw_parameters, raw_token = _job_inputs(job)
    params = _job_parameters(raw_parameters, settings)
    logger.append_keys(environment=params.environment)
    if raw_token is None:
        token = new_token(params, int(checked_at))
    elif isinstance(raw_token, str):
        token = decode_token(raw_token, params, checked_at)
    else:
        raise TokenError("continuation token is not a string")
    if params.check == "idle":
        return params, token, JobResult(job.get_id, Outcome.WAITING, "")
    if token.restoring_since is not None:
        return params, token, JobResult(job.get_id, Outcome.RESTORING, token.cause)
    if params.beside_deployments:
        verdict, moved_at = _beside_deployments(gateway, settings, params, token, checked_at)
        token = token.with_move(moved_at)
    else:
        alarms, services = collect_facts(gateway, params)
        clock = BakeClock(checked_at, token.started_at, token.healthy_since)
        verdict = decide(alarms, services, params.bake_seconds, clock)
    if verdict.outcome.environment_unhealthy:
        breached = ", ".join(verdict.breached_alarms) or "none"
        cause = f"{verdict.message} (breached alarms: {breached})"
        restoring = token.restoring(checked_at, cause, verdict.outcome)
        return params, restoring, JobResult(job.get_id, verdict.outcome, cause)
    result = JobResult(
        job.get_id,
        verdict.outcome,
        verdict.message,
        verdict.percent_complete,
        encode_token(token.with_streak(verdict.healthy_since))
        if verdict.outcome.continues
        else None,
    )
    return params, token, result


def _beside_deployments(
    gateway: AwsGateway,
    settings: Settings,
    params: CheckParameters,
    token: BakeToken,
    checked_at: float,
) -> tuple[Verdict, float | None]:
    """The verdict beside the stage's deployments (rollout.py), failing closed: while they wait
    out their termination, a release this check could not validate (facts unreadable, a group
    holding someone else's deployment, no alarm to judge by) must not be left to go live when
    the waits end, so any failure becomes the environment's, and its restore step moves the
    traffic back. Elsewhere such a failure only fails the job: nothing is left deploying."""
    try:
        alarms, services = collect_facts(gateway, params)
        rollout = observe(gateway, settings, params, token.started_at)
        verdict, moved_at = judge(
            alarms,
            services,
            params=params,
            token=token,
            now=checked_at,
            rollout=rollout,
            suffix=suffix_of(settings.codedeploy_application),
        )
    except AwsCallError as error:
        verdict, moved_at = Verdict(Outcome.FAILED_AWS_ERROR, str(error)), token.moved_at
    if verdict.outcome.succeeded or verdict.outcome.environment_unhealthy:
        return verdict, moved_at
    message = (
        f"not validated beside the stage's deployments ({verdict.outcome.value}: "
        f"{verdict.message}): failing closed, their traffic goes back"
    )
    return Verdict(Outcome.FAILED_UNHEALTHY, message), moved_at


def _idle_gate(
    gateway: AwsGateway,
    settings: Settings,
    *,
    params: CheckParameters,
    job_id: str,
    token: BakeToken,
    now: float,
) -> JobResult:
    """WaitForIdle: succeed once a deployment created now would neither collide with one in
    progress (a rollback, a restore, another execution's) nor be stopped at once by an alarm of
    its group still in ALARM from the release before; until then a continuation saying what it
    waits for; past IDLE_LIMIT_SECONDS a failure naming it."""
    application = settings.codedeploy_application
    active = gateway.describe_deployments(
        gateway.active_deployments(application, f"{params.environment}-")
    )
    busy = [f"{d.group}: {d.describe()}" for d in active]
    if not busy:
        watched = sorted(
            {
                alarm
                for group in gateway.deployment_groups(application, f"{params.environment}-")
                for alarm in gateway.group_alarms(application, group)
            }
        )
        busy = [f"alarm {name} in ALARM" for name in gateway.alarms_in_alarm(watched)]
    if not busy:
        idle = f"no deployment in progress and no watched alarm in ALARM in {params.environment}"
        return JobResult(job_id, Outcome.SUCCEEDED, idle)
    waiting = ", ".join(busy)
    waited = now - token.started_at
    if waited >= IDLE_LIMIT_SECONDS:
        return JobResult(
            job_id,
            Outcome.FAILED_BUSY,
            f"{params.environment} still busy after {waited:.0f} s ({waiting}): not deploying "
            "into it; retry the stage once that has ended",
        )
    return JobResult(job_id, Outcome.WAITING, f"waiting for {waiting}", 0, encode_token(token))


def _restore_step(
    gateway: AwsGateway,
    settings: Settings,
    *,
    params: CheckParameters,
    live: LiveJob,
    token: BakeToken,
    now: float,
) -> tuple[JobResult, tuple[str, str] | None]:
    """One step of the failed environment's restore, as the job's result: a continuation while
    anything is in progress, the failure (and a notification) once every service is final or the
    restore ran out of time. Nothing is acted on before `live` confirmed the job, and nothing
    once the restore's time is up (a human finishes it)."""
    job_id = live.job_id
    since = float(token.restoring_since if token.restoring_since is not None else now)
    waited = now - since
    live.continuation_token = encode_token(token)
    live.summary = "environment failed, restoring its last known-good release"
    if waited >= RESTORE_LIMIT_SECONDS:
        live.refusal = f"the restore's {RESTORE_LIMIT_SECONDS} s are up"
    steps = restore(gateway, settings, params, now, since, confirmation=live)
    lines = "; ".join(str(step) for step in steps)
    subject = f"Health check failed: {params.environment}"
    body = (
        f"Environment: {params.environment}\nPipeline job: {job_id}\nCause: {token.cause}\n"
        "Restore:\n" + "\n".join(f"  - {step}" for step in steps) + "\n"
    )
    failed = Outcome(token.failed_as)
    if all(step.state.final for step in steps) and not live.continued:
        message = f"{token.cause}; restore of the last known-good release: {lines}"
        return JobResult(job_id, failed, message), (subject, body)
    if waited >= RESTORE_LIMIT_SECONDS:
        message = (
            f"{token.cause}; restore NOT complete after {waited:.0f} s, a human must finish "
            f"it: {lines}"
        )
        return JobResult(job_id, failed, message), (subject, body)
    message = f"environment failed, restoring its last known-good release: {lines}"
    return (
        JobResult(job_id, Outcome.RESTORING, message, 0, live.continuation_token),
        None,
    )


def _job_parameters(raw: object, settings: Settings) -> CheckParameters:
    """UserParameters bound to the function's configuration: the event chooses the environment
    (one of RELEASE_TARGETS'); cluster, services and alarm prefix are the configuration's, and
    an event naming others is refused (params.configured)."""
    return configured(parse_user_parameters(raw), settings.release_targets())


def _job_inputs(job: CodePipelineJobEvent) -> tuple[object, object]:
    """UserParameters and the continuation token, as the job carries them (checked by their
    parsers); a job without the configuration to read them from is a ParameterError."""
    try:
        return job.user_parameters, job.data.continuation_token
    except (KeyError, TypeError, AttributeError):
        raise ParameterError(
            "job has no data.actionConfiguration.configuration to read UserParameters from"
        ) from None


def _notify(gateway: AwsGateway, environ: Mapping[str, str], subject: str, body: str) -> None:
    """After the failure is reported: never raises (a retry would repeat the report's
    consequences, and the job's message already says everything)."""
    try:
        gateway.publish(Settings.from_environ(environ).notification_topic_arn, subject, body)
    except (AwsCallError, ConfigurationError) as error:
        logger.error("notification not sent", extra={"error": str(error), "body": body})
