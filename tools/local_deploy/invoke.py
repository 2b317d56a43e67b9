"""`make invoke FUNCTION=<logical id> EVENT=events/<file>.json`: one function's handler, run on this
machine against the local stack, without Docker.

`sam local invoke` runs a function in a container (it needs Docker) against whatever account the
shell's credentials reach. This runs the function's own handler (the `Handler` of template.yaml,
imported from its `CodeUri` folder) in a separate Python process whose AWS SDK reaches only the
emulator `make deploy` left running (the endpoint, fake credentials), with the environment
variables the local stack gave the function. The operations the emulator does not implement
(CodePipeline's job results, CodeDeploy's lifecycle-hook status) are recorded and printed instead
of sent: `tools/local_deploy/lambda_runtime.py`.
"""

from __future__ import annotations

import difflib
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from tools.cfn_render import load_template
from tools.local_deploy.clients import local_client, local_environment
from tools.local_deploy.emulator import REPO_ROOT

TEMPLATE = REPO_ROOT / "template.yaml"
EVENTS_DIR = REPO_ROOT / "events"
FUNCTION_TYPE = "AWS::Serverless::Function"


class InvokeError(ValueError):
    """The function or event cannot be invoked as asked; the message says what to use."""


@dataclass(frozen=True)
class Function:
    logical_id: str
    name: str  # the deployed function's name (FunctionName with the suffix)
    code_dir: Path
    handler: str  # module.path.function
    timeout_seconds: int
    memory_mb: int


def _sub_suffix(value: Any, suffix: str) -> str:
    text = value.get("Fn::Sub") if isinstance(value, dict) else value
    return str(text).replace("${EnvironmentSuffix}", suffix)


def functions(suffix: str, template: Path = TEMPLATE) -> dict[str, Function]:
    """The template's functions by logical id, with Globals applied."""
    body = load_template(template)
    defaults = body.get("Globals", {}).get("Function", {})
    found = {}
    for logical_id, resource in body["Resources"].items():
        if resource.get("Type") != FUNCTION_TYPE:
            continue
        properties = defaults | resource["Properties"]
        found[logical_id] = Function(
            logical_id=logical_id,
            name=_sub_suffix(properties.get("FunctionName", logical_id), suffix),
            code_dir=(template.parent / str(properties["CodeUri"])).resolve(),
            handler=str(properties["Handler"]),
            timeout_seconds=int(properties.get("Timeout", 3)),
            memory_mb=int(properties.get("MemorySize", 128)),
        )
    return found


def _suggestion(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1)
    return f"did you mean {close[0]}? " if close else ""


def pick_function(name: str, suffix: str) -> Function:
    known = functions(suffix)
    if name in known:
        return known[name]
    by_deployed_name = {function.name: function for function in known.values()}
    if name in by_deployed_name:
        return by_deployed_name[name]
    raise InvokeError(
        f"FUNCTION={name or '(none)'} is not a function of template.yaml: "
        f"{_suggestion(name, sorted(known))}use one of {', '.join(sorted(known))}"
    )


def read_event(path: Path) -> dict[str, Any]:
    events = ", ".join(
        f"events/{p.name}" for p in sorted(EVENTS_DIR.glob("*.json")) if p.name != "env.json"
    )
    if not path.is_file():
        raise InvokeError(f"EVENT={path}: no such file; the sample events are {events}")
    try:
        event = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise InvokeError(f"EVENT={path} is not JSON: {error}") from None
    if not isinstance(event, dict):
        raise InvokeError(f"EVENT={path} holds no JSON object")
    return event


def deployed_environment(endpoint_url: str, function: Function) -> dict[str, str]:
    """The variables the local stack gave the function (its references resolved by the stack)."""
    try:
        configuration = local_client("lambda", endpoint_url).get_function_configuration(
            FunctionName=function.name
        )
    except (BotoCoreError, ClientError) as error:
        raise InvokeError(
            f"{function.name} is not in the local stack ({error}): run `make deploy` first"
        ) from None
    variables: dict[str, str] = configuration.get("Environment", {}).get("Variables", {})
    return variables


def child_environment(
    endpoint_url: str, function: Function, variables: dict[str, str]
) -> dict[str, str]:
    # Nothing of the shell's AWS configuration: the child's SDK can reach the emulator only.
    environ = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    environ |= variables | local_environment(endpoint_url)
    environ |= {
        "PYTHONPATH": os.pathsep.join([str(function.code_dir), str(REPO_ROOT)]),
        "AWS_LAMBDA_FUNCTION_NAME": function.name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_mb),
        # No X-Ray daemon here: the tracer would only warn about its missing segment.
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
    return environ


def invoke(endpoint_url: str, function: Function, event_path: Path) -> int:
    """Run the handler in a child process; its output goes straight to this terminal."""
    read_event(event_path)  # refuse a bad file before starting anything
    variables = deployed_environment(endpoint_url, function)
    command = [
        sys.executable,
        "-m",
        "tools.local_deploy.lambda_runtime",
        function.handler,
        str(event_path),
        "--timeout",
        str(function.timeout_seconds),
    ]
    print(
        f"==> {function.logical_id} ({function.name}): {function.handler} with {event_path}, "
        f"against the emulator at {endpoint_url}",
        flush=True,
    )
    completed = subprocess.run(  # noqa: S603 - this interpreter and this package, no shell
        command,
        env=child_environment(endpoint_url, function, variables),
        cwd=REPO_ROOT,
        check=False,
    )
    return completed.returncode
