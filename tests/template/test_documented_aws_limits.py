"""Settings whose value AWS's documentation constrains, read from the parsed delivery template.

Each test names the page; docs/assumptions.md lists what no page settles.
"""

from __future__ import annotations

from typing import Any

from tests.support import PIPELINE_DIR, load_template, resources_of_type

# CodePipeline quotas: a manual approval action's timeout may be set per action from 5 minutes to
# 86,400 minutes (60 days); unset, the account default of 7 days applies.
# https://docs.aws.amazon.com/codepipeline/latest/userguide/limits.html
APPROVAL_TIMEOUT_MINUTES = (5, 86_400)


def pipeline_properties() -> dict[str, Any]:
    delivery = load_template(PIPELINE_DIR / "delivery.yaml")
    (pipeline,) = resources_of_type(delivery, "AWS::CodePipeline::Pipeline").values()
    properties: dict[str, Any] = pipeline["Properties"]
    return properties


def test_every_manual_approval_sets_its_timeout_within_codepipelines_bounds() -> None:
    approvals = [
        action
        for stage in pipeline_properties()["Stages"]
        for action in stage["Actions"]
        # The source stage's action is an Fn::If between two providers; no approval hides there.
        if "ActionTypeId" in action and action["ActionTypeId"]["Category"] == "Approval"
    ]

    assert approvals
    low, high = APPROVAL_TIMEOUT_MINUTES
    for action in approvals:
        assert low <= action["TimeoutInMinutes"] <= high, action["Name"]


def test_the_pipeline_role_holds_the_documented_lambda_invoke_permissions() -> None:
    # A pipeline with a Lambda invoke action needs lambda:InvokeFunction on the function and
    # lambda:ListFunctions (CodePipeline service role policy; Lambda guide, using Lambda with
    # CodePipeline).
    delivery = load_template(PIPELINE_DIR / "delivery.yaml")
    # The role is created early by the root stack; its permissions are this policy.
    policy = delivery["Resources"]["PipelineRolePolicy"]["Properties"]
    actions = {
        action
        for statement in policy["PolicyDocument"]["Statement"]
        if isinstance(statement, dict) and statement.get("Effect") == "Allow"
        for action in (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
    }

    assert {"lambda:InvokeFunction", "lambda:ListFunctions"} <= actions


# CodeDeploy AlarmConfiguration: "A list of alarms configured for the deployment or deployment
# group. A maximum of 10 alarms can be added."
# https://docs.aws.amazon.com/codedeploy/latest/APIReference/API_AlarmConfiguration.html
ALARMS_PER_DEPLOYMENT_GROUP = 10


def test_every_deployment_group_lists_at_most_codedeploys_ten_alarms() -> None:
    service = load_template(PIPELINE_DIR / "service.yaml")
    groups = resources_of_type(service, "AWS::CodeDeploy::DeploymentGroup")

    assert groups
    for logical_id, group in groups.items():
        alarms = group["Properties"]["AlarmConfiguration"]["Alarms"]
        assert 0 < len(alarms) <= ALARMS_PER_DEPLOYMENT_GROUP, logical_id
