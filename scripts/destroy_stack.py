"""Delete a deployed copy so that the same EnvironmentSuffix can be deployed again.

`make destroy ENV=<samconfig env>` runs this. A plain stack deletion is not enough:

- the artifacts bucket is versioned and CloudFormation only deletes empty buckets, so the
  deletion would fail on it: every object version and delete marker goes first;
- the CodeCommit repository is retained (DeletionPolicy: Retain, so a stack deleted by accident
  keeps the source), and a retained repository blocks creating one with the same name: it is
  deleted after the stack unless --keep-source-repository is given;
- Secrets Manager keeps a deleted secret for a recovery window, during which no secret of the
  same name can be created: auth-service's two secrets are deleted without recovery;
- auth-service creates its key-set parameters itself, outside the stack: they are removed too.

The copy is found from its stack: the suffix from its parameters, the bucket and the
repository from its outputs.
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError, WaiterError

SAMCONFIG = Path(__file__).resolve().parent.parent / "samconfig.toml"
ENVIRONMENTS = ("staging", "production")
# Stack deletion waits for the ECS services, the load balancer and the Lambda network
# interfaces of the hook functions, which AWS may take up to about 40 minutes to release.
DELETE_POLL_SECONDS = 15
DELETE_MAX_ATTEMPTS = 240


class DestroyError(Exception):
    """The copy cannot be deleted as asked; the message says why and what to do."""


@dataclass(frozen=True)
class Copy:
    """What belongs to one deployed copy beyond the stack's own resources."""

    stack_name: str
    suffix: str
    bucket: str | None
    repository: str | None
    deletion_protected: bool

    @property
    def secrets(self) -> list[str]:
        return [f"auth-service-{environment}-{self.suffix}" for environment in ENVIRONMENTS]

    @property
    def key_set_parameters(self) -> list[str]:
        return [f"/pipeline/{environment}/auth-service/jwks" for environment in ENVIRONMENTS]


def copy_from_stack(stack: dict[str, Any]) -> Copy:
    """The copy a DescribeStacks entry describes (pure: the tests call it without AWS)."""
    parameters = {
        p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters", [])
    }
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    clone_url = outputs.get("RepositoryCloneUrlHttp", "")
    return Copy(
        stack_name=stack["StackName"],
        suffix=parameters["EnvironmentSuffix"],
        bucket=outputs.get("ArtifactsBucketName"),
        # Empty when the source is a CodeStar connection: there is no repository of ours.
        repository=clone_url.rsplit("/", 1)[-1] or None,
        deletion_protected=parameters.get("LoadBalancerDeletionProtection") == "true",
    )


def stack_settings(config_env: str, samconfig: Path = SAMCONFIG) -> tuple[str, str | None]:
    """(stack name, region or None) of a samconfig environment, as `sam deploy` reads them."""
    config = tomllib.loads(samconfig.read_text())
    if config_env not in config:
        raise DestroyError(f"samconfig.toml has no environment {config_env!r}")
    merged: dict[str, Any] = {}
    for section in ("global", "deploy"):
        for scope in ("default", config_env):
            merged.update(config.get(scope, {}).get(section, {}).get("parameters", {}))
    if "stack_name" not in merged:
        raise DestroyError(f"samconfig.toml environment {config_env!r} names no stack_name")
    return merged["stack_name"], merged.get("region")


def clients(region: str | None) -> dict[str, Any]:
    """Every client the teardown uses, made once, with standard retries."""
    session = boto3.session.Session(region_name=region)
    config = Config(retries={"mode": "standard", "max_attempts": 10})
    return {
        name: session.client(name, config=config)  # type: ignore[call-overload]
        for name in ("cloudformation", "s3", "codecommit", "secretsmanager", "ssm")
    }


