"""Fixtures shared by every test. No test may reach AWS: credentials are fake everywhere,
except in tests/integration when AWS_SAM_STACK_NAME names a deployed stack on purpose."""

from __future__ import annotations

import gc
import os
from typing import Any

import botocore.loaders
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


_PARSED: dict[tuple[tuple[str, ...], Any], Any] = {}


class _LoaderCache:
    """botocore's per-loader cache of its data files, shared by every loader of the process.

    Each `boto3.Session()` gets a new loader, which parses each service's model (megabytes of
    JSON) again: most tests make a session, so that parsing was a third of the suite's CPU. The
    files never change while the tests run; the results are what each loader would read, and
    botocore already shares one parsed model between all the clients of a session. Keyed by the
    loader's search paths (boto3 appends its own after creating the loader), so a loader with
    other paths reads for itself.
    """

    def __init__(self, loader: botocore.loaders.Loader) -> None:
        self._loader = loader

    def _key(self, key: Any) -> tuple[tuple[str, ...], Any]:
        return tuple(self._loader.search_paths), key

    def __contains__(self, key: Any) -> bool:
        return self._key(key) in _PARSED

    def __getitem__(self, key: Any) -> Any:
        return _PARSED[self._key(key)]

    def __setitem__(self, key: Any, value: Any) -> None:
        _PARSED[self._key(key)] = value


_loader_init = botocore.loaders.Loader.__init__


def _loader_sharing_its_cache(self: botocore.loaders.Loader, *args: Any, **kwargs: Any) -> None:
    _loader_init(self, *args, **kwargs)
    # The mapping `botocore.loaders.instance_cache` reads and fills.
    self._cache = _LoaderCache(self)  # type: ignore[attr-defined]


botocore.loaders.Loader.__init__ = _loader_sharing_its_cache  # type: ignore[method-assign]


# The cyclic garbage collector ran about 3,000 times in a test process and took a fifth of its CPU,
# going over the same long-lived objects (botocore's models, moto's backends, parsed templates)
# each time. Collecting young objects every 50,000 allocations instead of every 700 and
# freezing what collection imported leaves it a few seconds; memory stays bounded (it still runs).
# https://docs.python.org/3/library/gc.html#gc.freeze
gc.set_threshold(50_000, 20, 100)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Everything imported and parametrised so far lives until the end: out of the collector's
    sight from here on."""
    gc.freeze()


@pytest.fixture(autouse=True)
def _fake_aws_credentials(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    if "integration" in request.node.path.parts and os.environ.get("AWS_SAM_STACK_NAME"):
        return
    for name, value in FAKE_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
