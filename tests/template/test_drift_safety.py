"""Guards docs/drift-safety.md: a stack update after CodeDeploy deployments changes no routing.

After the pipeline's first deployment CodeDeploy owns two things CloudFormation created: the
listeners' forward actions (the live target group alternates between blue and green) and the
ECS services' task definitions (a new revision per release). CloudFormation only calls a
resource's update API when that resource's template properties change, so the template keeps
those properties constant: a later `sam deploy` then never resends them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support import PIPELINE_DIR, load_template, resources_of_type
from tests.template.stack_updates import ROOT, SERVICE_STACKS, changed_by
from tools.cfn_render import Renderer

ENVIRONMENTS = ("Staging", "Production")
LISTENERS = {
    "StagingListener": "Staging",
    "StagingTestListener": "Staging",
    "ProductionListener": "Production",
    "ProductionTestListener": "Production",
}
# The parameters a listener may depend on, each stable for the life of a service stack except
# CertificateArn, whose change docs/drift-safety.md treats as a planned operation. Adding one
# here means documenting why changing it cannot reset a forward action.
LISTENER_PARAMETERS = {"LoadBalancerArn", "ServiceIndex", "CertificateArn"}


@pytest.fixture(scope="module")
def service() -> dict[str, Any]:
    return load_template(PIPELINE_DIR / "service.yaml")


def references(node: Any) -> Iterator[str]:
    """Every logical id or parameter (not pseudo parameter) a piece of template names."""
    if isinstance(node, list):
        for item in node:
            yield from references(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref":
                if not value.startswith("AWS::"):
                    yield value
            elif key == "Fn::GetAtt":
                yield value[0]
            elif key == "Fn::Sub":
                text, local = (value, {}) if isinstance(value, str) else value
                yield from (
                    name.split(".")[0]
                    for name in _sub_names(text)
                    if name not in local and not name.startswith("AWS::")
                )
                yield from references(local)
            else:
                yield from references(value)


def _sub_names(text: str) -> Iterator[str]:
    for chunk in text.split("${")[1:]:
        yield chunk.split("}")[0]


def mentions_condition(node: Any) -> bool:
    return "Fn::If" in str(node)


# ------------------------------------------------------------------ listeners
@pytest.mark.parametrize(("listener", "environment"), LISTENERS.items())
def test_listener_forwards_only_to_its_blue_target_group_with_no_condition(
    service: dict[str, Any], listener: str, environment: str
) -> None:
    # GIVEN the listener's default actions, which CodeDeploy rewrites during every release
    actions = service["Resources"][listener]["Properties"]["DefaultActions"]

    # THEN they are a constant: one forward to blue, no parameter, no condition. A change
    # here would make CloudFormation write them back and send live traffic to a target group
    # CodeDeploy may have drained.
    assert actions == [
        {"Type": "forward", "TargetGroupArn": {"Ref": f"{environment}BlueTargetGroup"}}
    ]
    assert not mentions_condition(actions)


@pytest.mark.parametrize("listener", LISTENERS)
def test_listener_depends_only_on_parameters_that_stay_put(
    service: dict[str, Any], listener: str
) -> None:
    # GIVEN everything the listener's properties name
    parameters = set(service["Parameters"])
    named = set(references(service["Resources"][listener]["Properties"]))

    # THEN the only parameters are the allowed ones (the rest are its own target group)
    assert named & parameters <= LISTENER_PARAMETERS
    assert named - parameters <= {f"{LISTENERS[listener]}BlueTargetGroup"}


@pytest.mark.parametrize("listener", ["StagingTestListener", "ProductionTestListener"])
def test_certificate_changes_never_touch_a_test_listener(
    service: dict[str, Any], listener: str
) -> None:
    # THEN switching HTTPS on or off leaves the test listeners' template unchanged
    named = set(references(service["Resources"][listener]["Properties"]))
    assert "CertificateArn" not in named
    assert not mentions_condition(service["Resources"][listener]["Properties"])


@pytest.mark.parametrize("listener", ["StagingListener", "ProductionListener"])
def test_certificate_decides_protocol_and_certificate_only(
    service: dict[str, Any], listener: str
) -> None:
    # GIVEN the production-traffic listener rendered with and without a certificate
    properties = service["Resources"][listener]["Properties"]
    plain = Renderer(service, {"ServiceIndex": "0"}).render(properties)
    secure = Renderer(service, {"ServiceIndex": "0", "CertificateArn": "arn:c"}).render(properties)

    # THEN only the TLS properties differ: the forward action is the same in both
    changed = {key for key in plain.keys() | secure.keys() if plain.get(key) != secure.get(key)}
    assert changed == {"Protocol", "SslPolicy", "Certificates"}


# ------------------------------------------------------------------ ECS services
@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_service_names_its_task_family_not_the_task_definition_resource(
    service: dict[str, Any], environment: str
) -> None:
    # GIVEN the ECS service and its environment's task definition
    resource = service["Resources"][f"{environment}Service"]
    task_definition = service["Resources"][f"{environment}TaskDefinition"]["Properties"]

    # WHEN both are resolved
    stack = Renderer(service, {"ServiceName": "api-service", "EnvironmentSuffix": "dev"})
    family = stack.render(resource["Properties"]["TaskDefinition"])

    # THEN the service names the family (latest ACTIVE revision at creation), a string that no
    # template change alters, instead of the revision ARN a Ref would give: CloudFormation then
    # never sends a task definition ECS refuses on a CODE_DEPLOY service
    assert (
        family
        == stack.render(task_definition["Family"])
        == "api-service-" + (f"{environment.lower()}-dev")
    )
    assert f"{environment}TaskDefinition" not in set(references(resource["Properties"]))
    assert f"{environment}TaskDefinition" in resource["DependsOn"]


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_service_properties_that_code_deploy_owns_are_constants(
    service: dict[str, Any], environment: str
) -> None:
    # GIVEN the properties ECS refuses to update on a CODE_DEPLOY service
    properties = service["Resources"][f"{environment}Service"]["Properties"]

    # THEN the load balancer binding names the blue group and the container, nothing else,
    # and no platform version is pinned
    assert set(references(properties["LoadBalancers"])) == {
        f"{environment}BlueTargetGroup",
        "ServiceName",
    }
    assert "PlatformVersion" not in properties
    assert properties["DeploymentController"] == {"Type": "CODE_DEPLOY"}
    assert not mentions_condition(properties)


def test_no_service_depends_on_a_resource_that_changes_with_each_template_edit(
    service: dict[str, Any],
) -> None:
    # GIVEN every reference each ECS service makes
    task_definitions = set(resources_of_type(service, "AWS::ECS::TaskDefinition"))
    for logical_id, resource in resources_of_type(service, "AWS::ECS::Service").items():
        # THEN none reads a task definition's revision (DependsOn only orders creation)
        assert not task_definitions & set(references(resource["Properties"])), logical_id


# ------------------------------------------------------------------ target groups
@pytest.mark.parametrize("environment", ENVIRONMENTS)
@pytest.mark.parametrize("colour", ["Blue", "Green"])
def test_target_groups_can_be_replaced_and_rarely_need_to_be(
    service: dict[str, Any], environment: str, colour: str
) -> None:
    # GIVEN a target group (a replaced one would leave both the listener and CodeDeploy's
    # target-group pair pointing at a deleted group)
    properties = service["Resources"][f"{environment}{colour}TargetGroup"]["Properties"]

    # THEN it carries no fixed name (a replacement cannot clash) and the properties that force
    # replacement are constants or the VPC
    assert "Name" not in properties
    assert (properties["TargetType"], properties["Protocol"], properties["Port"]) == (
        "ip",
        "HTTP",
        8080,
    )
    assert properties["VpcId"] == {"Ref": "VpcId"}


# ------------------------------------------------------------------ every root parameter
# Each root parameter with the updates walked for it: (values the stack was created with, the
# change). Every allowed value of a parameter with AllowedValues is walked from its default and
# back; the others get a representative new value.
CERTIFICATE = "arn:aws:acm:eu-west-1:123456789012:certificate/abc"
KEY = "arn:aws:kms:eu-west-1:123456789012:key/abc"
CONNECTION = {
    "SourceProvider": "CodeStarConnection",
    "ConnectionArn": "arn:c",
    "FullRepositoryId": "o/r",
}
SAMPLE_CHANGES: dict[str, list[dict[str, Any]]] = {
    "EnvironmentSuffix": [{"EnvironmentSuffix": "other"}],
    "NotificationEmail": [{"NotificationEmail": "ops@example.com"}],
    "CertificateArn": [{"CertificateArn": CERTIFICATE}],
    "DomainName": [{"DomainName": "api.example.com"}],
    "StagingIngressCidr": [{"StagingIngressCidr": "203.0.113.0/24"}],
    "StagingIngressPrefixListId": [{"StagingIngressPrefixListId": "pl-0abc"}],
    "DesiredCount": [{"DesiredCount": 1}, {"DesiredCount": 5}],
    "ProductionMaxCount": [{"ProductionMaxCount": 10}],
    "BlueTerminationWaitMinutes": [{"BlueTerminationWaitMinutes": 60}],
    "ProductionBlueTerminationWaitMinutes": [{"ProductionBlueTerminationWaitMinutes": 60}],
    "WatchWindowMinutes": [{"WatchWindowMinutes": "120"}],
    "LatencyThresholdSeconds": [{"LatencyThresholdSeconds": "1.5"}],
    "ErrorRateThresholdPercent": [{"ErrorRateThresholdPercent": "5"}],
    "CanaryErrorMarginPercent": [{"CanaryErrorMarginPercent": "0.5"}],
    "StagingRequestFloor": [{"StagingRequestFloor": "50"}],
    "ProductionRequestFloor": [{"ProductionRequestFloor": "100"}],
    "BootstrapImage": [{"BootstrapImage": "echoserver:2.0"}],
    "BranchName": [{"BranchName": "release"}],
    "ConnectionArn": [{"ConnectionArn": "arn:other"}],
    "FullRepositoryId": [{"FullRepositoryId": "o/other"}],
    "KmsKeyArn": [{"KmsKeyArn": KEY}],
}
# The only parameters that may reach an ECS service: they name the copy (a new suffix is a new
# copy) or its task network, fixed at creation. docs/drift-safety.md gives the procedure.
CREATION_ONLY = {"EnvironmentSuffix", "EgressMode"}


def walked_updates() -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(parameter, base values, change) for every root parameter."""
    for name, spec in ROOT["Parameters"].items():
        if "AllowedValues" in spec:
            default = spec["Default"]
            for value in spec["AllowedValues"]:
                if value != default:
                    base = CONNECTION if name == "SourceProvider" else {}
                    yield name, {}, {name: value, **base}
                    yield name, {name: value, **base}, {name: default}
        else:
            for change in SAMPLE_CHANGES[name]:
                base = CONNECTION if name in {"ConnectionArn", "FullRepositoryId"} else {}
                yield name, base, change


