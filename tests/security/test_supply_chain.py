"""What a release tag names cannot change: the repositories the stack creates by default refuse to
re-point a tag (moto's ECR, configured as the templates render with the root's defaults), while
the build's registry cache tag may still be rewritten."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from tests.support import PIPELINE_DIR, REPO_ROOT, load_template
from tools.cfn_render import Renderer

COMMIT_TAG = "3f2a9c1e0b7d4a6f8e5c2b1a0d9e8f7c6b5a4e3d"  # pragma: allowlist secret


def repository_as_deployed_by_default() -> dict[str, Any]:
    """The service stack's repository, for the EcrTagMutability the root passes by default."""
    default = load_template(REPO_ROOT / "template.yaml")["Parameters"]["EcrTagMutability"]
    service = load_template(PIPELINE_DIR / "service.yaml")
    renderer = Renderer(
        service, {"EcrTagMutability": default["Default"], "ServiceName": "api-service"}
    )
    properties: dict[str, Any] = renderer.render(service["Resources"]["Repository"]["Properties"])
    return properties


def manifest(layer: str) -> str:
    """An image manifest whose one layer is `layer` repeated: different layers, other bytes."""
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                       "size": 1, "digest": "sha256:" + "c" * 64},
            "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                        "size": 1, "digest": "sha256:" + layer * 64}],
        }
    )  # fmt: skip


@pytest.fixture
def ecr() -> Iterator[Any]:
    properties = repository_as_deployed_by_default()
    with mock_aws():
        client = boto3.client("ecr", region_name="eu-west-1")
        filters = [
            {
                "filterType": item["ImageTagMutabilityExclusionFilterType"],
                "filter": item["ImageTagMutabilityExclusionFilterValue"],
            }
            for item in properties.get("ImageTagMutabilityExclusionFilters", [])
        ]
        client.create_repository(
            repositoryName="api-service-dev",
            imageTagMutability=properties["ImageTagMutability"],
            **({"imageTagMutabilityExclusionFilters": filters} if filters else {}),
        )
        yield client


def test_a_release_tag_cannot_be_pointed_at_other_bytes(ecr: Any) -> None:
    # GIVEN the image a commit was released as
    ecr.put_image(
        repositoryName="api-service-dev", imageManifest=manifest("a"), imageTag=COMMIT_TAG
    )

    # WHEN someone with push rights (a compromised build) pushes other bytes under the same tag
    with pytest.raises(ClientError) as refused:
        ecr.put_image(
            repositoryName="api-service-dev", imageManifest=manifest("b"), imageTag=COMMIT_TAG
        )

    # THEN ECR refuses: what staging tested is what production and a rollback pull (ECR's code
    # is ImageTagAlreadyExistsException; moto answers ImageAlreadyExistsException)
    assert refused.value.response["Error"]["Code"] in {
        "ImageTagAlreadyExistsException",
        "ImageAlreadyExistsException",
    }


def test_the_build_cache_tag_may_still_be_rewritten(ecr: Any) -> None:
    # GIVEN the registry cache of one build
    first = ecr.put_image(
        repositoryName="api-service-dev", imageManifest=manifest("a"), imageTag="buildcache"
    )["image"]["imageId"]["imageDigest"]

    # WHEN the next build exports its cache under the same tag
    second = ecr.put_image(
        repositoryName="api-service-dev", imageManifest=manifest("b"), imageTag="buildcache"
    )["image"]["imageId"]["imageDigest"]

    # THEN the tag follows it (buildcache* is excluded from immutability)
    [image] = ecr.describe_images(
        repositoryName="api-service-dev", imageIds=[{"imageTag": "buildcache"}]
    )["imageDetails"]
    assert first != second
    assert image["imageDigest"] == second


# ------------------------------------------------------------------ who can change the gates
# The image gate runs files from the commit it gates, so each must need a code owner's review
# (docs/security.md, "Who can change the gates"). GitHub's CODEOWNERS semantics for the forms
# the file uses: a leading "/" anchors at the root, a trailing "/" owns a directory's tree, and
# the last matching line wins (a line without owners leaves the path unowned).
GATE_BUILDSPEC = "buildspecs/image-gate.yml"
GATE_REFERENCE = re.compile(r"\b(?:buildspecs|security)/[\w./-]*\w")


def files_the_gate_reads() -> set[str]:
    """The gate's buildspec and every repository file it names, followed through the scripts."""
    found: set[str] = set()
    pending = [GATE_BUILDSPEC]
    while pending:
        path = pending.pop()
        if path in found or not (REPO_ROOT / path).is_file():
            continue
        found.add(path)
        pending.extend(GATE_REFERENCE.findall((REPO_ROOT / path).read_text()))
    return found


def code_owners(codeowners: str, path: str) -> list[str]:
    owners: list[str] = []
    for line in codeowners.splitlines():
        fields = line.split("#", 1)[0].split()
        if not fields:
            continue
        pattern, *names = fields
        anchored = pattern.lstrip("/")
        if path == anchored or (anchored.endswith("/") and path.startswith(anchored)):
            owners = names
    return owners


def test_every_file_the_image_gate_reads_needs_a_code_owner() -> None:
    codeowners = (REPO_ROOT / ".github/CODEOWNERS").read_text()
    gate_files = files_the_gate_reads()
    # The walk found the buildspec, its scripts and the allow-list, not just the buildspec.
    assert {
        GATE_BUILDSPEC,
        "buildspecs/scripts/gate_images.sh",
        "buildspecs/scripts/image_gate.py",
        "buildspecs/scripts/install_syft.sh",
        "security/image-scan-allowlist.json",
    } <= gate_files
    unowned = sorted(path for path in gate_files | {".github/CODEOWNERS"}
                     if not code_owners(codeowners, path))  # fmt: skip
    assert unowned == []


def test_a_gate_file_left_out_of_codeowners_is_found() -> None:
    # Control: without the /security/ line the allow-list has no owner, and the check sees it.
    codeowners = "/buildspecs/ @team\n/.github/CODEOWNERS @team\n"
    assert code_owners(codeowners, "security/image-scan-allowlist.json") == []
    assert code_owners(codeowners, "buildspecs/scripts/image_gate.py") == ["@team"]
