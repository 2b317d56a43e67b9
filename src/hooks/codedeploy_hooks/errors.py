"""Specific failures of the hooks. The runner maps every exception to Failed in one place."""

from __future__ import annotations


class InvalidHookEvent(ValueError):
    """The event lacks string DeploymentId / LifecycleEventHookExecutionId: nothing to report to."""


class StatusReportError(RuntimeError):
    """PutLifecycleEventHookExecutionStatus itself failed (after the SDK's retries)."""


class HookCheckError(Exception):
    """A check could not be carried out; the hook reports Failed with this message."""


class UnknownDeploymentError(HookCheckError):
    """CodeDeploy does not know the deployment or its deployment group."""


class DeploymentShapeError(HookCheckError):
    """The deployment is not the ECS blue/green shape the contracts describe."""


class ServiceConfigError(HookCheckError):
    """The service's SSM configuration is missing or malformed."""


class NoLoadBalancerAddressError(HookCheckError):
    """No private address of the load balancer was found to send smoke requests to."""


class CheckCancelledError(HookCheckError):
    """The check's deadline passed or its hook already reported: stop without further calls."""
