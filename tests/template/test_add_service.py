"""Adding a service is one command (scripts/add_service.py) and the stacks stay within limits."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import lint_file
from samtranslator.translator.transform import transform

from scripts.add_service import SERVICE_SPECIFIC, AddServiceError, add_service, service_stacks
from tests.support import PIPELINE_DIR, REPO_ROOT, load_template, resources_of_type

CLOUDFORMATION_RESOURCE_LIMIT = 500
LISTENERS_PER_LOAD_BALANCER = 50
SERVICES_AT_SCALE = 10
CLOUDFORMATION_PARAMETER_VALUE_BYTES = 4096
IAM_ROLE_NAME_LIMIT = 64


@pytest.fixture
def root_copy(tmp_path: Path) -> Path:
    """template.yaml and pipeline/ in a scratch directory, so the real ones stay untouched."""
    shutil.copy(REPO_ROOT / "template.yaml", tmp_path / "template.yaml")
    shutil.copytree(PIPELINE_DIR, tmp_path / "pipeline")
    return tmp_path / "template.yaml"


def stack_parameters(template_path: Path, logical_id: str) -> dict[str, Any]:
    parameters: dict[str, Any] = load_template(template_path)["Resources"][logical_id][
        "Properties"
    ]["Parameters"]
    return parameters


def test_fourth_service_gets_a_nested_stack_with_the_next_free_index(root_copy: Path) -> None:
    # GIVEN the root template with its three services
    model_id = list(service_stacks(root_copy))[-1]

    # WHEN billing-service is added
    logical_id = add_service(root_copy, "billing-service")

    # THEN it is a pipeline/service.yaml stack with its own name and index 3, sharing every
    # input of the model except the model's own permissions and configuration
    new = stack_parameters(root_copy, logical_id)
    model = stack_parameters(root_copy, model_id)
    assert logical_id == "BillingServiceStack"
    assert (new["ServiceName"], new["ServiceIndex"]) == ("billing-service", "3")
    shared = set(model) - set(SERVICE_SPECIFIC) - {"ServiceName", "ServiceIndex"}
    assert {key: new[key] for key in shared} == {key: model[key] for key in shared}
    assert not set(new) & set(SERVICE_SPECIFIC)


def test_fourth_service_gets_endpoint_outputs(root_copy: Path) -> None:
    # WHEN billing-service is added
    add_service(root_copy, "billing-service")

    # THEN the root stack reports its URLs like the others'
    outputs = load_template(root_copy)["Outputs"]
    for environment in ("Staging", "Production"):
        assert outputs[f"BillingService{environment}Endpoint"]["Value"] == {
            "Fn::GetAtt": ["BillingServiceStack", f"Outputs.{environment}Endpoint"]
        }


def lint_findings(template_path: Path) -> list[str]:
    """cfn-lint's findings (rule and template path, no line numbers) on a template, SAM included."""
    return sorted(f"{match.rule.id} {match.path_string}" for match in lint_file(template_path))


