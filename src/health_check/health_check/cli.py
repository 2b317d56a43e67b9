"""Operator's health verdict from a terminal; never reports to CodePipeline.

    python -m health_check.cli --environment staging --alarm-prefix dev-staging- \\
        [--cluster staging-cluster-dev --services api-service-dev,auth-service-dev] \\
        [--region eu-west-1] [--profile ops] [--endpoint-url http://127.0.0.1:5000]

With --services it also prints each service's last known-good release (what a failed
environment is restored to). Exit status: 0 healthy, 1 unhealthy (or not yet healthy), 2 error.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from typing import TextIO
from urllib.parse import urlsplit

import boto3
from botocore.exceptions import BotoCoreError

from health_check.clients import AwsClients
from health_check.errors import HealthCheckError
from health_check.gateway import AwsGateway
from health_check.job import collect_facts
from health_check.params import ENVIRONMENTS, CheckParameters, parse_user_parameters
from health_check.release import read_known_good, service_of
from health_check.verdict import AlarmFact, BakeClock, Outcome, ServiceFact, decide

EXIT_HEALTHY, EXIT_UNHEALTHY, EXIT_ERROR = 0, 1, 2
# An emulator on this machine (moto, LocalStack) needs a region and accepts any credentials.
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
EMULATOR_REGION = "us-east-1"


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m health_check.cli",
        description="Print an environment's health verdict: alarms by prefix and ECS services.",
    )
    parser.add_argument("--environment", required=True, choices=ENVIRONMENTS)
    parser.add_argument("--alarm-prefix", required=True, help="e.g. dev-staging-")
    parser.add_argument("--cluster", help="ECS cluster of --services")
    parser.add_argument("--services", help="comma-separated ECS service names")
    parser.add_argument("--region", help="AWS region (default: the SDK's)")
    parser.add_argument("--profile", help="AWS named profile")
    parser.add_argument(
        "--endpoint-url",
        help="e.g. a moto server or LocalStack; on 127.0.0.1 it needs no AWS set-up",
    )
    return parser.parse_args(argv)


def _session(args: argparse.Namespace) -> boto3.Session:
    """The SDK session: the operator's own, or for an emulator on this machine a stand-alone one.

    An emulator needs no account, but the SDK still wants a region and credentials before it
    sends anything; dummy ones also keep real credentials from ever being sent to a local port.
    """
    if args.endpoint_url and urlsplit(args.endpoint_url).hostname in LOOPBACK_HOSTS:
        return boto3.Session(
            aws_access_key_id="testing",
            # A placeholder the emulator ignores.
            aws_secret_access_key="testing",  # noqa: S106  # pragma: allowlist secret
            region_name=args.region or boto3.Session().region_name or EMULATOR_REGION,
        )
    return boto3.Session(profile_name=args.profile, region_name=args.region)


def render(alarms: list[AlarmFact], services: list[ServiceFact]) -> str:
    rows = [("ALARM", "STATE", "REASON")]
    rows += [(alarm.name, alarm.state, alarm.reason) for alarm in alarms]
    lines = _table(rows)
    if services:
        service_rows = [("SERVICE", "STATUS", "RUNNING/DESIRED")]
        service_rows += [
            (service.name, service.status, f"{service.running}/{service.desired}")
            for service in services
        ]
        lines += ["", *_table(service_rows)]
    return "\n".join(lines)


def known_good(gateway: AwsGateway, params: CheckParameters) -> str:
    """The last known-good release of each service (what a failed environment is restored to)."""
    suffix = params.alarm_prefix.removesuffix(f"{params.environment}-").rstrip("-")
    rows = [("SERVICE", "KNOWN-GOOD TASK DEFINITION", "RECORDED")]
    for ecs_service in params.services:
        service = service_of(ecs_service, suffix)
        try:
            record = read_known_good(gateway, params.environment, service)
        except HealthCheckError as error:
            rows.append((service, f"unreadable: {error}", ""))
            continue
        if record is None:
            rows.append((service, "none recorded", ""))
        else:
            rows.append((service, record.task_definition, record.recorded_at))
    return "\n".join(_table(rows))


def _table(rows: list[tuple[str, str, str]]) -> list[str]:
    widths = [max(len(row[column]) for row in rows) for column in range(2)]
    return [f"{a:<{widths[0]}}  {b:<{widths[1]}}  {c}".rstrip() for a, b, c in rows]


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout) -> int:
    args = _arguments(argv)
    # The same parser and validation as the Lambda's UserParameters; bake 0 means "verdict now".
    user_parameters: dict[str, object] = {
        "environment": args.environment,
        "alarm_prefix": args.alarm_prefix,
        "bake_seconds": 0,
    }
    if args.cluster is not None or args.services is not None:
        user_parameters["cluster"] = args.cluster
        user_parameters["services"] = (
            [name.strip() for name in args.services.split(",")] if args.services else None
        )
    try:
        params = parse_user_parameters(json.dumps(user_parameters))
        gateway = AwsGateway(AwsClients(_session(args), args.endpoint_url))
        alarms, services = collect_facts(gateway, params)
    except (HealthCheckError, BotoCoreError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_ERROR
    now = time.time()
    verdict = decide(alarms, services, bake_seconds=0, clock=BakeClock(now, started_at=now))
    print(render(alarms, services), file=out)
    if params.services:
        print("\n" + known_good(gateway, params), file=out)
    healthy = verdict.outcome is Outcome.SUCCEEDED
    print(
        f"\n{'HEALTHY' if healthy else 'UNHEALTHY'} ({verdict.outcome.value}): {verdict.message}",
        file=out,
    )
    return EXIT_HEALTHY if healthy else EXIT_UNHEALTHY


if __name__ == "__main__":
    sys.exit(main())
