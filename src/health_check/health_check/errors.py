"""Every way a check can go wrong, as a type; `job.py` maps each to one outcome."""

from __future__ import annotations


class HealthCheckError(Exception):
    """Base of the errors that end a job in failure with a message naming the problem."""


class NotAJobEventError(ValueError):
    """The event carries no CodePipeline job id, so there is no job to report to."""


class ParameterError(HealthCheckError):
    """UserParameters are not the documented JSON object."""


class TokenError(HealthCheckError):
    """A continuation token cannot be read, or does not belong to this check."""


class ConfigurationError(HealthCheckError):
    """The function's own environment variables are missing."""


class AwsCallError(HealthCheckError):
    """An AWS call failed after retries (throttling, access denied, timeouts, ...)."""

    def __init__(self, operation: str, detail: str) -> None:
        super().__init__(f"{operation} failed: {detail}")
        self.operation = operation


class ReportError(Exception):
    """CodePipeline did not accept the job result; deliberately not a HealthCheckError."""


class JobNotLiveError(ReportError):
    """CodePipeline refused a result for the job (InvalidJobState: it already has one, or it is
    no job of a running action; JobNotFound: it never was one). Nothing that changes an
    environment may follow: a forged or replayed event names such a job."""


class ActionRefusedError(Exception):
    """A restore step may not act now (its time is up): a human finishes the restore."""
