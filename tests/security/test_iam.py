"""Least privilege over EVERY policy statement of every template (tests/security/templates.py):
the root as written and SAM-transformed, network, service and delivery; role inline policies,
managed policies, function policies, KMS key policies, topic and bucket policies.

- No Allow grants "*" or "<service>:*", or uses NotAction / NotResource (both grant the complement
  of a list: everything not named).
- An Allow on Resource "*" names only actions AWS does not scope by resource (the allow-list
  below, each with its reason); every entry is in use, so the list cannot go stale.
- In a KMS key policy, Resource "*" means "this key" (a key policy belongs to one key and cannot
  name another), so key policies are judged by their principals and actions instead.
- Deny statements grant nothing; they must carry a condition, or they would lock everyone out.
- AWS managed policies are attached by ARN, so their documents are not in the templates: the
  exact set attached is pinned below, each with its reason.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.security.templates import (
    TRANSFORMED_ROOT,
    PolicyStatement,
    all_templates,
    as_list,
    every_statement,
    statements_of,
)

# Actions IAM authorises only against Resource "*": they have no resource type in the Service
# Authorization Reference, or (RegisterTaskDefinition) create the resource they would name.
WILDCARD_RESOURCE_ACTIONS: dict[str, str] = {
    "ecr:GetAuthorizationToken": "returns an account-wide registry token; ECR has no resource "
    "to scope it to (the builds and the task execution roles log in with it)",
    "ecs:DescribeTaskDefinition": "supports no resource-level permissions; read-only (the build "
    "copies the revision each stack manages; the health check reads a known-good revision's "
    "image)",
    "ecs:RegisterTaskDefinition": "creates the revision ARN it would be scoped to; what the "
    "revision may do is bounded by the deploy action role's iam:PassRole statement (its own "
    "environment's task and execution roles)",
    "codepipeline:PutJobSuccessResult": "job-result calls have no resource type; the job id in "
    "the call scopes them",
    "codepipeline:PutJobFailureResult": "as PutJobSuccessResult",
    "cloudwatch:GetMetricData": "supports no resource-level permissions; read-only (the traffic "
    "guard reads green's own requests and 5XX answers during the bake)",
    "cloudwatch:DescribeAlarms": "a list call (AlarmNamePrefix) IAM authorises only against "
    "'*'; reads alarm state and configuration only",
    "application-autoscaling:DescribeScalableTargets": "has no resource type (a list call "
    "filtered by namespace and resource id); read-only (the health check and the release "
    "responder find a service's scalable target before suspending or resuming its scaling)",
    "elasticloadbalancing:DescribeListeners": "ELB Describe* calls support no resource-level "
    "permissions; read configuration only",
    "elasticloadbalancing:DescribeLoadBalancers": "as DescribeListeners",
    "elasticloadbalancing:DescribeTargetGroups": "as DescribeListeners",
    "elasticloadbalancing:DescribeTargetHealth": "as DescribeListeners",
    "ec2:DescribeNetworkInterfaces": "EC2 Describe* calls support no resource-level "
    "permissions; the smoke test reads the ALB's private addresses with it",
    "lambda:ListFunctions": "a list call with no resource type; AWS documents it as part of the "
    "pipeline role's minimum for a Lambda invoke action (ValidateHealth)",
}

# AWS managed policies attached anywhere (SAM adds the Lambda ones to the roles it generates).
AWS_MANAGED_POLICIES: dict[str, str] = {
    "service-role/AWSLambdaBasicExecutionRole": "SAM attaches it to every generated function "
    "role: log delivery (logs:CreateLogStream/PutLogEvents, and CreateLogGroup on '*')",
    "AWSXrayWriteOnlyAccess": "SAM attaches it for Tracing: Active (xray:PutTraceSegments, "
    "PutTelemetryRecords and the sampling reads, which have no resource type)",
    "service-role/AWSLambdaVPCAccessExecutionRole": "SAM attaches it to the VPC hook functions: "
    "the ENI calls Lambda makes to place them in the subnets (ec2:CreateNetworkInterface, "
    "DescribeNetworkInterfaces, DeleteNetworkInterface ... on '*', which EC2 requires)",
    "AWSCodeDeployRoleForECS": "CodeDeploy's own role for ECS blue/green (task sets, listener "
    "rewrites, alarms, PassRole to ECS tasks), kept current by AWS",
}
_MANAGED_ARN = re.compile(r"^arn:(?:aws|\$\{AWS::Partition\}):iam::aws:policy/(.+)$")


def violations(statement: PolicyStatement) -> list[str]:
    """What is wrong with one statement, each finding naming the statement."""
    body, where = statement.body, statement.where
    if statement.effect == "Deny":
        return [] if body.get("Condition") else [f"{where}: a Deny without a Condition"]
    if statement.effect != "Allow":
        return [f"{where}: Effect must be Allow or Deny, got {statement.effect!r}"]
    found = [f"{where}: Allow with {key}" for key in ("NotAction", "NotResource") if key in body]
    for action in statement.actions:
        if action == "*" or action.endswith(":*"):
            found.append(f"{where}: Allow of {action!r} grants every action")
    if statement.kind == "trust":
        if body.get("Principal") in ("*", {"AWS": "*"}):
            found.append(f"{where}: a role anyone may assume")
        return found
    if statement.resource_is_wildcard and statement.kind != "key":
        found += [
            f"{where}: Allow of {action} on Resource '*', which is not on the allow-list "
            "of actions AWS does not scope by resource"
            for action in statement.actions
            if action not in WILDCARD_RESOURCE_ACTIONS
        ]
    return found


def attached_managed_policies(template: dict[str, Any]) -> set[str]:
    names: set[str] = set()
    for resource in template.get("Resources", {}).values():
        for arn in as_list(resource.get("Properties", {}).get("ManagedPolicyArns", [])):
            text = arn.get("Fn::Sub") if isinstance(arn, dict) else arn
            match = _MANAGED_ARN.match(text) if isinstance(text, str) else None
            if match:
                names.add(match.group(1))
    return names


# ---------------------------------------------------------------- the walker finds policies


def test_the_walker_reaches_every_kind_of_policy_in_every_template() -> None:
    # GIVEN every statement of every template
    statements = every_statement()
    # THEN each template contributes, and every kind of policy the system has was read
    assert {s.template for s in statements} >= set(all_templates()) - {
        "pipeline/network.yaml"  # the network stack holds no policy at all
    }
    kinds = {(s.logical_id, s.kind) for s in statements}
    for expected in [
        ("NotificationKey", "key"),
        ("ArtifactsBucketPolicy", "resource"),
        ("NotificationTopicPolicy", "resource"),
        ("StagingApiServiceTaskPolicy", "identity"),
        ("ProductionNotificationServiceTaskPolicy", "identity"),
        ("PipelineRolePolicy", "identity"),
        ("PipelineRole", "trust"),
        ("PipelineDeployRolesPolicy", "identity"),
        ("StagingDeployRole", "identity"),
        ("ProductionDeployRole", "trust"),
        ("StagingExecutionRole", "identity"),
        ("ProductionExecutionRole", "identity"),
        ("ImagePullPolicy", "identity"),
        ("StagingTaskRole", "trust"),
        ("HealthCheckFunction", "identity"),  # the SAM function's Policies, as written
        ("HealthCheckFunctionRole", "identity"),  # the role SAM generates from them
        ("SmokeTestHookFunctionRole", "trust"),
    ]:
        assert expected in kinds, expected


def test_both_branches_of_a_conditional_statement_are_walked() -> None:
    # GIVEN the build role, whose clone statement depends on the source provider
    statements = every_statement()
    clone = [
        s
        for s in statements
        if (s.template, s.logical_id) == ("pipeline/delivery.yaml", "ServiceBuildRole")
        and s.body.get("Sid") == "FullClone"
    ]
    # THEN the CodeCommit and the connection branch were both read
    assert sorted(action for s in clone for action in s.actions) == [
        "codecommit:GitPull",
        "codeconnections:UseConnection",
        "codestar-connections:UseConnection",
    ]


def test_the_walker_reports_planted_violations_by_name() -> None:
    # GIVEN a template with one violation of each rule, some hidden behind a Fn::If
    planted: dict[str, Any] = {
        "Resources": {
            "BadRole": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "AssumeRolePolicyDocument": {
                        "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*"}]
                    },
                    "Policies": [
                        {
                            "PolicyName": "p",
                            "PolicyDocument": {
                                "Statement": [
                                    {"Sid": "AllS3", "Effect": "Allow", "Action": "s3:*",
                                     "Resource": "arn:aws:s3:::b"},
                                    {"Fn::If": ["C", {"Sid": "Hidden", "Effect": "Allow",
                                     "Action": "s3:GetObject", "Resource": "*"},
                                     {"Ref": "AWS::NoValue"}]},
                                    {"Sid": "Inverse", "Effect": "Allow",
                                     "NotAction": "iam:*", "Resource": "arn:aws:s3:::b"},
                                ]
                            },
                        }
                    ],
                },
            },
            "BadPolicy": {
                "Type": "AWS::IAM::ManagedPolicy",
                "Properties": {
                    "PolicyDocument": {
                        "Statement": {"Sid": "Everything", "Effect": "Allow", "Action": "*",
                                      "Resource": "*"}
                    }
                },
            },
            "BadBucketPolicy": {
                "Type": "AWS::S3::BucketPolicy",
                "Properties": {
                    "PolicyDocument": {
                        "Statement": [{"Sid": "Lockout", "Effect": "Deny", "Principal": "*",
                                       "Action": "s3:*", "Resource": "*"}]
                    }
                },
            },
        }
    }  # fmt: skip
    # WHEN it is walked
    found = [v for s in statements_of("planted.yaml", planted) for v in violations(s)]
    # THEN every planted violation is reported, naming its resource and statement
    expected_fragments = [
        "BadRole.AssumeRolePolicyDocument statement 0 (no Sid): Allow of '*'",
        "BadRole.AssumeRolePolicyDocument statement 0 (no Sid): a role anyone may assume",
        "BadRole.Policies[0].PolicyDocument statement 0 (AllS3): Allow of 's3:*'",
        "statement 1 (Hidden): Allow of s3:GetObject on Resource '*'",
        "statement 2 (Inverse): Allow with NotAction",
        "BadPolicy.PolicyDocument statement 0 (Everything): Allow of '*'",
        "BadPolicy.PolicyDocument statement 0 (Everything): Allow of * on Resource '*'",
        "BadBucketPolicy.PolicyDocument statement 0 (Lockout): a Deny without a Condition",
    ]
    for fragment in expected_fragments:
        assert any(fragment in finding for finding in found), (fragment, found)
    assert len(found) == len(expected_fragments)


# ---------------------------------------------------------------- the rules hold


def test_no_policy_in_any_template_grants_more_than_the_rules_allow() -> None:
    # GIVEN every statement of every template
    found = [finding for statement in every_statement() for finding in violations(statement)]
    # THEN none breaks a rule (the message names each offending template, resource, statement)
    assert found == [], "\n".join(found)


def test_every_wildcard_resource_action_on_the_allow_list_is_in_use() -> None:
    used = {
        action
        for statement in every_statement()
        if statement.effect == "Allow" and statement.resource_is_wildcard
        if statement.kind != "key"
        for action in statement.actions
    }
    assert set(WILDCARD_RESOURCE_ACTIONS) - used == set(), "stale allow-list entries"


def test_key_policy_wildcards_mean_the_key_and_are_bounded_by_principal_and_condition() -> None:
    # GIVEN the notification key's policy: Resource "*" there is the key itself
    root = all_templates()["template.yaml"]
    statements = [
        s for s in statements_of("template.yaml", root) if s.logical_id == "NotificationKey"
    ]
    assert statements
    unconditioned_services: set[str] = set()
    for statement in statements:
        principal = statement.body["Principal"]
        # THEN nobody outside this account is named, and services may only encrypt and decrypt
        assert principal != "*", statement.where
        if "Service" in principal:
            assert set(statement.actions) == {"kms:Decrypt", "kms:GenerateDataKey*"}
            condition = statement.body.get("Condition")
            if condition is None:
                unconditioned_services.add(principal["Service"])
            else:
                assert condition == {
                    "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
                }, statement.where
        else:
            assert principal == {
                "AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}
            }
            # AND the account's principals use the key for data only through SNS
            if "kms:Decrypt" in statement.actions:
                assert "kms:ViaService" in str(statement.body["Condition"]), statement.where
    # EventBridge's KMS calls carry no aws:Source* key (template.yaml says why); the topic
    # policy admits only this stack's rules (tests/template/test_delivery.py::
    # test_topic_policy_admits_exactly_the_rules_and_this_account_alarms).
    assert unconditioned_services == {"events.amazonaws.com"}


def test_exactly_the_known_aws_managed_policies_are_attached() -> None:
    attached = set().union(
        *(attached_managed_policies(template) for template in all_templates().values())
    )
    assert attached == set(AWS_MANAGED_POLICIES)


def test_sam_generated_function_roles_carry_only_the_statements_written_in_the_template() -> None:
    # GIVEN the functions' Policies as written and the roles SAM generated from them
    transformed = all_templates()["template.yaml (SAM-transformed)"]
    root = all_templates()["template.yaml"]
    functions = {
        logical_id
        for logical_id, resource in root["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }
    for function in functions:
        written = [s.body for s in statements_of("root", root) if s.logical_id == function]
        generated = transformed["Resources"][f"{function}Role"]["Properties"]["Policies"]
        # THEN SAM added no inline statement of its own, but the one a Lambda on-failure
        # destination needs: invoking that destination function, and nothing else
        config = root["Resources"][function]["Properties"].get("EventInvokeConfig", {})
        destination = config.get("DestinationConfig", {}).get("OnFailure", {})
        expected = list(written)
        if destination.get("Type") == "Lambda":
            expected.append(
                {
                    "Action": "lambda:InvokeFunction",
                    "Effect": "Allow",
                    "Resource": destination["Destination"],
                }
            )
        assert [s for p in generated for s in p["PolicyDocument"]["Statement"]] == expected


ENVIRONMENTS = ("Staging", "Production")


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_an_environments_roles_and_policies_never_name_the_other_environment(
    environment: str,
) -> None:
    # GIVEN every permission statement of a role or policy that belongs to one environment
    # (logical id Staging*/Production*: the services' task and execution roles, their policies)
    (other,) = set(ENVIRONMENTS) - {environment}
    statements = [
        s
        for s in every_statement()
        if s.logical_id.startswith(environment) and s.kind == "identity"
    ]
    # THEN there are some in the root and in the service stack, and none names a resource,
    # parameter or path of the other environment (a staging task cannot touch production)
    assert {s.template for s in statements} >= {"template.yaml", "pipeline/service.yaml"}
    crossing = [s.where for s in statements if other.lower() in repr(s.body).lower()]
    assert crossing == []


def test_each_service_task_runs_with_a_role_of_its_own_environment() -> None:
    # GIVEN the task definitions of the service stack
    service = all_templates()["pipeline/service.yaml"]
    definitions = {
        logical_id: resource["Properties"]
        for logical_id, resource in service["Resources"].items()
        if resource["Type"] == "AWS::ECS::TaskDefinition"
    }
    # THEN one per environment, and each runs with that environment's task and execution roles
    assert len(definitions) == len(ENVIRONMENTS)
    for logical_id, properties in definitions.items():
        environment = next(e for e in ENVIRONMENTS if logical_id.startswith(e))
        for key in ("TaskRoleArn", "ExecutionRoleArn"):
            (role, _) = properties[key]["Fn::GetAtt"]
            assert role.startswith(environment), (logical_id, key, role)


@pytest.mark.parametrize(
    "role", ["ServiceBuildRole", "TestRole", "ImageGateRole", "LintRole", "AcceptanceRole"]
)
def test_a_build_role_can_neither_deploy_approve_nor_read_secrets(role: str) -> None:
    # GIVEN a CodeBuild role (what a compromised build could use)
    delivery = all_templates()["pipeline/delivery.yaml"]
    statements = [
        s
        for s in statements_of("delivery", delivery)
        if s.logical_id == role and s.kind == "identity"
    ]
    # The one SSM read a build may make: the task-definition revision ARN a stack publishes (no
    # configuration, no secret, nothing of the running services).
    revisions = {
        "Fn::Sub": "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}"
        ":parameter/pipeline/*/*/task-definition"
    }
    actions = {
        action
        for s in statements
        for action in s.actions
        if not (action == "ssm:GetParameter" and s.body["Resource"] == revisions)
    }
    # THEN it holds none of the powers docs/security.md says a build lacks
    forbidden_prefixes = (
        "codedeploy:",
        "codepipeline:",
        "secretsmanager:",
        "ssm:",
        "iam:",
        "ecs:RegisterTaskDefinition",
        "ecs:UpdateService",
        "lambda:",
        "sts:",
    )
    assert not [a for a in actions if a.startswith(forbidden_prefixes)], actions


def roles_a_deploy_role_may_pass(environment: str) -> set[str]:
    """The roles (logical ids of the service stack) one service's deploy role of an environment
    may pass, read from its iam:PassRole statement."""
    service = all_templates()["pipeline/service.yaml"]
    [pass_role] = [
        s
        for s in statements_of("service", service)
        if s.logical_id == f"{environment}DeployRole"
        and s.kind == "identity"
        and "iam:PassRole" in s.actions
    ]
    return {item["Fn::GetAtt"][0] for item in pass_role.body["Resource"]}


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_a_deploy_role_cannot_pass_a_role_of_the_other_environment(environment: str) -> None:
    # GIVEN the roles one service's deploy action role of one environment may pass
    roles = roles_a_deploy_role_may_pass(environment)
    # THEN they are exactly that service's task and execution roles of that environment: a
    # tampered staging task definition naming a production role fails to register, and the
    # reverse
    assert roles == {f"{environment}TaskRole", f"{environment}ExecutionRole"}


def test_a_deploy_role_cannot_pass_another_services_roles() -> None:
    # GIVEN the deploy actions of the pipeline and the roles the root gives them
    templates = all_templates()
    delivery, root = templates["pipeline/delivery.yaml"], templates["template.yaml"]
    passed = root["Resources"]["DeliveryStack"]["Properties"]["Parameters"]
    stages = delivery["Resources"]["Pipeline"]["Properties"]["Stages"]
    deploys = [
        action
        for stage in stages
        for action in stage["Actions"]
        if isinstance(action, dict)
        and action.get("ActionTypeId", {}).get("Provider") == "CodeDeployToECS"
    ]
    # THEN each action's role comes from the stack of the service whose build output it deploys,
    # and six actions use six distinct roles: no role deploys two services, so a tampered task
    # definition of one service cannot run with another service's roles
    stacks = {}
    for action in deploys:
        [artifact] = action["InputArtifacts"]
        owner, output = passed[action["RoleArn"]["Ref"]]["Fn::GetAtt"]
        assert owner == artifact["Name"].removesuffix("BuildOutput") + "Stack", action["Name"]
        assert output.endswith("DeployRoleArn")
        stacks[action["RoleArn"]["Ref"]] = owner
    assert len(deploys) == len(stacks) == 6


def test_only_the_deploy_roles_may_pass_roles_or_deploy_in_the_delivery_and_service_stacks() -> (
    None
):
    # GIVEN every identity statement of the delivery and service stacks
    templates = all_templates()
    holders = {
        (name, s.logical_id)
        for name, template in (
            ("delivery", templates["pipeline/delivery.yaml"]),
            ("service", templates["pipeline/service.yaml"]),
        )
        for s in statements_of(name, template)
        if s.kind == "identity"
        for action in s.actions
        if action in ("iam:PassRole", "codedeploy:CreateDeployment", "ecs:RegisterTaskDefinition")
    }
    # THEN only the service stack's two deploy roles hold them; the pipeline role does not
    assert holders == {("service", "StagingDeployRole"), ("service", "ProductionDeployRole")}


def delivery_actions(role: str) -> dict[str, list[Any]]:
    """Action -> the Resource of each statement granting it, for one role of the delivery stack."""
    granted: dict[str, list[Any]] = {}
    for s in statements_of("delivery", all_templates()["pipeline/delivery.yaml"]):
        if s.logical_id == role and s.kind == "identity":
            for action in s.actions:
                granted.setdefault(action, []).append(s.body["Resource"])
    return granted


def test_the_load_test_may_read_only_the_staging_client_secret_and_nothing_that_deploys() -> None:
    # GIVEN the load test's build role (it runs from the commit, like every build)
    granted = delivery_actions("LoadTestRole")
    # THEN its one secret is the staging synthetic client's, and it holds no other power a
    # compromised build could use
    assert granted["secretsmanager:GetSecretValue"] == [{"Ref": "StagingSyntheticClientSecretArn"}]
    forbidden = ("codedeploy:", "codepipeline:", "ecr:", "ecs:", "iam:", "lambda:", "sts:", "ssm:")
    assert not [a for a in granted if a.startswith(forbidden)], granted


def test_the_acceptance_tests_only_read_the_stack_and_staging() -> None:
    # GIVEN the acceptance tests' build role
    granted = delivery_actions("AcceptanceRole")
    # THEN beyond logs, artifacts, source and its report group it only describes: the root
    # stack, the alarms and the staging ECS services
    reads = {a for a in granted if a.split(":")[1].startswith(("Describe", "Get", "List"))}
    assert {"cloudformation:DescribeStacks", "ecs:DescribeServices"} <= reads
    writes = set(granted) - reads
    assert writes <= {
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "codebuild:CreateReport",
        "codebuild:UpdateReport",
        "codebuild:BatchPutTestCases",
        "codecommit:GitPull",
        "codestar-connections:UseConnection",
        "codeconnections:UseConnection",
        "kms:Decrypt",
        "kms:Encrypt",
        "kms:GenerateDataKey*",
    }, writes
    (services,) = granted["ecs:DescribeServices"]
    assert "service/staging-cluster-" in services["Fn::Sub"]


SSM_ARN = "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}"


# ---------------------------------------------------------------- the synthetic client
# One function per environment (issue 28, item 3): each reads only its own environment's client
# secret and configuration, and only its own schedule may invoke it.


def synthetic_client_functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Logical id -> properties of every function running the synthetic client's code."""
    return {
        logical_id: resource["Properties"]
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] in {"AWS::Serverless::Function", "AWS::Lambda::Function"}
        and str(resource["Properties"].get("Handler", "")).startswith("synthetic_client.")
    }


