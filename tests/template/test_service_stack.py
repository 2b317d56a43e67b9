"""pipeline/service.yaml: one service in staging and production, checked value by value."""

from __future__ import annotations

import fnmatch
import json
import re
from typing import Any

import pytest

from tests.support import PIPELINE_DIR, load_template, resources_of_type
from tools.cfn_render import Renderer
from tools.rehearsal.cloudwatch import evaluate

ENVIRONMENTS = ("Staging", "Production")
SERVICE = "auth-service"
SUFFIX = "dev"
CHECKS = (
    "running-tasks",
    "5xx-rate",
    "healthy-hosts",
    "latency-p95",
    "synthetic-flow",
    "synthetic-latency",
    "synthetic-replacement",
)
# The canary compared with the group it replaces: production only, where both groups serve users
# during a deployment (staging has none and shifts all at once).
CHECKS_OF = {"Staging": CHECKS, "Production": (*CHECKS, "5xx-canary")}
# Issue 3: healthy within 15 s of health checking, drained within 30 s, a bad release detected
# within 2 minutes.
MAX_SECONDS_TO_HEALTHY = 15
MAX_DEREGISTRATION_SECONDS = 30
MAX_DETECTION_SECONDS = 120
# As template.yaml passes it: this account's pull-through cache of registry.k8s.io.
BOOTSTRAP_IMAGE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/bootstrap-dev/echoserver:1.10"


@pytest.fixture(scope="module")
def service() -> dict[str, Any]:
    return load_template(PIPELINE_DIR / "service.yaml")


def props(template: dict[str, Any], logical_id: str) -> dict[str, Any]:
    properties: dict[str, Any] = template["Resources"][logical_id]["Properties"]
    return properties


def renderer(template: dict[str, Any], **values: Any) -> Renderer:
    """The stack as root would create it for auth-service, with resource Refs resolved."""
    base = {
        "EnvironmentSuffix": SUFFIX,
        "ServiceName": SERVICE,
        "ServiceIndex": "1",
        "BootstrapImage": BOOTSTRAP_IMAGE,
    }
    stack = Renderer(template, {**base, **values})
    for environment in ENVIRONMENTS:
        config = props(template, f"{environment}Config")
        stack.values[f"{environment}Config"] = stack.render(config["Name"])
        log_group = props(template, f"{environment}LogGroup")
        stack.values[f"{environment}LogGroup"] = stack.render(log_group["LogGroupName"])
    return stack


def ref(logical_id: str) -> dict[str, str]:
    return {"Ref": logical_id}


def get_att(logical_id: str, attribute: str) -> dict[str, list[str]]:
    return {"Fn::GetAtt": [logical_id, attribute]}


# ------------------------------------------------------------------ target groups and listeners
@pytest.mark.parametrize("environment", ENVIRONMENTS)
@pytest.mark.parametrize("colour", ["Blue", "Green"])
def test_target_group_turns_a_task_healthy_within_15_seconds(
    service: dict[str, Any], environment: str, colour: str
) -> None:
    # GIVEN one of the four target groups
    group = props(service, f"{environment}{colour}TargetGroup")

    # WHEN a new task starts answering /health
    seconds_to_healthy = group["HealthCheckIntervalSeconds"] * group["HealthyThresholdCount"]

    # THEN it takes traffic after at most 15 s, and a dead one leaves after two failed checks
    assert (group["TargetType"], group["Protocol"], group["Port"]) == ("ip", "HTTP", 8080)
    assert (group["HealthCheckPath"], group["Matcher"]) == ("/health", {"HttpCode": "200"})
    assert seconds_to_healthy <= MAX_SECONDS_TO_HEALTHY
    assert group["HealthCheckIntervalSeconds"] == 5
    assert group["UnhealthyThresholdCount"] == 2
    assert group["HealthCheckTimeoutSeconds"] < group["HealthCheckIntervalSeconds"]


@pytest.mark.parametrize("environment", ENVIRONMENTS)
@pytest.mark.parametrize("colour", ["Blue", "Green"])
def test_target_group_drains_within_30_seconds(
    service: dict[str, Any], environment: str, colour: str
) -> None:
    # GIVEN the target group's attributes
    attributes = {
        item["Key"]: item["Value"]
        for item in props(service, f"{environment}{colour}TargetGroup")["TargetGroupAttributes"]
    }

    # THEN deregistration waits at most 30 s instead of the 300 s default
    assert int(attributes["deregistration_delay.timeout_seconds"]) <= MAX_DEREGISTRATION_SECONDS


def test_listener_port_map_follows_the_network_port_scheme(service: dict[str, Any]) -> None:
    # GIVEN the ports per service index
    ports = service["Mappings"]["ListenerPorts"]

    # THEN index n gets 8080+n, 8180+n, 9080+n and 9180+n, the ranges NetworkStack opens
    assert sorted(ports) == [str(n) for n in range(10)]
    for n in range(10):
        assert ports[str(n)] == {
            "Production": 8080 + n,
            "Staging": 8180 + n,
            "ProductionTest": 9080 + n,
            "StagingTest": 9180 + n,
        }


@pytest.mark.parametrize(
    ("listener", "port_key"),
    [
        ("StagingListener", "Staging"),
        ("StagingTestListener", "StagingTest"),
        ("ProductionListener", "Production"),
        ("ProductionTestListener", "ProductionTest"),
    ],
)
def test_each_listener_takes_its_port_for_the_service_index(
    service: dict[str, Any], listener: str, port_key: str
) -> None:
    # GIVEN auth-service (index 1)
    stack = renderer(service, ServiceIndex="1")

    # WHEN its listener port is resolved
    port = stack.render(props(service, listener)["Port"])

    # THEN it is the port the scheme gives index 1, on the shared load balancer
    assert port == service["Mappings"]["ListenerPorts"]["1"][port_key]
    assert props(service, listener)["LoadBalancerArn"] == ref("LoadBalancerArn")


