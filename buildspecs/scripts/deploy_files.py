"""Write the deployment files of one service build (docs/contracts.md, "Build outputs").

The CodeDeployToECS actions read, from the build's output artifact:
- taskdef-<environment>.json: the task definition revision the stack manages for the environment
  (its ARN in SSM, as `aws ecs describe-task-definition` returned it) with the service's image
  replaced by the <IMAGE1_NAME> placeholder, so the template stays the one source of task settings;
- appspec.yaml: <TASK_DEFINITION> placeholder, container and port, the lifecycle hooks;
- imageDetail.json: {"ImageURI": ...}, what the action substitutes for <IMAGE1_NAME>.
imagedefinitions.json is the standard ECS format, for anyone deploying without CodeDeploy.

Standard library only: it runs on the stock CodeBuild image before anything is installed.
"""

from __future__ import annotations

import argparse
import copy
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ENVIRONMENTS = ("staging", "production")
IMAGE_PLACEHOLDER = "<IMAGE1_NAME>"
TASK_DEFINITION_PLACEHOLDER = "<TASK_DEFINITION>"
CONTAINER_PORT = 8080
# Returned by DescribeTaskDefinition but rejected by RegisterTaskDefinition.
READ_ONLY_FIELDS = (
    "taskDefinitionArn",
    "revision",
    "status",
    "requiresAttributes",
    "compatibilities",
    "registeredAt",
    "registeredBy",
    "deregisteredAt",
)


class TaskDefinitionRefusedError(ValueError):
    """The task definition the SSM parameter names is not one the stack registers for this
    service and environment. Anyone who can write /pipeline/{env}/{service}/task-definition
    could otherwise make the build copy another service's definition (its roles, secrets and
    environment) or one carrying an extra container of their own."""


class ContainerNotFoundError(TaskDefinitionRefusedError):
    """The registered task definition has no container named after the service."""


class MissingHookError(ValueError):
    """A lifecycle-hook ARN is empty: the deployment would skip its smoke test or guard."""


def expected_family(service: str, environment: str, suffix: str) -> str:
    """The family pipeline/service.yaml registers: {service}-{environment}-{suffix}."""
    return f"{service}-{environment}-{suffix}"


def check_family(registered: dict[str, Any], *, family: str) -> None:
    found = registered.get("family")
    if found != family:
        raise TaskDefinitionRefusedError(
            f"the task-definition parameter names family {found!r}, not {family!r}"
        )


def task_definition_template(
    registered: dict[str, Any], *, service: str, version: str, commit: str
) -> dict[str, Any]:
    """The registered task definition, writable again, with the image as a placeholder.

    It must hold exactly one container, the service's: the stack registers no other, and a
    second one would run an image nobody built, with the service's task role."""
    template = {
        key: copy.deepcopy(value)
        for key, value in registered.items()
        if key not in READ_ONLY_FIELDS
    }
    containers = [c for c in template.get("containerDefinitions", []) if c.get("name") == service]
    family = registered.get("family", "?")
    if not containers:
        raise ContainerNotFoundError(f"task definition {family} has no container {service!r}")
    names = [c.get("name") for c in template.get("containerDefinitions", [])]
    if len(names) != 1:
        raise TaskDefinitionRefusedError(
            f"task definition {family} has containers {names}; the stack's has {service!r} only"
        )
    container = containers[0]
    container["image"] = IMAGE_PLACEHOLDER
    identity = {"SERVICE_VERSION": version, "GIT_COMMIT": commit}
    environment = [e for e in container.get("environment", []) if e.get("name") not in identity]
    environment += [{"name": name, "value": value} for name, value in identity.items()]
    container["environment"] = environment
    return template


def appspec(*, service: str, smoke_test_hook_arn: str, traffic_guard_hook_arn: str) -> str:
    """The ECS AppSpec with the hooks of docs/contracts.md."""
    if not smoke_test_hook_arn or not traffic_guard_hook_arn:
        raise MissingHookError("SMOKE_TEST_HOOK_ARN and TRAFFIC_GUARD_HOOK_ARN must both be set")
    return (
        "version: 0.0\n"
        "Resources:\n"
        "  - TargetService:\n"
        "      Type: AWS::ECS::Service\n"
        "      Properties:\n"
        f'        TaskDefinition: "{TASK_DEFINITION_PLACEHOLDER}"\n'
        "        LoadBalancerInfo:\n"
        f'          ContainerName: "{service}"\n'
        f"          ContainerPort: {CONTAINER_PORT}\n"
        "Hooks:\n"
        f'  - AfterAllowTestTraffic: "{smoke_test_hook_arn}"\n'
        f'  - BeforeAllowTraffic: "{traffic_guard_hook_arn}"\n'
        f'  - AfterAllowTraffic: "{traffic_guard_hook_arn}"\n'
    )


def image_definitions(*, service: str, image_uri: str) -> list[dict[str, str]]:
    return [{"name": service, "imageUri": image_uri}]


def image_detail(*, image_uri: str) -> dict[str, str]:
    return {"ImageURI": image_uri}


def write_deploy_files(
    *,
    output_dir: Path,
    registered_dir: Path,
    service: str,
    environment_suffix: str,
    image_uri: str,
    version: str,
    commit: str,
    smoke_test_hook_arn: str,
    traffic_guard_hook_arn: str,
) -> None:
    """Read registered-<environment>.json from registered_dir; write every output file, and
    none when either environment's task definition is refused."""
    templates = {}
    for environment in ENVIRONMENTS:
        registered = json.loads((registered_dir / f"registered-{environment}.json").read_text())
        check_family(registered, family=expected_family(service, environment, environment_suffix))
        templates[environment] = task_definition_template(
            registered, service=service, version=version, commit=commit
        )
    output_dir.mkdir(parents=True, exist_ok=True)
    for environment, template in templates.items():
        _write_json(output_dir / f"taskdef-{environment}.json", template)
    (output_dir / "appspec.yaml").write_text(
        appspec(
            service=service,
            smoke_test_hook_arn=smoke_test_hook_arn,
            traffic_guard_hook_arn=traffic_guard_hook_arn,
        )
    )
    _write_json(
        output_dir / "imagedefinitions.json",
        image_definitions(service=service, image_uri=image_uri),
    )
    _write_json(output_dir / "imageDetail.json", image_detail(image_uri=image_uri))


def _write_json(path: Path, document: object) -> None:
    path.write_text(json.dumps(document, indent=2) + "\n")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output-dir", type=Path, required=True)
    parser.add_argument(
        "--registered-dir",
        type=Path,
        required=True,
        help="holds registered-staging.json and registered-production.json",
    )
    parser.add_argument("--service", required=True)
    parser.add_argument(
        "--environment-suffix", required=True, help="EnvironmentSuffix: part of each family name"
    )
    parser.add_argument("--image-uri", required=True)
    parser.add_argument("--version", required=True, help="SERVICE_VERSION (the tree tag)")
    parser.add_argument("--commit", required=True, help="GIT_COMMIT")
    parser.add_argument("--smoke-test-hook-arn", required=True)
    parser.add_argument("--traffic-guard-hook-arn", required=True)
    args = parser.parse_args(argv)
    write_deploy_files(
        output_dir=args.output_dir,
        registered_dir=args.registered_dir,
        service=args.service,
        environment_suffix=args.environment_suffix,
        image_uri=args.image_uri,
        version=args.version,
        commit=args.commit,
        smoke_test_hook_arn=args.smoke_test_hook_arn,
        traffic_guard_hook_arn=args.traffic_guard_hook_arn,
    )


if __name__ == "__main__":
    main()