WALKED = list(walked_updates())
# The updates that must leave every ECS service alone, and those that must also leave every
# service listener alone (the certificate's is the planned procedure of docs/drift-safety.md).
SERVICE_SAFE = [update for update in WALKED if update[0] not in CREATION_ONLY]
LISTENER_SAFE = [update for update in SERVICE_SAFE if update[0] != "CertificateArn"]
ECS_SERVICES = {
    f"{stack}/{environment}Service" for stack in SERVICE_STACKS for environment in ENVIRONMENTS
}


def ids(updates: list[tuple[str, dict[str, Any], dict[str, Any]]]) -> list[str]:
    return [f"{name}-{json.dumps(change, sort_keys=True)}" for name, _, change in updates]


def ecs_services(touched: set[str]) -> set[str]:
    return touched & ECS_SERVICES


def test_every_root_parameter_is_walked() -> None:
    # THEN no parameter escapes the walk: a new one needs its sample change (and a decision)
    assert {name for name, _, _ in WALKED} == set(ROOT["Parameters"])


def test_the_walk_sees_a_change_that_reaches_every_ecs_service() -> None:
    # GIVEN an update that does rewrite the services (a new suffix renames them)
    touched = changed_by({"EnvironmentSuffix": "other"})

    # THEN the walk reports all six: the tests below can fail
    assert ecs_services(touched) == ECS_SERVICES


