"""Deploy the built template to the emulator's CloudFormation and account for every resource."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from botocore.exceptions import ClientError, WaiterError
from samcli.yamlhelper import yaml_parse

from tools.cfn_render import Renderer
from tools.local_deploy.clients import local_client
from tools.local_deploy.package import ArtifactStore, package_and_expand
from tools.local_deploy.registry import register_models

STACK_NAME = "microservices-pipeline-local"
ARTIFACT_BUCKET = "microservices-pipeline-local-artifacts"
CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]
STACK_TIMEOUT_SECONDS = 300
# boto3's CloudFormation waiters, polling each second (moto creates a stack within the call).
_WAITER_CONFIG = {"Delay": 1, "MaxAttempts": STACK_TIMEOUT_SECONDS}
NESTED_STACK = "AWS::CloudFormation::Stack"

# The emulator has no ACM certificate and its listeners are on 127.0.0.1: the one copy for which
# the root's documented opt-out of HTTPS (rule ProductionNeedsHttps) is always right. Given only
# to a template that declares it, and never over a value the caller passes.
LOCAL_PARAMETERS = {"AllowPlainHttpProduction": "true"}

CREATED, UNMODELLED, NOT_CREATED, MISSING = "created", "unmodelled", "condition false", "missing"


class DeploymentError(RuntimeError):
    """The stack did not reach CREATE_COMPLETE, or a modelled resource is missing from it."""


class RulesRefused(DeploymentError):
    """The parameters break a rule of the template's Rules section, which CloudFormation checks
    before creating anything; the emulator's CloudFormation does not, so the deploy does."""


def local_parameters(template: dict[str, Any], given: dict[str, str]) -> dict[str, str]:
    """`given`, plus LOCAL_PARAMETERS the template declares and `given` leaves out."""
    declared = template.get("Parameters", {})
    local = {name: value for name, value in LOCAL_PARAMETERS.items() if name in declared}
    return {**local, **given}


def check_rules(template: dict[str, Any], parameters: dict[str, str]) -> None:
    failed = Renderer(template, dict(parameters)).failed_rules()
    if failed:
        raise RulesRefused("the template's Rules refuse these parameters: " + "; ".join(failed))


@dataclass(frozen=True)
class ResourceRow:
    stack: str  # "" for the root, "ServiceStack" or "A/B" for nested stacks
    logical_id: str
    resource_type: str
    state: str


@dataclass
class Deployment:
    stack_name: str
    status: str
    outputs: dict[str, str]
    rows: list[ResourceRow]
    timings: list[tuple[str, float]] = field(default_factory=list)

    def types_in(self, state: str) -> list[str]:
        return sorted({row.resource_type for row in self.rows if row.state == state})


