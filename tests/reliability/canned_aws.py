"""An in-memory AWS for the reliability suites: real botocore clients whose calls are answered
from Python before any HTTP request exists, so thousands of cases run in seconds with no network.

Each client is hooked on botocore's `before-call` event (the one botocore's Stubber uses): the
caller's parameters are validated and serialised by botocore as usual, then the canned reply, or
an injected fault, comes back instead of a request. A fault is what the caller sees once the SDK
has spent its retries: an AWS error with its real HTTP status, or a connect/read timeout.

Time is virtual. Every call advances `elapsed` by what it could cost under the client's real
configuration: a call that succeeds at most one attempt's timeouts, a failed one every attempt's
timeouts plus the SDK's maximum backoff. Tests assert budgets on that clock, never on wall time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.awsrequest import AWSResponse, HTTPHeaders
from botocore.config import Config
from botocore.exceptions import ConnectTimeoutError, ReadTimeoutError

Reply = dict[str, Any] | Callable[[dict[str, Any]], dict[str, Any]]

FAULT_KINDS = ("throttling", "server_error", "access_denied", "connect_timeout", "read_timeout")
# The error codes each protocol family really returns (query APIs and EC2 name them differently).
_THROTTLING = {"cloudwatch": "Throttling", "elastic-load-balancing-v2": "Throttling",
               "sns": "Throttling", "ec2": "RequestLimitExceeded"}  # fmt: skip
_ACCESS_DENIED = {"cloudwatch": "AccessDenied", "elastic-load-balancing-v2": "AccessDenied",
                  "sns": "AuthorizationError", "ec2": "UnauthorizedOperation"}  # fmt: skip
_MAX_BACKOFF_SECONDS = 20.0  # botocore's cap on one retry delay (standard and adaptive modes)
HTTP_OK = 200


def attempts_of(config: Config) -> int:
    retries = config.retries or {}
    if "total_max_attempts" in retries:
        return int(retries["total_max_attempts"])
    return int(retries.get("max_attempts", 2)) + 1


def attempt_seconds(config: Config) -> float:
    return float(config.connect_timeout or 60) + float(config.read_timeout or 60)


def worst_case_seconds(config: Config) -> float:
    """Every attempt times out, with the largest backoff botocore can draw between attempts."""
    attempts = attempts_of(config)
    backoff = sum(min(_MAX_BACKOFF_SECONDS, 2.0**retry) for retry in range(attempts - 1))
    return attempts * attempt_seconds(config) + backoff


@dataclass(frozen=True)
class Fault:
    kind: str
    operation: str
    from_call: int = 0  # the n-th call of the operation (0-based) and later ones fail ...
    until_call: int | None = None  # ... up to this one (exclusive); None: every later one


@dataclass
class Call:
    service: str
    operation: str
    params: dict[str, Any]
    failed: bool
    cost: float  # virtual seconds this call could take


@dataclass
class CannedAws:
    replies: dict[str, Reply] = field(default_factory=dict)  # operation name -> reply
    faults: list[Fault] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)  # operations with no canned reply
    elapsed: float = 0.0  # virtual seconds spent in AWS calls
    hang: threading.Event | None = None  # set: faults of kind "hang" block until it is set
    _pending: dict[str, dict[str, Any]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def attach(self, client: Any, config: Config) -> Any:
        service = client.meta.service_model.service_id.hyphenize()
        client.meta.events.register_first(f"before-parameter-build.{service}", self._remember)
        client.meta.events.register_first(
            f"before-call.{service}",
            lambda model, **_: self._answer(service, model.name, config),
        )
        return client

    def reset(self) -> None:
        self.replies.clear()
        self.faults.clear()
        self.calls.clear()
        self.unexpected.clear()
        self.elapsed = 0.0

    def named(self, operation: str) -> list[Call]:
        return [call for call in self.calls if call.operation == operation]

    def _remember(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        self._pending[model.name] = dict(params)

    def _fault_for(self, operation: str) -> Fault | None:
        seen = len(self.named(operation))
        return next(
            (
                fault
                for fault in self.faults
                if fault.operation == operation
                and fault.from_call <= seen
                and (fault.until_call is None or seen < fault.until_call)
            ),
            None,
        )

    def _answer(self, service: str, operation: str, config: Config) -> tuple[AWSResponse, Any]:
        with self._lock:
            params = self._pending.pop(operation, {})
            fault = self._fault_for(operation)
            cost = worst_case_seconds(config) if fault else attempt_seconds(config)
            self.calls.append(Call(service, operation, params, fault is not None, cost))
            self.elapsed += cost
        if fault is not None:
            return self._fail(service, fault)
        reply = self.replies.get(operation)
        if reply is None:
            self.unexpected.append(operation)
            return _response(500, _error_body("UnexpectedCall", 500, f"no canned {operation}"))
        body = reply(params) if callable(reply) else reply
        return _response(HTTP_OK, {**body, "ResponseMetadata": {"HTTPStatusCode": HTTP_OK}})

    def _fail(self, service: str, fault: Fault) -> tuple[AWSResponse, Any]:
        endpoint = f"https://{service}.us-east-1.amazonaws.com"
        if fault.kind == "connect_timeout":
            raise ConnectTimeoutError(endpoint_url=endpoint)
        if fault.kind == "read_timeout":
            raise ReadTimeoutError(endpoint_url=endpoint)
        if fault.kind == "hang":
            assert self.hang is not None
            self.hang.wait()
            raise ReadTimeoutError(endpoint_url=endpoint)
        status, code = {
            "throttling": (400, _THROTTLING.get(service, "ThrottlingException")),
            "server_error": (500, "InternalFailure"),
            "access_denied": (403, _ACCESS_DENIED.get(service, "AccessDeniedException")),
        }[fault.kind]
        return _response(status, _error_body(code, status, "injected"))


def _error_body(code: str, status: int, message: str) -> dict[str, Any]:
    return {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }


def _response(status: int, body: dict[str, Any]) -> tuple[AWSResponse, Any]:
    return AWSResponse("https://canned.invalid", status, HTTPHeaders(), None), body
