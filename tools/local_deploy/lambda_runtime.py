"""`python -m tools.local_deploy.lambda_runtime <handler> <event.json>`: call one Lambda handler as
the Lambda runtime would, in this process, and print what it returned.

`tools.local_deploy.invoke` starts it with the function's code folder on PYTHONPATH and the AWS
SDK pointed at the local emulator. The two reports the emulator does not implement
(CodePipeline's PutJobSuccessResult/PutJobFailureResult and CodeDeploy's
PutLifecycleEventHookExecutionStatus) are answered below botocore by a `before-call` handler (the
mechanism botocore's Stubber uses) and printed, so the function's whole path runs.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import botocore.handlers
from botocore.awsrequest import AWSResponse, HTTPHeaders

# (service id, operation) -> the shape of a successful reply.
RECORDED: dict[tuple[str, str], dict[str, Any]] = {
    ("codepipeline", "PutJobSuccessResult"): {},
    ("codepipeline", "PutJobFailureResult"): {},
    ("codedeploy", "PutLifecycleEventHookExecutionStatus"): {},
}
_params: dict[str, Any] = {}


def _remember(params: dict[str, Any], model: Any, **_: Any) -> None:
    _params[model.name] = dict(params)


def _record(model: Any, **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
    service = model.service_model.service_id.hyphenize().replace("-", "")
    if (service, model.name) not in RECORDED:
        return None
    shown = {k: v for k, v in _params.get(model.name, {}).items() if k != "continuationToken"}
    print(
        f"==> {model.name} (recorded, not sent: the emulator does not implement it): "
        f"{json.dumps(shown, default=str)}",
        flush=True,
    )
    parsed: dict[str, Any] = dict(RECORDED[(service, model.name)])
    parsed["ResponseMetadata"] = {"HTTPStatusCode": 200, "RequestId": str(uuid.uuid4())}
    return AWSResponse(f"https://{service}.local", 200, HTTPHeaders(), None), parsed


class Context:
    """The attributes of the Lambda context object the handlers and Powertools read."""

    def __init__(self, function_name: str, memory_mb: str, timeout_seconds: float) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = memory_mb
        self.invoked_function_arn = (
            f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}"
        )
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "local"
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.local_deploy.lambda_runtime")
    parser.add_argument("handler", help="module.path.function, as template.yaml's Handler")
    parser.add_argument("event", type=Path)
    parser.add_argument("--timeout", type=float, default=3.0, help="the function's Timeout")
    args = parser.parse_args(argv)
    # Before any session exists: every botocore session made after this gets the handlers.
    botocore.handlers.BUILTIN_HANDLERS.append(("before-parameter-build", _remember))
    botocore.handlers.BUILTIN_HANDLERS.append(("before-call", _record))
    module_name, _, function_name = args.handler.rpartition(".")
    handler = getattr(importlib.import_module(module_name), function_name)
    context = Context(
        os.environ.get("AWS_LAMBDA_FUNCTION_NAME", function_name),
        os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"),
        args.timeout,
    )
    result = handler(json.loads(args.event.read_text()), context)
    print(f"==> returned: {json.dumps(result, indent=2, default=str)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
