"""Issue 19's gates as the templates wire them: synthetic traffic and its alarms, the image gate,
the Lint action, the acceptance and load tests, and the approval message's figures."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import yaml
from synthetic_client.config import load_settings
from synthetic_client.run import Route

from tests.support import PIPELINE_DIR, REPO_ROOT, load_template, resources_of_type
from tools.cfn_render import Renderer

SERVICES = ("api-service", "auth-service", "notification-service")
ENVIRONMENTS = ("staging", "production")


@pytest.fixture(scope="module")
def root() -> dict[str, Any]:
    return load_template(REPO_ROOT / "template.yaml")


@pytest.fixture(scope="module")
def delivery() -> dict[str, Any]:
    return load_template(PIPELINE_DIR / "delivery.yaml")


def stage_actions(delivery: dict[str, Any], name: str) -> dict[str, dict[str, Any]]:
    stages = delivery["Resources"]["Pipeline"]["Properties"]["Stages"]
    (found,) = [s for s in stages if s["Name"] == name]
    return {action["Name"]: action for action in found["Actions"]}


def buildspec(path: str) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((REPO_ROOT / path).read_text())
    return document


def project_of(delivery: dict[str, Any], action: dict[str, Any]) -> dict[str, Any]:
    properties: dict[str, Any] = delivery["Resources"][
        action["Configuration"]["ProjectName"]["Ref"]
    ]["Properties"]
    return properties


# ---------------------------------------------------------------- synthetic traffic
@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_synthetic_client_runs_every_minute_against_each_environments_endpoints(
    root: dict[str, Any], environment: str
) -> None:
    # GIVEN the environment's own synthetic client function, its variables rendered as
    # CloudFormation would
    function = root["Resources"][f"{environment.title()}SyntheticClientFunction"]["Properties"]
    (schedule,) = function["Events"].values()
    assert schedule["Type"] == "Schedule"
    assert schedule["Properties"]["Schedule"] == "rate(1 minute)"
    # the schedule's event carries nothing: the configuration is the function's own
    assert not {"Input", "InputPath"} & set(schedule["Properties"])
    stack = {
        "ApiServiceStack": "api-service",
        "AuthServiceStack": "auth-service",
        "NotificationServiceStack": "notification-service",
    }
    load_balancer = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/m/1"
    attributes = {
        f"{logical}.Outputs.{environment.title()}Endpoint": f"http://alb:{index}"
        for index, logical in enumerate(stack)
    } | {
        f"{logical}.Outputs.{environment.title()}TestEndpoint": f"http://alb:{9000 + index}"
        for index, logical in enumerate(stack)
    }
    attributes["NetworkStack.Outputs.LoadBalancerArn"] = load_balancer
    variables = Renderer(root, {}, attributes).render(function["Environment"]["Variables"])

    # WHEN the function reads them (the same strict loader the Lambda uses)
    settings = load_settings({name: str(value) for name, value in variables.items()})

    # THEN they name the environment, its own secret and each service's endpoint there
    assert settings.environment == environment
    assert settings.client_secret_id == f"<{environment.title()}SyntheticClientSecret>"
    assert settings.endpoints == {
        service: f"http://alb:{index}" for index, service in enumerate(stack.values())
    }
    # and, for the replacement route, each service's test listener in that environment, all on
    # the environment's load balancer, the only host the client sends to
    assert settings.routes[Route.REPLACEMENT] == {
        service: f"http://alb:{9000 + index}" for index, service in enumerate(stack.values())
    }
    assert settings.load_balancer_arn == load_balancer


@pytest.mark.parametrize("environment", ["Staging", "Production"])
def test_the_synthetic_client_runs_in_the_vpc_with_its_environments_security_group(
    root: dict[str, Any], environment: str
) -> None:
    # The test listeners admit only security groups inside the VPC (test_network.py)
    function = root["Resources"][f"{environment}SyntheticClientFunction"]["Properties"]
    assert function["VpcConfig"] == {
        "SubnetIds": {
            "Fn::Split": [",", {"Fn::GetAtt": ["NetworkStack", "Outputs.HookSubnetIds"]}]
        },
        "SecurityGroupIds": [
            {"Fn::GetAtt": ["NetworkStack", f"Outputs.{environment}SyntheticClientSecurityGroupId"]}
        ],
    }


def test_both_synthetic_clients_are_the_same_function_but_for_their_environment(
    root: dict[str, Any],
) -> None:
    # GIVEN the two functions, with what names their environment taken out
    def without_environment(environment: str) -> Any:
        properties = root["Resources"][f"{environment}SyntheticClientFunction"]["Properties"]
        text = json.dumps(properties).replace(environment, "<Env>")
        return json.loads(text.replace(environment.lower(), "<env>"))

    # THEN they run the same code with the same settings: metrics and alarms read alike
    assert without_environment("Staging") == without_environment("Production")


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_a_silent_synthetic_client_fails_the_environments_validation(
    root: dict[str, Any], environment: str
) -> None:
    # GIVEN the environment's synthetic-client alarm
    alarm = root["Resources"][f"{environment.title()}SyntheticClientAlarm"]["Properties"]
    name = Renderer(root, {"EnvironmentSuffix": "dev"}).render(alarm["AlarmName"])

    # THEN ValidateHealth's prefix finds it, no service's prefix does (the hooks ignore it),
    # and no heartbeat reads as failure
    assert name.startswith(f"dev-{environment}-")
    assert not any(name.startswith(f"dev-{environment}-{service}-") for service in SERVICES)
    assert alarm["TreatMissingData"] == "breaching"
    assert alarm["Dimensions"] == [{"Name": "Environment", "Value": environment}]


def test_the_latency_threshold_is_one_root_parameter_passed_to_every_service(
    root: dict[str, Any],
) -> None:
    stacks = resources_of_type(root, "AWS::CloudFormation::Stack")
    services = [
        s for s in stacks.values() if s["Properties"]["TemplateURL"].endswith("service.yaml")
    ]
    assert len(services) == len(SERVICES)
    for stack in services:
        parameters = stack["Properties"]["Parameters"]
        assert parameters["LatencyThresholdSeconds"] == {"Ref": "LatencyThresholdSeconds"}
    delivery = stacks["DeliveryStack"]["Properties"]["Parameters"]
    assert delivery["LatencyThresholdSeconds"] == {"Ref": "LatencyThresholdSeconds"}


@pytest.mark.parametrize("environment", ["Staging", "Production"])
def test_the_latency_alarm_takes_the_p95_of_both_target_groups(environment: str) -> None:
    service = load_template(PIPELINE_DIR / "service.yaml")
    alarm = service["Resources"][f"{environment}LatencyAlarm"]["Properties"]
    stats = {item["Id"]: item["MetricStat"] for item in alarm["Metrics"] if "MetricStat" in item}
    assert {s["Metric"]["MetricName"] for s in stats.values()} == {"TargetResponseTime"}
    assert {s["Stat"] for s in stats.values()} == {"p95"}
    groups = {s["Metric"]["Dimensions"][1]["Value"]["Fn::GetAtt"][0] for s in stats.values()}
    assert groups == {f"{environment}BlueTargetGroup", f"{environment}GreenTargetGroup"}
    assert alarm["Threshold"] == {"Ref": "LatencyThresholdSeconds"}
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"


# ---------------------------------------------------------------- Build stage: image gate
def test_the_image_gate_runs_after_the_three_builds_on_their_outputs(
    delivery: dict[str, Any],
) -> None:
    actions = stage_actions(delivery, "Build")
    gate = actions["ImageGate"]
    builds = [a for name, a in actions.items() if name != "ImageGate"]
    assert gate["RunOrder"] > max(a["RunOrder"] for a in builds)
    assert [a["Name"] for a in gate["InputArtifacts"]] == [
        "SourceOutput",
        *(a["OutputArtifacts"][0]["Name"] for a in builds),
    ]
    project = project_of(delivery, gate)
    assert project["Source"]["BuildSpec"] == "buildspecs/image-gate.yml"
    variables = {v["Name"]: v["Value"] for v in project["Environment"]["EnvironmentVariables"]}
    assert variables["IMAGE_SCAN_FAIL_SEVERITY"] == {"Ref": "ImageScanFailSeverity"}


def test_the_image_gate_fails_on_critical_by_default(root: dict[str, Any]) -> None:
    assert root["Parameters"]["ImageScanFailSeverity"]["Default"] == "CRITICAL"


def test_the_image_gate_keeps_an_sbom_per_image() -> None:
    spec = buildspec("buildspecs/image-gate.yml")
    assert "*.spdx.json" in spec["artifacts"]["files"]


def test_the_image_gate_role_reads_images_and_never_pushes(delivery: dict[str, Any]) -> None:
    role = delivery["Resources"]["ImageGateRole"]["Properties"]
    actions = {
        action
        for policy in role["Policies"]
        for statement in policy["PolicyDocument"]["Statement"]
        if isinstance(statement, dict) and "Action" in statement
        for action in (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
    }
    assert "ecr:DescribeImageScanFindings" in actions
    assert not actions & {"ecr:PutImage", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart"}


# ---------------------------------------------------------------- Test stage: Lint
def test_lint_runs_beside_test_so_the_stage_is_all_of_make_test(delivery: dict[str, Any]) -> None:
    actions = stage_actions(delivery, "Test")
    assert actions["Lint"]["RunOrder"] == actions["Test"]["RunOrder"]
    assert project_of(delivery, actions["Lint"])["Source"]["BuildSpec"] == "buildspecs/lint.yml"
    commands = buildspec("buildspecs/lint.yml")["phases"]["build"]["commands"]
    assert commands == ["make secrets", "make lint"]


def test_make_test_includes_secret_detection() -> None:
    # `make test` runs its parts side by side: the linters, secret detection and pytest.
    makefile = (REPO_ROOT / "Makefile").read_text()
    recipe = makefile.split("\ntest:", 1)[1].split("\n\n", 1)[0]
    assert re.search(r"\$\(MAKE\)[^\n]* lint secrets test-fast", recipe), recipe


# ---------------------------------------------------------------- Staging: acceptance and load
def test_acceptance_and_load_tests_run_beside_the_staging_health_gate(
    delivery: dict[str, Any],
) -> None:
    actions = stage_actions(delivery, "Staging")
    gate_order = actions["ValidateHealth"]["RunOrder"]
    deployments = [a for a in actions.values() if a["ActionTypeId"]["Category"] == "Deploy"]
    assert actions["AcceptanceTests"]["RunOrder"] == gate_order
    assert actions["LoadTest"]["RunOrder"] == gate_order
    assert gate_order > max(a["RunOrder"] for a in deployments)


def test_acceptance_tests_report_junit_to_their_report_group(delivery: dict[str, Any]) -> None:
    project = project_of(delivery, stage_actions(delivery, "Staging")["AcceptanceTests"])
    spec = buildspec(project["Source"]["BuildSpec"])
    (report,) = spec["reports"]
    assert spec["reports"][report]["file-format"] == "JUNITXML"
    # CodeBuild files a buildspec report under <project name>-<report name>.
    group = delivery["Resources"]["AcceptanceReportGroup"]["Properties"]["Name"]["Fn::Sub"]
    assert group == project["Name"]["Fn::Sub"] + f"-{report}"
    assert "tests/integration" in " ".join(spec["phases"]["build"]["commands"])


def test_the_approval_message_quotes_exactly_what_the_load_test_exports(
    delivery: dict[str, Any],
) -> None:
    load = stage_actions(delivery, "Staging")["LoadTest"]
    approval = stage_actions(delivery, "Approval")["ApproveRelease"]
    referenced = set(re.findall(r"#\{(\w+)\.(\w+)\}", approval["Configuration"]["CustomData"]))
    exported = buildspec("buildspecs/load-test.yml")["env"]["exported-variables"]
    from_load_test = {ref for ref in referenced if ref[0] == load["Namespace"]}
    assert from_load_test == {(load["Namespace"], name) for name in exported}


def test_the_load_test_is_bounded_in_requests_and_time() -> None:
    variables = buildspec("buildspecs/load-test.yml")["env"]["variables"]
    assert int(variables["LOAD_MAX_REQUESTS"]) <= 1000
    assert int(variables["LOAD_DURATION_SECONDS"]) <= 120


def test_the_load_test_reads_only_the_staging_client_secret(delivery: dict[str, Any]) -> None:
    project = project_of(delivery, stage_actions(delivery, "Staging")["LoadTest"])
    secrets = {
        v["Name"]: v["Value"]["Fn::Sub"]
        for v in project["Environment"]["EnvironmentVariables"]
        if v.get("Type") == "SECRETS_MANAGER"
    }
    assert secrets == {
        "CLIENT_ID": "${StagingSyntheticClientSecretArn}:client_id",
        "CLIENT_SECRET": "${StagingSyntheticClientSecretArn}:client_secret",
    }
