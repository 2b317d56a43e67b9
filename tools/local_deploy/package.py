"""`sam package` into the emulator's S3, then the root template's transforms expanded.

SAM CLI's own `sam package` zips each function's build directory and uploads every nested
template (after the same treatment, recursively), pointed at the emulator by AWS_ENDPOINT_URL.
Only two things are this module's: the endpoint is handed to it as `localhost`, because moto
reads a nested stack's TemplateURL by its host name and treats `127.0.0.1:<port>` as a bucket
called "127" (`moto.cloudformation.utils.get_stack_from_s3_url`), and the root template's
transforms are then expanded with the parameters the stack is created with. Nested templates
stay unexpanded, as `sam package` leaves them: they are expanded when their stack is created,
with the parameter values it receives (see `cfn_models.NestedStack`).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from tools.local_deploy.clients import REGION, local_environment
from tools.local_deploy.expand import Template, expand_template, load_template

SAM_PACKAGE_TIMEOUT_SECONDS = 600


class PackagingError(RuntimeError):
    """`sam package` could not run or failed; the message carries its last words."""


class ArtifactStore:
    """Content-addressed uploads to one bucket of the emulator's S3."""

    def __init__(self, s3: Any, bucket: str) -> None:
        self._s3 = s3
        self.bucket = bucket

    def ensure_bucket(self) -> None:
        existing = {b["Name"] for b in self._s3.list_buckets().get("Buckets", [])}
        if self.bucket not in existing:
            self._s3.create_bucket(Bucket=self.bucket)

    def upload(self, data: bytes, suffix: str) -> str:
        key = f"{hashlib.sha256(data).hexdigest()}{suffix}"
        self._s3.put_object(Bucket=self.bucket, Key=key, Body=data)
        return key

    def https_url(self, key: str) -> str:
        # The form CloudFormation documents; moto resolves it from its own S3, nothing is fetched.
        return f"https://s3.amazonaws.com/{self.bucket}/{key}"


def as_localhost(endpoint_url: str) -> str:
    """The same loopback endpoint, named `localhost` (see the module's docstring for why)."""
    parts = urlsplit(endpoint_url)
    return urlunsplit(parts._replace(netloc=f"localhost:{parts.port}"))


def _sam() -> str:
    # The SAM CLI beside this interpreter (the virtualenv's), else one on PATH.
    sam = shutil.which("sam", path=str(Path(sys.executable).parent)) or shutil.which("sam")
    if sam is None:
        raise PackagingError("no SAM CLI found: `make venv` installs it")
    return sam


def sam_package(template_path: Path, endpoint_url: str, bucket: str) -> Template:
    """The template with its code and nested templates uploaded by `sam package`."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    environ |= local_environment(as_localhost(endpoint_url))
    environ["SAM_CLI_TELEMETRY"] = "0"
    with tempfile.TemporaryDirectory(prefix="local-deploy-") as workdir:
        packaged = Path(workdir) / "packaged.yaml"
        completed = subprocess.run(  # noqa: S603 - the SAM CLI, arguments as a list, no shell
            [
                _sam(),
                "package",
                "--template-file",
                str(template_path),
                "--s3-bucket",
                bucket,
                "--output-template-file",
                str(packaged),
                "--region",
                REGION,
                "--no-progressbar",
                # A root template may use Fn::ForEach; SAM CLI packages it only when told to.
                "--language-extensions",
            ],
            env=environ,
            capture_output=True,
            text=True,
            check=False,
            timeout=SAM_PACKAGE_TIMEOUT_SECONDS,
        )
        if completed.returncode != 0:
            said = (completed.stderr or completed.stdout).strip().splitlines()
            raise PackagingError(f"sam package failed: {said[-1] if said else 'no output'}")
        return load_template(packaged)


def package_and_expand(
    path: Path, endpoint_url: str, store: ArtifactStore, stack_name: str, parameters: dict[str, str]
) -> Template:
    """The root template, ready for CreateStack: artefacts uploaded, transforms expanded."""
    return expand_template(sam_package(path, endpoint_url, store.bucket), parameters, stack_name)
