"""buildspecs/scripts/gate_images.sh with fake `aws` and `syft`: every image gets its findings,
verdict and SBOM, and one blocked image fails the gate after all were checked."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.support import REPO_ROOT

FAKE_AWS = """#!/usr/bin/env bash
echo "aws $*" >> "$FAKE_LOG"
case "$1 $2" in
  "ecr get-login-password") echo pw ;;
  "ecr wait") exit 0 ;;
  "ecr describe-image-scan-findings")
    repository=$(sed -n 's/.*--repository-name \\([^ ]*\\).*/\\1/p' <<<"$*")
    cat "$FAKE_FINDINGS/${repository}.json" ;;
  *) echo "unexpected: $*" >&2; exit 9 ;;
esac
"""
FAKE_SYFT = """#!/usr/bin/env bash
echo "syft $* authority=$SYFT_REGISTRY_AUTH_AUTHORITY" >> "$FAKE_LOG"
target=${@: -1}
echo '{"spdxVersion": "SPDX-2.3"}' > "${target#spdx-json=}"
"""
REGISTRY = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"


def scan(*findings: tuple[str, str]) -> str:
    return json.dumps(
        {
            "imageScanStatus": {"status": "COMPLETE"},
            "imageScanFindings": {"findings": [{"name": n, "severity": s} for n, s in findings]},
        }
    )


def run_gate(
    tmp_path: Path, findings: dict[str, str], reference: str = ":c0ffee"
) -> tuple[subprocess.CompletedProcess[str], Path]:
    bin_dir, findings_dir, out = tmp_path / "bin", tmp_path / "findings", tmp_path / "out"
    bin_dir.mkdir()
    findings_dir.mkdir()
    for name, body in (("aws", FAKE_AWS), ("syft", FAKE_SYFT)):
        (bin_dir / name).write_text(body)
        (bin_dir / name).chmod(0o755)
    env = {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "FAKE_LOG": str(tmp_path / "calls.log"),
        "FAKE_FINDINGS": str(findings_dir),
        "AWS_DEFAULT_REGION": "eu-west-1",
        "ENVIRONMENT_SUFFIX": "dev",
        "IMAGE_SCAN_FAIL_SEVERITY": "CRITICAL",
        "CODEBUILD_SRC_DIR_UnrelatedArtifact": str(tmp_path),
    }
    for service, body in findings.items():
        (findings_dir / f"{service}-dev.json").write_text(body)
        build_output = tmp_path / service
        build_output.mkdir()
        (build_output / "imageDetail.json").write_text(
            json.dumps({"ImageURI": f"{REGISTRY}/{service}-dev{reference}"})
        )
        artifact = "".join(part.title() for part in service.split("-")) + "BuildOutput"
        env[f"CODEBUILD_SRC_DIR_{artifact}"] = str(build_output)
    result = subprocess.run(
        ["bash", "buildspecs/scripts/gate_images.sh", str(out)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    return result, out


@pytest.mark.parametrize("blocked", [False, True])
def test_every_build_output_gets_findings_a_verdict_and_an_sbom(
    tmp_path: Path, blocked: bool
) -> None:
    # GIVEN two images, one of them with a CRITICAL finding when `blocked`
    critical = scan(("CVE-1", "CRITICAL")) if blocked else scan(("CVE-1", "LOW"))
    findings = {"api-service": critical, "auth-service": scan(("CVE-2", "HIGH"))}

    # WHEN the gate runs over every *BuildOutput artifact
    result, out = run_gate(tmp_path, findings)

    # THEN both images were judged and described, whatever the verdict
    assert sorted(path.name for path in out.iterdir()) == [
        "api-service-gate.txt",
        "api-service-scan.json",
        "api-service.spdx.json",
        "auth-service-gate.txt",
        "auth-service-scan.json",
        "auth-service.spdx.json",
    ]
    # AND the gate fails exactly when an image is blocked, naming it
    assert result.returncode == (1 if blocked else 0), result.stderr
    assert ("image gate FAILED for: api-service" in result.stderr) is blocked


def test_syft_reads_each_image_from_its_registry(tmp_path: Path) -> None:
    run_gate(tmp_path, {"api-service": scan()})
    calls = (tmp_path / "calls.log").read_text().splitlines()
    (syft,) = [call for call in calls if call.startswith("syft")]
    assert f"registry:{REGISTRY}/api-service-dev:c0ffee" in syft
    assert f"authority={REGISTRY}" in syft


def test_an_image_deployed_by_digest_is_scanned_by_that_digest(tmp_path: Path) -> None:
    # GIVEN the build's image, pinned by digest as it is deployed
    digest = "sha256:" + "ab" * 32
    # WHEN the gate runs
    result, _ = run_gate(tmp_path, {"api-service": scan()}, reference=f"@{digest}")
    # THEN ECR is asked about that digest in the service's repository, and the gate passes
    assert result.returncode == 0, result.stderr
    calls = (tmp_path / "calls.log").read_text().splitlines()
    scans = [call for call in calls if "describe-image-scan-findings" in call]
    assert scans == [
        "aws ecr describe-image-scan-findings --repository-name api-service-dev "
        f"--image-id imageDigest={digest} --output json"
    ]


def test_no_build_output_fails_the_gate(tmp_path: Path) -> None:
    result, _ = run_gate(tmp_path, {})
    assert result.returncode == 1
    assert "no build output" in result.stderr
