"""Fixtures for the buildspec tests: a throwaway monorepo (git) and the fake cloud."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.unit.buildspecs.codebuild import FakeCloud, copy_buildspecs, install_fake_cloud

SERVICES = ("api-service", "auth-service", "notification-service")
SUFFIX = "dev"
ACCOUNT = "123456789012"
REGISTRY = f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com"
# What the build project sets: the root stack's ECR Public pull-through cache, BuildKit through it.
ECR_PUBLIC_CACHE = f"{REGISTRY}/ecr-public-{SUFFIX}"
BUILDKIT_IMAGE = f"{ECR_PUBLIC_CACHE}/vend/moby/buildkit:buildx-stable-1"
SMOKE_TEST_HOOK_ARN = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:CodeDeployHook_SmokeTest-dev"
TRAFFIC_GUARD_HOOK_ARN = (
    f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:CodeDeployHook_TrafficGuard-dev"
)
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.com",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}


@dataclass
class Monorepo:
    """A git repository laid out like this one: services/<service>/, service_kit, buildspecs."""

    path: Path

    def git(self, *args: str) -> str:
        completed = subprocess.run(
            ["git", *args],
            cwd=self.path,
            env={**os.environ, **GIT_ENV},
            capture_output=True,
            text=True,
            check=True,
        )
        return completed.stdout.strip()

    def write(self, relative: str, content: str) -> None:
        target = self.path / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)

    def commit(self, message: str) -> str:
        self.git("add", "--all")
        self.git("commit", "--quiet", "--message", message)
        return self.git("rev-parse", "HEAD")


def repository_name(service: str) -> str:
    return f"{service}-{SUFFIX}"


def repository_uri(service: str) -> str:
    return f"{REGISTRY}/{repository_name(service)}"


def registered_task_definition(service: str, environment: str) -> dict[str, Any]:
    """What DescribeTaskDefinition returns for a family the service stack registered."""
    family = f"{service}-{environment}-{SUFFIX}"
    return {
        "taskDefinitionArn": f"arn:aws:ecs:us-east-1:{ACCOUNT}:task-definition/{family}:3",
        "family": family,
        "revision": 3,
        "status": "ACTIVE",
        "requiresAttributes": [{"name": "com.amazonaws.ecs.capability.ecr-auth"}],
        "compatibilities": ["EC2", "FARGATE"],
        "registeredAt": "2026-01-01T00:00:00+00:00",
        "registeredBy": f"arn:aws:iam::{ACCOUNT}:role/cfn",
        "networkMode": "awsvpc",
        "cpu": "256",
        "memory": "512",
        "requiresCompatibilities": ["FARGATE"],
        "executionRoleArn": f"arn:aws:iam::{ACCOUNT}:role/{service}-execution",
        "taskRoleArn": f"arn:aws:iam::{ACCOUNT}:role/{service}-task",
        "containerDefinitions": [
            {
                "name": service,
                "image": f"{repository_uri(service)}:bootstrap",
                "portMappings": [{"containerPort": 8080, "protocol": "tcp"}],
                "environment": [
                    {"name": "PORT", "value": "8080"},
                    {"name": "SERVICE_VERSION", "value": "bootstrap"},
                ],
            }
        ],
    }


def build_environment(service: str, commit: str) -> dict[str, str]:
    """The project's variables plus the pipeline action's overrides."""
    return {
        "AWS_ACCOUNT_ID": ACCOUNT,
        "ENVIRONMENT_SUFFIX": SUFFIX,
        "SMOKE_TEST_HOOK_ARN": SMOKE_TEST_HOOK_ARN,
        "TRAFFIC_GUARD_HOOK_ARN": TRAFFIC_GUARD_HOOK_ARN,
        "ECR_PUBLIC_CACHE": ECR_PUBLIC_CACHE,
        "BUILDKIT_IMAGE": BUILDKIT_IMAGE,
        "SERVICE_NAME": service,
        "REPOSITORY_URI": repository_uri(service),
        "CODEBUILD_RESOLVED_SOURCE_VERSION": commit,
    }


@pytest.fixture
def monorepo(tmp_path: Path) -> Monorepo:
    repo = Monorepo(tmp_path / "source")
    repo.path.mkdir()
    repo.git("init", "--quiet", "--initial-branch", "main")
    repo.write("services/Dockerfile", "FROM python:3.13-slim\nARG SERVICE\nCOPY ${SERVICE} .\n")
    for service in SERVICES:
        package = service.replace("-", "_")
        repo.write(f"services/{service}/requirements.txt", "fastapi\n")
        repo.write(f"services/{service}/{package}/app.py", f"NAME = {service!r}\n")
    repo.write("services/service_kit/service_kit/health.py", "STATUS = 'ok'\n")
    copy_buildspecs(repo.path)
    repo.commit("initial layout")
    return repo


@pytest.fixture
def fake_cloud(tmp_path: Path) -> FakeCloud:
    cloud = install_fake_cloud(tmp_path / "cloud")
    for service in SERVICES:
        for environment in ("staging", "production"):
            cloud.add_task_definition(registered_task_definition(service, environment))
    return cloud