def secrets_read_by(template_name: str, role_or_function: str) -> list[Any]:
    """The resources of every GetSecretValue statement of one function (as written) or role."""
    return [
        resource
        for s in statements_of(template_name, all_templates()[template_name])
        if s.logical_id == role_or_function and s.kind == "identity"
        if "secretsmanager:GetSecretValue" in s.actions
        for resource in as_list(s.body["Resource"])
    ]


@pytest.mark.parametrize("environment", ["staging", "production"])
def test_each_synthetic_client_reads_only_its_own_secret_and_configuration(
    environment: str,
) -> None:
    # GIVEN the environment's synthetic client function's policy as written in the root template
    logical_id = f"{environment.title()}SyntheticClientFunction"
    statements = [
        s
        for s in statements_of("root", all_templates()["template.yaml"])
        if s.logical_id == logical_id and s.kind == "identity"
    ]
    granted = {action: s.body["Resource"] for s in statements for action in s.actions}
    # THEN it reads its environment's synthetic-client secret (never the other environment's,
    # never auth-service's signing secrets) and its environment's service configuration, finds
    # the load balancer's private addresses (two describe calls IAM authorises on "*" only),
    # and writes nothing
    assert granted == {
        "secretsmanager:GetSecretValue": {"Ref": f"{environment.title()}SyntheticClientSecret"},
        "ssm:GetParameters": {"Fn::Sub": f"{SSM_ARN}:parameter/pipeline/{environment}/*/config"},
        "elasticloadbalancing:DescribeLoadBalancers": "*",
        "ec2:DescribeNetworkInterfaces": "*",
    }


