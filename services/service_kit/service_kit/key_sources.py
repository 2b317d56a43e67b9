"""Where the key set comes from: SSM (deployed) or auth-service's JWKS URL (local runs)."""

from __future__ import annotations

import json
import urllib.request
from typing import TYPE_CHECKING, Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from service_kit.request_context import outbound_headers

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient

FETCH_TIMEOUT_SECONDS = 3


class KeySourceError(Exception):
    """The key set could not be read or is not a JWKS."""


class KeySource(Protocol):
    def fetch(self) -> dict[str, Any]: ...


def _as_jwks(raw: str | bytes) -> dict[str, Any]:
    try:
        jwks = json.loads(raw)
    except ValueError as error:
        raise KeySourceError("the key set is not JSON") from error
    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
        raise KeySourceError("the key set has no 'keys' list")
    return jwks


class SsmKeySource:
    def __init__(self, ssm: SSMClient, parameter_name: str) -> None:
        self._ssm = ssm
        self._parameter_name = parameter_name

    def fetch(self) -> dict[str, Any]:
        try:
            response = self._ssm.get_parameter(Name=self._parameter_name)
        except (BotoCoreError, ClientError) as error:
            raise KeySourceError(
                f"reading {self._parameter_name}: {type(error).__name__}"
            ) from None
        return _as_jwks(response["Parameter"]["Value"])


class HttpKeySource:
    def __init__(self, url: str) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError("AUTH_JWKS_URL must be an http(s) URL")
        self._url = url

    def fetch(self) -> dict[str, Any]:
        request = urllib.request.Request(self._url, headers=outbound_headers())  # noqa: S310 - scheme checked above
        try:
            with urllib.request.urlopen(request, timeout=FETCH_TIMEOUT_SECONDS) as response:  # noqa: S310
                return _as_jwks(response.read())
        except OSError as error:
            raise KeySourceError(f"fetching the key set: {type(error).__name__}") from None


class NoKeySource:
    """Neither jwks_parameter nor AUTH_JWKS_URL is set: every request is refused, health is 503."""

    def fetch(self) -> dict[str, Any]:
        raise KeySourceError("no key source configured (jwks_parameter or AUTH_JWKS_URL)")
