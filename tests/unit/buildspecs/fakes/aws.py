"""Fake `aws` CLI for the buildspec tests: records its argv, answers from a state folder.

State ($FAKE_CLOUD_DIR): calls.jsonl (every call of every fake), ecr.json
({repository: {tag: {"manifest": ..., "mediaType": ...}}}, shared with the fake docker) and
task-definitions/<family>.json (what DescribeTaskDefinition returns under "taskDefinition"),
ssm-parameters.json (a task-definition parameter rewritten to name another family).
Only the calls and --query forms the buildspecs use are implemented; anything else fails loudly.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

STATE = Path(os.environ["FAKE_CLOUD_DIR"])


def record(argv: list[str]) -> None:
    with (STATE / "calls.jsonl").open("a") as calls:
        calls.write(json.dumps({"tool": "aws", "argv": argv}) + "\n")


def option(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


def image_tag(argv: list[str]) -> str:
    return option(argv, "--image-ids").removeprefix("imageTag=")


def ecr() -> dict[str, dict[str, Any]]:
    path = STATE / "ecr.json"
    return json.loads(path.read_text()) if path.exists() else {}


def fail(message: str, code: int = 254) -> None:
    sys.stderr.write(message + "\n")
    sys.exit(code)


def main(argv: list[str]) -> None:  # noqa: PLR0912 - one branch per faked command
    record(argv)
    command = tuple(argv[:2])
    if command == ("ecr", "get-login-password"):
        print("fake-ecr-password")
    elif command == ("ecr", "describe-images") and (STATE / "ecr-access-denied").exists():
        fail("An error occurred (AccessDeniedException) when calling the DescribeImages operation")
    elif command == ("ecr", "describe-images"):
        repository, tag = option(argv, "--repository-name"), image_tag(argv)
        image = ecr().get(repository, {}).get(tag)
        if image is None:
            fail(
                "An error occurred (ImageNotFoundException) when calling the DescribeImages "
                f"operation: The image with imageId {{imageTag:'{tag}'}} does not exist"
            )
        print(json.dumps({"imageDetails": [{"imageTags": [tag], "imageDigest": image["digest"]}]}))
    elif command == ("ecr", "batch-get-image"):
        image = ecr()[option(argv, "--repository-name")][image_tag(argv)]
        field = {
            "images[0].imageManifest": "manifest",
            "images[0].imageManifestMediaType": "mediaType",
        }[option(argv, "--query")]
        print(image[field])
    elif command == ("ecr", "put-image"):
        repository = option(argv, "--repository-name")
        state = ecr()
        source = next(
            i
            for i in state[repository].values()
            if i["manifest"] == option(argv, "--image-manifest")
        )
        state[repository][option(argv, "--image-tag")] = source
        (STATE / "ecr.json").write_text(json.dumps(state))
        print(json.dumps({"image": {"imageId": {"imageTag": option(argv, "--image-tag")}}}))
    elif command == ("ssm", "get-parameter"):
        # /pipeline/{environment}/{service}/task-definition -> the revision the stack manages
        _, _, environment, service, _ = option(argv, "--name").split("/")
        family = f"{service}-{environment}-{os.environ.get('ENVIRONMENT_SUFFIX', 'dev')}"
        # ssm-parameters.json: {name: family} for a parameter someone rewrote.
        rewritten = STATE / "ssm-parameters.json"
        if rewritten.exists():
            family = json.loads(rewritten.read_text()).get(option(argv, "--name"), family)
        if not (STATE / "task-definitions" / f"{family}.json").exists():
            fail("An error occurred (ParameterNotFound) when calling the GetParameter operation")
        if option(argv, "--query") != "Parameter.Value":
            fail("fake aws: only --query Parameter.Value is implemented")
        print(f"arn:aws:ecs:eu-west-1:123456789012:task-definition/{family}:7")
    elif command == ("ecs", "describe-task-definition"):
        family = option(argv, "--task-definition").rsplit("/", 1)[-1].split(":")[0]
        path = STATE / "task-definitions" / f"{family}.json"
        if not path.exists():
            fail(
                f"An error occurred (ClientException): Unable to describe task definition {family}"
            )
        if option(argv, "--query") != "taskDefinition":
            fail("fake aws: only --query taskDefinition is implemented")
        print(path.read_text())
    else:
        fail(f"fake aws: unexpected call {argv}", code=2)


if __name__ == "__main__":
    main(sys.argv[1:])
