"""buildspecs/build.yml, run as CodeBuild would, against fake `aws` and `docker`."""

from __future__ import annotations

import json
import subprocess

import yaml

from tests.support import REPO_ROOT
from tests.unit.buildspecs.codebuild import BuildResult, FakeCloud, run_buildspec
from tests.unit.buildspecs.conftest import (
    BUILDKIT_IMAGE,
    ECR_PUBLIC_CACHE,
    SMOKE_TEST_HOOK_ARN,
    TRAFFIC_GUARD_HOOK_ARN,
    Monorepo,
    build_environment,
    repository_name,
    repository_uri,
)

OUTPUT_FILES = {
    "imagedefinitions.json",
    "imageDetail.json",
    "taskdef-staging.json",
    "taskdef-production.json",
    "appspec.yaml",
}


def build(monorepo: Monorepo, fake_cloud: FakeCloud, service: str, **overrides: str) -> BuildResult:
    commit = monorepo.git("rev-parse", "HEAD")
    return run_buildspec(
        monorepo.path / "buildspecs" / "build.yml",
        source_dir=monorepo.path,
        environment={**build_environment(service, commit), **overrides},
        fake_cloud=fake_cloud,
    )


def buildx_creates(fake_cloud: FakeCloud) -> list[list[str]]:
    return [argv for argv in fake_cloud.calls("docker") if argv[:2] == ["buildx", "create"]]


def buildx_builds(fake_cloud: FakeCloud) -> list[list[str]]:
    return [argv for argv in fake_cloud.calls("docker") if argv[:2] == ["buildx", "build"]]


def put_images(fake_cloud: FakeCloud) -> list[list[str]]:
    return [argv for argv in fake_cloud.calls("aws") if argv[:2] == ["ecr", "put-image"]]


def option(argv: list[str], name: str) -> list[str]:
    return [argv[i + 1] for i, arg in enumerate(argv) if arg == name]


def output(monorepo: Monorepo, name: str) -> str:
    return (monorepo.path / "build-output" / name).read_text()


def test_new_service_image_is_built_with_buildkit_registry_cache_and_pushed(
    monorepo: Monorepo, fake_cloud: FakeCloud
) -> None:
    # GIVEN an empty ECR repository
    commit = monorepo.git("rev-parse", "HEAD")
    uri = repository_uri("api-service")

    # WHEN the build runs for api-service
    result = build(monorepo, fake_cloud, "api-service")

    # THEN one BuildKit build pushed the commit tag and a tree tag, with the ECR-compatible cache
    assert result.succeeded, result.log
    [argv] = buildx_builds(fake_cloud)
    assert option(argv, "--file") == ["services/Dockerfile"]
    assert option(argv, "--build-arg") == ["SERVICE=api-service"]
    assert argv[-1] == "services/"
    assert "--push" in argv
    tags = option(argv, "--tag")
    assert f"{uri}:{commit}" in tags
    assert any(tag.startswith(f"{uri}:tree-") for tag in tags)
    assert option(argv, "--cache-from") == [f"type=registry,ref={uri}:buildcache"]
    [cache_to] = option(argv, "--cache-to")
    assert cache_to.startswith(f"type=registry,ref={uri}:buildcache,")
    assert {"mode=max", "image-manifest=true", "oci-mediatypes=true"} <= set(cache_to.split(","))
    assert commit in fake_cloud.ecr_tags(repository_name("api-service"))


ECR_PUBLIC_PYTHON = "public.ecr.aws/docker/library/python:3.13.9-slim-bookworm"


def test_base_image_on_ecr_public_is_pulled_through_the_account_cache(
    monorepo: Monorepo, fake_cloud: FakeCloud
) -> None:
    # GIVEN a Dockerfile whose default base image is on ECR Public, as the real one is
    monorepo.write(
        "services/Dockerfile",
        f"ARG BASE_IMAGE={ECR_PUBLIC_PYTHON}\n"
        "FROM ${BASE_IMAGE} AS builder\n"
        "FROM ${BASE_IMAGE}\n",
    )
    monorepo.commit("base image from ECR Public")

    # WHEN
    result = build(monorepo, fake_cloud, "api-service")

    # THEN the build replaces the default with the same path in the private pull-through cache
    assert result.succeeded, result.log
    [argv] = buildx_builds(fake_cloud)
    assert option(argv, "--build-arg") == [
        "SERVICE=api-service",
        f"BASE_IMAGE={ECR_PUBLIC_CACHE}/docker/library/python:3.13.9-slim-bookworm",
    ]


