"""`sam package` for the emulator: local artefacts and nested templates to its S3.

Walks a built template (`.aws-sam/build/template.yaml`): zips each function's build directory
and points CodeUri at the upload, uploads every nested stack's template (recursively, after the
same treatment) and points TemplateURL at it, then expands the root template's transforms with
the parameters the stack is created with. Nested templates are uploaded unexpanded, as
`sam package` leaves them: they are expanded when their stack is created, with the parameter
values it receives (see `cfn_models.NestedStack`).
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path
from typing import Any

from tools.local_deploy.expand import Template, expand_template, load_template

# (resource type, property) pairs whose value may be a local directory to zip and upload.
CODE_PROPERTIES = (
    ("AWS::Serverless::Function", "CodeUri"),
    ("AWS::Serverless::LayerVersion", "ContentUri"),
)
NESTED_STACK_TYPES = ("AWS::CloudFormation::Stack", "AWS::Serverless::Application")
_ZIP_TIMESTAMP = (1980, 1, 1, 0, 0, 0)


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

    def s3_uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def https_url(self, key: str) -> str:
        # The form `sam package` writes; moto resolves it from its own S3, nothing is fetched.
        return f"https://s3.amazonaws.com/{self.bucket}/{key}"


def zip_directory(directory: Path) -> bytes:
    """A reproducible zip (sorted names, fixed timestamps): the same code uploads to one key."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(p for p in directory.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(str(path.relative_to(directory)), _ZIP_TIMESTAMP)
            info.external_attr = 0o644 << 16
            archive.writestr(info, path.read_bytes(), zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def _is_local_path(value: Any) -> bool:
    return isinstance(value, str) and "://" not in value


def _upload_code(resources: dict[str, Any], base: Path, store: ArtifactStore) -> None:
    for resource in resources.values():
        if not isinstance(resource, dict):  # an Fn::ForEach entry: a list, not a resource
            continue
        for resource_type, prop in CODE_PROPERTIES:
            properties = resource.get("Properties", {})
            if resource.get("Type") == resource_type and _is_local_path(properties.get(prop)):
                key = store.upload(zip_directory(base / properties[prop]), ".zip")
                properties[prop] = store.s3_uri(key)


def _nested_location(resource: dict[str, Any]) -> tuple[str, Any]:
    properties = resource.get("Properties", {})
    if resource["Type"] == "AWS::CloudFormation::Stack":
        return "TemplateURL", properties.get("TemplateURL")
    return "Location", properties.get("Location")


def _package(path: Path, store: ArtifactStore) -> Template:
    """One template with its artefacts and nested templates uploaded, transforms untouched."""
    template = load_template(path)
    resources = template.get("Resources", {})
    _upload_code(resources, path.parent, store)
    for resource in resources.values():
        if not isinstance(resource, dict) or resource.get("Type") not in NESTED_STACK_TYPES:
            continue
        prop, location = _nested_location(resource)
        if _is_local_path(location):
            child = _package(path.parent / location, store)
            key = store.upload(json.dumps(child, sort_keys=True).encode(), ".json")
            resource["Properties"][prop] = store.https_url(key)
    return template


def package_and_expand(
    path: Path, store: ArtifactStore, stack_name: str, parameters: dict[str, str]
) -> Template:
    """The root template, ready for CreateStack: artefacts uploaded, transforms expanded."""
    return expand_template(_package(path, store), parameters, stack_name)
