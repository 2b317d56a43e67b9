"""Health-check figures (a script, not a test): cold import cost and one invocation's wall time.

    .venv/bin/python benchmarks/health_check_bench.py [--runs 7]

1. Cold import of `health_check.handler` vs a bare `import boto3`, each in fresh interpreters
   (median of --runs): what the function's own code adds to a cold start.
2. One `lambda_handler` invocation against moto with 3 and with 30 ECS services (median of
   --runs, clients already created): alarms stay one paginated call, services one call per 10.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.stub import Stubber
from moto import mock_aws

ROOT = Path(__file__).resolve().parent.parent
# The Lambda's package sits under its CodeUri, as in the pytest configuration.
sys.path.insert(0, str(ROOT / "src" / "health_check"))
# What template.yaml's Globals give the function; Powertools reads it at import.
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "MicroservicesPipeline")

from health_check.gateway import default_gateway  # noqa: E402
from health_check.observability import logger  # noqa: E402

from health_check import handler  # noqa: E402

IMPORT_PROBE = (
    "import time; started = time.perf_counter(); import {module}; "
    "print(time.perf_counter() - started)"
)


# Peak resident memory of an interpreter that has loaded the handler: the function's footprint,
# against its 256 MB setting. Lambda also scales CPU with memory, so a smaller setting would slow
# the cold start even where it fits. VmHWM, not ru_maxrss: the latter survives exec, so a child
# would report this (larger) benchmark process's peak.
RSS_PROBE = (
    "import {module}; "
    "print(next(line.split()[1] for line in open('/proc/self/status') "
    "if line.startswith('VmHWM:')))"
)


def peak_rss_mib(module: str) -> float:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src" / "health_check")}
    probe = subprocess.run(
        [sys.executable, "-c", RSS_PROBE.format(module=module)],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    )
    return int(probe.stdout) / 1024


def cold_import_seconds(modules: tuple[str, ...], runs: int) -> dict[str, float]:
    """Median import time per module; runs interleave the modules so load drift hits both."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src" / "health_check")}
    samples: dict[str, list[float]] = {module: [] for module in modules}
    for run in range(runs + 1):
        for module in modules:
            probe = subprocess.run(
                [sys.executable, "-c", IMPORT_PROBE.format(module=module)],
                check=True,
                capture_output=True,
                text=True,
                env=env,
            )
            if run:  # the first round only warms the file cache
                samples[module].append(float(probe.stdout))
    return {module: statistics.median(times) for module, times in samples.items()}


@dataclass
class Context:
    function_name: str = "health-check-bench"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:health-check-bench"
    aws_request_id: str = "bench"


def invocation_seconds(service_count: int, runs: int) -> tuple[float, int]:
    """Median wall time of one invocation, and the AWS calls it made."""
    os.environ.update(
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        MOTO_ECS_SERVICE_RUNNING="1",
        CODEDEPLOY_APPLICATION="microservices-bench",
    )
    logger.setLevel("WARNING")

    with mock_aws():
        default_gateway.cache_clear()
        gateway = default_gateway()
        topic = gateway.clients.sns.create_topic(Name="bench")["TopicArn"]
        os.environ["NOTIFICATION_TOPIC_ARN"] = topic
        ecs = boto3.client("ecs")
        ecs.create_cluster(clusterName="staging-cluster-bench")
        task = ecs.register_task_definition(
            family="bench", containerDefinitions=[{"name": "app", "image": "app", "memory": 512}]
        )["taskDefinition"]["taskDefinitionArn"]
        services = [f"service-{n:02}" for n in range(service_count)]
        for name in services:
            ecs.create_service(
                cluster="staging-cluster-bench",
                serviceName=name,
                taskDefinition=task,
                desiredCount=1,
            )
        for n in range(service_count):
            gateway.clients.cloudwatch.put_metric_alarm(
                AlarmName=f"bench-staging-service-{n:02}-5xx",
                MetricName="5XX",
                Namespace="Bench",
                Statistic="Sum",
                Period=60,
                EvaluationPeriods=1,
                Threshold=1,
                ComparisonOperator="GreaterThanOrEqualToThreshold",
            )
        event = _event(services)
        calls: list[str] = []
        for client in (gateway.clients.cloudwatch, gateway.clients.ecs):
            client.meta.events.register("before-call", lambda model, **_: calls.append(model.name))
        samples = []
        with Stubber(gateway.clients.codepipeline) as stub:
            for _ in range(runs):
                stub.add_response("put_job_success_result", {})
                calls.clear()
                started = time.perf_counter()
                with contextlib.redirect_stdout(io.StringIO()):  # EMF lines
                    handler.lambda_handler(event, Context())  # type: ignore[arg-type]
                samples.append(time.perf_counter() - started)
        default_gateway.cache_clear()
    return statistics.median(samples), len(calls)


def _event(services: list[str]) -> dict[str, Any]:
    parameters = {
        "environment": "staging",
        "alarm_prefix": "bench-staging-",
        "bake_seconds": 300,
        "cluster": "staging-cluster-bench",
        "services": services,
    }
    configuration = {"FunctionName": "bench", "UserParameters": json.dumps(parameters)}
    return {
        "CodePipeline.job": {
            "id": "bench-job",
            "accountId": "123456789012",
            "data": {"actionConfiguration": {"configuration": configuration}},
        }
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    runs = parser.parse_args().runs
    print(f"python {sys.version.split()[0]}, median of {runs} runs")
    imports = cold_import_seconds(("boto3", "health_check.handler"), runs)
    boto3_import, handler_import = imports["boto3"], imports["health_check.handler"]
    print(f"cold import  boto3                 {boto3_import * 1000:8.1f} ms")
    print(
        f"cold import  health_check.handler  {handler_import * 1000:8.1f} ms"
        f"  (+{(handler_import - boto3_import) * 1000:.1f} ms over boto3)"
    )
    print(
        f"peak memory  health_check.handler  {peak_rss_mib('health_check.handler'):8.1f} MiB"
        f"  (bare boto3 {peak_rss_mib('boto3'):.1f} MiB; the function has 256 MB)"
    )
    for count in (3, 30):
        seconds, calls = invocation_seconds(count, runs)
        print(
            f"invocation   {count:2} services, {count:2} alarms {seconds * 1000:8.1f} ms"
            f"  ({calls} CloudWatch/ECS calls)"
        )


if __name__ == "__main__":
    main()
