"""A short, bounded load test against staging, run before the approval.

    usage: PYTHONPATH=src/synthetic_client python3 buildspecs/scripts/load_test.py
           --api-url URL --auth-url URL --notification-url URL
           [--requests 600] [--duration-seconds 60] [--concurrency 4]
           [--max-error-percent 1] [--max-p95-seconds 0.5] [--output-dir reports]

It takes one token from auth-service (the synthetic client's credentials, CLIENT_ID and
CLIENT_SECRET in the environment), then spreads at most --requests requests over at most
--duration-seconds, from --concurrency workers, across api-service GET /items (with the token)
and every service's GET /health. It writes load-test.json and load-test.env (REQUESTS,
P95_MS, ERROR_PERCENT, exported to the pipeline for the approval message) and exits
1 when the error rate or the p95 exceeds its bound.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from http import HTTPStatus
from pathlib import Path
from threading import Lock

from synthetic_client.run import Reply
from synthetic_client.transport import UrllibHttp

Request = tuple[str, str, dict[str, str]]  # method, url, headers
# Hard ceilings, whatever the arguments: the test must stay short and gentle on staging.
MAX_REQUESTS, MAX_SECONDS, MAX_WORKERS = 10_000, 600, 32


@dataclass(frozen=True)
class Summary:
    requests: int
    errors: int
    p95_ms: float
    max_ms: float
    seconds: float

    @property
    def error_percent(self) -> float:
        return 100.0 * self.errors / self.requests if self.requests else 100.0

    def problems(self, max_error_percent: float, max_p95_seconds: float) -> list[str]:
        found = []
        if self.requests == 0:
            found.append("no request completed")
        if self.error_percent > max_error_percent:
            found.append(f"error rate {self.error_percent:.2f} % > {max_error_percent} %")
        if self.p95_ms > max_p95_seconds * 1000:
            found.append(f"p95 {self.p95_ms:.0f} ms > {max_p95_seconds * 1000:.0f} ms")
        return found


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile: the smallest value with at least `fraction` of values <= it."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def summarise(replies: Sequence[Reply], seconds: float) -> Summary:
    """An error is no answer or a 5XX; a 4XX is the service answering a bad request."""
    errors = sum(
        1 for r in replies if r.status is None or r.status >= HTTPStatus.INTERNAL_SERVER_ERROR
    )
    latencies = [r.seconds * 1000 for r in replies]
    return Summary(
        requests=len(replies),
        errors=errors,
        p95_ms=round(percentile(latencies, 0.95), 1),
        max_ms=round(max(latencies, default=0.0), 1),
        seconds=round(seconds, 1),
    )


def run_load(
    send: Callable[[Request], Reply],
    mix: Sequence[Request],
    *,
    max_requests: int,
    duration_seconds: float,
    concurrency: int,
    clock: Callable[[], float] = time.monotonic,
) -> tuple[list[Reply], float]:
    """Round-robin over `mix` until either bound is reached; returns the replies and the time."""
    replies: list[Reply] = []
    lock = Lock()
    issued = 0
    started = clock()

    def next_request() -> Request | None:
        nonlocal issued
        with lock:
            if issued >= max_requests or clock() - started >= duration_seconds:
                return None
            request = mix[issued % len(mix)]
            issued += 1
            return request

    def worker() -> None:
        while (request := next_request()) is not None:
            reply = send(request)
            with lock:
                replies.append(reply)

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        for future in [pool.submit(worker) for _ in range(concurrency)]:
            future.result()
    return replies, clock() - started


def fetch_token(http: UrllibHttp, auth_url: str, client_id: str, client_secret: str) -> str:
    body = {
        "grant_type": "client_credentials",
        "client_id": client_id,
        "client_secret": client_secret,
    }
    reply = http(
        "POST", f"{auth_url}/token", {"Content-Type": "application/json"}, json.dumps(body).encode()
    )
    token = (reply.json() or {}).get("access_token") if reply.status == HTTPStatus.OK else None
    if not isinstance(token, str):
        raise SystemExit(
            f"load test: no token from auth-service (HTTP {reply.status}): "
            f"{reply.error or reply.body[:200]!r}"
        )
    return token


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    for name in ("--api-url", "--auth-url", "--notification-url"):
        parser.add_argument(name, required=True)
    parser.add_argument("--requests", type=int, default=600)
    parser.add_argument("--duration-seconds", type=float, default=60)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--max-error-percent", type=float, default=1.0)
    parser.add_argument("--max-p95-seconds", type=float, default=0.5)
    parser.add_argument("--output-dir", type=Path, default=Path("reports"))
    args = parser.parse_args(argv)
    if not (
        1 <= args.requests <= MAX_REQUESTS
        and 1 <= args.duration_seconds <= MAX_SECONDS
        and 1 <= args.concurrency <= MAX_WORKERS
    ):
        parser.error(
            f"bounds: 1-{MAX_REQUESTS} requests, 1-{MAX_SECONDS} s, 1-{MAX_WORKERS} workers"
        )

    http = UrllibHttp(timeout_seconds=10)
    token = fetch_token(http, args.auth_url, os.environ["CLIENT_ID"], os.environ["CLIENT_SECRET"])
    bearer = {"Authorization": f"Bearer {token}"}
    mix: list[Request] = [
        ("GET", f"{args.api_url}/items", bearer),
        ("GET", f"{args.api_url}/items", bearer),
        ("GET", f"{args.api_url}/health", {}),
        ("GET", f"{args.auth_url}/health", {}),
        ("GET", f"{args.notification_url}/health", {}),
    ]
    replies, seconds = run_load(
        lambda request: http(request[0], request[1], request[2], None),
        mix,
        max_requests=args.requests,
        duration_seconds=args.duration_seconds,
        concurrency=args.concurrency,
    )
    summary = summarise(replies, seconds)
    problems = summary.problems(args.max_error_percent, args.max_p95_seconds)

    args.output_dir.mkdir(parents=True, exist_ok=True)
    document = asdict(summary) | {
        "error_percent": round(summary.error_percent, 2),
        "problems": problems,
    }
    (args.output_dir / "load-test.json").write_text(json.dumps(document, indent=2) + "\n")
    (args.output_dir / "load-test.env").write_text(
        f"REQUESTS={summary.requests}\nP95_MS={summary.p95_ms:.0f}\n"
        f"ERROR_PERCENT={summary.error_percent:.2f}\n"
    )
    print(json.dumps(document))
    for problem in problems:
        print(f"load test FAILED: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
