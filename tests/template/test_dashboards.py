"""The environment dashboards: valid JSON once deployed, naming only what the templates create.

Each dashboard body is rendered the way CloudFormation resolves it (the root's Fn::Join of every
service stack's output fragments, tests/template/system.py), then parsed as JSON and followed
back: every alarm, target group, load balancer, ECS service, build project and rule it names is
a resource of the templates, of the right environment.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from health_check.verdict import Outcome

from scripts.add_service import add_service, service_stacks
from tests.support import PIPELINE_DIR, REPO_ROOT
from tests.template.system import Stack, System, render_system

SUFFIX = "dev"
ENVIRONMENTS = ("staging", "production")
GRID_WIDTH = 24  # CloudWatch dashboards are 24 units wide
# Documented limits of a dashboard body (CloudWatch-Dashboard-Body-Structure).
WIDGETS_PER_DASHBOARD = 500
ALARMS_PER_ALARM_WIDGET = 100
SERVICES_AT_SCALE = 10
# Rows above the services: the text header, then alarms, verdicts, failed deployments, builds.
ENVIRONMENT_WIDGETS = 5
# A service's row: requests, 5XX rate, response time, targets, tasks.
WIDGETS_PER_SERVICE = 5


@pytest.fixture(scope="module")
def system() -> System:
    return render_system(REPO_ROOT / "template.yaml", {"EnvironmentSuffix": SUFFIX})


def dashboard(system: System, environment: str) -> dict[str, Any]:
    body = system.root.property_value(f"{environment.capitalize()}Dashboard", "DashboardBody")
    parsed: dict[str, Any] = json.loads(body)
    return parsed


@dataclass(frozen=True)
class MetricLine:
    """One metric of a metric widget: namespace, name and dimensions (name -> value)."""

    namespace: str
    name: str
    dimensions: dict[str, str]
    options: dict[str, Any]


def metric_lines(widget: dict[str, Any]) -> Iterator[MetricLine]:
    for entry in widget.get("properties", {}).get("metrics", []):
        items, options = (entry[:-1], entry[-1]) if isinstance(entry[-1], dict) else (entry, {})
        if not items:
            continue  # an expression: [{"expression": ...}]
        namespace, name, *pairs = items
        yield MetricLine(namespace, name, dict(zip(pairs[::2], pairs[1::2], strict=True)), options)


def all_metric_lines(body: dict[str, Any]) -> list[MetricLine]:
    return [line for widget in body["widgets"] for line in metric_lines(widget)]


def dimension_values(body: dict[str, Any], dimension: str) -> set[str]:
    return {
        line.dimensions[dimension]
        for line in all_metric_lines(body)
        if dimension in line.dimensions
    }


def service_stack_ids(system: System) -> list[str]:
    """The root's nested stacks of pipeline/service.yaml, in template order."""
    return [
        logical_id
        for logical_id, resource in system.root.template["Resources"].items()
        if logical_id in system.nested
        and str(resource["Properties"]["TemplateURL"]).endswith("service.yaml")
    ]


def attribute(stack: Stack, name: str) -> Any:
    return stack.renderer.attributes[name]


# ------------------------------------------------------------------ the body


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_dashboard_body_is_json_with_a_row_per_service(system: System, environment: str) -> None:
    # WHEN the environment's dashboard body is rendered and parsed
    body = dashboard(system, environment)

    # THEN it holds the environment row and five widgets per service
    assert len(body["widgets"]) == ENVIRONMENT_WIDGETS + WIDGETS_PER_SERVICE * len(
        service_stack_ids(system)
    )


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_every_row_fills_the_grid(system: System, environment: str) -> None:
    # GIVEN widgets placed by CloudWatch in order, left to right (no x/y in the body)
    widgets = dashboard(system, environment)["widgets"]
    header, environment_row = widgets[0], widgets[1:ENVIRONMENT_WIDGETS]
    service_rows = widgets[ENVIRONMENT_WIDGETS:]

    # THEN each row is exactly as wide as the grid, so no service's row starts mid-line
    assert header["width"] == GRID_WIDTH
    assert sum(widget["width"] for widget in environment_row) == GRID_WIDTH
    for start in range(0, len(service_rows), WIDGETS_PER_SERVICE):
        row = service_rows[start : start + WIDGETS_PER_SERVICE]
        assert sum(widget["width"] for widget in row) == GRID_WIDTH


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_every_widget_reads_the_stacks_region(system: System, environment: str) -> None:
    regions = {
        widget["properties"]["region"]
        for widget in dashboard(system, environment)["widgets"]
        if widget["type"] == "metric"
    }

    assert regions == {system.root.renderer.values["AWS::Region"]}


