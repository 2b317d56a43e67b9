"""The request id of the request being served, readable anywhere without passing it around."""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar

REQUEST_ID_HEADER = "X-Request-ID"

# An incoming id is reused only if it looks like an id: it ends up in logs and in other
# services' headers, so arbitrary text (newlines, kilobytes) from a caller is not trusted.
_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")

_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)


def accept_request_id(incoming: str | None) -> str:
    """The caller's id when it is well formed, otherwise a new one."""
    if incoming and _VALID_REQUEST_ID.fullmatch(incoming):
        return incoming
    return uuid.uuid4().hex


def current_request_id() -> str | None:
    return _request_id.get()


def set_request_id(request_id: str | None) -> None:
    _request_id.set(request_id)


def outbound_headers() -> dict[str, str]:
    """Headers to add to a call to another service so its logs share this request's id."""
    request_id = current_request_id()
    return {REQUEST_ID_HEADER: request_id} if request_id else {}
