"""Throughput and latency of one api-service process under concurrent load, on loopback.

Starts api-service (uvicorn, one process: one Fargate task) with its key set served by a tiny
local JWKS server, then drives keep-alive HTTP/1.1 connections from an asyncio client and
prints req/s, p50 and p99 for /health and for GET /items with a bearer token (which verifies an
Ed25519 signature per request). For comparison it also runs a bare Starlette app's /health.
Figures, not pass/fail: `make bench` or `.venv/bin/python benchmarks/load_bench.py`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
SERVICE_PATHS = [
    REPO_ROOT / "services" / name
    for name in ("service_kit", "api-service", "auth-service", "notification-service")
]
sys.path[:0] = [str(path) for path in SERVICE_PATHS]

from auth_service.keys import KeyRing, issue_token  # noqa: E402

# The same /health reply from a bare framework app: what the service kit's layers cost.
BARE_APP = """
import os, sys, uvicorn
from starlette.responses import JSONResponse
BODY = {"status": "ok", "service": "bare", "version": "x", "commit": "x"}
if sys.argv[1] == "starlette":
    from starlette.applications import Starlette
    from starlette.routing import Route
    async def health(_):
        return JSONResponse(BODY)
    app = Starlette(routes=[Route("/health", health)])
else:
    from fastapi import FastAPI
    app = FastAPI()
    @app.get("/health")
    async def health():
        return JSONResponse(BODY)
uvicorn.run(app, host="127.0.0.1", port=int(os.environ["PORT"]), log_level="warning",
            access_log=False)
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def serve_jwks(jwks: dict[str, object]) -> ThreadingHTTPServer:
    body = json.dumps(jwks).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def wait_ready(port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as reply:
                if reply.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"service on port {port} never became healthy")


async def one_connection(port: int, request: bytes, count: int, latencies: list[float]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for _ in range(count):
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            if not head.startswith(b"HTTP/1.1 2"):
                raise SystemExit(f"unexpected reply: {head[:80]!r}")
            length = next(
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
    finally:
        writer.close()


async def load(
    port: int, request: bytes, total: int, concurrency: int
) -> tuple[float, list[float]]:
    latencies: list[float] = []
    started = time.perf_counter()
    await asyncio.gather(
        *(
            one_connection(port, request, total // concurrency, latencies)
            for _ in range(concurrency)
        )
    )
    return time.perf_counter() - started, latencies


def report(
    label: str, port: int, request: bytes, *, total: int, concurrency: int, rounds: int
) -> None:
    """Median over `rounds` runs: a shared machine's neighbours make single runs noisy."""
    asyncio.run(load(port, request, min(total, 500), concurrency))  # warm-up
    throughputs, p50s, p99s = [], [], []
    for _ in range(rounds):
        elapsed, latencies = asyncio.run(load(port, request, total, concurrency))
        cuts = statistics.quantiles(latencies, n=100)
        throughputs.append(len(latencies) / elapsed)
        p50s.append(cuts[49] * 1000)
        p99s.append(cuts[98] * 1000)
    print(
        f"{label:<34} {statistics.median(throughputs):>8.0f} req/s"
        f"   p50 {statistics.median(p50s):6.2f} ms   p99 {statistics.median(p99s):6.2f} ms"
    )


def get(path: str, token: str | None = None) -> bytes:
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    return f"GET {path} HTTP/1.1\r\nHost: bench\r\n{auth}\r\n".encode()


def start(command: list[str], env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    full_env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(str(path) for path in SERVICE_PATHS),
        "HOST": "127.0.0.1",
        "PORT": str(port),
        **env,
    }
    started = time.monotonic()
    process = subprocess.Popen(command, env=full_env, stdout=subprocess.DEVNULL)
    wait_ready(port)
    # The figure the ECS health-check grace period must cover (scripts/release_clock.py).
    print(f"start-up to first healthy /health: {time.monotonic() - started:.2f} s")
    return process


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    ring = KeyRing.from_seeds("load-bench-seed-not-a-secret")
    token = issue_token(
        ring,
        subject="bench",
        issuer="auth-service",
        audience="api-service",
        ttl_seconds=3600,
        now=int(time.time()),
    )
    jwks_server = serve_jwks(ring.jwks())
    jwks_url = f"http://127.0.0.1:{jwks_server.server_address[1]}/"
    print(
        f"{args.requests} requests, {args.concurrency} keep-alive connections, "
        f"one server process, {os.cpu_count()} CPUs shared with the load generator, "
        f"median of {args.rounds} rounds"
    )
    load_args = {"total": args.requests, "concurrency": args.concurrency, "rounds": args.rounds}

    port = free_port()
    api = start(
        [sys.executable, "-m", "service_kit.serve", "api_service.main:create_app"],
        {"AUTH_JWKS_URL": jwks_url, "SERVICE_CONFIG": json.dumps({"log_level": "WARNING"})},
        port,
    )
    try:
        report("api-service GET /health", port, get("/health"), **load_args)
        report("api-service GET /items (JWT verify)", port, get("/items", token), **load_args)
    finally:
        api.terminate()
        api.wait()

    for framework in ("starlette", "fastapi"):
        port = free_port()
        bare = start([sys.executable, "-c", BARE_APP, framework], {}, port)
        try:
            report(f"bare {framework} GET /health", port, get("/health"), **load_args)
        finally:
            bare.terminate()
            bare.wait()
    jwks_server.shutdown()


if __name__ == "__main__":
    main()