@pytest.mark.parametrize(("parameter", "base", "change"), SERVICE_SAFE, ids=ids(SERVICE_SAFE))
def test_no_update_but_a_creation_only_one_touches_an_ecs_service(
    parameter: str, base: dict[str, Any], change: dict[str, Any]
) -> None:
    # WHEN the stack is updated with this change
    touched = changed_by(change, base)

    # THEN no ECS service is touched: ECS refuses the update CloudFormation would send to a
    # CODE_DEPLOY service, and the rollback would send the same request
    assert not ecs_services(touched), (parameter, sorted(ecs_services(touched)))


@pytest.mark.parametrize(("parameter", "base", "change"), LISTENER_SAFE, ids=ids(LISTENER_SAFE))
def test_only_the_certificate_touches_a_service_listener(
    parameter: str, base: dict[str, Any], change: dict[str, Any]
) -> None:
    # WHEN the stack is updated with this change
    touched = changed_by(change, base)

    # THEN no service listener (whose forward action CodeDeploy owns) is touched
    listeners = {name for name in touched if name.split("/")[1] in LISTENERS}
    assert not listeners, (parameter, sorted(listeners))


def test_the_certificate_touches_only_the_production_traffic_listeners() -> None:
    # WHEN HTTPS is switched on
    touched = changed_by({"CertificateArn": CERTIFICATE})

    # THEN the two listeners of each service that carry user traffic change (the procedure of
    # docs/drift-safety.md applies), the test listeners and every service do not
    assert {name for name in touched if not name.startswith("NetworkStack/")} == {
        f"{stack}/{listener}"
        for stack in SERVICE_STACKS
        for listener in ("StagingListener", "ProductionListener")
    }