@pytest.mark.parametrize("listener", ["StagingListener", "ProductionListener"])
def test_production_traffic_listener_speaks_modern_tls_when_a_certificate_is_given(
    service: dict[str, Any], listener: str
) -> None:
    # GIVEN a certificate
    arn = "arn:aws:acm:eu-west-1:123456789012:certificate/abc"
    stack = renderer(service, CertificateArn=arn)

    # WHEN the listener is resolved
    resolved = stack.render(props(service, listener))

    # THEN it is HTTPS with the TLS 1.2/1.3 policy and that certificate
    assert resolved["Protocol"] == "HTTPS"
    assert resolved["SslPolicy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    assert resolved["Certificates"] == [{"CertificateArn": arn}]


@pytest.mark.parametrize("listener", ["StagingListener", "ProductionListener"])
def test_production_traffic_listener_is_plain_http_without_a_certificate(
    service: dict[str, Any], listener: str
) -> None:
    # WHEN the listener is resolved with the default (empty) certificate
    resolved = renderer(service).render(props(service, listener))

    # THEN it is HTTP with neither policy nor certificate
    assert resolved["Protocol"] == "HTTP"
    assert "SslPolicy" not in resolved
    assert "Certificates" not in resolved


@pytest.mark.parametrize("listener", ["StagingTestListener", "ProductionTestListener"])
def test_test_listener_stays_http_even_with_a_certificate(
    service: dict[str, Any], listener: str
) -> None:
    # GIVEN a certificate
    stack = renderer(service, CertificateArn="arn:aws:acm:eu-west-1:1:certificate/x")

    # THEN the hooks still reach the test listener over HTTP
    assert stack.render(props(service, listener))["Protocol"] == "HTTP"


# ------------------------------------------------------------------ repository
def test_repository_is_named_scanned_encrypted_and_emptied_on_delete(
    service: dict[str, Any],
) -> None:
    # GIVEN the repository
    repository = props(service, "Repository")

    # THEN it follows the contract and can be deleted with the stack
    assert renderer(service).render(repository["RepositoryName"]) == f"{SERVICE}-{SUFFIX}"
    assert repository["ImageScanningConfiguration"] == {"ScanOnPush": True}
    assert repository["EmptyOnDelete"] is True
    assert repository["EncryptionConfiguration"]["EncryptionType"] in {"AES256", "KMS"}


@pytest.mark.parametrize(
    ("mutability", "expected"), [("MUTABLE", "MUTABLE"), ("IMMUTABLE", "IMMUTABLE_WITH_EXCLUSION")]
)
def test_tag_mutability_follows_the_parameter(
    service: dict[str, Any], mutability: str, expected: str
) -> None:
    # WHEN the repository is resolved for each parameter value
    repository = renderer(service, EcrTagMutability=mutability).render(props(service, "Repository"))

    # THEN the setting follows it
    assert repository["ImageTagMutability"] == expected


def test_immutable_tags_still_let_the_build_cache_tag_be_rewritten(service: dict[str, Any]) -> None:
    # GIVEN immutable tags
    repository = renderer(service, EcrTagMutability="IMMUTABLE").render(
        props(service, "Repository")
    )

    # WHEN the build pushes its registry cache again
    patterns = [
        item["ImageTagMutabilityExclusionFilterValue"]
        for item in repository["ImageTagMutabilityExclusionFilters"]
    ]

    # THEN the cache tag is excluded from immutability, and a commit-hash tag is not
    assert any(fnmatch.fnmatch("buildcache", pattern) for pattern in patterns)
    assert not any(fnmatch.fnmatch("3f9c2ab", pattern) for pattern in patterns)


def lifecycle_rules(service: dict[str, Any]) -> list[dict[str, Any]]:
    text = props(service, "Repository")["LifecyclePolicy"]["LifecyclePolicyText"]
    rules: list[dict[str, Any]] = sorted(json.loads(text)["rules"], key=lambda r: r["rulePriority"])
    return rules


def first_rule_selecting(rules: list[dict[str, Any]], tag: str | None) -> dict[str, Any]:
    """ECR's rule order: the first rule whose tag selection matches an image decides for it."""
    for rule in rules:
        selection = rule["selection"]
        if tag is None and selection["tagStatus"] in {"untagged", "any"}:
            return rule
        patterns = selection.get("tagPatternList", ["*"])
        tagged = tag is not None and selection["tagStatus"] in {"tagged", "any"}
        if tagged and any(fnmatch.fnmatch(str(tag), pattern) for pattern in patterns):
            return rule
    raise AssertionError(f"no lifecycle rule selects {tag!r}")


@pytest.mark.parametrize("environment", ["staging", "production"])
def test_lifecycle_never_expires_the_newest_known_good_images(
    service: dict[str, Any], environment: str
) -> None:
    # GIVEN an image the health check tagged when the environment passed
    rules = lifecycle_rules(service)
    known_good = first_rule_selecting(rules, f"known-good-{environment}-20261130120000")
    # THEN a rule of its own decides for it, ahead of "keep the 30 newest", and it keeps several
    assert known_good is not first_rule_selecting(rules, "3f9c2ab")
    assert known_good["selection"]["countType"] == "imageCountMoreThan"
    assert known_good["selection"]["countNumber"] >= 5


def test_lifecycle_expires_untagged_images_after_7_days(service: dict[str, Any]) -> None:
    # WHEN an untagged image is evaluated
    rule = first_rule_selecting(lifecycle_rules(service), None)

    # THEN it expires 7 days after its push
    assert rule["selection"]["countType"] == "sinceImagePushed"
    assert (rule["selection"]["countUnit"], rule["selection"]["countNumber"]) == ("days", 7)
    assert rule["action"] == {"type": "expire"}


def test_lifecycle_keeps_a_bounded_number_of_release_images(service: dict[str, Any]) -> None:
    # WHEN a commit-hash tagged image is evaluated
    rule = first_rule_selecting(lifecycle_rules(service), "3f9c2ab")

    # THEN only the newest few dozen are kept
    assert rule["selection"]["countType"] == "imageCountMoreThan"
    assert 10 <= rule["selection"]["countNumber"] <= 50


def test_lifecycle_never_counts_the_build_cache_among_release_images(
    service: dict[str, Any],
) -> None:
    # GIVEN the release-image rule
    rules = lifecycle_rules(service)
    release_rule = first_rule_selecting(rules, "3f9c2ab")

    # WHEN the registry build cache image is evaluated
    cache_rule = first_rule_selecting(rules, "buildcache")

    # THEN a rule of its own decides, one that always keeps the newest cache image
    assert cache_rule is not release_rule
    assert cache_rule["selection"]["countType"] == "imageCountMoreThan"
    assert cache_rule["selection"]["countNumber"] >= 1


# ------------------------------------------------------------------ configuration and logs
@pytest.mark.parametrize(
    ("environment", "log_level"), [("Staging", "DEBUG"), ("Production", "INFO")]
)
def test_ssm_configuration_is_the_contract_json(
    service: dict[str, Any], environment: str, log_level: str
) -> None:
    # GIVEN auth-service with a JWKS parameter and two smoke paths
    jwks = f"/pipeline/{environment.lower()}/auth-service/jwks"
    stack = renderer(
        service,
        SmokePaths="/health,/.well-known/jwks.json",
        **{f"{environment}ExtraConfig": f'"jwks_parameter": "{jwks}"'},
    )

    # WHEN the parameter is resolved
    parameter = stack.render(props(service, f"{environment}Config"))

    # THEN it is /pipeline/{environment}/{service}/config holding the contract's JSON
    assert parameter["Name"] == f"/pipeline/{environment.lower()}/{SERVICE}/config"
    assert parameter["Type"] == "String"
    assert json.loads(parameter["Value"]) == {
        "environment": environment.lower(),
        "service": SERVICE,
        "log_level": log_level,
        "smoke_paths": ["/health", "/.well-known/jwks.json"],
        "jwks_parameter": jwks,
    }


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_ssm_configuration_without_extra_keys_is_valid_json(
    service: dict[str, Any], environment: str
) -> None:
    # WHEN the parameter is resolved with every default
    value = renderer(service).render(props(service, f"{environment}Config")["Value"])

    # THEN it parses and lists /health as the smoke path
    assert json.loads(value)["smoke_paths"] == ["/health"]
    assert set(json.loads(value)) == {"environment", "service", "log_level", "smoke_paths"}


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_log_group_is_per_environment_with_14_day_retention(
    service: dict[str, Any], environment: str
) -> None:
    # WHEN the log group is resolved
    group = renderer(service).render(props(service, f"{environment}LogGroup"))

    # THEN it has the contract's name and retention
    assert group["LogGroupName"] == f"/ecs/{environment.lower()}/{SERVICE}-{SUFFIX}"
    assert group["RetentionInDays"] == 14


# ------------------------------------------------------------------ task definitions
@pytest.mark.parametrize(
    ("environment", "cpu", "memory"), [("Staging", "256", "512"), ("Production", "512", "1024")]
)
def test_task_definition_size_and_family_per_environment(
    service: dict[str, Any], environment: str, cpu: str, memory: str
) -> None:
    # WHEN the task definition is resolved
    task = renderer(service).render(props(service, f"{environment}TaskDefinition"))

    # THEN it is a Fargate awsvpc task of the environment's size and family
    assert (task["Cpu"], task["Memory"]) == (cpu, memory)
    assert task["Family"] == f"{SERVICE}-{environment.lower()}-{SUFFIX}"
    assert task["RequiresCompatibilities"] == ["FARGATE"]
    assert task["NetworkMode"] == "awsvpc"
    # The bootstrap image and CodeBuild's standard image are x86_64.
    assert task["RuntimePlatform"]["CpuArchitecture"] == "X86_64"


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_container_gets_its_name_port_environment_and_configuration(
    service: dict[str, Any], environment: str
) -> None:
    # WHEN the container is resolved
    stack = renderer(service)
    (container,) = stack.render(props(service, f"{environment}TaskDefinition"))[
        "ContainerDefinitions"
    ]

    # THEN it follows the contract: name, port 8080, identity, SERVICE_CONFIG from SSM
    config_arn = (
        f"arn:aws:ssm:eu-west-1:123456789012:parameter/pipeline/{environment.lower()}/"
        f"{SERVICE}/config"
    )
    assert container["Name"] == SERVICE
    assert container["PortMappings"] == [{"ContainerPort": 8080, "Protocol": "tcp"}]
    assert {item["Name"]: item["Value"] for item in container["Environment"]} == {
        "SERVICE_NAME": SERVICE,
        "PORT": "8080",
        "SERVICE_VERSION": "bootstrap",
        "GIT_COMMIT": "unknown",
    }
    assert container["Secrets"] == [{"Name": "SERVICE_CONFIG", "ValueFrom": config_arn}]


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_container_gets_service_secret_only_when_one_is_given(
    service: dict[str, Any], environment: str
) -> None:
    # GIVEN a service secret
    # GIVEN one secret per environment
    secrets = {
        name: f"arn:aws:secretsmanager:eu-west-1:123456789012:secret:auth-{name.lower()}-AbCdEf"
        for name in ENVIRONMENTS
    }
    stack = renderer(
        service,
        **{f"{name}ServiceSecretArn": arn for name, arn in secrets.items()},
    )

    # WHEN the container is resolved
    (container,) = stack.render(props(service, f"{environment}TaskDefinition"))[
        "ContainerDefinitions"
    ]

    # THEN SERVICE_SECRET comes from its own environment's secret, next to SERVICE_CONFIG
    assert {"Name": "SERVICE_SECRET", "ValueFrom": secrets[environment]} in container["Secrets"]
    assert [item["Name"] for item in container["Secrets"]] == ["SERVICE_CONFIG", "SERVICE_SECRET"]


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_container_logs_to_its_environment_log_group_and_stops_before_the_drain_ends(
    service: dict[str, Any], environment: str
) -> None:
    # GIVEN the container and the environment's target group
    (container,) = props(service, f"{environment}TaskDefinition")["ContainerDefinitions"]
    attributes = props(service, f"{environment}BlueTargetGroup")["TargetGroupAttributes"]
    drain = int(
        next(a["Value"] for a in attributes if a["Key"] == "deregistration_delay.timeout_seconds")
    )

    # THEN logs go to the environment's group and a stop is shorter than the drain
    options = container["LogConfiguration"]["Options"]
    assert container["LogConfiguration"]["LogDriver"] == "awslogs"
    assert options["awslogs-group"] == ref(f"{environment}LogGroup")
    assert container["StopTimeout"] <= drain


# ------------------------------------------------------------------ IAM
def execution_statements(
    stack: Renderer, service: dict[str, Any], environment: str
) -> list[dict[str, Any]]:
    """An environment's execution role's statements: its own and those of what it attaches."""
    role = stack.render(props(service, f"{environment}ExecutionRole"))
    statements: list[dict[str, Any]] = list(role["Policies"][0]["PolicyDocument"]["Statement"])
    for attached in props(service, f"{environment}ExecutionRole")["ManagedPolicyArns"]:
        policy = stack.render(props(service, attached["Ref"]))
        statements += policy["PolicyDocument"]["Statement"]
    return statements


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_execution_role_reads_only_its_environments_configuration_and_logs(
    service: dict[str, Any], environment: str
) -> None:
    # WHEN the environment's execution role is resolved
    statements = execution_statements(renderer(service), service, environment)

    # THEN ssm:GetParameters is granted on that environment's configuration only, and the
    # logs on that environment's log group only
    (ssm,) = [s for s in statements if s["Action"] == "ssm:GetParameters"]
    prefix = "arn:aws:ssm:eu-west-1:123456789012:parameter/pipeline"
    assert ssm["Resource"] == f"{prefix}/{environment.lower()}/{SERVICE}/config"
    (logs,) = [s for s in statements if "logs:PutLogEvents" in s["Action"]]
    assert logs["Resource"] == f"<{environment}LogGroup.Arn>"


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_execution_role_reads_the_secret_of_its_own_environment_only(
    service: dict[str, Any], environment: str
) -> None:
    # GIVEN a secret for each environment
    secrets = {
        name: f"arn:aws:secretsmanager:eu-west-1:123456789012:secret:auth-{name.lower()}-AbCdEf"
        for name in ENVIRONMENTS
    }
    stack = renderer(service, **{f"{name}ServiceSecretArn": arn for name, arn in secrets.items()})

    # WHEN the environment's execution role is resolved
    statements = execution_statements(stack, service, environment)

    # THEN secretsmanager:GetSecretValue is granted on that environment's secret only
    grants = [s for s in statements if s["Action"] == "secretsmanager:GetSecretValue"]
    assert grants == [
        {
            "Effect": "Allow",
            "Action": "secretsmanager:GetSecretValue",
            "Resource": secrets[environment],
        }
    ]


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_execution_role_reads_no_secret_without_one(
    service: dict[str, Any], environment: str
) -> None:
    # WHEN the role is resolved with the default (no secret)
    statements = execution_statements(renderer(service), service, environment)

    # THEN no statement mentions Secrets Manager
    assert not [s for s in statements if "secretsmanager" in str(s["Action"])]


def test_execution_roles_may_pull_the_bootstrap_image_through_its_cache_rule(
    service: dict[str, Any],
) -> None:
    # GIVEN the bootstrap image as the root stack passes it
    stack = renderer(service, BootstrapImage=BOOTSTRAP_IMAGE)

    # THEN the first pull may create and import into the cache rule's repositories only
    for environment in ENVIRONMENTS:
        statements = execution_statements(stack, service, environment)
        (cache,) = [s for s in statements if "ecr:BatchImportUpstreamImage" in s["Action"]]
        assert cache["Resource"] == "arn:aws:ecr:eu-west-1:123456789012:repository/bootstrap-dev/*"


@pytest.mark.parametrize("environment", ENVIRONMENTS)
@pytest.mark.parametrize(("policy", "attached"), [("", False), ("arn:aws:iam::1:policy/p", True)])
def test_task_role_carries_its_environments_policy_when_given(
    service: dict[str, Any], environment: str, policy: str, attached: bool
) -> None:
    # WHEN the environment's task role is resolved with a policy for that environment
    role = renderer(service, **{f"{environment}TaskPolicyArn": policy}).render(
        props(service, f"{environment}TaskRole")
    )

    # THEN the managed policy is attached only when the root stack passes one
    assert role.get("ManagedPolicyArns") == ([policy] if attached else None)


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_task_role_never_carries_the_other_environments_policy(
    service: dict[str, Any], environment: str
) -> None:
    # GIVEN a distinct task policy for each environment
    policies = {name: f"arn:aws:iam::123456789012:policy/{name.lower()}" for name in ENVIRONMENTS}
    stack = renderer(service, **{f"{name}TaskPolicyArn": arn for name, arn in policies.items()})

    # WHEN the environment's task role is resolved
    role = stack.render(props(service, f"{environment}TaskRole"))

    # THEN it carries its own environment's policy and nothing else
    assert role["ManagedPolicyArns"] == [policies[environment]]


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_task_definition_runs_with_its_own_environments_roles(
    service: dict[str, Any], environment: str
) -> None:
    # GIVEN the environment's task definition
    task = props(service, f"{environment}TaskDefinition")

    # THEN its task and execution roles are that environment's, never shared
    assert task["TaskRoleArn"] == get_att(f"{environment}TaskRole", "Arn")
    assert task["ExecutionRoleArn"] == get_att(f"{environment}ExecutionRole", "Arn")


def names_in(node: Any) -> set[str]:
    """Logical ids and parameters a piece of template names through Ref, GetAtt or Fn::Sub."""
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                found.add(value)
            elif key == "Fn::GetAtt":
                found.add(value[0])
            elif key == "Fn::Sub":
                text = value if isinstance(value, str) else value[0]
                found |= {name.split(".")[0] for name in re.findall(r"\$\{([^}!]+)\}", text)}
            elif key == "Fn::If":
                found.add(f"condition:{value[0]}")
            found |= names_in(value)
    elif isinstance(node, list):
        for item in node:
            found |= names_in(item)
    return found


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_an_environments_roles_never_name_the_other_environment(
    service: dict[str, Any], environment: str
) -> None:
    # GIVEN the environment's execution and task roles, written and resolved
    (other,) = set(ENVIRONMENTS) - {environment}
    stack = renderer(service)
    for role in (f"{environment}ExecutionRole", f"{environment}TaskRole"):
        written = service["Resources"][role]
        resolved = json.dumps(stack.render(props(service, role)))

        # THEN no parameter, condition or resource of the other environment is named, and no
        # resolved ARN points into the other environment's paths
        assert not [name for name in names_in(written) if other in name], role
        assert f"/{other.lower()}/" not in resolved, role


def test_the_shared_pull_policy_grants_only_image_pulls(service: dict[str, Any]) -> None:
    # GIVEN the one policy both environments' execution roles share
    statements = props(service, "ImagePullPolicy")["PolicyDocument"]["Statement"]

    # THEN it grants ECR reads only: no configuration, secret or log of either environment
    actions = {
        action
        for s in statements
        for action in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
    }
    assert {action.split(":")[0] for action in actions} == {"ecr"}
    assert not [name for name in names_in(statements) if name.startswith(ENVIRONMENTS)]


# ------------------------------------------------------------------ ECS services
@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_ecs_service_is_fargate_code_deploy_on_the_blue_target_group(
    service: dict[str, Any], environment: str
) -> None:
    # GIVEN the environment's ECS service
    ecs_service = props(service, f"{environment}Service")
    stack = renderer(service)

    # THEN it follows the contract and starts on the blue target group
    assert stack.render(ecs_service["ServiceName"]) == f"{SERVICE}-{SUFFIX}"
    assert ecs_service["Cluster"] == ref(f"{environment}ClusterName")
    assert ecs_service["LaunchType"] == "FARGATE"
    assert ecs_service["DeploymentController"] == {"Type": "CODE_DEPLOY"}
    # created empty: Application Auto Scaling sets the count (test_drift_safety.py says why)
    assert ecs_service["DesiredCount"] == 0
    assert ecs_service["LoadBalancers"] == [
        {
            "TargetGroupArn": ref(f"{environment}BlueTargetGroup"),
            "ContainerName": ref("ServiceName"),
            "ContainerPort": 8080,
        }
    ]
    assert ecs_service["PropagateTags"] == "SERVICE"
    assert ecs_service["EnableExecuteCommand"] is False


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_ecs_service_runs_in_the_network_stacks_subnets(
    service: dict[str, Any], environment: str
) -> None:
    # GIVEN the service's awsvpc configuration
    network = props(service, f"{environment}Service")["NetworkConfiguration"]

    # THEN subnets, security group and public IPs come from the egress mode
    assert network["AwsvpcConfiguration"] == {
        "Subnets": ref("TaskSubnetIds"),
        "SecurityGroups": [ref("TaskSecurityGroupId")],
        "AssignPublicIp": ref("TaskAssignPublicIp"),
    }


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_health_check_grace_period_covers_start_up_and_the_health_checks(
    service: dict[str, Any], environment: str
) -> None:
    # GIVEN the grace period and the time the health checks need to pass
    grace = props(service, f"{environment}Service")["HealthCheckGracePeriodSeconds"]
    group = props(service, f"{environment}BlueTargetGroup")
    checks = group["HealthCheckIntervalSeconds"] * group["HealthyThresholdCount"]

    # THEN a task that starts within 10 s is never replaced for failing checks it cannot pass yet,
    # and a broken one is replaced within a minute
    assert checks + 10 <= grace <= 60


def scalable_target_of(service: dict[str, Any], environment: str) -> dict[str, Any]:
    """The scalable target whose ResourceId names the environment's ECS service."""
    (target,) = [
        resource["Properties"]
        for resource in resources_of_type(
            service, "AWS::ApplicationAutoScaling::ScalableTarget"
        ).values()
        if f"{environment}Service.Name" in resource["Properties"]["ResourceId"]["Fn::Sub"]
    ]
    return target


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_application_auto_scaling_owns_each_services_task_count(
    service: dict[str, Any], environment: str
) -> None:
    # GIVEN the environment's scalable target, resolved
    target = scalable_target_of(service, environment)
    stack = renderer(service, **{f"{environment}ClusterName": f"{environment.lower()}-c"})
    stack.attributes[f"{environment}Service.Name"] = f"{SERVICE}-{SUFFIX}"

    # THEN it scales the environment's service's desired count
    assert (
        stack.render(target["ResourceId"]) == f"service/{environment.lower()}-c/{SERVICE}-{SUFFIX}"
    )
    assert (target["ServiceNamespace"], target["ScalableDimension"]) == (
        "ecs",
        "ecs:service:DesiredCount",
    )


@pytest.mark.parametrize(("desired", "staging", "production"), [(1, 1, 2), (2, 2, 2), (4, 4, 4)])
def test_desired_count_is_the_floor_and_production_never_runs_fewer_than_two(
    service: dict[str, Any], desired: int, staging: int, production: int
) -> None:
    # WHEN DesiredCount is set
    stack = renderer(service, DesiredCount=desired, ProductionMaxCount=6)
    staging_target = stack.render(scalable_target_of(service, "Staging"))
    production_target = stack.render(scalable_target_of(service, "Production"))

    # THEN staging runs exactly that many tasks; production at least that many and at least 2,
    # up to ProductionMaxCount
    assert (staging_target["MinCapacity"], staging_target["MaxCapacity"]) == (staging, staging)
    assert (production_target["MinCapacity"], production_target["MaxCapacity"]) == (production, 6)


def test_only_production_scales_with_target_tracking(service: dict[str, Any]) -> None:
    # GIVEN every scaling policy
    policies = resources_of_type(service, "AWS::ApplicationAutoScaling::ScalingPolicy")

    # THEN there is one, on the production target, tracking CPU
    (policy,) = policies.values()
    targets = resources_of_type(service, "AWS::ApplicationAutoScaling::ScalableTarget")
    production = [
        logical_id
        for logical_id, resource in targets.items()
        if resource["Properties"] is scalable_target_of(service, "Production")
    ]
    assert policy["Properties"]["ScalingTargetId"] == {"Ref": production[0]}
    tracking = policy["Properties"]["TargetTrackingScalingPolicyConfiguration"]
    assert policy["Properties"]["PolicyType"] == "TargetTrackingScaling"
    assert tracking["PredefinedMetricSpecification"]["PredefinedMetricType"] == (
        "ECSServiceAverageCPUUtilization"
    )
    assert tracking["TargetValue"] == 60


# ------------------------------------------------------------------ CodeDeploy
@pytest.mark.parametrize(
    ("environment", "default_shift"),
    [
        ("Staging", "CodeDeployDefault.ECSAllAtOnce"),
        ("Production", "CodeDeployDefault.ECSCanary10Percent5Minutes"),
    ],
)
def test_deployment_group_shifts_traffic_per_environment_parameter(
    service: dict[str, Any], environment: str, default_shift: str
) -> None:
    # GIVEN the deployment group
    group = props(service, f"{environment}DeploymentGroup")

    # WHEN it is resolved with the defaults
    resolved = renderer(service).render(
        {key: value for key, value in group.items() if key != "AlarmConfiguration"}
        | {"ECSServices": [], "LoadBalancerInfo": {}}
    )

    # THEN it is {environment}-{service}, blue/green with the environment's default shift
    assert resolved["DeploymentGroupName"] == f"{environment.lower()}-{SERVICE}"
    assert resolved["DeploymentConfigName"] == default_shift
    assert group["ApplicationName"] == ref("CodeDeployApplicationName")
    assert group["ServiceRoleArn"] == ref("CodeDeployServiceRoleArn")
    assert group["DeploymentStyle"] == {
        "DeploymentType": "BLUE_GREEN",
        "DeploymentOption": "WITH_TRAFFIC_CONTROL",
    }
    blue_green = group["BlueGreenDeploymentConfiguration"]
    assert blue_green["DeploymentReadyOption"]["ActionOnTimeout"] == "CONTINUE_DEPLOYMENT"
    assert blue_green["TerminateBlueInstancesOnDeploymentSuccess"] == {
        "Action": "TERMINATE",
        # Production's covers the health check's bake beside its deployments.
        "TerminationWaitTimeInMinutes": ref(
            "ProductionBlueTerminationWaitMinutes"
            if environment == "Production"
            else "BlueTerminationWaitMinutes"
        ),
    }


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_deployment_group_pairs_its_environments_target_groups_and_listeners(
    service: dict[str, Any], environment: str
) -> None:
    # GIVEN the deployment group
    group = props(service, f"{environment}DeploymentGroup")

    # THEN it shifts between this environment's groups on its production and test listeners
    (pair,) = group["LoadBalancerInfo"]["TargetGroupPairInfoList"]
    assert pair["TargetGroups"] == [
        {"Name": get_att(f"{environment}BlueTargetGroup", "TargetGroupName")},
        {"Name": get_att(f"{environment}GreenTargetGroup", "TargetGroupName")},
    ]
    assert pair["ProdTrafficRoute"] == {"ListenerArns": [ref(f"{environment}Listener")]}
    assert pair["TestTrafficRoute"] == {"ListenerArns": [ref(f"{environment}TestListener")]}
    assert group["ECSServices"] == [
        {
            "ClusterName": ref(f"{environment}ClusterName"),
            "ServiceName": get_att(f"{environment}Service", "Name"),
        }
    ]


# Metrics that read 0, or fail, whenever an environment has nothing to serve: tasks that cannot
# start (the bootstrap image on a new stack in VpcEndpoints mode), or no registered target, for
# which the load balancer itself answers 503.
METRICS_OF_AN_EMPTY_ENVIRONMENT = {"RunningTaskCount", "HealthyHostCount", "SyntheticSuccess"}


def metric_names(alarm: dict[str, Any]) -> set[str]:
    """Every MetricName an alarm reads, directly or through metric math."""
    names = {alarm["MetricName"]} if "MetricName" in alarm else set()
    for query in alarm.get("Metrics", []):
        metric = query.get("MetricStat", {}).get("Metric", {})
        if "MetricName" in metric:
            names.add(metric["MetricName"])
    return names


_BREACHES = {
    "GreaterThanThreshold": lambda value, threshold: value > threshold,
    "GreaterThanOrEqualToThreshold": lambda value, threshold: value >= threshold,
    "LessThanThreshold": lambda value, threshold: value < threshold,
    "LessThanOrEqualToThreshold": lambda value, threshold: value <= threshold,
}


def stands_in_alarm_while_nothing_runs(alarm: dict[str, Any]) -> bool:
    """An alarm on a metric of an empty environment does, unless it is metric math whose
    returned value, with those metrics at 0 and every other metric without data, does not
    breach (the synthetic-replacement alarm: both routes fail alike while nothing runs)."""
    if not metric_names(alarm) & METRICS_OF_AN_EMPTY_ENVIRONMENT:
        return False
    if "Metrics" not in alarm:
        return True
    values: dict[str, float | None] = {}
    for query in alarm["Metrics"]:
        if "MetricStat" in query:
            name = query["MetricStat"]["Metric"]["MetricName"]
            values[query["Id"]] = 0.0 if name in METRICS_OF_AN_EMPTY_ENVIRONMENT else None
    (returned,) = [q for q in alarm["Metrics"] if q.get("ReturnData", True)]
    value = evaluate(returned["Expression"], values, present=True)
    if value is None:
        return alarm.get("TreatMissingData") == "breaching"
    return _BREACHES[alarm["ComparisonOperator"]](value, float(alarm["Threshold"]))


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_deployment_group_rolls_back_on_failure_and_on_alarms_about_what_the_release_answers(
    service: dict[str, Any], environment: str
) -> None:
    # GIVEN the deployment group and the environment's alarms, split by whether they stand in
    # ALARM while nothing runs
    group = props(service, f"{environment}DeploymentGroup")
    alarms = {
        logical_id: props(service, logical_id)
        for logical_id in resources_of_type(service, "AWS::CloudWatch::Alarm")
        if logical_id.startswith(environment)
    }
    about_the_release = {
        logical_id
        for logical_id, alarm in alarms.items()
        if not stands_in_alarm_while_nothing_runs(alarm)
    }

    # THEN both rollback events are on, and CodeDeploy watches exactly the alarms on what a
    # running release answers: CodeDeploy stops a deployment when a listed alarm is in ALARM at
    # its first poll, so an alarm standing in ALARM while nothing runs would stop the release
    # that makes the environment run (rehearsed: scenarios/first-release.yaml)
    assert group["AutoRollbackConfiguration"] == {
        "Enabled": True,
        "Events": ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"],
    }
    assert group["AlarmConfiguration"]["Enabled"] is True
    listed = {item["Name"]["Ref"] for item in group["AlarmConfiguration"]["Alarms"]}
    assert listed == about_the_release
    assert {f"{environment}ErrorRateAlarm", f"{environment}LatencyAlarm"} <= listed
    assert len(alarms) == len(CHECKS_OF[environment])


# ------------------------------------------------------------------ alarms
def alarms_of(service: dict[str, Any], environment: str) -> dict[str, dict[str, Any]]:
    stack = renderer(service)
    return {
        stack.render(alarm["Properties"]["AlarmName"]): alarm["Properties"]
        for logical_id, alarm in resources_of_type(service, "AWS::CloudWatch::Alarm").items()
        if logical_id.startswith(environment)
    }


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_alarm_names_share_the_environment_prefix(
    service: dict[str, Any], environment: str
) -> None:
    # WHEN the environment's alarm names are resolved
    names = set(alarms_of(service, environment))

    # THEN they are {suffix}-{environment}-{service}-{check}
    assert names == {
        f"{SUFFIX}-{environment.lower()}-{SERVICE}-{check}" for check in CHECKS_OF[environment]
    }


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_every_alarm_notifies_the_topic_on_alarm_and_on_recovery(
    service: dict[str, Any], environment: str
) -> None:
    for alarm in alarms_of(service, environment).values():
        assert alarm["AlarmActions"] == [ref("NotificationTopicArn")]
        assert alarm["OKActions"] == [ref("NotificationTopicArn")]


@pytest.mark.parametrize(
    ("check", "missing_data"),
    [("running-tasks", "breaching"), ("healthy-hosts", "breaching"), ("5xx-rate", "notBreaching")],
)
@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_missing_data_never_makes_a_dead_service_look_healthy(
    service: dict[str, Any], environment: str, check: str, missing_data: str
) -> None:
    # GIVEN the alarm of one check
    alarm = alarms_of(service, environment)[f"{SUFFIX}-{environment.lower()}-{SERVICE}-{check}"]

    # THEN silence counts as failure for the liveness checks; for the error rate it means
    # no traffic, which the liveness checks already cover
    assert alarm["TreatMissingData"] == missing_data


def alarm_period(alarm: dict[str, Any]) -> int:
    if "Period" in alarm:
        return int(alarm["Period"])
    periods = {item["MetricStat"]["Period"] for item in alarm["Metrics"] if "MetricStat" in item}
    (period,) = periods
    return int(period)


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_every_alarm_fires_within_two_minutes(service: dict[str, Any], environment: str) -> None:
    for name, alarm in alarms_of(service, environment).items():
        datapoints = alarm.get("DatapointsToAlarm", alarm["EvaluationPeriods"])
        assert alarm_period(alarm) * datapoints <= MAX_DETECTION_SECONDS, name


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_running_tasks_alarm_reads_container_insights_of_this_service(
    service: dict[str, Any], environment: str
) -> None:
    # GIVEN the running-task alarm
    alarm = alarms_of(service, environment)[
        f"{SUFFIX}-{environment.lower()}-{SERVICE}-running-tasks"
    ]

    # THEN it fires when fewer than one task of this service runs in this cluster
    assert (alarm["Namespace"], alarm["MetricName"]) == (
        "ECS/ContainerInsights",
        "RunningTaskCount",
    )
    assert alarm["Dimensions"] == [
        {"Name": "ClusterName", "Value": ref(f"{environment}ClusterName")},
        {"Name": "ServiceName", "Value": get_att(f"{environment}Service", "Name")},
    ]
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("LessThanThreshold", 1)


@pytest.mark.parametrize("check", ["5xx-rate", "healthy-hosts"])
@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_load_balancer_alarms_watch_both_target_groups(
    service: dict[str, Any], environment: str, check: str
) -> None:
    # GIVEN an alarm on load-balancer metrics
    alarm = alarms_of(service, environment)[f"{SUFFIX}-{environment.lower()}-{SERVICE}-{check}"]

    # WHEN its metrics' target groups are collected
    groups = set()
    for item in alarm["Metrics"]:
        if "MetricStat" in item:
            dimensions = {d["Name"]: d["Value"] for d in item["MetricStat"]["Metric"]["Dimensions"]}
            assert dimensions["LoadBalancer"] == ref("LoadBalancerFullName")
            groups.add(dimensions["TargetGroup"]["Fn::GetAtt"][0])

    # THEN both blue and green count, because live traffic alternates between them
    assert groups == {f"{environment}BlueTargetGroup", f"{environment}GreenTargetGroup"}
    assert [item["Id"] for item in alarm["Metrics"] if item.get("ReturnData")] == [
        alarm["Metrics"][0]["Id"]
    ]


def five_xx_queries(alarm: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """Id -> (metric name, target group logical id) of the alarm's load-balancer metrics."""
    found = {}
    for item in alarm["Metrics"]:
        if "MetricStat" in item:
            metric = item["MetricStat"]["Metric"]
            dimensions = {d["Name"]: d["Value"] for d in metric["Dimensions"]}
            found[item["Id"]] = (metric["MetricName"], dimensions["TargetGroup"]["Fn::GetAtt"][0])
    return found


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_error_rate_alarm_takes_the_worse_of_each_target_groups_own_rate(
    service: dict[str, Any], environment: str
) -> None:
    # GIVEN the error-rate alarm, as the stack renders it
    alarm = alarms_of(service, environment)[f"{SUFFIX}-{environment.lower()}-{SERVICE}-5xx-rate"]
    stack = renderer(service)
    expressions = {
        item["Id"]: stack.render(item["Expression"])
        for item in alarm["Metrics"]
        if "Expression" in item
    }
    floor = service["Parameters"][f"{environment}RequestFloor"]["Default"]

    # THEN each group's 5XX count is divided by that group's own requests, above its own floor,
    # and the worse group decides: blue's and green's added up would dilute a 10 % canary
    queries = five_xx_queries(alarm)
    assert queries == {
        f"{colour}{kind}": (metric, f"{environment}{colour.capitalize()}TargetGroup")
        for colour in ("blue", "green")
        for kind, metric in (("5xx", "HTTPCode_Target_5XX_Count"), ("requests", "RequestCount"))
    }
    for colour in ("blue", "green"):
        assert expressions[f"{colour}rate"] == (
            f"IF(FILL({colour}requests, 0) >= {floor}, "
            f"100 * FILL({colour}5xx, 0) / {colour}requests, 0)"
        )
    assert expressions["rate"] == "MAX([bluerate, greenrate])"
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == (
        "GreaterThanThreshold",
        ref("ErrorRateThresholdPercent"),
    )


def test_canary_alarm_compares_the_smaller_group_with_the_larger_in_production_only(
    service: dict[str, Any],
) -> None:
    # GIVEN the 5xx-canary alarm
    alarm = alarms_of(service, "Production")[f"{SUFFIX}-production-{SERVICE}-5xx-canary"]
    stack = renderer(service)
    expression = stack.render(alarm["Metrics"][0]["Expression"])
    floor = service["Parameters"]["ProductionRequestFloor"]["Default"]

    # THEN while both groups serve at least the floor, the group with fewer requests (the
    # canary, whichever colour it is) is judged against the other, by a margin in points
    assert set(five_xx_queries(alarm).values()) == {
        (metric, f"Production{colour}TargetGroup")
        for colour in ("Blue", "Green")
        for metric in ("HTTPCode_Target_5XX_Count", "RequestCount")
    }
    assert expression == (
        f"IF(MIN([FILL(bluerequests, 0), FILL(greenrequests, 0)]) >= {floor}, "
        "IF(FILL(bluerequests, 0) < FILL(greenrequests, 0), "
        "bluerate - greenrate, greenrate - bluerate), 0)"
    )
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == (
        "GreaterThanThreshold",
        ref("CanaryErrorMarginPercent"),
    )
    assert not any(name.endswith("-5xx-canary") for name in alarms_of(service, "Staging"))


# ------------------------------------------------------------------ outputs
def test_outputs_cover_the_contract(service: dict[str, Any]) -> None:
    # THEN every output docs/contracts.md promises to the root stack exists
    contract = {
        "RepositoryName",
        "RepositoryArn",
        "RepositoryUri",
        "StagingEndpoint",
        "ProductionEndpoint",
        "StagingExecutionRoleArn",
        "StagingTaskRoleArn",
        "ProductionExecutionRoleArn",
        "ProductionTaskRoleArn",
        "StagingServiceName",
        "ProductionServiceName",
    }
    assert contract <= set(service["Outputs"])


@pytest.mark.parametrize(
    ("certificate", "scheme"), [("", "http"), ("arn:aws:acm:eu-west-1:1:certificate/x", "https")]
)
def test_endpoints_are_load_balancer_dns_plus_port(
    service: dict[str, Any], certificate: str, scheme: str
) -> None:
    # GIVEN auth-service behind a load balancer
    dns = "pipeline-dev-123.eu-west-1.elb.amazonaws.com"
    stack = renderer(service, CertificateArn=certificate, LoadBalancerDnsName=dns)

    # WHEN the endpoints are resolved
    staging = stack.render(service["Outputs"]["StagingEndpoint"]["Value"])
    production = stack.render(service["Outputs"]["ProductionEndpoint"]["Value"])

    # THEN they are scheme://dns:port on the service's ports
    assert (staging, production) == (f"{scheme}://{dns}:8181", f"{scheme}://{dns}:8081")


@pytest.mark.parametrize("environment", ENVIRONMENTS)
@pytest.mark.parametrize(
    ("live", "replacement", "fires"),
    [
        (1.0, 0.0, True),  # green's flow broke, blue's works: the canary to stop
        (None, 0.0, True),  # blue has no verdict (bootstrap image): green is still judged
        (0.0, 0.0, False),  # both fail alike: nothing registered, or an outage of both
        (1.0, 1.0, False),
        (1.0, None, False),  # no replacement verdict this minute
        (0.0, 1.0, False),  # blue broke, green fine: synthetic-flow's business, not a stop
    ],
)
def test_the_replacement_alarm_fires_when_green_fails_where_the_live_route_does_not(
    service: dict[str, Any],
    environment: str,
    live: float | None,
    replacement: float | None,
    fires: bool,
) -> None:
    # GIVEN one minute's SyntheticSuccess of each route
    alarm = props(service, f"{environment}SyntheticReplacementAlarm")
    routes = {
        query["Id"]: {d["Name"]: d["Value"] for d in query["MetricStat"]["Metric"]["Dimensions"]}
        for query in alarm["Metrics"]
        if "MetricStat" in query
    }
    assert {dims["Route"] for dims in routes.values()} == {"live", "replacement"}
    values = {
        query_id: live if dims["Route"] == "live" else replacement
        for query_id, dims in routes.items()
    }
    (returned,) = [q for q in alarm["Metrics"] if q.get("ReturnData", True)]

    # WHEN the alarm's expression is evaluated
    value = evaluate(
        returned["Expression"], values, present=any(v is not None for v in values.values())
    )

    # THEN it breaches exactly when the replacement failed and the live route did not
    breaching = value is not None and _BREACHES[alarm["ComparisonOperator"]](
        value, float(alarm["Threshold"])
    )
    assert breaching is fires
    assert alarm["TreatMissingData"] == "notBreaching"
