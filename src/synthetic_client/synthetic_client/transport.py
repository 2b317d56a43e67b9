"""HTTP for the run: urllib, a bounded timeout, and every outcome turned into a Reply."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Mapping

from synthetic_client.run import Reply

MAX_BODY = 64 * 1024  # replies are small JSON; a larger one is read no further


class UrllibHttp:
    def __init__(self, timeout_seconds: float) -> None:
        self._timeout = timeout_seconds

    def __call__(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None
    ) -> Reply:
        request = urllib.request.Request(url, data=body, headers=dict(headers), method=method)  # noqa: S310 (the URLs are validated http(s) endpoints)
        started = time.perf_counter()
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:  # noqa: S310
                return Reply(response.status, response.read(MAX_BODY), _since(started))
        except urllib.error.HTTPError as error:
            return Reply(error.code, error.read(MAX_BODY), _since(started))
        except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
            return Reply(None, b"", _since(started), error=f"{type(error).__name__}: {error}")


def _since(started: float) -> float:
    return time.perf_counter() - started