# ------------------------------------------------------------------ alarms


def environment_alarms(system: System, environment: str) -> dict[str, str]:
    """Alarm name -> ARN of every alarm the health check counts as the environment's."""
    prefix = f"{SUFFIX}-{environment}-"
    alarms = {}
    for stack, logical_id, _ in system.resources("AWS::CloudWatch::Alarm"):
        name = attribute(stack, logical_id)
        if name.startswith(prefix):
            alarms[name] = attribute(stack, f"{logical_id}.Arn")
    return alarms


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_alarm_widget_shows_exactly_the_environments_alarms(
    system: System, environment: str
) -> None:
    # GIVEN every alarm of the environment (the health check's prefix {suffix}-{environment}-)
    expected = environment_alarms(system, environment)
    assert expected

    # WHEN the dashboard's alarm widgets are read
    shown = [
        arn
        for widget in dashboard(system, environment)["widgets"]
        if widget["type"] == "alarm"
        for arn in widget["properties"]["alarms"]
    ]

    # THEN each alarm is there once, and nothing else is
    assert sorted(shown) == sorted(expected.values())


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_error_rate_graphs_mark_the_alarms_threshold(system: System, environment: str) -> None:
    widgets = {
        widget["properties"].get("title"): widget
        for widget in dashboard(system, environment)["widgets"]
    }
    for stack_id in service_stack_ids(system):
        stack = system.nested[stack_id]
        service = stack.renderer.values["ServiceName"]
        alarm = f"{environment.capitalize()}ErrorRateAlarm"
        threshold = stack.property_value(alarm, "Threshold")

        graph = widgets[f"{service}: 5XX per 100 requests"]

        assert [line["value"] for line in graph["properties"]["annotations"]["horizontal"]] == [
            threshold
        ]


# ------------------------------------------------------------------ metrics


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_target_group_dimensions_are_the_environments_blue_and_green_groups(
    system: System, environment: str
) -> None:
    # GIVEN every service's two target groups in this environment
    prefix = environment.capitalize()
    expected = {
        attribute(system.nested[stack_id], f"{prefix}{colour}TargetGroup.TargetGroupFullName")
        for stack_id in service_stack_ids(system)
        for colour in ("Blue", "Green")
    }

    # WHEN the dashboard's TargetGroup dimensions are collected
    named = dimension_values(dashboard(system, environment), "TargetGroup")

    # THEN they are exactly those: every group charted, no other environment's group
    assert named == expected


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_load_balancer_dimension_is_the_shared_load_balancer(
    system: System, environment: str
) -> None:
    network = system.nested["NetworkStack"]
    load_balancer = attribute(network, "LoadBalancer.LoadBalancerFullName")

    assert dimension_values(dashboard(system, environment), "LoadBalancer") == {load_balancer}


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_task_metrics_name_the_environments_cluster_and_services(
    system: System, environment: str
) -> None:
    # GIVEN the environment's cluster and each service stack's ECS service in it
    prefix = environment.capitalize()
    cluster = attribute(system.root, f"{prefix}Cluster")
    services = {
        attribute(system.nested[stack_id], f"{prefix}Service.Name")
        for stack_id in service_stack_ids(system)
    }

    # WHEN the dashboard's ECS dimensions are read
    body = dashboard(system, environment)

    # THEN they name exactly those
    assert dimension_values(body, "ClusterName") == {cluster}
    assert dimension_values(body, "ServiceName") == services


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_pipeline_metrics_name_the_build_projects_and_the_failure_rule(
    system: System, environment: str
) -> None:
    delivery = system.nested["DeliveryStack"]
    projects = {
        attribute(delivery, logical_id)
        for logical_id, _ in delivery.resources("AWS::CodeBuild::Project")
    }
    body = dashboard(system, environment)

    assert dimension_values(body, "ProjectName") == projects
    assert dimension_values(body, "RuleName") == {attribute(delivery, "DeploymentFailureRule")}


