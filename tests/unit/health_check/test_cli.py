"""The operator's CLI: same verdict, a table, exit codes 0/1/2, never a job result."""

from __future__ import annotations

import io

import pytest
from health_check.cli import EXIT_ERROR, EXIT_HEALTHY, EXIT_UNHEALTHY, main

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


def test_an_aws_error_exits_2(aws: Aws, capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN an endpoint nothing listens on (moto intercepts nothing there either)
    code = main([*BASE, "--endpoint-url", "http://127.0.0.1:9"], out=io.StringIO())
    assert code == EXIT_ERROR
    assert "cloudwatch:DescribeAlarms failed" in capsys.readouterr().err


def test_services_without_a_cluster_exit_2(aws: Aws, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*BASE, "--services", "api-service-dev"], out=io.StringIO()) == EXIT_ERROR
    assert "together" in capsys.readouterr().err


def test_a_missing_required_argument_exits_2() -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--environment", "staging"])
    assert exit_info.value.code == EXIT_ERROR
