"""Fake `docker` for the buildspec tests: records its argv; `buildx build --push` stores the
tags it pushes in the fake ECR state (see aws.py), as a real push would."""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

STATE = Path(os.environ["FAKE_CLOUD_DIR"])


def main(argv: list[str]) -> None:
    with (STATE / "calls.jsonl").open("a") as calls:
        calls.write(json.dumps({"tool": "docker", "argv": argv}) + "\n")
    if argv[:1] == ["login"]:
        sys.stdin.read()  # the password arrives on stdin
        print("Login Succeeded")
    if argv[:2] == ["buildx", "build"] and "--push" in argv:
        tags = [argv[i + 1] for i, arg in enumerate(argv) if arg == "--tag"]
        digest = "sha256:" + hashlib.sha256(" ".join(tags).encode()).hexdigest()
        image = {
            "digest": digest,
            "manifest": json.dumps({"schemaVersion": 2, "config": {"digest": digest}}),
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
        }
        ecr_path = STATE / "ecr.json"
        ecr = json.loads(ecr_path.read_text()) if ecr_path.exists() else {}
        for tag in tags:
            repository_uri, _, name = tag.rpartition(":")
            ecr.setdefault(repository_uri.split("/", 1)[1], {})[name] = image
        ecr_path.write_text(json.dumps(ecr))


if __name__ == "__main__":
    main(sys.argv[1:])
