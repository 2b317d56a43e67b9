"""`make secrets` (scripts/scan_secrets.py) on a repository of its own: a new secret fails the gate
whether or not the file passed before, and a file is skipped only when its content, the baseline
and the scanner are what passed."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from scripts import scan_secrets
from tests.support import REPO_ROOT

# The AWS documentation's example key: detect-secrets' AWSKeyDetector flags it.
LEAKED = "aws_access_key_id = AKIAIOSFODNN7EXAMPLE\n"  # pragma: allowlist secret


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    shutil.copyfile(REPO_ROOT / scan_secrets.BASELINE, tmp_path / scan_secrets.BASELINE)
    (tmp_path / "app.py").write_text("print('hello')\n")
    (tmp_path / "notes.md").write_text("# Notes\n")
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run(["git", "add", "."], cwd=tmp_path, check=True)
    return tmp_path


def _scan(repo: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    status = scan_secrets.main(repo, repo / ".cache" / "secrets-scan.json")
    captured = capsys.readouterr()
    return status, captured.out + captured.err


def test_files_that_passed_are_not_scanned_again(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _scan(repo, capsys) == (0, "secrets: 3 of 3 tracked files scanned, none new\n")
    assert _scan(repo, capsys) == (0, "secrets: 0 of 3 tracked files scanned, none new\n")


def test_a_secret_added_to_a_file_that_passed_fails_and_names_it(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _scan(repo, capsys)
    # WHEN a file that passed gets a secret
    (repo / "notes.md").write_text("# Notes\n" + LEAKED)
    status, said = _scan(repo, capsys)
    # THEN the gate fails, naming the file, and keeps failing until it is gone
    assert status != 0
    assert "notes.md:2" in said
    assert _scan(repo, capsys)[0] != 0
    (repo / "notes.md").write_text("# Notes\n")
    assert _scan(repo, capsys) == (0, "secrets: 0 of 3 tracked files scanned, none new\n")


def test_a_changed_baseline_scans_every_file_again(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _scan(repo, capsys)
    baseline = repo / scan_secrets.BASELINE
    baseline.write_text(baseline.read_text().replace('"limit": 4.5', '"limit": 4.0'))
    assert _scan(repo, capsys) == (0, "secrets: 3 of 3 tracked files scanned, none new\n")


def test_content_that_changed_while_the_scan_ran_is_not_recorded_as_passed(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a file with a secret that is edited away after it was read but before the hook runs
    # (an editor or a checkout beside `make test`)
    notes = repo / "notes.md"
    notes.write_text("# Notes\n" + LEAKED)
    hook = scan_secrets.scan

    def edited_meanwhile(root: Path, baseline: bytes, names: list[str]) -> int:
        notes.write_text("# Notes\n")
        return hook(root, baseline, names)

    monkeypatch.setattr(scan_secrets, "scan", edited_meanwhile)
    assert _scan(repo, capsys)[0] == 0  # the hook saw the clean file
    monkeypatch.setattr(scan_secrets, "scan", hook)
    # WHEN the secret comes back (the content that was read first)
    notes.write_text("# Notes\n" + LEAKED)
    # THEN it is scanned, and fails
    status, said = _scan(repo, capsys)
    assert status != 0
    assert "notes.md:2" in said


def test_pip_hash_lines_pass_but_a_secret_beside_them_does_not(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a hashed requirements file (uv export), as the services install them
    requirements = REPO_ROOT / "services" / "api-service" / "requirements.txt"
    (repo / "requirements.txt").write_text(requirements.read_text())
    subprocess.run(["git", "add", "requirements.txt"], cwd=repo, check=True)
    # THEN its sha256 hashes are not secrets
    assert _scan(repo, capsys)[0] == 0
    # AND a secret slipped in among them is still found
    (repo / "requirements.txt").write_text(requirements.read_text() + LEAKED)
    status, said = _scan(repo, capsys)
    assert status != 0
    assert "requirements.txt:" in said
