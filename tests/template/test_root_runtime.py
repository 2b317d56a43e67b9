"""template.yaml's runtime wiring: parameters, clusters, CodeDeploy, bootstrap image, nested
stacks and the services' least-privilege task policies."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.support import PIPELINE_DIR, load_template, resources_of_type
from tools.cfn_render import Renderer

SERVICE_STACKS = {
    "ApiServiceStack": "api-service",
    "AuthServiceStack": "auth-service",
    "NotificationServiceStack": "notification-service",
}
ECS_DEPLOYMENT_CONFIGS = {
    "CodeDeployDefault.ECSAllAtOnce",
    "CodeDeployDefault.ECSCanary10Percent5Minutes",
    "CodeDeployDefault.ECSCanary10Percent15Minutes",
    "CodeDeployDefault.ECSLinear10PercentEvery1Minutes",
    "CodeDeployDefault.ECSLinear10PercentEvery3Minutes",
}


def policy_statements(root: dict[str, Any], logical_id: str) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = root["Resources"][logical_id]["Properties"][
        "PolicyDocument"
    ]["Statement"]
    return statements


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@pytest.mark.parametrize(
    ("logical_id", "name"),
    [
        ("StagingCluster", "staging-cluster-${EnvironmentSuffix}"),
        ("ProductionCluster", "production-cluster-${EnvironmentSuffix}"),
    ],
)
def test_clusters_are_named_per_suffix_with_container_insights_on_fargate(
    root_template: dict[str, Any], logical_id: str, name: str
) -> None:
    cluster = root_template["Resources"][logical_id]["Properties"]

    assert cluster["ClusterName"] == {"Fn::Sub": name}
    # The running-task-count alarms read Container Insights' RunningTaskCount.
    assert {"Name": "containerInsights", "Value": "enabled"} in cluster["ClusterSettings"]
    assert cluster["CapacityProviders"] == ["FARGATE"]


def test_codedeploy_application_is_ecs_and_named_per_suffix(
    root_template: dict[str, Any],
) -> None:
    application = root_template["Resources"]["CodeDeployApplication"]["Properties"]

    assert application == {
        "ApplicationName": {"Fn::Sub": "microservices-${EnvironmentSuffix}"},
        "ComputePlatform": "ECS",
    }


def test_codedeploy_role_is_trusted_by_codedeploy_and_invokes_exactly_the_two_hooks(
    root_template: dict[str, Any],
) -> None:
    role = root_template["Resources"]["CodeDeployServiceRole"]["Properties"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    (invoke,) = role["Policies"][0]["PolicyDocument"]["Statement"]

    assert trust["Principal"] == {"Service": "codedeploy.amazonaws.com"}
    assert invoke["Action"] == "lambda:InvokeFunction"
    functions = sorted(resource["Fn::Sub"].rsplit(":", 1)[1] for resource in invoke["Resource"])
    assert functions == [
        "CodeDeployHook_SmokeTest-${EnvironmentSuffix}",
        "CodeDeployHook_TrafficGuard-${EnvironmentSuffix}",
    ]


@pytest.mark.parametrize(
    ("parameter", "default"),
    [
        ("EgressMode", "VpcEndpoints"),
        ("CertificateArn", ""),
        ("DesiredCount", 2),
        ("EcrTagMutability", "IMMUTABLE"),
        ("StagingTrafficShift", "CodeDeployDefault.ECSAllAtOnce"),
        ("ProductionTrafficShift", "CodeDeployDefault.ECSCanary10Percent5Minutes"),
        ("LoadBalancerDeletionProtection", "false"),
    ],
)
def test_runtime_parameter_defaults(
    root_template: dict[str, Any], parameter: str, default: object
) -> None:
    assert root_template["Parameters"][parameter]["Default"] == default


def test_traffic_shift_parameters_allow_only_ecs_predefined_configs(
    root_template: dict[str, Any],
) -> None:
    for name in ("StagingTrafficShift", "ProductionTrafficShift"):
        assert set(root_template["Parameters"][name]["AllowedValues"]) == ECS_DEPLOYMENT_CONFIGS


def test_tag_mutability_description_says_why_immutable_is_safer(
    root_template: dict[str, Any],
) -> None:
    description = root_template["Parameters"]["EcrTagMutability"]["Description"]

    assert "IMMUTABLE is safer with commit-hash tags" in description


def test_every_parameter_is_described_and_grouped(root_template: dict[str, Any]) -> None:
    groups = root_template["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"]
    grouped = [name for group in groups for name in group["Parameters"]]

    assert sorted(grouped) == sorted(root_template["Parameters"])
    for name, parameter in root_template["Parameters"].items():
        assert parameter.get("Description"), name


def test_network_stack_is_nested_from_the_local_network_template(
    root_template: dict[str, Any],
) -> None:
    stack = root_template["Resources"]["NetworkStack"]

    assert stack["Type"] == "AWS::CloudFormation::Stack"
    assert stack["Properties"]["TemplateURL"] == "pipeline/network.yaml"
    assert stack["Properties"]["Parameters"]["EgressMode"] == {"Ref": "EgressMode"}
    assert stack["Properties"]["Parameters"]["CertificateArn"] == {"Ref": "CertificateArn"}


def test_each_service_is_a_nested_stack_with_its_own_index(
    root_template: dict[str, Any],
) -> None:
    indexes = []
    for logical_id, service in SERVICE_STACKS.items():
        stack = root_template["Resources"][logical_id]
        assert stack["Type"] == "AWS::CloudFormation::Stack"
        assert stack["Properties"]["TemplateURL"] == "pipeline/service.yaml"
        assert stack["Properties"]["Parameters"]["ServiceName"] == service
        indexes.append(stack["Properties"]["Parameters"]["ServiceIndex"])

    # The index picks the listener ports, so two services sharing one would clash.
    assert indexes == ["0", "1", "2"]


@pytest.mark.parametrize(
    ("logical_id", "template_path"),
    [("NetworkStack", "network.yaml")] + [(stack, "service.yaml") for stack in SERVICE_STACKS],
)
def test_nested_stack_parameters_match_the_nested_template(
    root_template: dict[str, Any], logical_id: str, template_path: str
) -> None:
    # GIVEN the parameters the nested template declares
    declared = load_template(PIPELINE_DIR / template_path)["Parameters"]
    required = {name for name, spec in declared.items() if "Default" not in spec}

    # WHEN the root passes its values
    passed = set(root_template["Resources"][logical_id]["Properties"]["Parameters"])

    # THEN every required one is passed and none is unknown
    assert required <= passed
    assert passed <= set(declared)


def test_bootstrap_image_is_pulled_through_a_cache_of_a_public_registry(
    root_template: dict[str, Any],
) -> None:
    rule = root_template["Resources"]["BootstrapImageCacheRule"]["Properties"]
    image = root_template["Resources"]["ApiServiceStack"]["Properties"]["Parameters"][
        "BootstrapImage"
    ]["Fn::Sub"]

    # No credentials: the upstream registry is public, so the rule needs no secret.
    assert rule["UpstreamRegistryUrl"] == "registry.k8s.io"
    assert "CredentialArn" not in rule
    assert rule["EcrRepositoryPrefix"] == {"Fn::Sub": "bootstrap-${EnvironmentSuffix}"}
    # The tasks pull from this account's private ECR, reachable in every egress mode.
    assert image.startswith("${AWS::AccountId}.dkr.ecr.${AWS::Region}.${AWS::URLSuffix}/")
    assert "/${BootstrapImageCacheRule}/${BootstrapImage}" in image


def test_every_service_stack_starts_from_the_same_bootstrap_image(
    root_template: dict[str, Any],
) -> None:
    images = [
        root_template["Resources"][stack]["Properties"]["Parameters"]["BootstrapImage"]
        for stack in SERVICE_STACKS
    ]

    assert all(image == images[0] for image in images)


def test_task_policies_grant_no_wildcards(root_template: dict[str, Any]) -> None:
    # (the functions' shared EnvironmentRestorePolicy is held to tests/security's rules, which
    # allow "*" only for calls AWS authorises against "*" alone)
    policies = [
        logical_id
        for logical_id in resources_of_type(root_template, "AWS::IAM::ManagedPolicy")
        if logical_id.endswith("TaskPolicy")
    ]

    assert policies
    for logical_id in policies:
        for statement in policy_statements(root_template, logical_id):
            assert statement["Effect"] == "Allow"
            for action in as_list(statement["Action"]):
                assert "*" not in action, logical_id
            assert statement["Resource"] != "*", logical_id


ENVIRONMENTS = ("Staging", "Production")
# Per service: its actions and the resource it touches, as rendered for one {environment}: a
# resource of the stack renders as <LogicalId>; the key set is a name auth-service owns.
JWKS_ARN = (
    "arn:aws:ssm:eu-west-1:123456789012:parameter/pipeline/{environment_name}/auth-service/jwks"
)
SERVICE_PERMISSIONS = {
    "ApiService": [({"ssm:GetParameter"}, JWKS_ARN)],
    "AuthService": [({"ssm:GetParameter", "ssm:PutParameter"}, JWKS_ARN)],
    "NotificationService": [
        # POST /notifications checks bearer tokens against auth-service's key set.
        ({"ssm:GetParameter"}, JWKS_ARN),
        # GetTopicAttributes backs notification-service's /health dependency check.
        ({"sns:Publish", "sns:GetTopicAttributes"}, "<{environment}ServiceMessagesTopic>"),
    ],
}


def referenced_ids(node: Any) -> set[str]:
    """Logical ids a piece of template names through Ref, Fn::GetAtt or a Fn::Sub variable."""
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                found.add(value)
            elif key == "Fn::GetAtt":
                found.add(value[0] if isinstance(value, list) else value.split(".")[0])
            elif key == "Fn::Sub":
                text = value if isinstance(value, str) else value[0]
                found |= {name.split(".")[0] for name in re.findall(r"\$\{([^}!]+)\}", text)}
            found |= referenced_ids(value)
    elif isinstance(node, list):
        for item in node:
            found |= referenced_ids(item)
    return {name for name in found if not name.startswith("AWS::")}


@pytest.mark.parametrize("environment", ENVIRONMENTS)
@pytest.mark.parametrize("service", SERVICE_PERMISSIONS)
def test_each_service_gets_only_its_own_permissions_in_each_environment(
    root_template: dict[str, Any], service: str, environment: str
) -> None:
    # GIVEN the policy the root passes for the service's task role in one environment
    policy = f"{environment}{service}TaskPolicy"
    parameters = root_template["Resources"][f"{service}Stack"]["Properties"]["Parameters"]
    statements = policy_statements(root_template, policy)

    # THEN it allows exactly the service's actions on exactly that environment's resources
    assert parameters[f"{environment}TaskPolicyArn"] == {"Ref": policy}
    assert len(statements) == len(SERVICE_PERMISSIONS[service])
    for statement, (actions, resource) in zip(
        statements, SERVICE_PERMISSIONS[service], strict=True
    ):
        assert set(as_list(statement["Action"])) == actions
        assert len(as_list(statement["Resource"])) == 1
        assert Renderer(root_template, {}).render(statement["Resource"]) == resource.format(
            environment=environment, environment_name=environment.lower()
        )


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_no_task_policy_names_a_resource_of_the_other_environment(
    root_template: dict[str, Any], environment: str
) -> None:
    # GIVEN every task policy of one environment
    (other,) = set(ENVIRONMENTS) - {environment}
    policies = [
        logical_id
        for logical_id in resources_of_type(root_template, "AWS::IAM::ManagedPolicy")
        if logical_id.startswith(environment) and logical_id.endswith("TaskPolicy")
    ]

    # THEN one per service, and every resource each one names belongs to its own environment
    assert len(policies) == len(SERVICE_PERMISSIONS)
    for logical_id in policies:
        document = root_template["Resources"][logical_id]["Properties"]["PolicyDocument"]
        named = referenced_ids(document) & set(root_template["Resources"])
        assert all(name.startswith(environment) for name in named), (logical_id, named)
        rendered = json.dumps(Renderer(root_template, {}).render(document)).lower()
        assert environment.lower() in rendered, logical_id
        assert other.lower() not in rendered, logical_id


def test_no_service_stack_receives_a_task_policy_for_both_environments(
    root_template: dict[str, Any],
) -> None:
    # GIVEN the task policies each service stack is passed
    for stack in SERVICE_STACKS:
        parameters = root_template["Resources"][stack]["Properties"]["Parameters"]

        # THEN the staging and production parameters name their own environment's policy only
        for environment in ENVIRONMENTS:
            (policy,) = referenced_ids(parameters[f"{environment}TaskPolicyArn"])
            assert policy.startswith(environment), (stack, policy)
        assert "TaskPolicyArn" not in parameters


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_each_services_deploy_role_of_an_environment_is_passed_on_under_its_own_name(
    root_template: dict[str, Any], environment: str
) -> None:
    # GIVEN the deploy roles the root passes to the delivery stack for one environment
    parameters = root_template["Resources"]["DeliveryStack"]["Properties"]["Parameters"]
    service_outputs = load_template(PIPELINE_DIR / "service.yaml")["Outputs"]
    passed = {
        name: value
        for name, value in parameters.items()
        if name.endswith(f"{environment}DeployRoleArn")
    }

    # THEN one per service, each that service stack's own deploy role of that environment
    assert passed == {
        f"{stack.removesuffix('Stack')}{environment}DeployRoleArn": {
            "Fn::GetAtt": [stack, f"Outputs.{environment}DeployRoleArn"]
        }
        for stack in SERVICE_STACKS
    }
    assert f"{environment}DeployRoleArn" in service_outputs


def test_no_role_list_mixes_the_environments_or_the_services(root_template: dict[str, Any]) -> None:
    # GIVEN every role the root passes to the delivery stack
    parameters = root_template["Resources"]["DeliveryStack"]["Properties"]["Parameters"]

    # THEN no list of roles at all: each role is a parameter of its own
    assert not [name for name in parameters if name.endswith("RoleArns")]
    for name, value in parameters.items():
        if name.endswith("DeployRoleArn"):
            (other,) = {e for e in ENVIRONMENTS if e not in name}
            assert other not in json.dumps(value), name


@pytest.mark.parametrize("environment", ["Staging", "Production"])
def test_only_auth_service_receives_a_secret_of_its_own_environment(
    root_template: dict[str, Any], environment: str
) -> None:
    secrets = {
        stack: root_template["Resources"][stack]["Properties"]["Parameters"].get(
            f"{environment}ServiceSecretArn"
        )
        for stack in SERVICE_STACKS
    }

    assert secrets == {
        "ApiServiceStack": None,
        "AuthServiceStack": {"Ref": f"{environment}AuthServiceSecret"},
        "NotificationServiceStack": None,
    }


@pytest.mark.parametrize("environment", ["Staging", "Production"])
def test_auth_secret_generates_the_signing_seed_with_an_empty_client_list(
    root_template: dict[str, Any], environment: str
) -> None:
    generated = root_template["Resources"][f"{environment}AuthServiceSecret"]["Properties"][
        "GenerateSecretString"
    ]

    assert json.loads(generated["SecretStringTemplate"]) == {"clients": {}}
    assert generated["GenerateStringKey"] == "signing_seed"
    assert generated["PasswordLength"] >= 32


@pytest.mark.parametrize("environment", ["staging", "production"])
def test_per_environment_message_topic(root_template: dict[str, Any], environment: str) -> None:
    topic = root_template["Resources"][f"{environment.title()}ServiceMessagesTopic"]["Properties"]

    assert topic["TopicName"] == {
        "Fn::Sub": f"service-messages-{environment}-${{EnvironmentSuffix}}"
    }
    assert topic["KmsMasterKeyId"] == "alias/aws/sns"


def test_no_stack_resource_owns_the_key_set_auth_service_writes(
    root_template: dict[str, Any],
) -> None:
    # GIVEN every SSM parameter the root stack creates, rendered
    stack = Renderer(root_template, {})
    names = {
        stack.render(resource["Properties"]["Name"])
        for resource in resources_of_type(root_template, "AWS::SSM::Parameter").values()
    }

    # THEN none is a key set: a stack update of a CloudFormation-owned parameter (its tags
    # included) would write its template value over the keys auth-service published
    assert not {name for name in names if name.endswith("/auth-service/jwks")}


@pytest.mark.parametrize("environment", ["Staging", "Production"])
def test_service_config_names_the_jwks_parameter_and_the_topic(
    root_template: dict[str, Any], environment: str
) -> None:
    resources = root_template["Resources"]
    stack = Renderer(root_template, {})

    for service in ("ApiServiceStack", "AuthServiceStack"):
        extra = resources[service]["Properties"]["Parameters"][f"{environment}ExtraConfig"]
        assert stack.render(extra) == (
            f'"jwks_parameter": "/pipeline/{environment.lower()}/auth-service/jwks"'
        )
    notification = resources["NotificationServiceStack"]["Properties"]["Parameters"]
    assert stack.render(notification[f"{environment}ExtraConfig"]) == (
        f'"topic_arn": "<{environment}ServiceMessagesTopic>", '
        f'"jwks_parameter": "/pipeline/{environment.lower()}/auth-service/jwks"'
    )


def test_outputs_give_every_service_url_per_environment_and_the_clusters(
    root_template: dict[str, Any],
) -> None:
    outputs = root_template["Outputs"]

    for stack in SERVICE_STACKS:
        prefix = stack.removesuffix("Stack")
        for environment in ("Staging", "Production"):
            assert outputs[f"{prefix}{environment}Endpoint"]["Value"] == {
                "Fn::GetAtt": [stack, f"Outputs.{environment}Endpoint"]
            }
    assert outputs["StagingClusterName"]["Value"] == {"Ref": "StagingCluster"}
    assert outputs["ProductionClusterName"]["Value"] == {"Ref": "ProductionCluster"}
    assert outputs["LoadBalancerDnsName"]["Value"] == {
        "Fn::GetAtt": ["NetworkStack", "Outputs.LoadBalancerDnsName"]
    }