def test_base_image_keeps_the_dockerfile_default_without_a_cache(
    monorepo: Monorepo, fake_cloud: FakeCloud
) -> None:
    # GIVEN the ECR Public default, but no cache configured (a build outside the pipeline)
    monorepo.write(
        "services/Dockerfile",
        f"ARG BASE_IMAGE={ECR_PUBLIC_PYTHON}\nFROM ${{BASE_IMAGE}}\n",
    )
    monorepo.commit("base image from ECR Public")

    # WHEN
    result = build(monorepo, fake_cloud, "api-service", ECR_PUBLIC_CACHE="")

    # THEN only the service is passed
    assert result.succeeded, result.log
    [argv] = buildx_builds(fake_cloud)
    assert option(argv, "--build-arg") == ["SERVICE=api-service"]


def test_base_image_not_on_ecr_public_is_left_to_the_dockerfile(
    monorepo: Monorepo, fake_cloud: FakeCloud
) -> None:
    # GIVEN the fixture's Dockerfile: a plain FROM, no BASE_IMAGE argument

    # WHEN
    result = build(monorepo, fake_cloud, "auth-service")

    # THEN nothing is rewritten (the cache serves only public.ecr.aws paths)
    assert result.succeeded, result.log
    [argv] = buildx_builds(fake_cloud)
    assert option(argv, "--build-arg") == ["SERVICE=auth-service"]


def test_buildkit_builder_runs_the_configured_image_instead_of_docker_hub(
    monorepo: Monorepo, fake_cloud: FakeCloud
) -> None:
    # GIVEN / WHEN
    result = build(monorepo, fake_cloud, "notification-service")

    # THEN the docker-container builder is created from the project's image, before the build
    assert result.succeeded, result.log
    [create] = buildx_creates(fake_cloud)
    assert option(create, "--driver") == ["docker-container"]
    assert option(create, "--driver-opt") == [f"image={BUILDKIT_IMAGE}"]
    assert "--use" in create
    docker_calls = fake_cloud.calls("docker")
    assert docker_calls.index(create) < docker_calls.index(buildx_builds(fake_cloud)[0])


def test_build_logs_in_to_the_repository_registry_before_building(
    monorepo: Monorepo, fake_cloud: FakeCloud
) -> None:
    # GIVEN / WHEN
    result = build(monorepo, fake_cloud, "api-service")

    # THEN docker login received the ECR password for the registry host, before any buildx call
    assert result.succeeded, result.log
    docker_calls = fake_cloud.calls("docker")
    assert docker_calls[0][0] == "login"
    assert docker_calls[0][-1] == repository_uri("api-service").split("/")[0]
    assert ["ecr", "get-login-password", "--region", "us-east-1"] in fake_cloud.calls("aws")


def test_build_writes_image_detail_and_image_definitions_for_the_commit_image_by_digest(
    monorepo: Monorepo, fake_cloud: FakeCloud
) -> None:
    # GIVEN
    commit = monorepo.git("rev-parse", "HEAD")

    # WHEN
    result = build(monorepo, fake_cloud, "auth-service")

    # THEN the deployed image is the commit's, pinned by its digest (a tag can be re-pointed)
    assert result.succeeded, result.log
    digest = fake_cloud.ecr_digest(repository_name("auth-service"), commit)
    assert digest.startswith("sha256:")
    image = f"{repository_uri('auth-service')}@{digest}"
    assert {p.name for p in (monorepo.path / "build-output").iterdir()} == OUTPUT_FILES
    assert json.loads(output(monorepo, "imageDetail.json")) == {"ImageURI": image}
    assert json.loads(output(monorepo, "imagedefinitions.json")) == [
        {"name": "auth-service", "imageUri": image}
    ]


def test_build_writes_a_task_definition_template_per_environment_with_the_image_placeholder(
    monorepo: Monorepo, fake_cloud: FakeCloud
) -> None:
    # GIVEN
    commit = monorepo.git("rev-parse", "HEAD")

    # WHEN
    result = build(monorepo, fake_cloud, "api-service")

    # THEN each template copies its environment's family, writable and with <IMAGE1_NAME>
    assert result.succeeded, result.log
    for environment in ("staging", "production"):
        template = json.loads(output(monorepo, f"taskdef-{environment}.json"))
        assert template["family"] == f"api-service-{environment}-dev"
        assert "taskDefinitionArn" not in template
        assert "revision" not in template
        [container] = template["containerDefinitions"]
        assert container["image"] == "<IMAGE1_NAME>"
        variables = {e["name"]: e["value"] for e in container["environment"]}
        assert variables["GIT_COMMIT"] == commit
        assert variables["SERVICE_VERSION"].startswith("tree-")
        assert variables["PORT"] == "8080"


