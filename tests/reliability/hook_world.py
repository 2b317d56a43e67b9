"""The hooks' AWS, canned: one service's blue/green deployment (CodeDeploy, the load balancer,
its network interfaces, alarms, the SSM configuration) answered by CannedAws through real
botocore clients built with the hooks' own configurations; plus a local HTTP server standing in
for the green tasks behind the test listener, so the smoke test never leaves 127.0.0.1."""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
from codedeploy_hooks import clients
from codedeploy_hooks.checks.network import AlbPrivateAddresses
from codedeploy_hooks.dependencies import Dependencies
from codedeploy_hooks.runner import CodeDeployStatusReporter, Runtime
from codedeploy_hooks.settings import Settings

from tests.reliability.canned_aws import CannedAws
from tests.support import serving

APPLICATION = "microservices-dev"
GROUP = "staging-api-service"
LOAD_BALANCER = (
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/microservices-dev/50dc6c"
)
PROD_LISTENER = LOAD_BALANCER.replace(":loadbalancer/", ":listener/") + "/prod"
TEST_LISTENER = LOAD_BALANCER.replace(":loadbalancer/", ":listener/") + "/test"
BLUE = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/tg-blue/1"
GREEN = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/tg-green/2"
ALARMS = tuple(f"dev-staging-api-service-{check}" for check in ("5xx-rate", "healthy-hosts"))
STATUS_CALL = "PutLifecycleEventHookExecutionStatus"
SETTINGS = Settings(
    smoke_attempts=2,
    smoke_request_timeout_seconds=1.0,
    backoff_base_seconds=0.0,
    backoff_max_seconds=0.0,
    target_settle_seconds=0.0,
    target_poll_seconds=0.0,
    # A bake of one check, at once: the reads it makes are what these suites look at.
    watch_seconds=0.001,
    watch_interval_seconds=0.0,
)


@dataclass
class World:
    """What the hooks will find; each field can be made hostile by a test."""

    smoke_port: int
    after_allow_traffic: bool = False
    alarm_states: dict[str, str] = field(default_factory=lambda: dict.fromkeys(ALARMS, "OK"))
    target_states: tuple[str, ...] = ("healthy", "healthy")
    deployment_info: Any = None  # None: the well-formed one
    group_info: Any = None
    config_value: Any = None

    @property
    def green_healthy(self) -> bool:
        return bool(self.target_states) and set(self.target_states) == {"healthy"}

    @property
    def environment_quiet(self) -> bool:
        return bool(self.alarm_states) and "ALARM" not in self.alarm_states.values()


def _deployment(deployment_id: str) -> dict[str, Any]:
    return {
        "deploymentId": deployment_id,
        "applicationName": APPLICATION,
        "deploymentGroupName": GROUP,
        "computePlatform": "ECS",
    }


GROUP_INFO: dict[str, Any] = {
    "applicationName": APPLICATION,
    "deploymentGroupName": GROUP,
    "computePlatform": "ECS",
    "ecsServices": [{"serviceName": "api-service-dev", "clusterName": "staging-cluster-dev"}],
    "loadBalancerInfo": {
        "targetGroupPairInfoList": [
            {
                "targetGroups": [{"name": "tg-blue"}, {"name": "tg-green"}],
                "prodTrafficRoute": {"listenerArns": [PROD_LISTENER]},
                "testTrafficRoute": {"listenerArns": [TEST_LISTENER]},
            }
        ]
    },
    "alarmConfiguration": {"enabled": True, "alarms": [{"name": name} for name in ALARMS]},
}


