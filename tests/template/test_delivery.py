"""pipeline/delivery.yaml: artifacts, source, builds, six-stage pipeline, notifications, IAM."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.support import PIPELINE_DIR, load_template, resources_of_type

DELIVERY_PATH = PIPELINE_DIR / "delivery.yaml"
SERVICES = {
    "api-service": "ApiService",
    "auth-service": "AuthService",
    "notification-service": "NotificationService",
}
SUFFIX = "dev"


@pytest.fixture(scope="module")
def delivery() -> dict[str, Any]:
    return load_template(DELIVERY_PATH)


@pytest.fixture(scope="module")
def service_stack() -> dict[str, Any]:
    return load_template(PIPELINE_DIR / "service.yaml")


@pytest.fixture(scope="module")
def pipeline(delivery: dict[str, Any]) -> dict[str, Any]:
    properties: dict[str, Any] = delivery["Resources"]["Pipeline"]["Properties"]
    return properties


def stage(pipeline: dict[str, Any], name: str) -> dict[str, Any]:
    [found] = [s for s in pipeline["Stages"] if s["Name"] == name]
    return found


def actions_by_name(pipeline: dict[str, Any], stage_name: str) -> dict[str, dict[str, Any]]:
    return {action["Name"]: action for action in stage(pipeline, stage_name)["Actions"]}


def substituted(value: Any, **names: str) -> str:
    """The string of a !Sub with ${EnvironmentSuffix} and the given parameters filled in."""
    text: str = value["Fn::Sub"] if isinstance(value, dict) else value
    names = {"EnvironmentSuffix": SUFFIX, **names}
    return re.sub(r"\$\{([^}]+)\}", lambda m: names.get(m.group(1), m.group(0)), text)


def policy_statements(role: dict[str, Any]) -> list[dict[str, Any]]:
    """Every statement of a role's inline policies (or of an AWS::IAM::Policy), both branches of
    a Fn::If included."""
    statements: list[dict[str, Any]] = []
    properties = role["Properties"]
    documents = [p["PolicyDocument"] for p in properties.get("Policies", [])]
    if "PolicyDocument" in properties:
        documents.append(properties["PolicyDocument"])
    for document in documents:
        for statement in document["Statement"]:
            if "Fn::If" in statement:
                branches = statement["Fn::If"][1:]
                statements += [s for s in branches if isinstance(s, dict) and "Effect" in s]
            else:
                statements.append(statement)
    return statements


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# ---------------------------------------------------------------- artifacts


def test_artifacts_bucket_is_named_per_suffix_region_and_account(delivery: dict[str, Any]) -> None:
    # S3 bucket names are global across accounts: the account id keeps the name this account's.
    bucket = delivery["Resources"]["ArtifactsBucket"]["Properties"]
    assert bucket["BucketName"] == {
        "Fn::Sub": "cicd-artifacts-${EnvironmentSuffix}-${AWS::Region}-${AWS::AccountId}"
    }


def test_longest_artifacts_bucket_name_fits_the_s3_limit(delivery: dict[str, Any]) -> None:
    # GIVEN the longest suffix the parameter allows and region codes of the longest length (14)
    bucket = delivery["Resources"]["ArtifactsBucket"]["Properties"]
    longest_suffix = "a" * 10
    assert re.fullmatch(delivery["Parameters"]["EnvironmentSuffix"]["AllowedPattern"], "a" * 10)
    assert not re.fullmatch(delivery["Parameters"]["EnvironmentSuffix"]["AllowedPattern"], "a" * 11)

    # WHEN
    names = [
        substituted(
            bucket["BucketName"],
            EnvironmentSuffix=longest_suffix,
            **{"AWS::Region": region, "AWS::AccountId": "123456789012"},
        )
        for region in ("ap-southeast-4", "ap-northeast-3", "cn-northwest-1", "us-gov-west-1")
    ]

    # THEN every name is a valid S3 bucket name of at most 63 characters
    for name in names:
        assert len(name) <= 63, name
        assert re.fullmatch(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]", name), name


def test_artifacts_bucket_is_versioned_and_expires_artifacts_after_30_days(
    delivery: dict[str, Any],
) -> None:
    bucket = delivery["Resources"]["ArtifactsBucket"]["Properties"]
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    [rule] = bucket["LifecycleConfiguration"]["Rules"]
    assert rule["Status"] == "Enabled"
    assert rule["ExpirationInDays"] == 30
    assert rule["NoncurrentVersionExpiration"] == {"NoncurrentDays": 30}
    assert "DaysAfterInitiation" in rule["AbortIncompleteMultipartUpload"]


def test_artifacts_bucket_is_kms_encrypted_with_the_optional_customer_key(
    delivery: dict[str, Any],
) -> None:
    bucket = delivery["Resources"]["ArtifactsBucket"]["Properties"]
    [rule] = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    default = rule["ServerSideEncryptionByDefault"]
    assert default["SSEAlgorithm"] == "aws:kms"
    assert default["KMSMasterKeyID"] == {
        "Fn::If": ["HasKmsKey", {"Ref": "KmsKeyArn"}, {"Ref": "AWS::NoValue"}]
    }
    assert rule["BucketKeyEnabled"] is True
    assert delivery["Parameters"]["KmsKeyArn"]["Default"] == ""


def test_artifacts_bucket_blocks_public_access_and_acls(delivery: dict[str, Any]) -> None:
    bucket = delivery["Resources"]["ArtifactsBucket"]["Properties"]
    assert set(bucket["PublicAccessBlockConfiguration"].values()) == {True}
    assert len(bucket["PublicAccessBlockConfiguration"]) == 4
    assert bucket["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]


def test_artifacts_bucket_policy_denies_requests_without_tls(delivery: dict[str, Any]) -> None:
    policy = delivery["Resources"]["ArtifactsBucketPolicy"]["Properties"]
    assert policy["Bucket"] == {"Ref": "ArtifactsBucket"}
    [statement] = policy["PolicyDocument"]["Statement"]
    assert statement["Effect"] == "Deny"
    assert statement["Principal"] == "*"
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert {"Fn::Sub": "${ArtifactsBucket.Arn}/*"} in statement["Resource"]


# ---------------------------------------------------------------- source


def test_codecommit_repository_is_the_default_source(delivery: dict[str, Any]) -> None:
    assert delivery["Parameters"]["SourceProvider"]["Default"] == "CodeCommit"
    assert delivery["Parameters"]["BranchName"]["Default"] == "main"
    repository = delivery["Resources"]["SourceRepository"]
    assert repository["Condition"] == "UseCodeCommit"
    assert repository["Properties"]["RepositoryName"] == {
        "Fn::Sub": "microservices-monorepo-${EnvironmentSuffix}"
    }


def test_both_source_actions_produce_a_full_clone_named_source_output(
    pipeline: dict[str, Any],
) -> None:
    [source_if] = stage(pipeline, "Source")["Actions"]
    condition, codecommit, connection = source_if["Fn::If"]
    assert condition == "UseCodeCommit"
    assert codecommit["ActionTypeId"]["Provider"] == "CodeCommit"
    assert connection["ActionTypeId"]["Provider"] == "CodeStarSourceConnection"
    for action in (codecommit, connection):
        assert action["Configuration"]["OutputArtifactFormat"] == "CODEBUILD_CLONE_REF"
        assert action["Configuration"]["BranchName"] == {"Ref": "BranchName"}
        assert action["OutputArtifacts"] == [{"Name": "SourceOutput"}]
    assert connection["Configuration"]["ConnectionArn"] == {"Ref": "ConnectionArn"}
    assert connection["Configuration"]["FullRepositoryId"] == {"Ref": "FullRepositoryId"}


def test_codecommit_changes_arrive_by_eventbridge_not_polling(
    delivery: dict[str, Any], pipeline: dict[str, Any]
) -> None:
    [source_if] = stage(pipeline, "Source")["Actions"]
    assert source_if["Fn::If"][1]["Configuration"]["PollForSourceChanges"] is False
    rule = delivery["Resources"]["SourceChangeRule"]
    assert rule["Condition"] == "UseCodeCommit"
    pattern = rule["Properties"]["EventPattern"]
    assert pattern["detail"]["referenceName"] == [{"Ref": "BranchName"}]
    [target] = rule["Properties"]["Targets"]
    assert "codepipeline" in target["Arn"]["Fn::Sub"]


def test_connection_source_starts_on_push_to_the_branch_through_a_v2_trigger(
    pipeline: dict[str, Any],
) -> None:
    condition, triggers, _ = pipeline["Triggers"]["Fn::If"]
    assert condition == "UseConnection"
    [trigger] = triggers
    assert trigger["ProviderType"] == "CodeStarSourceConnection"
    assert trigger["GitConfiguration"]["SourceActionName"] == "Source"
    assert trigger["GitConfiguration"]["Push"] == [
        {"Branches": {"Includes": [{"Ref": "BranchName"}]}}
    ]


# ---------------------------------------------------------------- build


@pytest.mark.parametrize("project", ["ServiceBuildProject", "TestProject"])
def test_codebuild_projects_use_a_small_privileged_standard_7_image(
    delivery: dict[str, Any], project: str
) -> None:
    properties = delivery["Resources"][project]["Properties"]
    environment = properties["Environment"]
    assert environment["ComputeType"] == "BUILD_GENERAL1_SMALL"
    assert environment["Image"] == "aws/codebuild/standard:7.0"
    assert environment["PrivilegedMode"] is True
    assert properties["Source"]["Type"] == "CODEPIPELINE"


def test_each_project_runs_the_buildspec_named_for_its_stage(delivery: dict[str, Any]) -> None:
    resources = delivery["Resources"]
    assert resources["ServiceBuildProject"]["Properties"]["Source"]["BuildSpec"] == (
        "buildspecs/build.yml"
    )
    assert resources["TestProject"]["Properties"]["Source"]["BuildSpec"] == "buildspecs/test.yml"


def test_build_project_receives_account_suffix_and_hook_arns(delivery: dict[str, Any]) -> None:
    variables = {
        v["Name"]: v["Value"]
        for v in delivery["Resources"]["ServiceBuildProject"]["Properties"]["Environment"][
            "EnvironmentVariables"
        ]
    }
    assert variables["AWS_ACCOUNT_ID"] == {"Ref": "AWS::AccountId"}
    assert variables["ENVIRONMENT_SUFFIX"] == {"Ref": "EnvironmentSuffix"}
    assert variables["SMOKE_TEST_HOOK_ARN"] == {"Ref": "SmokeTestHookArn"}
    assert variables["TRAFFIC_GUARD_HOOK_ARN"] == {"Ref": "TrafficGuardHookArn"}


@pytest.mark.parametrize(
    ("project", "log_group"),
    [("ServiceBuildProject", "ServiceBuildLogGroup"), ("TestProject", "TestLogGroup")],
)
def test_build_logs_go_to_a_log_group_with_retention(
    delivery: dict[str, Any], project: str, log_group: str
) -> None:
    logs = delivery["Resources"][project]["Properties"]["LogsConfig"]["CloudWatchLogs"]
    assert logs == {"Status": "ENABLED", "GroupName": {"Ref": log_group}}
    assert delivery["Resources"][log_group]["Properties"]["RetentionInDays"] == 30


def test_report_group_collects_test_results(delivery: dict[str, Any]) -> None:
    group = delivery["Resources"]["TestReportGroup"]["Properties"]
    assert group["Type"] == "TEST"
    assert "TestReportGroupArn" in delivery["Outputs"]


# ---------------------------------------------------------------- pipeline


def test_pipeline_is_v2_in_queued_execution_mode(pipeline: dict[str, Any]) -> None:
    assert pipeline["PipelineType"] == "V2"
    assert pipeline["ExecutionMode"] == "QUEUED"


def test_pipeline_stages_are_source_build_test_staging_approval_production(
    pipeline: dict[str, Any],
) -> None:
    assert [s["Name"] for s in pipeline["Stages"]] == [
        "Source",
        "Build",
        "Test",
        "Staging",
        "Approval",
        "Production",
    ]


def test_artifacts_are_stored_in_the_bucket_with_the_optional_key(pipeline: dict[str, Any]) -> None:
    store = pipeline["ArtifactStore"]
    assert store["Type"] == "S3"
    assert store["Location"] == {"Ref": "ArtifactsBucket"}
    assert store["EncryptionKey"]["Fn::If"][0] == "HasKmsKey"


def test_every_artifact_name_is_alphanumeric_underscore_or_hyphen(
    pipeline: dict[str, Any],
) -> None:
    names = []
    for pipeline_stage in pipeline["Stages"]:
        for action in pipeline_stage["Actions"]:
            branches = action["Fn::If"][1:] if "Fn::If" in action else [action]
            for branch in branches:
                for key in ("InputArtifacts", "OutputArtifacts"):
                    names += [artifact["Name"] for artifact in branch.get(key, [])]
    assert names
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{1,100}", name) for name in names)


def test_three_service_builds_run_in_parallel_from_the_shared_project(
    pipeline: dict[str, Any],
) -> None:
    actions = [
        a
        for a in stage(pipeline, "Build")["Actions"]
        if a["Configuration"]["ProjectName"] == {"Ref": "ServiceBuildProject"}
    ]
    assert {a["RunOrder"] for a in actions} == {1}
    assert len(actions) == 3
    for action in actions:
        assert action["Configuration"]["ProjectName"] == {"Ref": "ServiceBuildProject"}
        assert action["InputArtifacts"] == [{"Name": "SourceOutput"}]


@pytest.mark.parametrize(("service", "prefix"), SERVICES.items())
def test_each_build_action_names_its_service_and_repository(
    pipeline: dict[str, Any], service: str, prefix: str
) -> None:
    action = actions_by_name(pipeline, "Build")[prefix]
    repository = {f"{prefix}RepositoryUri": f"uri/{service}"}
    overrides = json.loads(
        substituted(action["Configuration"]["EnvironmentVariables"], **repository)
    )
    assert {o["name"]: o["value"] for o in overrides} == {
        "SERVICE_NAME": service,
        "REPOSITORY_URI": f"uri/{service}",
    }
    assert action["OutputArtifacts"] == [{"Name": f"{prefix}BuildOutput"}]


def test_test_stage_reads_source_and_every_build_output(pipeline: dict[str, Any]) -> None:
    action = actions_by_name(pipeline, "Test")["Test"]
    assert action["Configuration"] == {
        "ProjectName": {"Ref": "TestProject"},
        "PrimarySource": "SourceOutput",
    }
    assert [a["Name"] for a in action["InputArtifacts"]] == [
        "SourceOutput",
        *(f"{prefix}BuildOutput" for prefix in SERVICES.values()),
    ]
    assert action["OutputArtifacts"] == [{"Name": "TestOutput"}]


@pytest.mark.parametrize("environment", ["Staging", "Production"])
def test_environment_stages_leave_restores_to_the_health_check(
    pipeline: dict[str, Any], environment: str
) -> None:
    # One owner of restores: a stage rollback would redeploy through the alarm-watched groups
    # (stopped by the bad release's alarms) and compete with the health check's restore for the
    # one deployment a group may run at a time.
    assert "OnFailure" not in stage(pipeline, environment)


def deploy_stages(pipeline: dict[str, Any]) -> list[dict[str, Any]]:
    """The stages holding a CodeDeployToECS action, whatever their name."""
    return [
        s
        for s in pipeline["Stages"]
        if any(a["ActionTypeId"]["Provider"] == "CodeDeployToECS" for a in _actions(s))
    ]


def test_each_deploy_stage_opens_with_one_wait_for_idle_of_its_environment(
    pipeline: dict[str, Any],
) -> None:
    # GIVEN every stage that deploys
    stages = deploy_stages(pipeline)
    assert stages
    for deploy_stage in stages:
        # WHEN its first RunOrder is read
        actions = _actions(deploy_stage)
        first = min(a["RunOrder"] for a in actions)
        # THEN it holds exactly the health check's idle wait, for this stage's environment, so
        # no deployment is created while a rollback, a restore or an alarm holds the groups
        opening = [a for a in actions if a["RunOrder"] == first]
        assert [a["Name"] for a in opening] == ["WaitForIdle"], deploy_stage["Name"]
        [wait] = opening
        assert wait["ActionTypeId"] == {
            "Category": "Invoke",
            "Owner": "AWS",
            "Provider": "Lambda",
            "Version": "1",
        }
        assert wait["Configuration"]["FunctionName"] == {"Ref": "HealthCheckFunctionName"}
        assert json.loads(substituted(wait["Configuration"]["UserParameters"])) == {
            "check": "idle",
            "environment": deploy_stage["Name"].lower(),
        }


def test_every_deployment_of_a_stage_runs_after_its_wait_for_idle(
    pipeline: dict[str, Any],
) -> None:
    # GIVEN every stage that deploys, and its idle wait
    stages = deploy_stages(pipeline)
    assert stages
    for deploy_stage in stages:
        actions = _actions(deploy_stage)
        [wait] = [a for a in actions if a["Name"] == "WaitForIdle"]
        # THEN each CodeDeployToECS action has a later RunOrder (CodePipeline starts it only
        # once the wait has succeeded)
        early = [
            a["Name"]
            for a in actions
            if a["ActionTypeId"]["Provider"] == "CodeDeployToECS"
            if a["RunOrder"] <= wait["RunOrder"]
        ]
        assert early == [], (deploy_stage["Name"], early)


@pytest.mark.parametrize("environment", ["Staging", "Production"])
@pytest.mark.parametrize(("service", "prefix"), SERVICES.items())
def test_deployments_are_parallel_codedeploy_to_ecs_with_the_environment_templates(
    pipeline: dict[str, Any], environment: str, service: str, prefix: str
) -> None:
    action = actions_by_name(pipeline, environment)[f"Deploy{prefix}"]
    artifact = f"{prefix}BuildOutput"
    assert action["ActionTypeId"]["Provider"] == "CodeDeployToECS"
    assert action["RunOrder"] == 2
    assert action["InputArtifacts"] == [{"Name": artifact}]
    assert action["Configuration"] == {
        "ApplicationName": {"Ref": "CodeDeployApplicationName"},
        "DeploymentGroupName": f"{environment.lower()}-{service}",
        "TaskDefinitionTemplateArtifact": artifact,
        "TaskDefinitionTemplatePath": f"taskdef-{environment.lower()}.json",
        "AppSpecTemplateArtifact": artifact,
        "AppSpecTemplatePath": "appspec.yaml",
        "Image1ArtifactName": artifact,
        "Image1ContainerName": "IMAGE1_NAME",
    }


# Staging validates after its deployments, beside the synthetic load (no users there); production
# beside its deployments, while blue runs (docs/pipeline.md#validation).
@pytest.mark.parametrize(
    ("environment", "run_order", "beside"),
    [("Staging", 3, {}), ("Production", 2, {"beside_deployments": True})],
)
def test_health_validation_runs_after_or_beside_the_deployments_with_contract_user_parameters(
    pipeline: dict[str, Any], environment: str, run_order: int, beside: dict[str, bool]
) -> None:
    actions = stage(pipeline, environment)["Actions"]
    action = actions_by_name(pipeline, environment)["ValidateHealth"]
    assert action["ActionTypeId"] == {
        "Category": "Invoke",
        "Owner": "AWS",
        "Provider": "Lambda",
        "Version": "1",
    }
    assert action["RunOrder"] == run_order == max(a["RunOrder"] for a in actions)
    assert action["Configuration"]["FunctionName"] == {"Ref": "HealthCheckFunctionName"}
    env = environment.lower()
    # The environment and its bake only: cluster, services and alarm prefix are the function's
    # own configuration (RELEASE_TARGETS), which an event may not name otherwise.
    assert json.loads(substituted(action["Configuration"]["UserParameters"])) == {
        "environment": env,
        "bake_seconds": 300,
        **beside,
    }


@pytest.mark.parametrize("environment", ["Staging", "Production"])
def test_environment_stages_hold_only_deployments_and_the_health_gate(
    pipeline: dict[str, Any], environment: str
) -> None:
    # A stage ROLLBACK re-runs every action of the stage: none of them may wait for a human.
    # Staging also runs the acceptance and load tests (CodeBuild) beside its health gate.
    actions = stage(pipeline, environment)["Actions"]
    expected = {"Deploy", "Invoke", "Build"} if environment == "Staging" else {"Deploy", "Invoke"}
    assert {a["ActionTypeId"]["Category"] for a in actions} == expected


def test_approval_is_a_stage_of_its_own_between_staging_and_production_without_rollback(
    pipeline: dict[str, Any],
) -> None:
    # GIVEN
    names = [s["Name"] for s in pipeline["Stages"]]

    # WHEN
    approval = stage(pipeline, "Approval")

    # THEN a rejected or expired approval fails the execution; nothing is rolled back
    assert names.index("Staging") + 1 == names.index("Approval") == names.index("Production") - 1
    assert "OnFailure" not in approval
    assert [a["ActionTypeId"]["Category"] for a in approval["Actions"]] == ["Approval"]


def test_approval_names_the_commit_and_every_image_digest_it_approves(
    pipeline: dict[str, Any],
) -> None:
    action = actions_by_name(pipeline, "Approval")["ApproveRelease"]
    assert action["ActionTypeId"]["Category"] == "Approval"
    assert action["RunOrder"] == 1
    configuration = action["Configuration"]
    assert configuration["NotificationArn"] == {"Ref": "NotificationTopicArn"}
    assert configuration["ExternalEntityLink"] == {"Ref": "ApiServiceStagingEndpoint"}
    custom_data = configuration["CustomData"]
    assert "#{SourceVariables.CommitId}" in custom_data
    for prefix in SERVICES.values():
        assert f"#{{{prefix}Build.IMAGE_DIGEST}}" in custom_data
    # CodePipeline caps CustomData at 500 characters once variables resolve: a commit id is 40,
    # a digest "sha256:" + 64, the load-test figures a few each.
    fixed_text = re.sub(r"#\{[^}]+\}", "", custom_data)
    assert len(fixed_text) + 40 + 3 * 71 + 3 * 6 <= 500


def test_the_variables_the_approval_names_have_their_namespaces(pipeline: dict[str, Any]) -> None:
    names = {
        action["Namespace"]
        for stage in pipeline["Stages"]
        for action in _actions(stage)
        if "Namespace" in action
    }
    assert {"SourceVariables", "LoadTest"} | {f"{p}Build" for p in SERVICES.values()} <= names


def _actions(stage: dict[str, Any]) -> list[dict[str, Any]]:
    """A stage's actions, both branches of an Fn::If (the source provider's choice)."""
    found = []
    for action in stage["Actions"]:
        if "Fn::If" in action:
            found += [branch for branch in action["Fn::If"][1:] if isinstance(branch, dict)]
        else:
            found.append(action)
    return found


# ---------------------------------------------------------------- notifications


def test_pipeline_execution_outcomes_reach_the_topic_as_readable_text(
    delivery: dict[str, Any],
) -> None:
    rule = delivery["Resources"]["PipelineExecutionRule"]["Properties"]
    pattern = rule["EventPattern"]
    assert pattern["detail-type"] == ["CodePipeline Pipeline Execution State Change"]
    assert pattern["detail"]["pipeline"] == [{"Ref": "Pipeline"}]
    assert {"FAILED", "SUCCEEDED", "SUPERSEDED"} <= set(pattern["detail"]["state"])
    [target] = rule["Targets"]
    assert target["Arn"] == {"Ref": "NotificationTopicArn"}
    assert "<state>" in target["InputTransformer"]["InputTemplate"]["Fn::Sub"]


def test_approval_outcomes_reach_the_topic(delivery: dict[str, Any]) -> None:
    rule = delivery["Resources"]["ApprovalRule"]["Properties"]
    assert rule["EventPattern"]["detail"]["type"] == {"category": ["Approval"]}
    assert rule["Targets"][0]["Arn"] == {"Ref": "NotificationTopicArn"}


def test_failed_deployments_of_this_application_reach_the_topic(
    delivery: dict[str, Any],
) -> None:
    rule = delivery["Resources"]["DeploymentFailureRule"]["Properties"]
    pattern = rule["EventPattern"]
    assert pattern["source"] == ["aws.codedeploy"]
    assert pattern["detail"] == {
        "application": [{"Ref": "CodeDeployApplicationName"}],
        "state": ["FAILURE"],
    }
    assert "InputTransformer" in rule["Targets"][0]


def test_topic_policy_admits_exactly_the_rules_and_this_account_alarms(
    delivery: dict[str, Any],
) -> None:
    # GIVEN every rule that targets the topic
    rules = resources_of_type(delivery, "AWS::Events::Rule")
    publishing = {
        name
        for name, rule in rules.items()
        if any(t["Arn"] == {"Ref": "NotificationTopicArn"} for t in rule["Properties"]["Targets"])
    }
    policy = delivery["Resources"]["NotificationTopicPolicy"]["Properties"]

    # WHEN
    statements = {s["Sid"]: s for s in policy["PolicyDocument"]["Statement"]}

    # THEN
    assert policy["Topics"] == [{"Ref": "NotificationTopicArn"}]
    assert set(statements) == {"EventBridgeRules", "CloudWatchAlarms"}
    events = statements["EventBridgeRules"]
    assert events["Principal"] == {"Service": "events.amazonaws.com"}
    assert events["Action"] == "sns:Publish"
    source_arns = events["Condition"]["ArnEquals"]["aws:SourceArn"]
    assert {arn["Fn::GetAtt"][0] for arn in source_arns} == publishing
    alarms = statements["CloudWatchAlarms"]
    assert alarms["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert alarms["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}


# ---------------------------------------------------------------- IAM


def test_one_role_per_principal(delivery: dict[str, Any], root_template: dict[str, Any]) -> None:
    # GIVEN the delivery stack's roles and the pipeline roles the root creates for it
    pipeline_roles = ("PipelineRole",)
    roles = {
        **resources_of_type(delivery, "AWS::IAM::Role"),
        **{name: root_template["Resources"][name] for name in pipeline_roles},
    }
    principals = {
        name: role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]
        for name, role in roles.items()
    }
    assert principals == {
        "SourceChangeRuleRole": {"Service": "events.amazonaws.com"},
        "ServiceBuildRole": {"Service": "codebuild.amazonaws.com"},
        "TestRole": {"Service": "codebuild.amazonaws.com"},
        "PipelineRole": {"Service": "codepipeline.amazonaws.com"},
        "ImageGateRole": {"Service": "codebuild.amazonaws.com"},
        "LintRole": {"Service": "codebuild.amazonaws.com"},
        "AcceptanceRole": {"Service": "codebuild.amazonaws.com"},
        "LoadTestRole": {"Service": "codebuild.amazonaws.com"},
    }
    projects = resources_of_type(delivery, "AWS::CodeBuild::Project")
    roles = [p["Properties"]["ServiceRole"]["Fn::GetAtt"][0] for p in projects.values()]
    assert sorted(roles) == [
        "AcceptanceRole",
        "ImageGateRole",
        "LintRole",
        "LoadTestRole",
        "ServiceBuildRole",
        "TestRole",
    ]


def test_no_allow_statement_grants_every_action_of_a_service(delivery: dict[str, Any]) -> None:
    for name, role in resources_of_type(delivery, "AWS::IAM::Role").items():
        for statement in policy_statements(role):
            assert statement["Effect"] == "Allow"
            for action in as_list(statement["Action"]):
                assert action != "*", name
                assert not action.endswith(":*"), f"{name}: {action}"


def test_every_wildcard_resource_carries_a_comment_saying_why() -> None:
    lines = DELIVERY_PATH.read_text().splitlines()
    wildcard_lines = [i for i, line in enumerate(lines) if line.strip() == 'Resource: "*"']
    assert wildcard_lines
    for index in wildcard_lines:
        assert lines[index - 1].strip().startswith("#"), f"line {index + 1}"


def test_wildcard_resources_are_limited_to_actions_without_resource_scoping(
    delivery: dict[str, Any],
) -> None:
    holders = {
        **resources_of_type(delivery, "AWS::IAM::Role"),
        **resources_of_type(delivery, "AWS::IAM::Policy"),
    }
    wildcard_actions = {
        action
        for role in holders.values()
        for statement in policy_statements(role)
        if statement["Resource"] == "*"
        for action in as_list(statement["Action"])
    }
    assert wildcard_actions == {
        "cloudwatch:DescribeAlarms",
        "ecr:GetAuthorizationToken",
        "ecs:DescribeTaskDefinition",
        "lambda:ListFunctions",
    }


def test_a_deploy_roles_only_wildcard_is_registering_task_definitions(
    service_stack: dict[str, Any],
) -> None:
    for environment in ENVIRONMENTS:
        role = service_stack["Resources"][f"{environment}DeployRole"]
        wildcard_actions = {
            action
            for statement in policy_statements(role)
            if statement["Resource"] == "*"
            for action in as_list(statement["Action"])
        }
        assert wildcard_actions == {"ecs:RegisterTaskDefinition"}, environment


ENVIRONMENTS = ("Staging", "Production")
DEPLOY_ACTIONS = {
    "codedeploy:CreateDeployment",
    "codedeploy:GetApplication",
    "codedeploy:GetApplicationRevision",
    "codedeploy:GetDeployment",
    "codedeploy:GetDeploymentConfig",
    "codedeploy:RegisterApplicationRevision",
    "ecs:RegisterTaskDefinition",
    "iam:PassRole",
}


def test_only_the_pipeline_role_may_write_artifacts_under_the_customer_key(
    delivery: dict[str, Any], service_stack: dict[str, Any]
) -> None:
    # GIVEN the key permissions, which exist only when KmsKeyArn is set
    keyed = {
        name: policy
        for name, policy in resources_of_type(delivery, "AWS::IAM::Policy").items()
        if "KmsKeyArn" in str(policy["Properties"]["PolicyDocument"])
    }
    # THEN the pipeline role may encrypt and decrypt, the deploy roles only decrypt
    assert {name: policy.get("Condition") for name, policy in keyed.items()} == {
        "PipelineArtifactsKeyPolicy": "HasKmsKey",
    }
    pipeline = {
        a
        for s in policy_statements(keyed["PipelineArtifactsKeyPolicy"])
        for a in as_list(s["Action"])
    }
    assert {"kms:Encrypt", "kms:GenerateDataKey*", "kms:Decrypt"} <= pipeline
    for environment in ENVIRONMENTS:
        role = service_stack["Resources"][f"{environment}DeployRole"]
        [document] = [p["PolicyDocument"] for p in role["Properties"]["Policies"]]
        [keyed_statement] = [s for s in document["Statement"] if "Fn::If" in s]
        condition, key_statement, otherwise = keyed_statement["Fn::If"]
        assert (condition, otherwise) == ("HasKmsKey", {"Ref": "AWS::NoValue"})
        assert key_statement["Action"] == ["kms:Decrypt", "kms:DescribeKey"]
        assert key_statement["Resource"] == {"Ref": "KmsKeyArn"}


def granted(role: dict[str, Any], action: str) -> list[dict[str, Any]]:
    """The statements of a role that allow one action."""
    return [s for s in policy_statements(role) if action in as_list(s["Action"])]


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_each_deploy_action_runs_as_its_services_deploy_role_of_its_environment(
    pipeline: dict[str, Any], root_template: dict[str, Any], environment: str
) -> None:
    # GIVEN the CodeDeployToECS actions of one environment's stage
    deploys = [
        action
        for action in stage(pipeline, environment)["Actions"]
        if action["ActionTypeId"]["Provider"] == "CodeDeployToECS"
    ]
    passed = root_template["Resources"]["DeliveryStack"]["Properties"]["Parameters"]
    # THEN each names its own service's role of that environment, which CodePipeline assumes
    # for it: the root passes exactly that service stack's deploy role under that name
    assert len(deploys) == len(SERVICES)
    for action in deploys:
        prefix = action["InputArtifacts"][0]["Name"].removesuffix("BuildOutput")
        parameter = f"{prefix}{environment}DeployRoleArn"
        assert action["RoleArn"] == {"Ref": parameter}, action
        assert passed[parameter] == {
            "Fn::GetAtt": [f"{prefix}Stack", f"Outputs.{environment}DeployRoleArn"]
        }


def test_no_other_action_runs_as_a_deploy_role(pipeline: dict[str, Any]) -> None:
    others = [
        action["Name"]
        for s in pipeline["Stages"]
        for action in s["Actions"]
        if isinstance(action, dict) and "RoleArn" in action
        if action["ActionTypeId"]["Provider"] != "CodeDeployToECS"
    ]
    assert others == []


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_a_deploy_role_passes_only_its_services_roles_of_its_environment_and_only_to_ecs_tasks(
    service_stack: dict[str, Any], environment: str
) -> None:
    # GIVEN one service's deploy action role of one environment
    (other,) = set(ENVIRONMENTS) - {environment}
    role = service_stack["Resources"][f"{environment}DeployRole"]
    # WHEN its iam:PassRole statements are read
    [pass_role] = granted(role, "iam:PassRole")
    # THEN it may pass this service's task and execution roles of that environment, nothing else
    # (no other service's, no other environment's)
    assert pass_role["Resource"] == [
        {"Fn::GetAtt": [f"{environment}TaskRole", "Arn"]},
        {"Fn::GetAtt": [f"{environment}ExecutionRole", "Arn"]},
    ]
    assert other not in json.dumps(pass_role)
    assert pass_role["Condition"] == {
        "StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}
    }


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_a_deploy_role_deploys_only_its_services_group_of_its_environment(
    service_stack: dict[str, Any], environment: str
) -> None:
    # GIVEN one service's deploy action role of one environment
    role = service_stack["Resources"][f"{environment}DeployRole"]
    # WHEN its CodeDeploy deployment statement is read
    [deploy] = granted(role, "codedeploy:CreateDeployment")
    # THEN it names the application and only this service's group of this environment
    prefix = "arn:${AWS::Partition}:codedeploy:${AWS::Region}:${AWS::AccountId}"
    assert [r["Fn::Sub"] for r in deploy["Resource"]] == [
        prefix + ":application:${CodeDeployApplicationName}",
        prefix
        + ":deploymentgroup:${CodeDeployApplicationName}/"
        + f"{environment.lower()}-${{ServiceName}}",
    ]
    group = service_stack["Resources"][f"{environment}DeploymentGroup"]["Properties"]
    assert group["DeploymentGroupName"] == {"Fn::Sub": f"{environment.lower()}-${{ServiceName}}"}


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_a_deploy_role_reads_artifacts_and_registers_task_definitions_but_writes_nothing(
    service_stack: dict[str, Any], environment: str
) -> None:
    # GIVEN every action one deploy role may take (the key statement exists only with KmsKeyArn)
    role = service_stack["Resources"][f"{environment}DeployRole"]
    actions = {a for s in policy_statements(role) for a in as_list(s["Action"])}
    # THEN it can read the artifacts (and decrypt them) and deploy, but change no artifact
    assert {"s3:GetObject", "ecs:RegisterTaskDefinition", "kms:Decrypt"} <= actions
    assert not {"s3:PutObject", "kms:Encrypt", "kms:GenerateDataKey*"} & actions
    assert actions >= DEPLOY_ACTIONS
    # AND the bucket it reads is the delivery stack's, named by the same rule
    [read] = granted(role, "s3:GetObject")
    bucket = delivery_bucket_name()
    assert read["Resource"]["Fn::Sub"].endswith(f":s3:::{bucket}/*")


def delivery_bucket_name() -> str:
    name: str = load_template(DELIVERY_PATH)["Resources"]["ArtifactsBucket"]["Properties"][
        "BucketName"
    ]["Fn::Sub"]
    return name


def test_deploy_roles_trust_only_the_pipeline_role(
    root_template: dict[str, Any], service_stack: dict[str, Any]
) -> None:
    # THEN each deploy role names the pipeline role as its only principal (not the account)
    for environment in ENVIRONMENTS:
        trust = service_stack["Resources"][f"{environment}DeployRole"]["Properties"][
            "AssumeRolePolicyDocument"
        ]["Statement"]
        assert trust == [
            {
                "Effect": "Allow",
                "Principal": {"AWS": {"Ref": "PipelineRoleArn"}},
                "Action": "sts:AssumeRole",
            }
        ]
    # AND every service stack is given the pipeline role there
    for prefix in SERVICES.values():
        parameters = root_template["Resources"][f"{prefix}Stack"]["Properties"]["Parameters"]
        assert parameters["PipelineRoleArn"] == {"Fn::GetAtt": ["PipelineRole", "Arn"]}


def test_the_pipeline_role_may_assume_exactly_the_deploy_roles(
    root_template: dict[str, Any],
) -> None:
    # GIVEN the root's policy on the pipeline role
    policy = root_template["Resources"]["PipelineDeployRolesPolicy"]
    assert policy["Properties"]["Roles"] == [{"Ref": "PipelineRole"}]
    [statement] = policy["Properties"]["PolicyDocument"]["Statement"]
    # THEN it may assume each service's two deploy roles and nothing else
    assert statement["Action"] == "sts:AssumeRole"
    assert statement["Resource"] == [
        {"Fn::GetAtt": [f"{prefix}Stack", f"Outputs.{environment}DeployRoleArn"]}
        for prefix in SERVICES.values()
        for environment in ENVIRONMENTS
    ]
    assert "Policies" not in root_template["Resources"]["PipelineRole"]["Properties"]


def test_the_pipeline_and_its_roles_cannot_race_iam_propagation(
    root_template: dict[str, Any], delivery: dict[str, Any]
) -> None:
    # GIVEN the root resources the pipeline's roles and their trust consist of
    resources = root_template["Resources"]
    service_stacks = {f"{prefix}Stack" for prefix in SERVICES.values()}

    # THEN the pipeline role depends on nothing, so CloudFormation creates it when the stack
    # starts; the deploy roles come with the service stacks, and the policy letting the pipeline
    # role assume them names nothing else; the delivery stack, which creates the pipeline,
    # starts only after that policy (so after every service stack: minutes after the roles
    # were created) and passes them on unchanged
    assert not {
        ref for ref in _references(resources["PipelineRole"]["Properties"]) if ref in resources
    }
    named = {
        ref
        for ref in _references(resources["PipelineDeployRolesPolicy"]["Properties"])
        if ref in resources
    }
    assert named == {"PipelineRole"} | service_stacks
    delivery_stack = resources["DeliveryStack"]
    assert delivery_stack["DependsOn"] == "PipelineDeployRolesPolicy"
    parameters = delivery_stack["Properties"]["Parameters"]
    assert parameters["PipelineRoleArn"] == {"Fn::GetAtt": ["PipelineRole", "Arn"]}
    assert service_stacks <= _references(parameters)
    # AND the delivery stack creates no role its pipeline's actions run as
    assert delivery["Resources"]["Pipeline"]["Properties"]["RoleArn"] == {"Ref": "PipelineRoleArn"}
    assert not resources_of_type(delivery, "AWS::IAM::Role").keys() & {
        "PipelineRole",
        "StagingDeployRole",
        "ProductionDeployRole",
    }


def _references(node: Any) -> set[str]:
    """Logical ids named by Ref or Fn::GetAtt anywhere in a piece of template."""
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                found.add(value)
            elif key == "Fn::GetAtt":
                found.add(value[0])
            else:
                found |= _references(value)
    elif isinstance(node, list):
        for item in node:
            found |= _references(item)
    return found


def test_the_pipeline_role_itself_can_neither_pass_roles_nor_deploy(
    delivery: dict[str, Any],
) -> None:
    # GIVEN the pipeline role's own statements (every action without a RoleArn runs as it)
    actions = {
        action
        for statement in policy_statements(delivery["Resources"]["PipelineRolePolicy"])
        for action in as_list(statement["Action"])
    }
    # THEN it cannot create deployments, register task definitions or pass any role
    assert not {a for a in actions if a.startswith(("codedeploy:", "iam:"))}
    assert not DEPLOY_ACTIONS & actions


ECR_WRITES = {
    "ecr:CompleteLayerUpload",
    "ecr:InitiateLayerUpload",
    "ecr:PutImage",
    "ecr:UploadLayerPart",
}


def test_builds_push_only_to_the_service_repositories(delivery: dict[str, Any]) -> None:
    for role in ("ServiceBuildRole", "TestRole"):
        statements = policy_statements(delivery["Resources"][role])
        pushes = [s for s in statements if ECR_WRITES & set(as_list(s["Action"]))]
        assert all(s["Resource"] == {"Ref": "RepositoryArns"} for s in pushes)
    build_statements = policy_statements(delivery["Resources"]["ServiceBuildRole"])
    assert any(set(as_list(s["Action"])) >= ECR_WRITES for s in build_statements)


def test_build_role_may_pull_through_the_ecr_public_cache_only_under_its_prefix(
    delivery: dict[str, Any],
) -> None:
    # GIVEN
    statements = policy_statements(delivery["Resources"]["ServiceBuildRole"])

    # WHEN
    [pull_through] = [
        s for s in statements if "ecr:BatchImportUpstreamImage" in as_list(s["Action"])
    ]

    # THEN the first pull may create and import the cached repository, and nothing may be pushed
    assert set(pull_through["Action"]) == {
        "ecr:BatchCheckLayerAvailability",
        "ecr:BatchGetImage",
        "ecr:BatchImportUpstreamImage",
        "ecr:CreateRepository",
        "ecr:GetDownloadUrlForLayer",
    }
    assert pull_through["Resource"] == {
        "Fn::Sub": "arn:${AWS::Partition}:ecr:${AWS::Region}:${AWS::AccountId}:repository/"
        "${BuildImageCachePrefix}/*"
    }


def test_build_project_pulls_base_and_buildkit_images_through_the_cache(
    delivery: dict[str, Any],
) -> None:
    # GIVEN
    variables = {
        v["Name"]: v["Value"]
        for v in delivery["Resources"]["ServiceBuildProject"]["Properties"]["Environment"][
            "EnvironmentVariables"
        ]
    }
    names = {"AWS::AccountId": "123456789012", "AWS::Region": "eu-west-1"}
    names |= {"AWS::URLSuffix": "amazonaws.com", "BuildImageCachePrefix": "ecr-public-dev"}

    # WHEN
    cache = substituted(variables["ECR_PUBLIC_CACHE"], **names)
    buildkit = substituted(variables["BUILDKIT_IMAGE"], **names)

    # THEN both name this account's private registry, never Docker Hub
    assert cache == "123456789012.dkr.ecr.eu-west-1.amazonaws.com/ecr-public-dev"
    assert buildkit.startswith(f"{cache}/")
    assert buildkit.rsplit(":", 1)[0].endswith("/moby/buildkit")


def test_root_template_caches_ecr_public_and_passes_the_prefix_to_delivery(
    root_template: dict[str, Any],
) -> None:
    # GIVEN
    rule = root_template["Resources"]["BuildImageCacheRule"]

    # WHEN
    parameters = root_template["Resources"]["DeliveryStack"]["Properties"]["Parameters"]

    # THEN ECR Public needs no credential, and the prefix fits ECR's 30-character limit
    assert rule["Type"] == "AWS::ECR::PullThroughCacheRule"
    assert rule["Properties"]["UpstreamRegistry"] == "ecr-public"
    assert rule["Properties"]["UpstreamRegistryUrl"] == "public.ecr.aws"
    assert "CredentialArn" not in rule["Properties"]
    prefix = rule["Properties"]["EcrRepositoryPrefix"]["Fn::Sub"]
    assert len(prefix.replace("${EnvironmentSuffix}", "a" * 10)) <= 30
    assert parameters["BuildImageCachePrefix"] == {"Ref": "BuildImageCacheRule"}


# ---------------------------------------------------------------- outputs


def test_outputs_give_console_url_clone_urls_bucket_and_report_group(
    delivery: dict[str, Any],
) -> None:
    outputs = delivery["Outputs"]
    assert "codepipeline/pipelines/${Pipeline}" in outputs["PipelineUrl"]["Value"]["Fn::Sub"]
    assert {"RepositoryCloneUrlHttp", "RepositoryCloneUrlGrc", "ArtifactsBucketName"} <= set(
        outputs
    )


# ---------------------------------------------------------------- root template wiring


def test_root_template_nests_the_delivery_stack_with_every_parameter(
    root_template: dict[str, Any], delivery: dict[str, Any]
) -> None:
    stack = root_template["Resources"]["DeliveryStack"]
    assert stack["Type"] == "AWS::CloudFormation::Stack"
    assert stack["Properties"]["TemplateURL"] == "pipeline/delivery.yaml"
    passed = set(stack["Properties"]["Parameters"])
    required = {n for n, p in delivery["Parameters"].items() if "Default" not in p}
    assert required <= passed <= set(delivery["Parameters"])


def test_root_template_passes_the_functions_the_pipeline_and_builds_call(
    root_template: dict[str, Any],
) -> None:
    parameters = root_template["Resources"]["DeliveryStack"]["Properties"]["Parameters"]
    assert parameters["HealthCheckFunctionName"] == {"Ref": "HealthCheckFunction"}
    assert parameters["HealthCheckFunctionArn"] == {"Fn::GetAtt": ["HealthCheckFunction", "Arn"]}
    assert parameters["SmokeTestHookArn"] == {"Fn::GetAtt": ["SmokeTestHookFunction", "Arn"]}
    assert parameters["TrafficGuardHookArn"] == {"Fn::GetAtt": ["TrafficGuardHookFunction", "Arn"]}
    assert parameters["NotificationTopicArn"] == {"Ref": "NotificationTopic"}


def test_root_template_outputs_the_delivery_endpoints(root_template: dict[str, Any]) -> None:
    outputs = root_template["Outputs"]
    for name in ("PipelineUrl", "RepositoryCloneUrlHttp", "ArtifactsBucketName"):
        assert outputs[name]["Value"] == {"Fn::GetAtt": ["DeliveryStack", f"Outputs.{name}"]}
    for prefix in SERVICES.values():
        assert f"{prefix}RepositoryUri" in outputs


@pytest.mark.parametrize("rule", ["PipelineExecutionRule", "ApprovalRule", "DeploymentFailureRule"])
def test_notification_messages_are_json_strings_using_only_mapped_paths(
    delivery: dict[str, Any], rule: str
) -> None:
    # GIVEN
    [target] = delivery["Resources"][rule]["Properties"]["Targets"]
    transformer = target["InputTransformer"]
    template = substituted(transformer["InputTemplate"], **{"AWS::Region": "eu-west-1"})

    # WHEN
    placeholders = set(re.findall(r"<([a-z-]+)>", template))
    message = json.loads(re.sub(r"<[a-z-]+>", "x", template))

    # THEN EventBridge delivers plain text, and every placeholder has an input path
    assert isinstance(message, str)
    assert placeholders == set(transformer["InputPathsMap"])
