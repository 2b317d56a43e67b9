"""Encryption at rest and in transit, asserted over every template (tests/security/templates.py).

Promises already asserted elsewhere, not repeated here:
- artifacts bucket SSE-KMS with the optional customer key: tests/template/test_delivery.py::
  test_artifacts_bucket_is_kms_encrypted_with_the_optional_customer_key, and TLS-only:
  ::test_artifacts_bucket_policy_denies_requests_without_tls (the generic test below covers any
  future bucket too);
- ECR scan on push: tests/template/test_service_stack.py::
  test_repository_is_named_scanned_encrypted_and_emptied_on_delete;
- ALB drops invalid headers: tests/template/test_network.py::
  test_load_balancer_is_internet_facing_and_drops_invalid_headers; HTTPS with TLS 1.2/1.3 and
  the port-80 redirect with a certificate: ::test_certificate_turns_on_https_with_a_modern_policy_
  and_redirects_http, and the service listeners: tests/template/test_service_stack.py::
  test_production_traffic_listener_speaks_modern_tls_when_a_certificate_is_given.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.security.templates import (
    NESTED,
    ROOT,
    TRANSFORMED_ROOT,
    all_templates,
    as_list,
    statements_of,
)
from tests.support import resources_of_type
from tools.cfn_render import Renderer

KEY_ARN = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
CERTIFICATE_ARN = "arn:aws:acm:eu-west-1:123456789012:certificate/abc"
WRITTEN = (ROOT, *NESTED)  # the templates as written (Renderer resolves their intrinsics)
TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"


def template(name: str) -> dict[str, Any]:
    return all_templates()[name]


def every_resource_of_type(resource_type: str) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (name, logical_id, resource)
        for name in WRITTEN
        for logical_id, resource in resources_of_type(template(name), resource_type).items()
    ]


# ---------------------------------------------------------------- log groups


def test_every_template_with_a_log_group_takes_the_kms_key_parameter() -> None:
    with_logs = {name for name, _, _ in every_resource_of_type("AWS::Logs::LogGroup")}
    assert with_logs == {ROOT, "pipeline/service.yaml", "pipeline/delivery.yaml"}
    for name in with_logs:
        assert template(name)["Parameters"]["KmsKeyArn"]["Default"] == "", name


@pytest.mark.parametrize("key", [KEY_ARN, ""], ids=["customer-key", "no-key"])
def test_every_log_group_uses_the_customer_key_exactly_when_one_is_given(key: str) -> None:
    # GIVEN every log group of every template, resolved with and without KmsKeyArn
    groups = every_resource_of_type("AWS::Logs::LogGroup")
    # 6 functions (the synthetic client one per environment), the service's 2 (one template,
    # both environments), 6 build projects
    assert len(groups) == 14
    for name, logical_id, group in groups:
        properties = Renderer(template(name), {"KmsKeyArn": key}).render(group["Properties"])
        # THEN the key is used when given; otherwise CloudWatch Logs' own encryption applies
        assert properties.get("KmsKeyId") == (key or None), f"{name}: {logical_id}"


def test_the_root_passes_its_key_to_every_nested_stack_that_takes_one() -> None:
    root = template(ROOT)
    nested_parameters = {
        name.removeprefix("pipeline/"): template(name)["Parameters"] for name in NESTED
    }
    stacks = resources_of_type(root, "AWS::CloudFormation::Stack")
    checked = 0
    for logical_id, stack in stacks.items():
        nested = stack["Properties"]["TemplateURL"].removeprefix("pipeline/")
        if "KmsKeyArn" in nested_parameters[nested]:
            assert stack["Properties"]["Parameters"]["KmsKeyArn"] == {"Ref": "KmsKeyArn"}, (
                logical_id
            )
            checked += 1
    assert checked == 4  # three service stacks and the delivery stack


# ---------------------------------------------------------------- topics and keys


def test_every_topic_is_encrypted_at_rest() -> None:
    topics = {
        logical_id: topic["Properties"]["KmsMasterKeyId"]
        for _, logical_id, topic in every_resource_of_type("AWS::SNS::Topic")
    }
    # CloudWatch alarms and EventBridge cannot publish to a topic under aws/sns (its key policy
    # cannot admit their service principals): the notification topic has its own key.
    assert topics == {
        "NotificationTopic": {"Ref": "NotificationKey"},
        "StagingServiceMessagesTopic": "alias/aws/sns",
        "ProductionServiceMessagesTopic": "alias/aws/sns",
    }


def test_the_notification_key_rotates_and_admits_alarms_and_eventbridge() -> None:
    key = template(ROOT)["Resources"]["NotificationKey"]["Properties"]
    assert key["EnableKeyRotation"] is True
    services = {
        service
        for statement in statements_of(ROOT, {"Resources": {"K": {"Properties": key}}})
        for service in as_list(statement.body["Principal"].get("Service", []))
    }
    assert services == {"cloudwatch.amazonaws.com", "events.amazonaws.com"}


# ---------------------------------------------------------------- parameters and secrets


def test_no_ssm_parameter_is_a_secure_string_so_none_needs_a_key() -> None:
    # CloudFormation cannot create SecureString parameters; configuration is String JSON and the
    # one secret (auth-service's) lives in Secrets Manager.
    parameters = every_resource_of_type("AWS::SSM::Parameter")
    assert parameters
    assert {p["Properties"]["Type"] for _, _, p in parameters} == {"String"}


def test_secrets_are_generated_by_secrets_manager_and_never_written_in_a_template() -> None:
    secrets = every_resource_of_type("AWS::SecretsManager::Secret")
    # auth-service's signing seeds and the synthetic client's credentials, per environment
    generated_keys = {
        "StagingAuthServiceSecret": "signing_seed",
        "ProductionAuthServiceSecret": "signing_seed",
        "StagingSyntheticClientSecret": "client_secret",
        "ProductionSyntheticClientSecret": "client_secret",
    }
    assert {logical_id for _, logical_id, _ in secrets} == set(generated_keys)
    for _, logical_id, secret in secrets:
        assert "SecretString" not in secret["Properties"], logical_id
        generated = secret["Properties"]["GenerateSecretString"]["GenerateStringKey"]
        assert generated == generated_keys[logical_id]


# ---------------------------------------------------------------- buckets, registries, ALB


def test_every_bucket_is_kms_encrypted_and_refuses_requests_without_tls() -> None:
    buckets = every_resource_of_type("AWS::S3::Bucket")
    assert buckets
    for name, logical_id, bucket in buckets:
        (rule,) = bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms", logical_id
        policies = [
            policy["Properties"]
            for policy in resources_of_type(template(name), "AWS::S3::BucketPolicy").values()
            if policy["Properties"]["Bucket"] == {"Ref": logical_id}
        ]
        denies = [
            statement
            for policy in policies
            for statement in as_list(policy["PolicyDocument"]["Statement"])
            if statement["Effect"] == "Deny"
            and statement.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
        ]
        assert denies, f"{logical_id} has no TLS-only policy"


def test_every_repository_scans_images_on_push() -> None:
    repositories = every_resource_of_type("AWS::ECR::Repository")
    assert repositories
    for _, logical_id, repository in repositories:
        assert repository["Properties"]["ImageScanningConfiguration"] == {"ScanOnPush": True}, (
            logical_id
        )


def test_every_load_balancer_drops_invalid_header_fields() -> None:
    balancers = every_resource_of_type("AWS::ElasticLoadBalancingV2::LoadBalancer")
    assert balancers
    for _, logical_id, balancer in balancers:
        attributes = {
            a["Key"]: a["Value"] for a in balancer["Properties"]["LoadBalancerAttributes"]
        }
        assert attributes["routing.http.drop_invalid_header_fields.enabled"] == "true", logical_id


def test_with_a_certificate_every_https_listener_uses_the_tls_1_2_and_1_3_policy() -> None:
    # GIVEN every listener, resolved with a certificate
    https = []
    for name, logical_id, listener in every_resource_of_type(
        "AWS::ElasticLoadBalancingV2::Listener"
    ):
        properties = Renderer(
            template(name), {"CertificateArn": CERTIFICATE_ARN, "ServiceIndex": "0"}
        ).render(listener["Properties"])
        if properties["Protocol"] == "HTTPS":
            https.append(logical_id)
            # THEN it speaks only modern TLS with the given certificate
            assert properties["SslPolicy"] == TLS_POLICY, logical_id
            assert properties["Certificates"] == [{"CertificateArn": CERTIFICATE_ARN}]
    assert sorted(https) == ["HttpsListener", "ProductionListener", "StagingListener"]


# ---------------------------------------------------------------- checkov skips


def test_every_checkov_skip_sits_on_its_resource_with_a_reason() -> None:
    skips = [
        (name, logical_id, skip)
        for name, tpl in all_templates().items()
        for logical_id, resource in tpl["Resources"].items()
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", [])
    ]
    assert skips
    for name, logical_id, skip in skips:
        assert skip["id"].startswith(("CKV_", "CKV2_")), (name, logical_id)
        assert len(skip.get("comment", "").strip()) > 20, (name, logical_id, skip["id"])


def test_function_skips_survive_the_sam_transform() -> None:
    # GIVEN the functions as written and as SAM generates them
    written = resources_of_type(template(ROOT), "AWS::Serverless::Function")
    generated = template(TRANSFORMED_ROOT)["Resources"]
    # THEN each generated AWS::Lambda::Function carries the same checkov skips
    for logical_id, function in written.items():
        assert generated[logical_id]["Type"] == "AWS::Lambda::Function"
        assert generated[logical_id]["Metadata"] == function["Metadata"], logical_id