def empty_bucket(s3: Any, bucket: str) -> int:
    """Delete every object version and delete marker; returns how many were deleted."""
    deleted = 0
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        keys = [
            {"Key": item["Key"], "VersionId": item["VersionId"]}
            for item in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]
        ]
        # A page holds at most 1,000 entries, the most one DeleteObjects call accepts.
        if keys:
            response = s3.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
            if response.get("Errors"):
                raise DestroyError(f"could not empty {bucket}: {response['Errors'][0]}")
            deleted += len(keys)
    return deleted


def delete_stack(cloudformation: Any, stack_name: str) -> None:
    cloudformation.delete_stack(StackName=stack_name)
    try:
        cloudformation.get_waiter("stack_delete_complete").wait(
            StackName=stack_name,
            WaiterConfig={"Delay": DELETE_POLL_SECONDS, "MaxAttempts": DELETE_MAX_ATTEMPTS},
        )
    except WaiterError as error:
        response: dict[str, Any] = dict(error.last_response)
        stacks: list[dict[str, Any]] = response.get("Stacks") or [{}]
        reason = stacks[0].get("StackStatusReason", "no reason given")
        raise DestroyError(
            f"deleting {stack_name} did not complete ({reason}); its events name the resource"
        ) from None


def _ignore_missing(call: Any, missing: str, **kwargs: Any) -> bool:
    """Run a call on one named thing; False when the thing does not exist."""
    try:
        call(**kwargs)
    except ClientError as error:
        if error.response["Error"]["Code"] == missing:
            return False
        raise
    return True


def destroy(aws: dict[str, Any], stack_name: str, keep_source_repository: bool) -> list[str]:
    """Tear the copy down; returns one line per step for the operator."""
    try:
        (stack,) = aws["cloudformation"].describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as error:
        raise DestroyError(f"no stack {stack_name}: {error.response['Error']['Message']}") from None
    copy = copy_from_stack(stack)
    if copy.deletion_protected:
        raise DestroyError(
            "the load balancer has deletion protection: deploy with "
            "LoadBalancerDeletionProtection=false first, then destroy"
        )
    report = []
    if copy.bucket:
        count = empty_bucket(aws["s3"], copy.bucket)
        report.append(f"emptied {copy.bucket} ({count} object versions and delete markers)")
    delete_stack(aws["cloudformation"], copy.stack_name)
    report.append(f"deleted stack {copy.stack_name}")
    for secret in copy.secrets:
        # DescribeSecret first: a forced DeleteSecret reports success even for no such secret.
        # It also finds a secret CloudFormation left scheduled for deletion.
        if _ignore_missing(
            aws["secretsmanager"].describe_secret, "ResourceNotFoundException", SecretId=secret
        ):
            aws["secretsmanager"].delete_secret(SecretId=secret, ForceDeleteWithoutRecovery=True)
            report.append(f"deleted secret {secret} without a recovery window")
    for parameter in copy.key_set_parameters:
        if _ignore_missing(aws["ssm"].delete_parameter, "ParameterNotFound", Name=parameter):
            report.append(f"deleted auth-service's key set {parameter}")
    if copy.repository and not keep_source_repository:
        if _ignore_missing(
            aws["codecommit"].delete_repository,
            "RepositoryDoesNotExistException",
            repositoryName=copy.repository,
        ):
            report.append(f"deleted the retained repository {copy.repository}")
    elif copy.repository:
        report.append(
            f"kept the repository {copy.repository}: delete it before deploying suffix "
            f"{copy.suffix} again"
        )
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--config-env", help="samconfig.toml environment (default, sandbox, prod)")
    target.add_argument("--stack-name", help="the root stack's name")
    parser.add_argument("--region", help="overrides samconfig's region and the AWS profile's")
    parser.add_argument(
        "--keep-source-repository",
        action="store_true",
        help="keep the CodeCommit repository (the suffix cannot be reused until it is gone)",
    )
    args = parser.parse_args(argv)
    try:
        stack_name, region = (
            stack_settings(args.config_env) if args.config_env else (args.stack_name, None)
        )
        for line in destroy(
            clients(args.region or region), stack_name, args.keep_source_repository
        ):
            print(line)
    except DestroyError as error:
        print(f"destroy: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
