"""service_kit: request ids, configuration parsing, JSON logs and JSON errors."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator

import pytest
from fastapi.responses import StreamingResponse
from fastapi.testclient import TestClient
from pydantic import SecretStr
from service_kit import serve
from service_kit.app import create_service_app
from service_kit.config import ConfigError, Identity, ServiceConfig, load_config, load_secret
from service_kit.errors import ServiceError
from service_kit.logs import JsonFormatter
from service_kit.request_context import accept_request_id, outbound_headers, set_request_id

IDENTITY = Identity(service="sample", version="1.2.3", commit="abc1234")


class _Secret(ServiceConfig):
    password: SecretStr


def _app(checks: dict[str, bool] | None = None) -> TestClient:
    async def health_checks() -> dict[str, bool]:
        return checks or {}

    app = create_service_app(IDENTITY, ServiceConfig(), health_checks)

    @app.get("/teapot")
    async def teapot() -> None:
        raise ServiceError(418, "teapot", "short and stout")

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("unexpected")

    return TestClient(app, raise_server_exceptions=False)


def test_a_well_formed_request_id_is_kept() -> None:
    assert accept_request_id("abc-123.x") == "abc-123.x"


@pytest.mark.parametrize("incoming", [None, "", "has space", "line\nbreak", "x" * 129])
def test_a_missing_or_malformed_request_id_is_replaced(incoming: str | None) -> None:
    # WHEN
    request_id = accept_request_id(incoming)

    # THEN
    assert request_id != incoming
    assert len(request_id) == 32


def test_outbound_headers_carry_the_current_request_id() -> None:
    # GIVEN
    set_request_id("req-1")

    # WHEN
    headers = outbound_headers()
    set_request_id(None)

    # THEN
    assert headers == {"X-Request-ID": "req-1"}


def test_config_defaults_apply_when_service_config_is_absent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN
    monkeypatch.delenv("SERVICE_CONFIG", raising=False)

    # WHEN
    config = load_config(ServiceConfig)

    # THEN
    assert (config.environment, config.log_level) == ("local", "INFO")


def test_config_ignores_keys_it_does_not_know(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a parameter written for a newer image
    monkeypatch.setenv("SERVICE_CONFIG", json.dumps({"log_level": "DEBUG", "future_key": 1}))

    # WHEN
    config = load_config(ServiceConfig)

    # THEN
    assert config.log_level == "DEBUG"


def test_an_invalid_secret_is_reported_without_its_value(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN
    monkeypatch.setenv("SERVICE_SECRET", json.dumps({"password": ["hunter2-value"]}))

    # WHEN
    with pytest.raises(ConfigError) as raised:
        load_secret(_Secret)

    # THEN
    assert "password" in str(raised.value)
    assert "hunter2-value" not in str(raised.value)


def test_a_missing_secret_stops_the_service(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SERVICE_SECRET", raising=False)
    with pytest.raises(ConfigError, match="SERVICE_SECRET is not set"):
        load_secret(_Secret)


def test_json_log_lines_carry_service_request_id_and_extra_fields() -> None:
    # GIVEN
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello %s", ("you",), None)
    record.path = "/items"
    set_request_id("req-9")

    # WHEN
    line = json.loads(JsonFormatter("sample").format(record))
    set_request_id(None)

    # THEN
    assert line["message"] == "hello you"
    assert (line["service"], line["request_id"], line["path"]) == ("sample", "req-9", "/items")


def test_health_reports_identity_and_200_when_every_check_passes() -> None:
    # WHEN
    response = _app({"dependency": True}).get("/health")

    # THEN
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "service": "sample",
        "version": "1.2.3",
        "commit": "abc1234",
        "checks": {"dependency": "ok"},
    }


def test_health_is_503_when_a_check_fails() -> None:
    # WHEN
    response = _app({"dependency": False}).get("/health")

    # THEN
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"


def test_a_service_error_becomes_its_status_and_json_body() -> None:
    # WHEN
    response = _app().get("/teapot")

    # THEN
    assert response.status_code == 418
    assert response.json() == {"error": "teapot", "message": "short and stout"}


def test_an_unknown_path_gets_a_json_404() -> None:
    # WHEN
    response = _app().get("/nowhere")

    # THEN
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


def test_an_unexpected_exception_gets_a_json_500_without_details() -> None:
    # WHEN
    response = _app().get("/boom")

    # THEN
    assert response.status_code == 500
    assert response.json() == {
        "error": "internal_error",
        "message": "the service failed to handle the request",
    }


def test_every_response_carries_the_request_id() -> None:
    # WHEN
    response = _app().get("/health", headers={"X-Request-ID": "given-id"})

    # THEN
    assert response.headers["X-Request-ID"] == "given-id"


def test_an_unexpected_exception_keeps_the_request_id_on_the_500_and_its_log_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # GIVEN an app whose JSON log handler writes to the captured stdout
    client = _app()

    # WHEN
    response = client.get("/boom", headers={"X-Request-ID": "req-500"})

    # THEN the caller can quote the id, and the log line with the traceback carries it
    assert response.status_code == 500
    assert response.headers["X-Request-ID"] == "req-500"
    assert response.json()["error"] == "internal_error"
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    (error_line,) = [line for line in lines if line["message"] == "unhandled error"]
    assert error_line["request_id"] == "req-500"
    assert "RuntimeError: unexpected" in error_line["exception"]
    (access_line,) = [line for line in lines if line["message"] == "request"]
    assert (access_line["request_id"], access_line["status"]) == ("req-500", 500)


def test_an_exception_after_the_reply_started_is_logged_once_with_the_request_id(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # GIVEN a streamed reply that fails after its first chunk is out
    app = create_service_app(IDENTITY, ServiceConfig())

    @app.get("/stream")
    async def stream() -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            yield b"first"
            raise RuntimeError("mid-stream")

        return StreamingResponse(chunks())

    # WHEN
    TestClient(app).get("/stream", headers={"X-Request-ID": "req-stream"})

    # THEN
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    (error_line,) = [line for line in lines if line["message"] == "unhandled error"]
    assert error_line["request_id"] == "req-stream"
    assert "RuntimeError: mid-stream" in error_line["exception"]


def test_the_access_line_reports_the_request_own_duration(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # GIVEN
    client = _app()

    # WHEN
    before = time.perf_counter()
    client.get("/boom")
    elapsed_ms = (time.perf_counter() - before) * 1000

    # THEN it measured this request (not, say, the process's uptime)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    (access_line,) = [line for line in lines if line["message"] == "request"]
    assert 0 <= access_line["duration_ms"] <= elapsed_ms


def test_serve_without_a_factory_or_a_service_name_stops_with_its_usage(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN no factory argument and no SERVICE_NAME (the image sets it from SERVICE)
    monkeypatch.delenv("SERVICE_NAME", raising=False)
    # WHEN / THEN it says what it needs instead of starting nothing
    with pytest.raises(SystemExit, match="SERVICE_NAME"):
        serve.main([])
