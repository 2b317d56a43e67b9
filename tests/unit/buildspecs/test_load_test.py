"""buildspecs/scripts/load_test.py: its bounds, its statistics and its verdict."""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from synthetic_client.run import Reply

from buildspecs.scripts import load_test
from buildspecs.scripts.load_test import Summary, percentile, run_load, summarise
from tests.support import serving


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.95) == 95.0
    assert percentile([3.0], 0.95) == 3.0
    assert percentile([], 0.95) == 0.0


def test_errors_are_no_answer_or_5xx_but_not_4xx() -> None:
    replies = [
        Reply(200, b"", 0.01),
        Reply(404, b"", 0.01),
        Reply(503, b"", 0.02),
        Reply(None, b"", 1.0, error="timeout"),
    ]
    summary = summarise(replies, 1.0)
    assert (summary.requests, summary.errors, summary.error_percent) == (4, 2, 50.0)
    assert summary.max_ms == 1000.0


def test_the_request_bound_stops_the_run() -> None:
    sent: list[str] = []
    lock = threading.Lock()

    def send(request: tuple[str, str, dict[str, str]]) -> Reply:
        with lock:
            sent.append(request[1])
        return Reply(200, b"", 0.001)

    mix = [("GET", "a", {}), ("GET", "b", {})]
    replies, _ = run_load(send, mix, max_requests=7, duration_seconds=60, concurrency=3)
    assert len(replies) == len(sent) == 7
    assert sorted(sent) == ["a", "a", "a", "a", "b", "b", "b"]


def test_the_time_bound_stops_the_run() -> None:
    ticks = itertools.count()  # each clock read is one second later

    def clock() -> float:
        return float(next(ticks))

    replies, _ = run_load(
        lambda _: Reply(200, b"", 0.001),
        [("GET", "a", {})],
        max_requests=1000,
        duration_seconds=5,
        concurrency=1,
        clock=clock,
    )
    assert 0 < len(replies) < 5


@pytest.mark.parametrize(
    ("summary", "problems"),
    [
        (Summary(100, 0, 40.0, 90.0, 10.0), []),
        (Summary(100, 2, 40.0, 90.0, 10.0), ["error rate 2.00 % > 1.0 %"]),
        (Summary(100, 0, 600.0, 900.0, 10.0), ["p95 600 ms > 500 ms"]),
        (Summary(0, 0, 0.0, 0.0, 10.0), ["no request completed", "error rate 100.00 % > 1.0 %"]),
    ],
)
def test_the_verdict_names_every_bound_exceeded(summary: Summary, problems: list[str]) -> None:
    assert summary.problems(max_error_percent=1.0, max_p95_seconds=0.5) == problems


class Staging(BaseHTTPRequestHandler):
    """A tiny stand-in for the three staging services."""

    def do_POST(self) -> None:
        self._json(200, {"access_token": "tok"})  # pragma: allowlist secret

    def do_GET(self) -> None:
        if self.path == "/items" and self.headers.get("Authorization") != "Bearer tok":
            self._json(401, {"error": "missing_token"})
        else:
            self._json(200, {"items": []} if self.path == "/items" else {"status": "ok"})

    def _json(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def staging_url() -> Iterator[str]:
    with serving(ThreadingHTTPServer(("127.0.0.1", 0), Staging)) as server:
        yield f"http://127.0.0.1:{server.server_address[1]}"


def test_a_run_against_a_healthy_staging_passes_and_exports_its_figures(
    staging_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the synthetic client's credentials and a healthy staging
    monkeypatch.setenv("CLIENT_ID", "synthetic-client")
    monkeypatch.setenv("CLIENT_SECRET", "secret")

    # WHEN a small load test runs
    arguments = [
        "--api-url", staging_url, "--auth-url", staging_url,
        "--notification-url", staging_url, "--requests", "40",
        "--concurrency", "2", "--max-p95-seconds", "5", "--output-dir", str(tmp_path),
    ]  # fmt: skip
    status = load_test.main(arguments)

    # THEN it passes, with every request answered, and writes the variables the pipeline exports
    assert status == 0
    summary = json.loads((tmp_path / "load-test.json").read_text())
    assert (summary["requests"], summary["errors"]) == (40, 0)
    exported = dict(
        line.split("=", 1) for line in (tmp_path / "load-test.env").read_text().splitlines()
    )
    assert set(exported) == {"REQUESTS", "P95_MS", "ERROR_PERCENT"}
    assert exported["REQUESTS"] == "40"


def test_bounds_beyond_the_ceilings_are_refused() -> None:
    with pytest.raises(SystemExit):
        load_test.main(["--api-url", "x", "--auth-url", "x", "--notification-url", "x",
                        "--requests", "1000000"])  # fmt: skip