def joined_lists(node: Any) -> list[list[Any]]:
    """The item lists of every Fn::Join in a piece of template."""
    found: list[list[Any]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Fn::Join" and isinstance(value[1], list):
                found.append(value[1])
            found.extend(joined_lists(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(joined_lists(item))
    return found


def test_lists_of_every_services_outputs_gain_the_fourth_service(root_copy: Path) -> None:
    # GIVEN the model stack add_service copies
    model_id = list(service_stacks(root_copy))[-1]

    # WHEN billing-service is added
    add_service(root_copy, "billing-service")

    # THEN wherever a list joins the model's outputs (e.g. the repositories the pipeline pushes
    # to), it joins billing-service's too
    for items in joined_lists(load_template(root_copy)["Resources"]):
        for item in items:
            if isinstance(item, dict) and item.get("Fn::GetAtt", [None])[0] == model_id:
                output = item["Fn::GetAtt"][1]
                assert {"Fn::GetAtt": ["BillingServiceStack", output]} in items


def test_root_template_with_a_fourth_service_still_lints(root_copy: Path) -> None:
    # GIVEN what cfn-lint says about the root template as it is (clean once every part landed)
    before = lint_findings(root_copy)

    # WHEN a fourth service is added
    add_service(root_copy, "billing-service")

    # THEN cfn-lint finds nothing new: no error, no warning
    assert lint_findings(root_copy) == before


def test_every_service_stack_passes_exactly_known_parameters(root_copy: Path) -> None:
    # GIVEN the service template's parameters and the root template plus a fourth service
    add_service(root_copy, "billing-service")
    declared = load_template(PIPELINE_DIR / "service.yaml")["Parameters"]
    required = {name for name, spec in declared.items() if "Default" not in spec}

    # THEN every stack passes only declared parameters and all required ones
    for logical_id, parameters in service_stacks(root_copy).items():
        assert set(parameters) <= set(declared), logical_id
        assert required <= set(parameters), logical_id


def test_add_service_refuses_a_service_that_exists(root_copy: Path) -> None:
    # GIVEN a template that already runs api-service
    before = root_copy.read_text()

    # WHEN api-service is added again
    with pytest.raises(AddServiceError, match="already"):
        add_service(root_copy, "api-service")

    # THEN the template is unchanged
    assert root_copy.read_text() == before


def test_add_service_refuses_a_taken_index(root_copy: Path) -> None:
    with pytest.raises(AddServiceError, match="taken"):
        add_service(root_copy, "billing-service", index=0)


def test_add_service_refuses_an_eleventh_service(root_copy: Path) -> None:
    # GIVEN ten services, every listener-port index in use
    for n in range(SERVICES_AT_SCALE - len(service_stacks(root_copy))):
        add_service(root_copy, f"extra{n}-service")

    # THEN an eleventh has no ports left
    with pytest.raises(AddServiceError, match="taken"):
        add_service(root_copy, "one-too-many")


# ------------------------------------------------------------------ scale
def transformed_resource_count(template_path: Path) -> int:
    """Resources of the root stack after the SAM transform, as CloudFormation counts them."""
    template = json.loads(json.dumps(load_template(template_path)))
    for resource in template["Resources"].values():
        properties = resource.get("Properties", {})
        for key in ("CodeUri", "ContentUri"):
            # sam package replaces local paths with S3 locations before the transform runs.
            if isinstance(properties.get(key), str):
                properties[key] = "s3://bucket/key"

    class NoManagedPolicies:
        def load(self) -> dict[str, str]:
            return {}

    transformed = transform(template, {}, NoManagedPolicies())  # type: ignore[arg-type]
    return len(transformed["Resources"])


def test_ten_services_fit_cloudformations_resource_limit(
    root_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN ten services (each a nested stack, which counts as one resource of the root)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    for n in range(SERVICES_AT_SCALE - len(service_stacks(root_copy))):
        add_service(root_copy, f"extra{n}-service")

    # WHEN the root stack and one service stack are counted
    root_count = transformed_resource_count(root_copy)
    service_count = len(load_template(PIPELINE_DIR / "service.yaml")["Resources"])

    # THEN both stay under the limit (with the root's growth room to spare)
    assert len(service_stacks(root_copy)) == SERVICES_AT_SCALE
    assert root_count < CLOUDFORMATION_RESOURCE_LIMIT
    assert service_count < CLOUDFORMATION_RESOURCE_LIMIT


def test_ten_services_deploy_roles_are_assumable_by_the_pipeline_role(root_copy: Path) -> None:
    # GIVEN ten services
    for n in range(SERVICES_AT_SCALE - len(service_stacks(root_copy))):
        add_service(root_copy, f"extra{n}-service")
    resources = load_template(root_copy)["Resources"]

    # WHEN the pipeline role's permission to assume the deploy roles is read
    [statement] = resources["PipelineDeployRolesPolicy"]["Properties"]["PolicyDocument"][
        "Statement"
    ]

    # THEN it names each service's two deploy roles (one per environment), each new service's
    # stack among them, and every new stack is given the pipeline role to trust
    assert len(statement["Resource"]) == 2 * SERVICES_AT_SCALE
    for stack in service_stacks(root_copy):
        for environment in ("Staging", "Production"):
            item = {"Fn::GetAtt": [stack, f"Outputs.{environment}DeployRoleArn"]}
            assert item in statement["Resource"], (stack, environment)
        parameters = resources[stack]["Properties"]["Parameters"]
        assert parameters["PipelineRoleArn"] == {"Fn::GetAtt": ["PipelineRole", "Arn"]}


def test_ten_services_fit_one_load_balancers_listener_limit() -> None:
    # GIVEN the listeners of one service stack and of the network stack
    per_service = len(
        resources_of_type(
            load_template(PIPELINE_DIR / "service.yaml"), "AWS::ElasticLoadBalancingV2::Listener"
        )
    )
    shared = len(
        resources_of_type(
            load_template(PIPELINE_DIR / "network.yaml"), "AWS::ElasticLoadBalancingV2::Listener"
        )
    )

    # THEN ten services' listeners fit the 50 an application load balancer allows
    assert per_service * SERVICES_AT_SCALE + shared <= LISTENERS_PER_LOAD_BALANCER