def test_build_writes_an_appspec_with_the_task_definition_placeholder_and_the_hooks(
    monorepo: Monorepo, fake_cloud: FakeCloud
) -> None:
    # GIVEN / WHEN
    result = build(monorepo, fake_cloud, "notification-service")

    # THEN
    assert result.succeeded, result.log
    appspec = yaml.safe_load(output(monorepo, "appspec.yaml"))
    target = appspec["Resources"][0]["TargetService"]
    assert target["Type"] == "AWS::ECS::Service"
    assert target["Properties"]["TaskDefinition"] == "<TASK_DEFINITION>"
    assert target["Properties"]["LoadBalancerInfo"] == {
        "ContainerName": "notification-service",
        "ContainerPort": 8080,
    }
    assert appspec["Hooks"] == [
        {"AfterAllowTestTraffic": SMOKE_TEST_HOOK_ARN},
        {"BeforeAllowTraffic": TRAFFIC_GUARD_HOOK_ARN},
        {"AfterAllowTraffic": TRAFFIC_GUARD_HOOK_ARN},
    ]


def test_unchanged_service_reuses_its_image_by_retagging_without_a_build(
    monorepo: Monorepo, fake_cloud: FakeCloud
) -> None:
    # GIVEN api-service was built at the first commit, and the next commit changes auth-service
    assert build(monorepo, fake_cloud, "api-service").succeeded
    monorepo.write("services/auth-service/auth_service/app.py", "NAME = 'auth v2'\n")
    second_commit = monorepo.commit("change auth-service only")
    fake_cloud.clear_calls()

    # WHEN api-service is built at the second commit
    result = build(monorepo, fake_cloud, "api-service")

    # THEN nothing was built: the existing image was given the new commit's tag
    assert result.succeeded, result.log
    assert buildx_builds(fake_cloud) == []
    [put_image] = put_images(fake_cloud)
    assert option(put_image, "--image-tag") == [second_commit]
    assert second_commit in fake_cloud.ecr_tags(repository_name("api-service"))
    digest = fake_cloud.ecr_digest(repository_name("api-service"), second_commit)
    image = f"{repository_uri('api-service')}@{digest}"
    assert json.loads(output(monorepo, "imageDetail.json")) == {"ImageURI": image}


def test_changed_service_is_rebuilt(monorepo: Monorepo, fake_cloud: FakeCloud) -> None:
    # GIVEN auth-service was built at the first commit, and the next commit changes it
    assert build(monorepo, fake_cloud, "auth-service").succeeded
    monorepo.write("services/auth-service/auth_service/app.py", "NAME = 'auth v2'\n")
    monorepo.commit("change auth-service")
    fake_cloud.clear_calls()

    # WHEN
    result = build(monorepo, fake_cloud, "auth-service")

    # THEN
    assert result.succeeded, result.log
    assert len(buildx_builds(fake_cloud)) == 1
    assert put_images(fake_cloud) == []


def test_change_to_the_shared_service_kit_rebuilds_every_service(
    monorepo: Monorepo, fake_cloud: FakeCloud
) -> None:
    # GIVEN api-service was built, then service_kit changed
    assert build(monorepo, fake_cloud, "api-service").succeeded
    monorepo.write("services/service_kit/service_kit/health.py", "STATUS = 'healthy'\n")
    monorepo.commit("change the kit")
    fake_cloud.clear_calls()

    # WHEN
    result = build(monorepo, fake_cloud, "api-service")

    # THEN
    assert result.succeeded, result.log
    assert len(buildx_builds(fake_cloud)) == 1


def test_rerun_of_a_published_commit_neither_builds_nor_retags(
    monorepo: Monorepo, fake_cloud: FakeCloud
) -> None:
    # GIVEN the commit's image is already in ECR (a retried pipeline execution)
    assert build(monorepo, fake_cloud, "api-service").succeeded
    fake_cloud.clear_calls()

    # WHEN
    result = build(monorepo, fake_cloud, "api-service")

    # THEN
    assert result.succeeded, result.log
    assert buildx_builds(fake_cloud) == []
    assert put_images(fake_cloud) == []
    assert (monorepo.path / "build-output" / "appspec.yaml").exists()


def test_ecr_error_other_than_image_not_found_fails_the_build_instead_of_rebuilding(
    monorepo: Monorepo, fake_cloud: FakeCloud
) -> None:
    # GIVEN ECR denies DescribeImages
    (fake_cloud.state_dir / "ecr-access-denied").touch()

    # WHEN
    result = build(monorepo, fake_cloud, "api-service")

    # THEN
    assert not result.succeeded
    assert "AccessDeniedException" in result.log
    assert buildx_builds(fake_cloud) == []


