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
    ).stdout.decode()
    # A tracked file deleted in the working tree has no content to scan.
    return [name for name in listed.split("\0") if name and (root / name).is_file()]


def scan_key(root: Path) -> str:
    """What every file's result depends on besides the file: the baseline and the scanner."""
    # checkov's maintained fork provides the detect_secrets module (pyproject.toml).
    version = importlib.metadata.version("bc-detect-secrets")
    return hashlib.sha256(version.encode() + b"\0" + (root / BASELINE).read_bytes()).hexdigest()


def file_key(root: Path, name: str) -> str:
    return hashlib.sha256(name.encode() + b"\0" + (root / name).read_bytes()).hexdigest()


def passed_before(record: Path, key: str) -> set[str]:
    try:
        saved = json.loads(record.read_text())
    except (OSError, ValueError):
        return set()
    if not isinstance(saved, dict) or saved.get("scan") != key:
        return set()
    return set(saved.get("passed", []))


def scan(root: Path, names: list[str]) -> int:
    """detect-secrets-hook on `names` against a scratch copy of the baseline; its exit status."""
    hook = shutil.which("detect-secrets-hook", path=str(Path(sys.executable).parent))
    if hook is None:
        print("error: detect-secrets-hook is not installed: run `make venv`", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as scratch:
        baseline = Path(scratch) / BASELINE
        shutil.copyfile(root / BASELINE, baseline)
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
    key = scan_key(root)
    files = {name: file_key(root, name) for name in tracked_files(root)}
    already = passed_before(record, key)
    to_scan = [name for name, digest in files.items() if digest not in already]
    if to_scan:
        status = scan(root, to_scan)
        if status not in PASSED:
            return status  # the hook has said which file and line
    print(f"secrets: {len(to_scan)} of {len(files)} tracked files scanned, none new")
    record.parent.mkdir(parents=True, exist_ok=True)
    record.write_text(json.dumps({"scan": key, "passed": sorted(set(files.values()))}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