@pytest.mark.parametrize(
    ("created", "changed", "reaches_services"),
    [
        ("VpcEndpoints", "NatGateway", False),
        ("NatGateway", "VpcEndpoints", False),
        ("VpcEndpoints", "PublicSubnets", True),
        ("PublicSubnets", "VpcEndpoints", True),
        ("NatGateway", "PublicSubnets", True),
        ("PublicSubnets", "NatGateway", True),
    ],
)
def test_egress_mode_reaches_the_services_only_to_or_from_public_subnets(
    created: str, changed: str, reaches_services: bool
) -> None:
    # WHEN the egress mode of a created stack changes
    touched = changed_by({"EgressMode": changed}, {"EgressMode": created})

    # THEN between the two private-subnet modes the tasks' network is the same; to or from
    # PublicSubnets it is not (subnets and public IPs change), for every service
    assert ecs_services(touched) == (ECS_SERVICES if reaches_services else set())


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"DesiredCount": 4}, {"StagingScalableTarget", "ProductionScalableTarget"}),
        ({"ProductionMaxCount": 10}, {"ProductionScalableTarget"}),
        (
            {"BootstrapImage": "echoserver:2.0"},
            {"StagingTaskDefinition", "ProductionTaskDefinition"},
        ),
        (
            {"StagingTrafficShift": "CodeDeployDefault.ECSLinear10PercentEvery1Minutes"},
            {"StagingDeploymentGroup"},
        ),
        ({"ProductionBlueTerminationWaitMinutes": 15}, {"ProductionDeploymentGroup"}),
    ],
)
def test_capacity_and_release_settings_change_only_what_ecs_and_codedeploy_accept(
    change: dict[str, Any], expected: set[str]
) -> None:
    # WHEN a capacity or release setting changes
    touched = changed_by(change)

    # THEN exactly these resources of every service stack are updated: scalable targets
    # (Application Auto Scaling sets the count through UpdateService's desired count, which ECS
    # accepts on a CODE_DEPLOY service), task definitions (a new revision; the service is not
    # touched, the next release runs it) or deployment groups
    assert touched == {
        f"{stack}/{logical_id}" for stack in SERVICE_STACKS for logical_id in expected
    }
