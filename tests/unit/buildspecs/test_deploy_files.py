"""buildspecs/scripts/deploy_files.py: the pure functions behind the build's output files."""

from __future__ import annotations

import copy

import pytest
import yaml

from buildspecs.scripts import deploy_files
from tests.unit.buildspecs.conftest import registered_task_definition


def test_task_definition_template_drops_every_read_only_field() -> None:
    # GIVEN
    registered = registered_task_definition("api-service", "staging")
    registered["deregisteredAt"] = "2026-01-02T00:00:00+00:00"

    # WHEN
    template = deploy_files.task_definition_template(
        registered, service="api-service", version="tree-abc", commit="c0ffee"
    )

    # THEN
    assert set(deploy_files.READ_ONLY_FIELDS).isdisjoint(template)
    assert template["family"] == "api-service-staging-dev"
    assert template["executionRoleArn"] == registered["executionRoleArn"]


def test_task_definition_template_replaces_identity_variables_and_keeps_the_others() -> None:
    # GIVEN a container that already reports an old SERVICE_VERSION
    registered = registered_task_definition("auth-service", "production")

    # WHEN
    template = deploy_files.task_definition_template(
        registered, service="auth-service", version="tree-abc", commit="c0ffee"
    )

    # THEN
    [container] = template["containerDefinitions"]
    assert container["environment"] == [
        {"name": "PORT", "value": "8080"},
        {"name": "SERVICE_VERSION", "value": "tree-abc"},
        {"name": "GIT_COMMIT", "value": "c0ffee"},
    ]
    assert container["image"] == "<IMAGE1_NAME>"


def test_a_task_definition_with_a_second_container_is_refused() -> None:
    # GIVEN a container smuggled in next to the service's (the stack registers only one): it
    # would run an image nobody built, with the service's task role
    registered = registered_task_definition("api-service", "staging")
    registered["containerDefinitions"].append({"name": "log-router", "image": "evil:latest"})
    original = copy.deepcopy(registered)

    # WHEN / THEN
    with pytest.raises(deploy_files.TaskDefinitionRefusedError, match="log-router"):
        deploy_files.task_definition_template(
            registered, service="api-service", version="v", commit="c"
        )
    assert registered == original


@pytest.mark.parametrize(
    ("service", "environment"),
    [
        ("auth-service", "production"),  # another service's definition: its roles and secret
        ("api-service", "staging"),  # the other environment's
    ],
)
def test_a_task_definition_of_another_family_is_refused(service: str, environment: str) -> None:
    # GIVEN /pipeline/production/api-service/task-definition pointed at another family
    registered = registered_task_definition(service, environment)

    # WHEN / THEN
    with pytest.raises(deploy_files.TaskDefinitionRefusedError, match=registered["family"]):
        deploy_files.check_family(
            registered, family=deploy_files.expected_family("api-service", "production", "dev")
        )


def test_the_services_own_family_passes_the_check() -> None:
    registered = registered_task_definition("api-service", "production")
    deploy_files.check_family(
        registered, family=deploy_files.expected_family("api-service", "production", "dev")
    )


def test_task_definition_without_the_service_container_is_refused() -> None:
    # GIVEN
    registered = registered_task_definition("api-service", "staging")

    # WHEN / THEN
    with pytest.raises(deploy_files.ContainerNotFoundError, match="auth-service"):
        deploy_files.task_definition_template(
            registered, service="auth-service", version="v", commit="c"
        )


def test_appspec_without_a_hook_arn_is_refused() -> None:
    # WHEN / THEN
    with pytest.raises(deploy_files.MissingHookError):
        deploy_files.appspec(
            service="api-service", smoke_test_hook_arn="", traffic_guard_hook_arn="arn:guard"
        )


def test_appspec_is_yaml_naming_the_container_port_and_hooks() -> None:
    # WHEN
    document = yaml.safe_load(
        deploy_files.appspec(
            service="api-service", smoke_test_hook_arn="arn:smoke", traffic_guard_hook_arn="arn:g"
        )
    )

    # THEN
    assert document["version"] == 0.0
    properties = document["Resources"][0]["TargetService"]["Properties"]
    assert properties["LoadBalancerInfo"]["ContainerPort"] == 8080
    assert [next(iter(hook)) for hook in document["Hooks"]] == [
        "AfterAllowTestTraffic",
        "BeforeAllowTraffic",
        "AfterAllowTraffic",
    ]
