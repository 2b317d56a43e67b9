"""scripts/destroy_stack.py: a copy can be deleted and its suffix deployed again (moto)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from scripts import destroy_stack
from scripts.destroy_stack import DestroyError

REGION = "eu-west-1"
STACK = "microservices-pipeline-t"
BUCKET = "cicd-artifacts-t-eu-west-1-123456789012"
REPOSITORY = "microservices-monorepo-t"


def stack_template(protected: str = "false") -> str:
    """A stand-in root stack with the parameters and outputs the script reads."""
    return json.dumps(
        {
            "Parameters": {
                "EnvironmentSuffix": {"Type": "String"},
                "LoadBalancerDeletionProtection": {"Type": "String", "Default": protected},
            },
            "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
            "Outputs": {
                "ArtifactsBucketName": {"Value": BUCKET},
                "RepositoryCloneUrlHttp": {
                    "Value": f"https://git-codecommit.{REGION}.amazonaws.com/v1/repos/{REPOSITORY}"
                },
            },
        }
    )


@pytest.fixture
def aws() -> Iterator[dict[str, Any]]:
    with mock_aws():
        clients = {
            name: boto3.client(name, region_name=REGION)
            for name in ("cloudformation", "s3", "codecommit", "secretsmanager", "ssm")
        }
        yield clients


def deploy_copy(aws: dict[str, Any], protected: str = "false") -> None:
    """What a deployed copy leaves that a plain stack deletion would trip over."""
    aws["cloudformation"].create_stack(
        StackName=STACK,
        TemplateBody=stack_template(protected),
        Parameters=[{"ParameterKey": "EnvironmentSuffix", "ParameterValue": "t"}],
    )
    s3 = aws["s3"]
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    for body in (b"one", b"two"):
        s3.put_object(Bucket=BUCKET, Key="artifact.zip", Body=body)
    s3.delete_object(Bucket=BUCKET, Key="artifact.zip")  # leaves a delete marker
    aws["codecommit"].create_repository(repositoryName=REPOSITORY)
    for environment in ("staging", "production"):
        aws["secretsmanager"].create_secret(Name=f"auth-service-{environment}-t", SecretString="{}")
        aws["ssm"].put_parameter(
            Name=f"/pipeline/{environment}/auth-service/jwks", Value="{}", Type="String"
        )


def test_destroy_leaves_nothing_that_blocks_deploying_the_suffix_again(
    aws: dict[str, Any],
) -> None:
    # GIVEN a deployed copy whose pipeline wrote artifact versions
    deploy_copy(aws)

    # WHEN it is destroyed
    report = destroy_stack.destroy(aws, STACK, keep_source_repository=False)

    # THEN the bucket was emptied of every version and marker, the stack is gone, and neither the
    # repository, the secrets nor the key sets are left to clash with a new copy of that suffix
    assert report[0] == f"emptied {BUCKET} (3 object versions and delete markers)"
    assert aws["s3"].list_object_versions(Bucket=BUCKET).get("Versions") is None
    stacks = aws["cloudformation"].list_stacks(StackStatusFilter=["DELETE_COMPLETE"])
    assert [s["StackName"] for s in stacks["StackSummaries"]] == [STACK]
    with pytest.raises(aws["codecommit"].exceptions.RepositoryDoesNotExistException):
        aws["codecommit"].get_repository(repositoryName=REPOSITORY)
    assert aws["secretsmanager"].list_secrets()["SecretList"] == []
    assert aws["ssm"].describe_parameters()["Parameters"] == []


def test_the_source_repository_can_be_kept_on_request(aws: dict[str, Any]) -> None:
    deploy_copy(aws)

    report = destroy_stack.destroy(aws, STACK, keep_source_repository=True)

    assert aws["codecommit"].get_repository(repositoryName=REPOSITORY)["repositoryMetadata"]
    assert report[-1].startswith(f"kept the repository {REPOSITORY}")


def test_a_deletion_protected_load_balancer_stops_the_teardown_before_any_change(
    aws: dict[str, Any],
) -> None:
    # GIVEN a copy deployed with deletion protection on
    deploy_copy(aws, protected="true")

    # WHEN it is destroyed THEN it refuses, and nothing was emptied or deleted yet
    with pytest.raises(DestroyError, match="deletion protection"):
        destroy_stack.destroy(aws, STACK, keep_source_repository=False)
    assert len(aws["s3"].list_object_versions(Bucket=BUCKET)["Versions"]) == 2
    assert aws["cloudformation"].describe_stacks(StackName=STACK)["Stacks"]


def test_leftovers_already_gone_are_not_an_error(aws: dict[str, Any]) -> None:
    # GIVEN a copy whose secrets and key sets are already gone
    deploy_copy(aws)
    for environment in ("staging", "production"):
        aws["secretsmanager"].delete_secret(
            SecretId=f"auth-service-{environment}-t", ForceDeleteWithoutRecovery=True
        )
        aws["ssm"].delete_parameter(Name=f"/pipeline/{environment}/auth-service/jwks")

    # THEN the teardown still completes, reporting only what it did
    report = destroy_stack.destroy(aws, STACK, keep_source_repository=False)
    assert not [line for line in report if "secret" in line or "key set" in line]


def test_a_missing_stack_is_a_clear_error(aws: dict[str, Any]) -> None:
    with pytest.raises(DestroyError, match="no stack"):
        destroy_stack.destroy(aws, "nothing-here", keep_source_repository=False)


def test_a_connection_sourced_copy_has_no_repository_to_delete() -> None:
    copy = destroy_stack.copy_from_stack(
        {
            "StackName": STACK,
            "Parameters": [{"ParameterKey": "EnvironmentSuffix", "ParameterValue": "t"}],
            "Outputs": [{"OutputKey": "RepositoryCloneUrlHttp", "OutputValue": ""}],
        }
    )

    assert copy.repository is None
    assert copy.secrets == ["auth-service-staging-t", "auth-service-production-t"]


@pytest.mark.parametrize(
    ("config_env", "stack_name"),
    [("default", "microservices-pipeline-dev"), ("prod", "microservices-pipeline-prod")],
)
def test_the_stack_comes_from_samconfig_as_sam_deploy_reads_it(
    config_env: str, stack_name: str
) -> None:
    assert destroy_stack.stack_settings(config_env) == (stack_name, None)


def test_an_unknown_samconfig_environment_is_refused(tmp_path: Path) -> None:
    samconfig = tmp_path / "samconfig.toml"
    samconfig.write_text('version = 0.1\n[default.deploy.parameters]\nstack_name = "s"\n')

    with pytest.raises(DestroyError, match="no environment 'qa'"):
        destroy_stack.stack_settings("qa", samconfig)
