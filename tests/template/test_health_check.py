"""HealthCheckFunction's block of template.yaml: least privilege and the settings code relies on."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.support import REPO_ROOT, load_template

# Actions AWS authorises only against "*" (no resource-level permissions for these calls).
STAR_ONLY_ACTIONS = {
    "codepipeline:PutJobSuccessResult",
    "codepipeline:PutJobFailureResult",
    "cloudwatch:DescribeAlarms",
    "ecs:DescribeTaskDefinition",
    "ecs:RegisterTaskDefinition",
    "application-autoscaling:DescribeScalableTargets",
}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template(REPO_ROOT / "template.yaml")


@pytest.fixture(scope="module")
def function(template: dict[str, Any]) -> dict[str, Any]:
    properties: dict[str, Any] = template["Resources"]["HealthCheckFunction"]["Properties"]
    return properties


def statements(function: dict[str, Any]) -> list[dict[str, Any]]:
    """Its inline statements and those of the managed policies it attaches (by !Ref)."""
    resources = load_template(REPO_ROOT / "template.yaml")["Resources"]
    found: list[dict[str, Any]] = []
    for policy in function["Policies"]:
        if "Ref" in policy:
            found += resources[policy["Ref"]]["Properties"]["PolicyDocument"]["Statement"]
        else:
            found += policy["Statement"]
    return found


def test_the_release_responder_restores_with_the_same_permissions(
    template: dict[str, Any], function: dict[str, Any]
) -> None:
    # GIVEN both functions that restore an environment (the watch window, ValidateHealth)
    responder = template["Resources"]["ReleaseResponderFunction"]["Properties"]
    # THEN they share one restore policy, and the responder has nothing else
    assert {"Ref": "EnvironmentRestorePolicy"} in function["Policies"]
    assert responder["Policies"] == [{"Ref": "EnvironmentRestorePolicy"}]


def actions_of(statement: dict[str, Any]) -> set[str]:
    action = statement["Action"]
    return {action} if isinstance(action, str) else set(action)


def test_every_call_the_code_makes_is_allowed(function: dict[str, Any]) -> None:
    allowed = set().union(*(actions_of(s) for s in statements(function)))
    assert allowed == STAR_ONLY_ACTIONS | {
        "ecs:DescribeServices",
        "sns:Publish",
        "codedeploy:ListDeploymentGroups",
        "codedeploy:ListDeployments",
        "codedeploy:StopDeployment",
        # The restore of a failed environment (release.py): a deployment of the known-good
        # revision whose alarm monitoring is overridden off, which CodeDeploy authorises as
        # UpdateDeploymentGroup (CreateDeployment API reference).
        "codedeploy:GetDeployment",
        "codedeploy:CreateDeployment",
        "codedeploy:UpdateDeploymentGroup",
        "codedeploy:GetDeploymentConfig",
        "codedeploy:GetApplicationRevision",
        "codedeploy:RegisterApplicationRevision",
        # The known-good record and the protection of its image.
        "ssm:GetParameter",
        "ssm:PutParameter",
        "ecr:BatchGetImage",
        "ecr:PutImage",
        # SNS encrypts the notification with the topic's customer managed key for the caller.
        "kms:Decrypt",
        "kms:GenerateDataKey*",
        # WaitForIdle and the scaling safety net read what each group deploys and watches.
        "codedeploy:GetDeploymentGroup",
        # A deregistered known-good task definition registered again, with its own roles.
        "ecs:RegisterTaskDefinition",
        "iam:PassRole",
        # Scaling resumed after a check (scaling.py); ECS checks UpdateService for it.
        "application-autoscaling:RegisterScalableTarget",
        "ecs:UpdateService",
    }


def test_roles_are_passed_to_ecs_tasks_only(function: dict[str, Any]) -> None:
    [passing] = [s for s in statements(function) if "iam:PassRole" in actions_of(s)]
    assert passing["Condition"] == {
        "StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}
    }
    assert all("Fn::GetAtt" in role for role in passing["Resource"])


def test_the_notification_key_is_the_only_key_it_may_use(function: dict[str, Any]) -> None:
    kms_statements = [
        s for s in statements(function) if any(a.startswith("kms:") for a in actions_of(s))
    ]
    assert [s["Resource"] for s in kms_statements] == [{"Fn::GetAtt": ["NotificationKey", "Arn"]}]


def test_only_actions_without_resource_level_permissions_use_a_star(
    function: dict[str, Any],
) -> None:
    for statement in statements(function):
        assert statement["Effect"] == "Allow"
        if statement["Resource"] == "*":
            assert actions_of(statement) <= STAR_ONLY_ACTIONS
        assert not any(action.endswith(":*") for action in actions_of(statement))


def test_the_function_gets_the_topic_and_the_codedeploy_application(
    function: dict[str, Any],
) -> None:
    variables = function["Environment"]["Variables"]
    assert variables["NOTIFICATION_TOPIC_ARN"] == {"Ref": "NotificationTopic"}
    assert variables["CODEDEPLOY_APPLICATION"] == {"Fn::Sub": "microservices-${EnvironmentSuffix}"}
    assert function["Handler"] == "health_check.handler.lambda_handler"
    assert function["Timeout"] == 300


def test_its_logs_are_kept_for_14_days(template: dict[str, Any], function: dict[str, Any]) -> None:
    log_group = template["Resources"]["HealthCheckLogGroup"]["Properties"]
    assert function["LoggingConfig"]["LogGroup"] == {"Ref": "HealthCheckLogGroup"}
    assert log_group["LogGroupName"] == {"Fn::Sub": "/aws/lambda/health-check-${EnvironmentSuffix}"}
    assert log_group["RetentionInDays"] == 14


def test_the_watch_window_takes_whole_minutes_only(template: dict[str, Any]) -> None:
    # GIVEN the parameter both restoring functions read as whole minutes (settings.py)
    pattern = re.compile(template["Parameters"]["WatchWindowMinutes"]["AllowedPattern"])
    # THEN every whole minute from 0 to a day passes, and nothing else
    assert all(pattern.fullmatch(str(minutes)) for minutes in range(1441))
    assert not any(pattern.fullmatch(bad) for bad in ("1.5", "-1", "1441", "", "01", "60 "))
