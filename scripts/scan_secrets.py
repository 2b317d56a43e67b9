"""`make secrets`: detect-secrets over every tracked file, against .secrets.baseline.

Fails on a secret in a tracked file that the baseline does not already list. A file whose exact
content (and path) passed a scan under the same baseline and the same detect-secrets version is
not scanned again: its result cannot differ. The record of what passed is kept in
.cache/secrets-scan.json (git-ignored, removed by `make clean`); a clean clone, CI and the
pipeline's Lint action scan every file.

detect-secrets-hook compares secrets by file and hash, not line; it exits 3 when it only
refreshed the baseline's line numbers, which must not fail the gate, so it is given a scratch
copy of the baseline to refresh.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
BASELINE = ".secrets.baseline"
RECORD = REPO_ROOT / ".cache" / "secrets-scan.json"
# detect-secrets-hook: 0 nothing new, 3 only the scratch baseline's line numbers refreshed.
PASSED = (0, 3)


def tracked_files(root: Path) -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files", "-z"],
        cwd=root,
        check=True,
        capture_output=True,
    ).stdout
    # A tracked file deleted in the working tree has no content to scan. Names as the file
    # system has them (any bytes), like the shell's "${files[@]}" before.
    names = (os.fsdecode(name) for name in listed.split(b"\0") if name)
    return [name for name in names if (root / name).is_file()]


def scan_key(baseline: bytes) -> str:
    """What every file's result depends on besides the file: the baseline, the scanner, and how
    this script runs it."""
    # checkov's maintained fork provides the detect_secrets module (pyproject.toml).
    version = importlib.metadata.version("bc-detect-secrets")
    script = Path(__file__).read_bytes()
    return hashlib.sha256(b"\0".join([version.encode(), script, baseline])).hexdigest()


def file_key(root: Path, name: str) -> str:
    content = (root / name).read_bytes()
    return hashlib.sha256(os.fsencode(name) + b"\0" + content).hexdigest()


def passed_before(record: Path, key: str) -> set[str]:
    try:
        saved = json.loads(record.read_text())
    except (OSError, ValueError):
        return set()
    if not isinstance(saved, dict) or saved.get("scan") != key:
        return set()
    return set(saved.get("passed", []))


def scan(root: Path, baseline_content: bytes, names: list[str]) -> int:
    """detect-secrets-hook on `names` against a scratch copy of the baseline; its exit status."""
    hook = shutil.which("detect-secrets-hook", path=str(Path(sys.executable).parent))
    if hook is None:
        print("error: detect-secrets-hook is not installed: run `make venv`", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as scratch:
        baseline = Path(scratch) / BASELINE
        baseline.write_bytes(baseline_content)
        result = subprocess.run(
            [hook, "--baseline", str(baseline), *names],
            cwd=root,
            check=False,
            capture_output=True,
            text=True,
        )
    if result.returncode not in PASSED:
        # Which file and line, and what to do; on a pass it only asks to `git add` the scratch copy.
        print(result.stdout + result.stderr, end="", file=sys.stderr)
    return result.returncode


def main(root: Path = REPO_ROOT, record: Path = RECORD) -> int:
    baseline = (root / BASELINE).read_bytes()  # the one read the key and the scan both use
    key = scan_key(baseline)
    files = {name: file_key(root, name) for name in tracked_files(root)}
    already = passed_before(record, key)
    to_scan = [name for name, digest in files.items() if digest not in already]
    if to_scan:
        status = scan(root, baseline, to_scan)
        if status not in PASSED:
            return status  # the hook has said which file and line
    print(f"secrets: {len(to_scan)} of {len(files)} tracked files scanned, none new")
    # Only content that cannot have changed under the scan is recorded as passed: a file edited
    # meanwhile (make test runs beside an editor, a checkout) is scanned again next time.
    passed = {digest for name, digest in files.items() if file_key(root, name) == digest}
    _save(record, key, passed)
    return 0


def _save(record: Path, key: str, passed: set[str]) -> None:
    """Write the record whole or not at all; failing to write it only costs a full scan later."""
    try:
        record.parent.mkdir(parents=True, exist_ok=True)
        partial = record.with_suffix(".tmp")
        partial.write_text(json.dumps({"scan": key, "passed": sorted(passed)}))
        partial.replace(record)
    except OSError as error:
        print(f"warning: could not keep the scan record {record}: {error}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
