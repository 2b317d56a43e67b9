"""Add a microservice's nested stack (pipeline/service.yaml) to the root template.

    python scripts/add_service.py billing-service [--index 3] [--template template.yaml]

Copies the last `<Name>ServiceStack` resource of the root template as text, so comments and
short-form tags survive, and gives the copy the new service's name and the next free service
index (the index fixes its listener ports). Service-specific inputs (task policies, secrets, extra
configuration, smoke paths) are not copied: the new service starts with no permissions of its
own. Its endpoint outputs are added next to the others, and every YAML list that names each
service stack's outputs (`- !GetAtt <Name>ServiceStack.Outputs.X`) gains its item. The
remaining steps (service code, pipeline actions) are in docs/adding-a-service.md.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from cfnlint.decode import cfn_yaml

SERVICE_NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
MAX_SERVICES = 10  # the port scheme gives each index 0-9 its own four listener ports
# Inputs that belong to one service and must not be inherited by the copy.
SERVICE_SPECIFIC = (
    "StagingTaskPolicyArn",
    "ProductionTaskPolicyArn",
    "StagingServiceSecretArn",
    "ProductionServiceSecretArn",
    "StagingExtraConfig",
    "ProductionExtraConfig",
    "SmokePaths",
)
STACK_TYPES = {"AWS::CloudFormation::Stack", "AWS::Serverless::Application"}


class AddServiceError(Exception):
    """The service cannot be added as asked (duplicate, no free index, no model stack)."""


def logical_prefix(service: str) -> str:
    """billing-service -> BillingService, the prefix of its logical ids."""
    return "".join(part.capitalize() for part in service.split("-"))


def service_stacks(template_path: Path) -> dict[str, dict[str, str]]:
    """Logical id -> nested-stack parameters, for every stack of pipeline/service.yaml."""
    template = cfn_yaml.load(str(template_path))
    return {
        logical_id: resource["Properties"].get("Parameters", {})
        for logical_id, resource in template.get("Resources", {}).items()
        if resource.get("Type") in STACK_TYPES
        and str(resource.get("Properties", {}).get("TemplateURL", "")).endswith("service.yaml")
    }


def top_level_block(text: str, section: str, key: str) -> tuple[int, int]:
    """Start and end offsets of `  key:` and its body inside a top-level section."""
    section_start = re.search(rf"^{section}:\n", text, re.MULTILINE)
    if section_start is None:
        raise AddServiceError(f"no {section} section")
    start_match = re.compile(rf"^  {re.escape(key)}:\n", re.MULTILINE).search(
        text, section_start.end()
    )
    if start_match is None:
        raise AddServiceError(f"no {key} in {section}")
    # The block ends at the next line indented two spaces or less that is not blank.
    end_match = re.compile(r"^(?!\n)(?: {0,2}\S)", re.MULTILINE).search(text, start_match.end())
    end = end_match.start() if end_match else len(text)
    # Keep comment lines that introduce the next block out of this one.
    body = text[start_match.start() : end].rstrip("\n")
    return start_match.start(), start_match.start() + len(body)


def rewrite_stack_block(block: str, source_id: str, service: str, index: int) -> str:
    lines = block.splitlines()
    lines[0] = f"  {logical_prefix(service)}Stack:"
    kept: list[str] = []
    skipping_indent: int | None = None
    for line in lines:
        indent = len(line) - len(line.lstrip())
        if skipping_indent is not None and (indent > skipping_indent or not line.strip()):
            continue
        skipping_indent = None
        key = line.strip().split(":")[0]
        if key in SERVICE_SPECIFIC:
            skipping_indent = indent
            continue
        if key == "ServiceName":
            kept.append(f"{' ' * indent}ServiceName: {service}")
        elif key == "ServiceIndex":
            kept.append(f'{" " * indent}ServiceIndex: "{index}"')
        else:
            kept.append(line)
    if not any(line.strip().startswith("ServiceIndex:") for line in kept):
        raise AddServiceError(f"{source_id} passes no ServiceIndex to copy")
    return "\n".join(kept)


def add_service(template_path: Path, service: str, index: int | None = None) -> str:
    """Append the service's nested stack and endpoint outputs; return its logical id."""
    if not SERVICE_NAME.match(service):
        raise AddServiceError(f"{service!r} is not a lowercase, dash-separated name")
    stacks = service_stacks(template_path)
    if not stacks:
        raise AddServiceError("the template has no pipeline/service.yaml stack to copy")
    names = {str(parameters.get("ServiceName")) for parameters in stacks.values()}
    used = {int(str(parameters.get("ServiceIndex"))) for parameters in stacks.values()}
    if service in names:
        raise AddServiceError(f"{service} is already in the template")
    free = [n for n in range(MAX_SERVICES) if n not in used]
    if index is None:
        if not free:
            raise AddServiceError(f"all {MAX_SERVICES} service indexes are taken")
        index = free[0]
    if index not in free:
        raise AddServiceError(f"service index {index} is taken or outside 0-{MAX_SERVICES - 1}")

    text = template_path.read_text()
    source_id = list(stacks)[-1]
    start, end = top_level_block(text, "Resources", source_id)
    new_block = rewrite_stack_block(text[start:end], source_id, service, index)
    text = f"{text[:end]}\n\n{new_block}{text[end:]}"

    source_prefix = source_id.removesuffix("Stack")
    new_prefix = logical_prefix(service)
    for environment in ("Staging", "Production"):
        output = f"{source_prefix}{environment}Endpoint"
        try:
            start, end = top_level_block(text, "Outputs", output)
        except AddServiceError:
            continue
        copy = text[start:end].replace(source_prefix, new_prefix)
        copy = re.sub(r"(Description: .*?)\S+-service", rf"\g<1>{service}", copy, count=1)
        text = f"{text[:end]}\n{copy}{text[end:]}"

    # Lists that name every service stack's output (e.g. the repositories the pipeline may push
    # to) gain the new stack's, one list item after the model's.
    text = re.sub(
        rf"^(\s*- !GetAtt ){source_id}(\.Outputs\.\w+)\n",
        rf"\g<0>\g<1>{new_prefix}Stack\g<2>\n",
        text,
        flags=re.MULTILINE,
    )

    template_path.write_text(text)
    return f"{new_prefix}Stack"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("service", help="name of the new service, e.g. billing-service")
    parser.add_argument("--index", type=int, help="service index 0-9 (default: the first free)")
    parser.add_argument("--template", type=Path, default=Path("template.yaml"))
    args = parser.parse_args(argv)
    try:
        logical_id = add_service(args.template, args.service, args.index)
    except AddServiceError as error:
        print(f"add_service: {error}", file=sys.stderr)
        return 1
    print(f"Added {logical_id} to {args.template}. Next steps: docs/adding-a-service.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