class Steps:
    """Prints each step as it starts and how long it took; keeps the timings."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.timings: list[tuple[str, float]] = []

    @contextmanager
    def step(self, title: str) -> Iterator[None]:
        print(f"==> {title}", file=self.out, flush=True)
        started = time.perf_counter()
        yield
        seconds = time.perf_counter() - started
        self.timings.append((title, seconds))
        print(f"    done in {seconds:.1f} s", file=self.out, flush=True)


def _template_body(body: Any) -> dict[str, Any]:
    # boto3 hands JSON template bodies back parsed, YAML ones as text.
    if isinstance(body, str):
        parsed: dict[str, Any] = yaml_parse(body)
        return parsed
    return json.loads(json.dumps(body))  # type: ignore[no-any-return]


def stack_exists(cloudformation: Any, stack_name: str) -> bool:
    try:
        stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError:
        return False
    return any(stack["StackStatus"] != "DELETE_COMPLETE" for stack in stacks)


def delete_stack(cloudformation: Any, stack_name: str) -> None:
    cloudformation.delete_stack(StackName=stack_name)
    try:
        cloudformation.get_waiter("stack_delete_complete").wait(
            StackName=stack_name, WaiterConfig=_WAITER_CONFIG
        )
    except WaiterError as error:
        raise DeploymentError(f"{stack_name} was not deleted: {error}") from None


def _wait_for_create(cloudformation: Any, stack_name: str) -> dict[str, Any]:
    """The stack once it left CREATE_IN_PROGRESS, whatever its end state (judged by the caller)."""
    # The waiter stops at CREATE_COMPLETE, at a failure state, or when its attempts run out:
    # the stack's own status says which.
    with suppress(WaiterError):
        cloudformation.get_waiter("stack_create_complete").wait(
            StackName=stack_name, WaiterConfig=_WAITER_CONFIG
        )
    stack: dict[str, Any] = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    if stack["StackStatus"].endswith("_IN_PROGRESS"):
        raise DeploymentError(f"{stack_name} still in progress after {STACK_TIMEOUT_SECONDS} s")
    return stack


def inventory(
    cloudformation: Any, stack_id: str, modelled: frozenset[str], label: str = ""
) -> list[ResourceRow]:
    """Every resource of the stack's expanded template (nested stacks included) and its fate.

    moto skips a type it cannot model with only a log line (or, with this tooling, stands a
    placeholder in for it), so the deployed template is compared with what the stack holds and
    with the types moto really models, instead of trusting the create to have said so.
    """
    body = cloudformation.get_template(StackName=stack_id)["TemplateBody"]
    resources: dict[str, Any] = _template_body(body).get("Resources", {})
    summaries = cloudformation.list_stack_resources(StackName=stack_id)["StackResourceSummaries"]
    existing = {summary["LogicalResourceId"]: summary for summary in summaries}
    rows: list[ResourceRow] = []
    for logical_id, resource in resources.items():
        resource_type = resource["Type"]
        if logical_id in existing:
            # Present but unmodelled: a placeholder (see cfn_models.Placeholder), not a resource.
            state = CREATED if resource_type in modelled else UNMODELLED
            rows.append(ResourceRow(label, logical_id, resource_type, state))
            if resource_type == NESTED_STACK:
                nested_id = existing[logical_id]["PhysicalResourceId"]
                nested_label = f"{label}/{logical_id}" if label else logical_id
                rows += inventory(cloudformation, nested_id, modelled, nested_label)
        elif resource_type not in modelled:
            rows.append(ResourceRow(label, logical_id, resource_type, UNMODELLED))
        elif "Condition" in resource:
            rows.append(ResourceRow(label, logical_id, resource_type, NOT_CREATED))
        else:
            rows.append(ResourceRow(label, logical_id, resource_type, MISSING))
    return rows


def deploy(
    endpoint_url: str,
    template_path: Path,
    parameters: dict[str, str],
    out: TextIO,
    stack_name: str = STACK_NAME,
) -> Deployment:
    """Package, expand, create the stack, wait for it, and check every resource against it."""
    steps = Steps(out)
    cloudformation = local_client("cloudformation", endpoint_url)
    store = ArtifactStore(local_client("s3", endpoint_url), ARTIFACT_BUCKET)

    with steps.step(
        f"Packaging {template_path} to S3 (`sam package`: function code, nested templates) "
        "and expanding its transforms (SAM CLI, samtranslator)"
    ):
        store.ensure_bucket()
        parameters = local_parameters(_template_body(template_path.read_text()), parameters)
        template = package_and_expand(template_path, endpoint_url, store, stack_name, parameters)
        check_rules(template, parameters)
        print(f"    {len(template.get('Resources', {}))} resources in the root template", file=out)
    if stack_exists(cloudformation, stack_name):
        with steps.step(f"Deleting the previous {stack_name}"):
            delete_stack(cloudformation, stack_name)
    with steps.step(f"Creating stack {stack_name} through the emulator's CloudFormation"):
        key = store.upload(json.dumps(template, sort_keys=True).encode(), ".json")
        # A refusal (ClientError) says why in its message; the CLI reports it in one line.
        cloudformation.create_stack(
            StackName=stack_name,
            TemplateURL=store.https_url(key),
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
            Capabilities=CAPABILITIES,
        )
        stack = _wait_for_create(cloudformation, stack_name)
        print(f"    {stack['StackStatus']}", file=out)
    if stack["StackStatus"] != "CREATE_COMPLETE":
        raise DeploymentError(f"{stack_name} ended {stack['StackStatus']}")
    with steps.step("Checking every resource of the expanded templates against the stacks"):
        rows = inventory(cloudformation, stack["StackId"], register_models())
    missing = [f"{row.stack}/{row.logical_id}" for row in rows if row.state == MISSING]
    if missing:
        raise DeploymentError(f"modelled resources missing from the stack: {', '.join(missing)}")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    return Deployment(stack_name, stack["StackStatus"], outputs, rows, steps.timings)


def render_outputs(deployment: Deployment) -> str:
    width = max((len(key) for key in deployment.outputs), default=0)
    lines = [f"Outputs of {deployment.stack_name}:"]
    lines += [f"  {key:<{width}}  {value}" for key, value in sorted(deployment.outputs.items())]
    return "\n".join(lines)


def render_resource_table(rows: list[ResourceRow]) -> str:
    """Resources by type: how many the templates declare, were created, could not be modelled."""
    states = (CREATED, UNMODELLED, NOT_CREATED)
    counts: dict[str, Counter[str]] = {}
    for row in rows:
        counts.setdefault(row.resource_type, Counter())[row.state] += 1
    header = ("TYPE", "DECLARED", *(state.upper() for state in states))
    table = [header]
    table += [
        (resource_type, str(sum(c.values())), *(str(c[state]) for state in states))
        for resource_type, c in sorted(counts.items())
    ]
    table.append(
        (
            "total",
            str(len(rows)),
            *(str(sum(1 for row in rows if row.state == state)) for state in states),
        )
    )
    widths = [max(len(line[column]) for line in table) for column in range(len(header))]
    return "\n".join(
        "  ".join(
            cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i])
            for i, cell in enumerate(line)
        )
        for line in table
    )
