"""Write the SAM-transformed root template, so checkov and the IAM tests see what CloudFormation
deploys: the generated function roles, their policies and SAM's managed-policy attachments.

`make lint` runs it before checkov (`python -m scripts.transform_template [output]`, default
.aws-sam/transformed/template.json). The expansion is tools/local_deploy's, i.e. samtranslator's,
with no call to AWS: function code is referenced by a placeholder S3 URI instead of being
packaged, which changes nothing the scanners look at.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from tools.local_deploy.expand import expand_serverless, load_template, pseudo_parameters

REPO_ROOT = Path(__file__).resolve().parent.parent
ROOT_TEMPLATE = REPO_ROOT / "template.yaml"
DEFAULT_OUTPUT = REPO_ROOT / ".aws-sam" / "transformed" / "template.json"
STACK_NAME = "microservices-pipeline"
# What `sam package` would put in CodeUri; the transform only checks its form.
PLACEHOLDER_CODE_URI = "s3://placeholder-bucket/function.zip"


def transformed_root(template_path: Path = ROOT_TEMPLATE) -> dict[str, Any]:
    """The root template after the SAM transform, with default parameter values."""
    template = load_template(template_path)
    for resource in template.get("Resources", {}).values():
        if resource.get("Type") == "AWS::Serverless::Function":
            resource.setdefault("Properties", {})["CodeUri"] = PLACEHOLDER_CODE_URI
    return expand_serverless(template, pseudo_parameters(STACK_NAME))


def main(argv: list[str]) -> int:
    output = Path(argv[1]) if len(argv) > 1 else DEFAULT_OUTPUT
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(transformed_root(), indent=2, sort_keys=True) + "\n")
    print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