def test_the_staging_synthetic_client_cannot_read_the_production_secret() -> None:
    # GIVEN every function that runs the synthetic client, as CloudFormation deploys it (the
    # SAM-generated role of each), and the environment each is configured for
    transformed = all_templates()[TRANSFORMED_ROOT]
    reads = {}
    for logical_id, properties in synthetic_client_functions(transformed).items():
        environment = properties["Environment"]["Variables"].get("ENVIRONMENT_NAME")
        (role, _) = properties["Role"]["Fn::GetAtt"]
        secrets = [secret["Ref"] for secret in secrets_read_by(TRANSFORMED_ROOT, role)]
        reads[logical_id] = (environment, secrets)
    # THEN each function's role reads exactly the client secret of the environment it checks:
    # the role that runs staging's checks cannot fetch production's secret, nor the reverse
    assert reads == {
        "StagingSyntheticClientFunction": ("staging", ["StagingSyntheticClientSecret"]),
        "ProductionSyntheticClientFunction": ("production", ["ProductionSyntheticClientSecret"]),
    }


def test_only_its_own_schedule_may_invoke_each_synthetic_client() -> None:
    # GIVEN the deployed form of the root: its functions, rules and Lambda permissions
    transformed = all_templates()[TRANSFORMED_ROOT]
    resources = transformed["Resources"]
    functions = synthetic_client_functions(transformed)
    assert functions
    for logical_id in functions:
        # WHEN we look for everything that lets a principal invoke it
        permissions = [
            r["Properties"]
            for r in resources.values()
            if r["Type"] == "AWS::Lambda::Permission"
            and r["Properties"]["FunctionName"]
            in ({"Ref": logical_id}, {"Fn::GetAtt": [logical_id, "Arn"]})
        ]
        urls = [
            r
            for r in resources.values()
            if r["Type"] == "AWS::Lambda::Url"
            and r["Properties"].get("TargetFunctionArn")
            in ({"Ref": logical_id}, {"Fn::GetAtt": [logical_id, "Arn"]})
        ]
        # THEN there is exactly one resource-policy statement: EventBridge, for its own rule
        (permission,) = permissions
        assert permission["Principal"] == "events.amazonaws.com"
        assert permission["Action"] == "lambda:InvokeFunction"
        (rule_id, _) = permission["SourceArn"]["Fn::GetAtt"]
        assert urls == []
        # AND that rule is the once-a-minute schedule, targets only this function and gives it
        # no input of its own (the function reads nothing from the event anyway)
        rule = resources[rule_id]["Properties"]
        assert rule["ScheduleExpression"] == "rate(1 minute)"
        assert "EventPattern" not in rule
        (target,) = rule["Targets"]
        assert target["Arn"] == {"Fn::GetAtt": [logical_id, "Arn"]}
        assert not {"Input", "InputPath", "InputTransformer"} & set(target)
    # AND there is one function, so one schedule, per environment
    assert set(functions) == {"StagingSyntheticClientFunction", "ProductionSyntheticClientFunction"}


def test_no_policy_in_any_template_lets_a_principal_invoke_the_synthetic_client() -> None:
    # GIVEN every statement of every template that grants invoking a Lambda function
    invokers = [
        s
        for s in every_statement()
        if s.effect == "Allow"
        and any(a in {"lambda:InvokeFunction", "lambda:InvokeAsync"} for a in s.actions)
    ]
    assert invokers  # the pipeline and CodeDeploy invoke the validator and the hooks
    # THEN none names a synthetic client function: its schedule is its only caller
    assert [s.where for s in invokers if "synthetic" in repr(s.body).lower()] == []
