"""The hook functions as template.yaml declares them: names, handlers, network, permissions."""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from codedeploy_hooks.runner import SAFETY_MARGIN_SECONDS
from codedeploy_hooks.settings import Settings

from tests.support import REPO_ROOT, load_template

FUNCTIONS = {
    "SmokeTestHookFunction": "CodeDeployHook_SmokeTest-${EnvironmentSuffix}",
    "TrafficGuardHookFunction": "CodeDeployHook_TrafficGuard-${EnvironmentSuffix}",
}
# Exactly the calls each function makes (see smoke.py, guard.py, deployment.py, network.py).
ACTIONS = {
    "SmokeTestHookFunction": {
        "codedeploy:GetDeployment",
        "codedeploy:GetDeploymentGroup",
        "codedeploy:PutLifecycleEventHookExecutionStatus",
        "elasticloadbalancing:DescribeListeners",
        "elasticloadbalancing:DescribeLoadBalancers",
        "ec2:DescribeNetworkInterfaces",
        "ssm:GetParameter",
    },
    "TrafficGuardHookFunction": {
        "codedeploy:GetDeployment",
        "codedeploy:GetDeploymentGroup",
        "codedeploy:PutLifecycleEventHookExecutionStatus",
        "elasticloadbalancing:DescribeListeners",
        "elasticloadbalancing:DescribeTargetGroups",
        "elasticloadbalancing:DescribeTargetHealth",
        "cloudwatch:DescribeAlarms",
        "cloudwatch:GetMetricData",
    },
}


@pytest.fixture(scope="module")
def resources() -> dict[str, Any]:
    template: dict[str, Any] = load_template(REPO_ROOT / "template.yaml")["Resources"]
    return template


def _statements(function: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for policy in function["Properties"]["Policies"] for s in policy["Statement"]]


@pytest.mark.parametrize(("logical_id", "name"), FUNCTIONS.items())
def test_hook_is_named_for_the_codedeploy_service_role(
    resources: dict[str, Any], logical_id: str, name: str
) -> None:
    assert resources[logical_id]["Properties"]["FunctionName"] == {"Fn::Sub": name}


@pytest.mark.parametrize("logical_id", FUNCTIONS)
def test_hook_handler_exists_in_its_code_uri(resources: dict[str, Any], logical_id: str) -> None:
    properties = resources[logical_id]["Properties"]
    module, _, attribute = properties["Handler"].rpartition(".")
    assert properties["CodeUri"] == "src/hooks/"
    assert callable(getattr(importlib.import_module(module), attribute))


@pytest.mark.parametrize("logical_id", FUNCTIONS)
def test_hook_runs_in_the_hook_subnets_and_security_group(
    resources: dict[str, Any], logical_id: str
) -> None:
    vpc = resources[logical_id]["Properties"]["VpcConfig"]
    assert vpc["SecurityGroupIds"] == [
        {"Fn::GetAtt": ["NetworkStack", "Outputs.HookSecurityGroupId"]}
    ]
    assert vpc["SubnetIds"] == {
        "Fn::Split": [",", {"Fn::GetAtt": ["NetworkStack", "Outputs.HookSubnetIds"]}]
    }


@pytest.mark.parametrize("logical_id", FUNCTIONS)
def test_hook_role_allows_exactly_the_calls_the_code_makes(
    resources: dict[str, Any], logical_id: str
) -> None:
    actions = set()
    for statement in _statements(resources[logical_id]):
        listed = statement["Action"]
        actions |= {listed} if isinstance(listed, str) else set(listed)
    assert actions == ACTIONS[logical_id]


@pytest.mark.parametrize("logical_id", FUNCTIONS)
def test_codedeploy_permissions_are_limited_to_this_copys_deployment_groups(
    resources: dict[str, Any], logical_id: str
) -> None:
    for statement in _statements(resources[logical_id]):
        if any(action.startswith("codedeploy:") for action in statement["Action"]):
            assert statement["Resource"] == {
                "Fn::Sub": "arn:${AWS::Partition}:codedeploy:${AWS::Region}:${AWS::AccountId}"
                ":deploymentgroup:microservices-${EnvironmentSuffix}/*"
            }


def test_traffic_guard_timeout_covers_settling_watching_and_the_reporting_margin(
    resources: dict[str, Any],
) -> None:
    properties = resources["TrafficGuardHookFunction"]["Properties"]
    settings = Settings.from_environ(with_defaults(properties["Environment"]["Variables"]))
    needed = settings.target_settle_seconds + settings.watch_seconds + SAFETY_MARGIN_SECONDS
    assert properties["Timeout"] > needed


def with_defaults(variables: dict[str, Any]) -> dict[str, str]:
    """Environment variables with each root-parameter Ref at the parameter's default."""
    parameters = load_template(REPO_ROOT / "template.yaml")["Parameters"]
    return {
        name: str(parameters[value["Ref"]]["Default"]) if isinstance(value, dict) else value
        for name, value in variables.items()
    }


def test_traffic_guard_judges_green_by_the_5xx_rate_alarms_threshold(
    resources: dict[str, Any],
) -> None:
    # The bake's limit on green's own rate is the root's threshold, not a second copy of it.
    variables = resources["TrafficGuardHookFunction"]["Properties"]["Environment"]["Variables"]
    assert variables["GREEN_MAX_5XX_PERCENT"] == {"Ref": "ErrorRateThresholdPercent"}
    assert variables["GREEN_MIN_REQUESTS_PER_MINUTE"] == {"Ref": "StagingRequestFloor"}
    settings = Settings.from_environ(with_defaults(variables))
    assert (settings.green_max_5xx_percent, settings.green_min_requests_per_minute) == (2, 10)


def test_smoke_test_timeout_covers_every_retry_and_the_reporting_margin(
    resources: dict[str, Any],
) -> None:
    properties = resources["SmokeTestHookFunction"]["Properties"]
    settings = Settings.from_environ(properties["Environment"]["Variables"])
    backoff = sum(
        min(settings.backoff_max_seconds, settings.backoff_base_seconds * 2**attempt)
        for attempt in range(settings.smoke_attempts - 1)
    )
    per_path = settings.smoke_attempts * settings.smoke_request_timeout_seconds + backoff
    # /health plus a couple of smoke paths, each failing only on its last attempt
    assert properties["Timeout"] > 3 * per_path + SAFETY_MARGIN_SECONDS


@pytest.mark.parametrize("logical_id", FUNCTIONS)
def test_hook_logs_are_kept_for_14_days(resources: dict[str, Any], logical_id: str) -> None:
    log_group = resources[logical_id]["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
    assert resources[log_group]["Properties"]["RetentionInDays"] == 14