def test_failure_rule_matches_failed_deployments_only(system: System) -> None:
    # The dashboard counts this rule's matched events as failed deployments.
    pattern = system.nested["DeliveryStack"].property_value("DeploymentFailureRule", "EventPattern")

    assert pattern["source"] == ["aws.codedeploy"]
    assert pattern["detail"]["state"] == ["FAILURE"]


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_verdict_metrics_match_what_the_health_check_emits(
    system: System, environment: str
) -> None:
    # GIVEN the namespace and service name the function's Powertools metrics carry
    root = system.root.template
    namespace = root["Globals"]["Function"]["Environment"]["Variables"][
        "POWERTOOLS_METRICS_NAMESPACE"
    ]
    function = root["Resources"]["HealthCheckFunction"]["Properties"]
    service = function["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"]

    # WHEN the dashboard's Verdicts lines are read
    lines = [
        line for line in all_metric_lines(dashboard(system, environment)) if line.name == "Verdicts"
    ]

    # THEN they chart every final outcome (not the continuations) with exactly the dimensions
    # the function emits them with (Outcome, and the service Powertools adds)
    assert {line.namespace for line in lines} == {namespace}
    assert {line.dimensions["service"] for line in lines} == {service}
    assert {tuple(sorted(line.dimensions)) for line in lines} == {("Outcome", "service")}
    assert {line.dimensions["Outcome"] for line in lines} == {
        outcome.value for outcome in Outcome if not outcome.continues
    }


_IDENTIFIER = re.compile(r"\b[a-z][A-Za-z0-9_]*\b")


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_metric_math_uses_only_ids_defined_in_its_widget(system: System, environment: str) -> None:
    for widget in dashboard(system, environment)["widgets"]:
        entries = widget.get("properties", {}).get("metrics", [])
        ids = {
            entry[-1]["id"]
            for entry in entries
            if isinstance(entry[-1], dict) and "id" in entry[-1]
        }
        for entry in entries:
            expression = entry[-1].get("expression") if isinstance(entry[-1], dict) else None
            if expression:
                assert set(_IDENTIFIER.findall(expression)) <= ids, expression


# ------------------------------------------------------------------ outputs


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_outputs_name_and_link_the_dashboard(system: System, environment: str) -> None:
    prefix = environment.capitalize()
    outputs = system.root.template["Outputs"]
    name = system.root.renderer.render(outputs[f"{prefix}DashboardName"]["Value"])
    url = system.root.renderer.render(outputs[f"{prefix}DashboardUrl"]["Value"])

    assert name == f"microservices-{environment}-{SUFFIX}"
    assert url == (
        "https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1"
        f"#dashboards/dashboard/{name}"
    )


# ------------------------------------------------------------------ adding services


@pytest.fixture(scope="module")
def ten_services(tmp_path_factory: pytest.TempPathFactory) -> tuple[System, list[str]]:
    """The system with services added by scripts/add_service.py up to ten."""
    root = tmp_path_factory.mktemp("ten-services")
    shutil.copy(REPO_ROOT / "template.yaml", root / "template.yaml")
    shutil.copytree(PIPELINE_DIR, root / "pipeline")
    added = [
        f"extra{n}-service"
        for n in range(SERVICES_AT_SCALE - len(service_stacks(root / "template.yaml")))
    ]
    for service in added:
        add_service(root / "template.yaml", service)
    return render_system(root / "template.yaml", {"EnvironmentSuffix": SUFFIX}), added


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_added_services_get_their_rows_and_alarms(
    ten_services: tuple[System, list[str]], environment: str
) -> None:
    # GIVEN services added with scripts/add_service.py
    system, added = ten_services

    # WHEN the environment's dashboard is rendered
    body = dashboard(system, environment)

    # THEN each added service has its row and its alarms are in the alarm widget
    titles = {widget["properties"].get("title") for widget in body["widgets"]}
    alarms = [
        arn
        for widget in body["widgets"]
        if widget["type"] == "alarm"
        for arn in widget["properties"]["alarms"]
    ]
    for service in added:
        assert f"{service}: requests per target group" in titles
        assert any(f":alarm:{SUFFIX}-{environment}-{service}-" in arn for arn in alarms), service
    assert sorted(alarms) == sorted(environment_alarms(system, environment).values())


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_ten_services_fit_a_dashboards_limits(
    ten_services: tuple[System, list[str]], environment: str
) -> None:
    system, _ = ten_services
    body = dashboard(system, environment)
    alarm_widgets = [widget for widget in body["widgets"] if widget["type"] == "alarm"]

    assert len(body["widgets"]) <= WIDGETS_PER_DASHBOARD
    for widget in alarm_widgets:
        assert len(widget["properties"]["alarms"]) <= ALARMS_PER_ALARM_WIDGET
