"""The operator's CLI: same verdict, a table, exit codes 0/1/2, never a job result."""

from __future__ import annotations

import io
import os
import types
from pathlib import Path

import boto3
import botocore.endpoint
import pytest
from health_check.cli import EXIT_ERROR, EXIT_HEALTHY, EXIT_UNHEALTHY, main
from health_check.clients import CLIENT_CONFIG
from health_check.release import KnownGood
from moto.server import ThreadedMotoServer

from tests.support import put_alarm
from tests.unit.health_check.conftest import Aws
from tests.unit.health_check.fakes import CLUSTER, PREFIX, REGION

BASE = ["--environment", "staging", "--alarm-prefix", PREFIX, "--region", REGION]


def test_a_healthy_environment_prints_its_table_and_exits_0(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN an OK alarm and a steady service
    aws.alarm(f"{PREFIX}api-5xx", "OK", reason="Threshold not crossed")
    aws.services(monkeypatch, ["api-service-dev"], running=2)
    out = io.StringIO()
    # WHEN
    code = main([*BASE, "--cluster", CLUSTER, "--services", "api-service-dev"], out=out)
    # THEN
    assert code == EXIT_HEALTHY
    table = out.getvalue()
    assert f"{PREFIX}api-5xx  OK     Threshold not crossed" in table
    assert "api-service-dev  ACTIVE  2/2" in table
    # AND nothing was reported to CodePipeline
    assert aws.reports.calls == []


def test_with_services_it_prints_each_services_known_good_release(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN api-service has a known-good record (written by a passed gate) and auth-service none
    aws.services(monkeypatch, ["api-service-dev", "auth-service-dev"], running=2)
    record = KnownGood(
        task_definition="arn:aws:ecs:us-east-1:123456789012:task-definition/api-service-dev:7",
        image="123456789012.dkr.ecr.us-east-1.amazonaws.com/api-service@sha256:abc",
        recorded_at="2026-11-30T21:00:00Z",
        job_id="job-1",
    )
    boto3.client("ssm", region_name=REGION).put_parameter(
        Name="/pipeline/staging/api-service/known-good", Value=record.to_json(), Type="String"
    )
    out = io.StringIO()
    # WHEN
    services = "api-service-dev,auth-service-dev"
    main([*BASE, "--cluster", CLUSTER, "--services", services], out=out)
    # THEN the operator sees what a failed environment would be restored to
    lines = out.getvalue().splitlines()
    assert any(
        line.split() == ["api-service", record.task_definition, record.recorded_at]
        for line in lines
    ), lines
    assert any(line.split() == ["auth-service", "none", "recorded"] for line in lines), lines


def test_without_services_no_known_good_table_is_printed(aws: Aws) -> None:
    aws.alarm(f"{PREFIX}api-5xx", "OK")
    out = io.StringIO()
    main(BASE, out=out)
    assert "KNOWN-GOOD" not in out.getvalue()


def test_an_alarm_or_an_unsteady_service_exits_1(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    aws.alarm(f"{PREFIX}api-5xx", "OK")
    aws.services(monkeypatch, ["api-service-dev"], running=1)
    out = io.StringIO()
    code = main([*BASE, "--cluster", CLUSTER, "--services", "api-service-dev"], out=out)
    assert code == EXIT_UNHEALTHY
    assert "1/2" in out.getvalue()


def test_a_breached_alarm_exits_1_and_names_it(aws: Aws) -> None:
    aws.alarm(f"{PREFIX}api-5xx", "ALARM")
    out = io.StringIO()
    assert main(BASE, out=out) == EXIT_UNHEALTHY
    assert f"in ALARM: {PREFIX}api-5xx" in out.getvalue()


def test_an_aws_error_exits_2(
    aws: Aws, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN an endpoint nothing listens on (moto intercepts nothing there either), and botocore's
    # back-off between attempts recorded instead of waited
    backoffs: list[float] = []
    # botocore's own reference only (`botocore.endpoint.time` is the time module itself)
    monkeypatch.setattr(botocore.endpoint, "time", types.SimpleNamespace(sleep=backoffs.append))
    code = main([*BASE, "--endpoint-url", "http://127.0.0.1:9"], out=io.StringIO())
    # THEN the read is retried as the client is configured, then the CLI exits 2 naming the call
    assert len(backoffs) == CLIENT_CONFIG.retries["total_max_attempts"] - 1
    assert code == EXIT_ERROR
    assert "cloudwatch:DescribeAlarms failed" in capsys.readouterr().err


def test_services_without_a_cluster_exit_2(aws: Aws, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*BASE, "--services", "api-service-dev"], out=io.StringIO()) == EXIT_ERROR
    assert "together" in capsys.readouterr().err


def test_a_missing_required_argument_exits_2() -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--environment", "staging"])
    assert exit_info.value.code == EXIT_ERROR


def test_an_environment_outside_the_contract_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN --environment bogus (the contract knows staging and production)  WHEN run
    with pytest.raises(SystemExit) as stopped:
        main(["--environment", "bogus", "--alarm-prefix", PREFIX], out=io.StringIO())
    # THEN it stops with the error status before any AWS call, naming the valid choices
    assert stopped.value.code == EXIT_ERROR
    err = capsys.readouterr().err
    assert "invalid choice: 'bogus'" in err
    assert "staging" in err
    assert "production" in err


def test_a_loopback_endpoint_needs_no_region_or_credentials(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # GIVEN a machine with no AWS set-up at all, and an emulator on 127.0.0.1 holding one alarm
    for name in [name for name in os.environ if name.startswith("AWS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "absent-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "absent-credentials"))
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        cloudwatch = boto3.client(
            "cloudwatch",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",  # pragma: allowlist secret
        )
        put_alarm(cloudwatch, f"{PREFIX}api-5xx")
        out = io.StringIO()
        # WHEN the verdict is asked of it with nothing but the endpoint
        code = main(
            ["--environment", "staging", "--alarm-prefix", PREFIX, "--endpoint-url", endpoint],
            out=out,
        )
    finally:
        server.stop()
    # THEN the SDK found a region and credentials: the alarm was read and judged
    assert f"{PREFIX}api-5xx  OK" in out.getvalue()
    assert code == EXIT_HEALTHY
