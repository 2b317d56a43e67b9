"""buildspecs/scripts/install_syft.sh with a fake `curl`: syft is installed only when the archive
has the digest the image gate's buildspec pins, and never without a pin."""

from __future__ import annotations

import hashlib
import io
import os
import re
import subprocess
import tarfile
from pathlib import Path

import yaml

from tests.support import REPO_ROOT

# Writes the archive the test prepared wherever curl is told to (--output), whatever the URL.
FAKE_CURL = """#!/usr/bin/env bash
echo "curl $*" >> "$FAKE_LOG"
while [[ $# -gt 0 ]]; do
  if [[ $1 == --output ]]; then cp "$FAKE_ARCHIVE" "$2"; shift; fi
  shift
done
"""
FAKE_SYFT_BINARY = b"#!/usr/bin/env bash\necho 'syft 1.18.1 (fake)'\n"


def syft_archive(binary: bytes) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as archive:
        info = tarfile.TarInfo("syft")
        info.size, info.mode = len(binary), 0o755
        archive.addfile(info, io.BytesIO(binary))
    return out.getvalue()


def install(tmp_path: Path, archive: bytes, pin: str | None) -> subprocess.CompletedProcess[str]:
    bin_dir, install_dir = tmp_path / "bin", tmp_path / "installed"
    bin_dir.mkdir()
    install_dir.mkdir()
    (bin_dir / "curl").write_text(FAKE_CURL)
    (bin_dir / "curl").chmod(0o755)
    (tmp_path / "syft.tar.gz").write_bytes(archive)
    env = {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "FAKE_LOG": str(tmp_path / "calls.log"),
        "FAKE_ARCHIVE": str(tmp_path / "syft.tar.gz"),
        "SYFT_INSTALL_DIR": str(install_dir),
    }
    env.pop("SYFT_SHA256", None)
    if pin is not None:
        env["SYFT_SHA256"] = pin
    return subprocess.run(
        ["bash", "buildspecs/scripts/install_syft.sh", "1.18.1"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_syft_is_installed_when_the_archive_has_the_pinned_digest(tmp_path: Path) -> None:
    # GIVEN the release archive and its digest as the pin
    archive = syft_archive(FAKE_SYFT_BINARY)

    # WHEN
    result = install(tmp_path, archive, hashlib.sha256(archive).hexdigest())

    # THEN syft is installed from the release's URL and runs
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "installed" / "syft").read_bytes() == FAKE_SYFT_BINARY
    assert (
        "releases/download/v1.18.1/syft_1.18.1_linux_amd64.tar.gz"
        in (tmp_path / "calls.log").read_text()
    )


def test_a_replaced_archive_is_refused_and_nothing_is_installed(tmp_path: Path) -> None:
    # GIVEN other bytes behind the release URL than the ones pinned
    pinned = hashlib.sha256(syft_archive(FAKE_SYFT_BINARY)).hexdigest()
    replaced = syft_archive(b"#!/usr/bin/env bash\necho pwned\n")

    # WHEN
    result = install(tmp_path, replaced, pinned)

    # THEN
    assert result.returncode != 0
    assert not (tmp_path / "installed" / "syft").exists()


def test_without_a_pin_nothing_is_downloaded(tmp_path: Path) -> None:
    # WHEN the digest is not set (no fallback to the release's own checksum file)
    result = install(tmp_path, syft_archive(FAKE_SYFT_BINARY), None)

    # THEN it says what is missing, before any download
    assert result.returncode == 1
    assert "SYFT_SHA256 must be the 64-hex sha256" in result.stderr
    assert not (tmp_path / "calls.log").exists()


def test_the_image_gate_pins_syft_by_version_and_digest() -> None:
    buildspec = yaml.safe_load((REPO_ROOT / "buildspecs/image-gate.yml").read_text())
    variables = buildspec["env"]["variables"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", variables["SYFT_VERSION"])
    assert re.fullmatch(r"[0-9a-f]{64}", variables["SYFT_SHA256"])
    assert any("install_syft.sh" in c for c in buildspec["phases"]["install"]["commands"])