def arrange(canned: CannedAws, world: World) -> None:
    canned.reset()

    def listener(params: dict[str, Any]) -> dict[str, Any]:
        arn = params["ListenerArns"][0]
        is_test = arn == TEST_LISTENER
        forwards = GREEN if is_test or world.after_allow_traffic else BLUE
        return {
            "Listeners": [
                {
                    "ListenerArn": arn,
                    "LoadBalancerArn": LOAD_BALANCER,
                    "Port": world.smoke_port if is_test else 8080,
                    "Protocol": "HTTP",
                    "DefaultActions": [{"Type": "forward", "TargetGroupArn": forwards}],
                }
            ]
        }

    def alarms(params: dict[str, Any]) -> dict[str, Any]:
        prefix, names = params.get("AlarmNamePrefix"), params.get("AlarmNames")
        return {
            "MetricAlarms": [
                {"AlarmName": name, "StateValue": state}
                for name, state in world.alarm_states.items()
                if (prefix and name.startswith(prefix)) or (names and name in names)
            ]
        }

    config = world.config_value
    canned.replies.update(
        {
            "GetDeployment": lambda params: {
                "deploymentInfo": world.deployment_info or _deployment(params["deploymentId"])
            },
            "GetDeploymentGroup": {"deploymentGroupInfo": world.group_info or GROUP_INFO},
            "DescribeListeners": listener,
            "DescribeTargetGroups": {
                "TargetGroups": [
                    {"TargetGroupArn": BLUE, "TargetGroupName": "tg-blue"},
                    {"TargetGroupArn": GREEN, "TargetGroupName": "tg-green"},
                ]
            },
            "DescribeAlarms": alarms,
            # Green's own requests and 5XX answers, minute by minute (none: not judged).
            "GetMetricData": {
                "MetricDataResults": [
                    {"Id": query_id, "Timestamps": [], "Values": [], "StatusCode": "Complete"}
                    for query_id in ("requests", "errors")
                ]
            },
            "DescribeTargetHealth": {
                "TargetHealthDescriptions": [
                    {"Target": {"Id": f"10.0.1.{n}", "Port": 8080}, "TargetHealth": {"State": s}}
                    for n, s in enumerate(world.target_states)
                ]
            },
            "GetParameter": {
                "Parameter": {
                    "Name": "/pipeline/staging/api-service/config",
                    "Type": "String",
                    "Value": json.dumps({"smoke_paths": ["/v1/ping"]})
                    if config is None
                    else config,
                }
            },
            "DescribeLoadBalancers": {
                "LoadBalancers": [
                    {"LoadBalancerArn": LOAD_BALANCER, "DNSName": "microservices-dev.elb.test"}
                ]
            },
            "DescribeNetworkInterfaces": {"NetworkInterfaces": [{"PrivateIpAddress": "127.0.0.1"}]},
            STATUS_CALL: lambda params: {
                "lifecycleEventHookExecutionId": params["lifecycleEventHookExecutionId"]
            },
        }
    )


@dataclass(frozen=True)
class HookClients:
    dependencies: Dependencies
    reporter: CodeDeployStatusReporter

    def runtime(self, settings: Settings | None = None) -> Runtime:
        """On the system clock: the waits are short, and end on the deadline's clock."""
        dependencies = self.dependencies
        if settings is not None:
            dependencies = replace(dependencies, settings=settings)
        return Runtime(reporter=self.reporter, dependencies=lambda: dependencies)


def hook_clients(canned: CannedAws, settings: Settings = SETTINGS) -> HookClients:
    """The hooks' own clients (clients.AwsClients, with their configurations), answered by
    `canned`."""
    session = boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )
    aws = clients.AwsClients(session)
    reads = [aws.codedeploy, aws.elbv2, aws.ec2, aws.ssm, aws.cloudwatch]
    for client in reads:
        canned.attach(client, clients.READS)
    canned.attach(aws.codedeploy_status, clients.STATUS)
    dependencies = Dependencies(
        codedeploy=aws.codedeploy,
        elbv2=aws.elbv2,
        ssm=aws.ssm,
        cloudwatch=aws.cloudwatch,
        resolver=AlbPrivateAddresses(ec2=aws.ec2, elbv2=aws.elbv2),
        settings=settings,
    )
    return HookClients(dependencies, CodeDeployStatusReporter(aws.codedeploy_status))


def statuses(canned: CannedAws) -> list[tuple[str, str, str, bool]]:
    """(deploymentId, executionId, status, failed) of every status call."""
    return [
        (
            call.params["deploymentId"],
            call.params["lifecycleEventHookExecutionId"],
            call.params["status"],
            call.failed,
        )
        for call in canned.named(STATUS_CALL)
    ]


class _GreenTasks(BaseHTTPRequestHandler):
    server: GreenTasksServer

    def do_GET(self) -> None:
        status = self.server.status
        self.server.requests += 1
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # quiet test output
        return


class GreenTasksServer(ThreadingHTTPServer):
    daemon_threads = True
    status = 200
    requests = 0


def green_tasks() -> contextlib.AbstractContextManager[GreenTasksServer]:
    return serving(GreenTasksServer(("127.0.0.1", 0), _GreenTasks))
