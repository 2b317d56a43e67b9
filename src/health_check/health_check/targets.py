"""What each environment's release may be, from the function's own configuration: the cluster,
the services and their alarms, and for each service the only task definitions this function
will ever record as known-good or restore (docs/security.md, "The validator").

Nothing here comes from an event, an SSM value or a deployment: the template sets
RELEASE_TARGETS from the stacks' own resources (template.yaml), and every known-good record is
checked against it before it is restored or written, so a forged record can at most choose
among releases this system built for that service and environment.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from health_check.errors import ConfigurationError

# The build deploys by digest (buildspecs/build.yml writes {repository}@{digest}): a tag can be
# moved to other content, a digest names exactly the image that passed the image gate.
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
_SERVICE_FIELDS = ("ecs_service", "family", "repository", "task_role", "execution_role")


@dataclass(frozen=True)
class ServiceTarget:
    """One service in one environment, as the service stack created it."""

    environment: str  # staging | production
    service: str  # api-service: the container's name and the deployment group's suffix
    ecs_service: str  # api-service-dev
    family: str  # api-service-staging-dev (pipeline/service.yaml)
    repository: str  # the service's ECR repository URI
    task_role: str
    execution_role: str


@dataclass(frozen=True)
class EnvironmentTarget:
    environment: str
    cluster: str
    alarm_prefix: str
    services: tuple[ServiceTarget, ...]

    @property
    def ecs_services(self) -> tuple[str, ...]:
        return tuple(target.ecs_service for target in self.services)

    def service(self, name: str) -> ServiceTarget | None:
        return next((target for target in self.services if target.service == name), None)


@dataclass(frozen=True)
class ReleaseTargets:
    environments: Mapping[str, EnvironmentTarget]

    def of(self, environment: str) -> EnvironmentTarget:
        target = self.environments.get(environment)
        if target is None:
            raise ConfigurationError(f"RELEASE_TARGETS has no environment {environment!r}")
        return target

    @classmethod
    def from_json(cls, raw: str) -> ReleaseTargets:
        """RELEASE_TARGETS as the template writes it; ConfigurationError names what is wrong."""
        try:
            data = json.loads(raw)
            environments = {
                environment: _environment(environment, values)
                for environment, values in data.items()
            }
        except (ValueError, TypeError, KeyError, AttributeError) as error:
            raise ConfigurationError(f"RELEASE_TARGETS is not readable: {error!r}") from None
        if not environments:
            raise ConfigurationError("RELEASE_TARGETS names no environment")
        return cls(environments)


def _environment(environment: str, values: dict[str, Any]) -> EnvironmentTarget:
    services = tuple(
        ServiceTarget(environment, service, **{key: _text(fields[key]) for key in _SERVICE_FIELDS})
        for service, fields in values["services"].items()
    )
    if not services:
        raise ValueError(f"{environment} has no services")
    return EnvironmentTarget(
        environment, _text(values["cluster"]), _text(values["alarm_prefix"]), services
    )


def _text(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"expected a non-empty string, got {value!r}")
    return value


def refusal(described: Mapping[str, Any], target: ServiceTarget) -> str | None:
    """Why the task definition ECS describes must not be restored or recorded as `target`'s
    known-good release, or None: its family is that service's of that environment, every
    container runs an image of the service's repository pinned by digest, and it runs with that
    environment's task and execution roles of the service."""
    arn = described.get("taskDefinitionArn", "?")
    if described.get("family") != target.family:
        return f"{arn}: family {described.get('family')!r} is not {target.family!r}"
    containers = described.get("containerDefinitions") or []
    if not any(container.get("name") == target.service for container in containers):
        return f"{arn}: no container named {target.service}"
    for container in containers:
        image = str(container.get("image", ""))
        repository, at, digest = image.partition("@")
        if repository != target.repository or not at or not _DIGEST.fullmatch(digest):
            return (
                f"{arn}: image {image!r} is not {target.repository}@sha256:<digest> "
                "(the service's repository, pinned by digest)"
            )
    for field, expected in (
        ("taskRoleArn", target.task_role),
        ("executionRoleArn", target.execution_role),
    ):
        if described.get(field) != expected:
            return f"{arn}: {field} {described.get(field)!r} is not this environment's {expected}"
    return None
