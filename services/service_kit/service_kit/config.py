"""Typed configuration, read once at start-up from the variables the task definition injects."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


class ConfigError(Exception):
    """SERVICE_CONFIG or SERVICE_SECRET is missing or malformed; the service must not start."""


class ServiceConfig(BaseModel):
    """The JSON of /pipeline/{environment}/{service}/config (ECS injects it as SERVICE_CONFIG).

    Service-specific keys are declared by subclasses; unknown keys are ignored so that a newer
    parameter never stops an older image from starting during a blue/green deployment.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    environment: str = "local"
    service: str = ""
    log_level: LogLevel = "INFO"
    smoke_paths: list[str] = Field(default_factory=list)

    # Fields read from their own environment variable (field -> variable) rather than from
    # SERVICE_CONFIG: settings of local runs and tests that have no SSM parameter to live in.
    environment_variables: ClassVar[Mapping[str, str]] = {}


@dataclass(frozen=True)
class Identity:
    """What /health reports, so a deployment can be checked for the image it expects."""

    service: str
    version: str
    commit: str

    @classmethod
    def from_env(cls, default_service: str) -> Identity:
        return cls(
            service=os.environ.get("SERVICE_NAME") or default_service,
            version=os.environ.get("SERVICE_VERSION") or "dev",
            commit=os.environ.get("GIT_COMMIT") or "unknown",
        )


ModelT = TypeVar("ModelT", bound=BaseModel)
ConfigT = TypeVar("ConfigT", bound=ServiceConfig)


def _problems(error: ValidationError, names: Mapping[str, str]) -> str:
    """Where and what, never the offending value (it may be a secret)."""
    described = []
    for item in error.errors(include_input=False):
        location = ".".join(str(part) for part in item["loc"]) or "(root)"
        described.append(f"{names.get(location, location)}: {item['msg']}")
    return "; ".join(described)


def parse_json_model(model: type[ModelT], raw: str, source: str) -> ModelT:
    """Validate raw JSON into `model`; the error names the variable but never echoes its value."""
    try:
        return model.model_validate_json(raw)
    except ValidationError as error:
        raise ConfigError(f"{source} is invalid: {_problems(error, {})}") from None


def load_config(model: type[ConfigT]) -> ConfigT:
    """SERVICE_CONFIG as `model`, plus the fields it reads from their own variables.

    Absent SERVICE_CONFIG means defaults, which suits a local run. A set variable wins over the
    same key in SERVICE_CONFIG.
    """
    config = parse_json_model(model, os.environ.get("SERVICE_CONFIG") or "{}", "SERVICE_CONFIG")
    overrides = {
        field: os.environ[variable]
        for field, variable in model.environment_variables.items()
        if os.environ.get(variable)
    }
    if not overrides:
        return config
    try:
        return model.model_validate({**config.model_dump(), **overrides})
    except ValidationError as error:
        problems = _problems(error, model.environment_variables)
        raise ConfigError(f"the service configuration is invalid: {problems}") from None


def load_secret(model: type[ModelT]) -> ModelT:
    """SERVICE_SECRET as `model`; required by the services that declare one."""
    raw = os.environ.get("SERVICE_SECRET")
    if not raw:
        raise ConfigError("SERVICE_SECRET is not set")
    return parse_json_model(model, raw, "SERVICE_SECRET")
