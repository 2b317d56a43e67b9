"""Fixtures shared by every test. No test may reach AWS: credentials are fake everywhere,
except in tests/integration when AWS_SAM_STACK_NAME names a deployed stack on purpose."""

from __future__ import annotations

import os

import pytest

FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}
# What template.yaml's Globals give every function; Powertools reads them when the Lambda
# packages are imported, so they are set before any test module imports one.
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "MicroservicesPipeline")
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "tests")


@pytest.fixture(autouse=True)
def _fake_aws_credentials(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    if "integration" in request.node.path.parts and os.environ.get("AWS_SAM_STACK_NAME"):
        return
    for name, value in FAKE_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