def test_build_without_service_name_fails_before_touching_docker(
    monorepo: Monorepo, fake_cloud: FakeCloud
) -> None:
    # GIVEN the project's empty default, as if an action forgot its override
    environment = build_environment("api-service", monorepo.git("rev-parse", "HEAD"))
    environment["SERVICE_NAME"] = ""

    # WHEN
    result = run_buildspec(
        monorepo.path / "buildspecs" / "build.yml",
        source_dir=monorepo.path,
        environment=environment,
        fake_cloud=fake_cloud,
    )

    # THEN
    assert list(result.phase_status) == ["pre_build"]
    assert result.phase_status["pre_build"] != 0
    assert "SERVICE_NAME" in result.log
    assert fake_cloud.calls("docker") == []


def test_missing_task_definition_family_fails_the_build(
    monorepo: Monorepo, fake_cloud: FakeCloud
) -> None:
    # GIVEN production's family was never registered
    (fake_cloud.state_dir / "task-definitions" / "api-service-production-dev.json").unlink()

    # WHEN
    result = build(monorepo, fake_cloud, "api-service")

    # THEN
    assert not result.succeeded
    assert not (monorepo.path / "build-output" / "taskdef-production.json").exists()


def test_a_task_definition_parameter_naming_another_family_fails_the_build(
    monorepo: Monorepo, fake_cloud: FakeCloud
) -> None:
    # GIVEN someone with ssm:PutParameter pointed api-service's production parameter at
    # auth-service's production definition (its task role, its secret)
    (fake_cloud.state_dir / "ssm-parameters.json").write_text(
        json.dumps(
            {"/pipeline/production/api-service/task-definition": "auth-service-production-dev"}
        )
    )

    # WHEN
    result = build(monorepo, fake_cloud, "api-service")

    # THEN the build fails naming the family, and copies no task definition at all
    assert not result.succeeded
    assert "auth-service-production-dev" in result.log
    assert not (monorepo.path / "build-output" / "taskdef-production.json").exists()
    assert not (monorepo.path / "build-output" / "taskdef-staging.json").exists()


def test_a_registered_definition_with_an_extra_container_fails_the_build(
    monorepo: Monorepo, fake_cloud: FakeCloud
) -> None:
    # GIVEN staging's family registered again with a container of someone else's
    path = fake_cloud.state_dir / "task-definitions" / "api-service-staging-dev.json"
    definition = json.loads(path.read_text())
    definition["containerDefinitions"].append({"name": "miner", "image": "evil:latest"})
    path.write_text(json.dumps(definition))

    # WHEN
    result = build(monorepo, fake_cloud, "api-service")

    # THEN
    assert not result.succeeded
    assert "miner" in result.log
    assert not (monorepo.path / "build-output" / "taskdef-staging.json").exists()


def tree_hash(monorepo: Monorepo, service: str) -> str:
    script = monorepo.path / "buildspecs" / "scripts" / "tree_hash.sh"
    completed = subprocess.run(
        [str(script), service], cwd=monorepo.path, capture_output=True, text=True, check=True
    )
    return completed.stdout.strip()


def test_tree_hash_ignores_changes_outside_the_service_inputs(monorepo: Monorepo) -> None:
    # GIVEN
    before = tree_hash(monorepo, "api-service")
    monorepo.write("services/auth-service/auth_service/app.py", "NAME = 'other'\n")
    monorepo.write("README.md", "docs\n")
    monorepo.commit("unrelated changes")

    # WHEN
    after = tree_hash(monorepo, "api-service")

    # THEN
    assert after == before


def test_tree_hash_follows_the_service_folder_the_dockerfile_and_the_docker_ignore_file(
    monorepo: Monorepo,
) -> None:
    # GIVEN
    hashes = [tree_hash(monorepo, "api-service")]
    monorepo.write("services/api-service/requirements.txt", "fastapi\nuvicorn\n")
    monorepo.commit("change the service's dependencies")
    hashes.append(tree_hash(monorepo, "api-service"))
    monorepo.write("services/Dockerfile", "FROM python:3.13-slim\nUSER 1000\n")
    monorepo.commit("change the shared Dockerfile")
    hashes.append(tree_hash(monorepo, "api-service"))
    monorepo.write("services/.dockerignore", "**/__pycache__\n")
    monorepo.commit("shape the build context")

    # WHEN
    hashes.append(tree_hash(monorepo, "api-service"))

    # THEN every input change gave a new hash
    assert len(set(hashes)) == 4
    assert all(len(h) == 24 for h in hashes)


def test_build_artifacts_are_exactly_the_deployment_files() -> None:
    # GIVEN
    spec = yaml.safe_load((REPO_ROOT / "buildspecs" / "build.yml").read_text())

    # WHEN
    artifacts = spec["artifacts"]

    # THEN
    assert artifacts["base-directory"] == "build-output"
    assert set(artifacts["files"]) == OUTPUT_FILES
