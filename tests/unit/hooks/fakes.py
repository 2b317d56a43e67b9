"""Test doubles and builders for the hook tests (fixtures using them are in conftest.py): a moto
world shaped like one service's blue/green deployment, a recording stand-in for the status call,
fake Lambda contexts and a local HTTP server standing in for the green tasks."""

from __future__ import annotations

import functools
import json
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
from codedeploy_hooks.checks.deployment import DeploymentTarget
from codedeploy_hooks.checks.network import Endpoint
from codedeploy_hooks.checks.verdict import Verdict
from codedeploy_hooks.deadline import Clock, Deadline, SystemClock
from codedeploy_hooks.dependencies import Dependencies
from codedeploy_hooks.runner import (
    SAFETY_MARGIN_SECONDS,
    CodeDeployStatusReporter,
    HookIds,
    Runtime,
    Status,
    StatusReporter,
)
from codedeploy_hooks.settings import Settings

from tests import support

SUFFIX = "dev"
APPLICATION = f"microservices-{SUFFIX}"
GROUP = "staging-api-service"
CLUSTER = f"staging-cluster-{SUFFIX}"
ECS_SERVICE = f"api-service-{SUFFIX}"
CONFIG_PARAMETER = "/pipeline/staging/api-service/config"
# Where the health check records the restores it creates in the group (docs/contracts.md).
RESTORE_PARAMETER = "/pipeline/staging/api-service/restore"
ALARM_PREFIX = f"{SUFFIX}-staging-api-service-"
GREEN_ADDRESS = "10.0.1.10"
PLENTY_OF_TIME_MS = 120_000

# One session for every test: moto resets boto3's default session on each start, and reloading the
# service models (EC2's is megabytes of JSON) for every test would dominate the suite's time.
_SESSION = boto3.session.Session(region_name="us-east-1")


@functools.cache
def client(service: str) -> Any:
    """One client per service, of the shared session; moto intercepts it whenever a mock is active
    (its handler is on every client's events from creation). A client costs ~20 ms to make and
    the world of each test asks for a dozen; a Stubber on one is used as a context manager, so it
    deactivates when its test ends."""
    return _SESSION.client(service)  # type: ignore[call-overload]


# Small numbers so the retry and watch loops finish in milliseconds.
FAST_SETTINGS = Settings(
    smoke_attempts=3,
    smoke_request_timeout_seconds=0.5,
    backoff_base_seconds=0.01,
    backoff_max_seconds=0.02,
    target_settle_seconds=0.2,
    target_poll_seconds=0.01,
    watch_seconds=0.0,
    watch_interval_seconds=0.01,
)


@dataclass
class FakeContext:
    """The parts of a LambdaContext the hooks and Powertools read."""

    remaining_ms: int = PLENTY_OF_TIME_MS
    function_name: str = "CodeDeployHook_Test-dev"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = (
        "arn:aws:lambda:us-east-1:123456789012:function:CodeDeployHook_Test-dev"
    )
    aws_request_id: str = "00000000-0000-0000-0000-000000000000"
    log_group_name: str = "/aws/lambda/CodeDeployHook_Test-dev"
    log_stream_name: str = "stream"

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def budget_ms(seconds: float) -> int:
    """Remaining time that leaves `seconds` for the check once the safety margin is kept back."""
    return int((SAFETY_MARGIN_SECONDS + seconds) * 1000)


@dataclass
class RecordingStatusClient:
    """Stands in for the CodeDeploy client's status call, which moto does not implement."""

    error: Exception | None = None
    calls: list[dict[str, str]] = field(default_factory=list)

    @property
    def exceptions(self) -> Any:
        """The modeled exceptions of a real CodeDeploy client (the reporter catches one)."""
        return _SESSION.client("codedeploy").exceptions

    def put_lifecycle_event_hook_execution_status(self, **kwargs: str) -> dict[str, str]:
        self.calls.append(kwargs)
        if self.error is not None:
            raise self.error
        return {"lifecycleEventHookExecutionId": kwargs["lifecycleEventHookExecutionId"]}

    @property
    def statuses(self) -> list[str]:
        return [call["status"] for call in self.calls]


@dataclass
class RecordingReporter:
    reports: list[tuple[HookIds, Status]] = field(default_factory=list)

    def report(self, ids: HookIds, status: Status) -> None:
        self.reports.append((ids, status))


@dataclass
class FixedAddresses:
    """EndpointResolver pointing every listener at a local server; remembers what it was asked."""

    port: int
    host_header: str = "alb-test.us-east-1.elb.amazonaws.com"
    listeners: list[Any] = field(default_factory=list)

    def resolve(self, listener: Any) -> list[Endpoint]:
        self.listeners.append(listener)
        return [Endpoint(host="127.0.0.1", port=self.port, host_header=self.host_header)]


class StuckCodeDeploy:
    """moto's CodeDeploy, except that GetDeployment hangs until `release` is set: a connection
    stuck past the hook's deadline."""

    def __init__(self, release: threading.Event) -> None:
        self._client = client("codedeploy")
        self._release = release

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def get_deployment(self, **kwargs: Any) -> Any:
        self._release.wait(timeout=30)
        return self._client.get_deployment(**kwargs)


class Recording:
    """A client that records the operations called through it, then calls them."""

    def __init__(self, service: str) -> None:
        self._client = client(service)
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if name in {"exceptions", "meta"} or not callable(attribute):
            return attribute
        self.calls.append(name)
        return attribute


def passing_check(target: DeploymentTarget, deps: Dependencies, deadline: Deadline) -> Verdict:
    return Verdict.ok("fine")


@dataclass
class VirtualClock:
    """A clock on which sleeping takes no real time: time moves only when the code sleeps. It
    records each sleep and can act during one (fire an alarm, cancel a deadline)."""

    now: float = 0.0
    on_sleep: Callable[[float], None] | None = None
    slept: list[float] = field(default_factory=list)

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return 1_767_225_600.0 + self.now

    def wait(self, event: threading.Event, seconds: float) -> bool:
        if event.is_set():
            return True
        self.slept.append(seconds)
        self.now += seconds
        if self.on_sleep is not None:
            self.on_sleep(seconds)
        return event.is_set()


def runtime(
    reporter: StatusReporter | RecordingStatusClient,
    dependencies: Dependencies | Callable[[], Dependencies],
    clock: Clock | None = None,
) -> Runtime:
    """A Runtime around a reporter (or a status client to report through) and dependencies."""
    if isinstance(reporter, RecordingStatusClient):
        reporter = CodeDeployStatusReporter(reporter)  # type: ignore[arg-type]
    factory = dependencies if callable(dependencies) else (lambda: dependencies)
    return Runtime(reporter=reporter, dependencies=factory, clock=clock or SystemClock())


class CannedCodeDeploy:
    """GetDeployment and GetDeploymentGroup of one well-formed ECS blue/green deployment, for
    tests of the runner that need a deployment to resolve but no moto world; `extra` adds fields
    to GetDeployment's deploymentInfo (what CodeDeploy says of a rollback, say)."""

    def __init__(self, **extra: Any) -> None:
        self.exceptions = client("codedeploy").exceptions
        self._extra = extra

    def get_deployment(self, **params: str) -> dict[str, Any]:
        return {
            "deploymentInfo": {
                "deploymentId": params["deploymentId"],
                "applicationName": APPLICATION,
                "deploymentGroupName": GROUP,
                "computePlatform": "ECS",
                **self._extra,
            }
        }

    def get_deployment_group(self, **_: str) -> dict[str, Any]:
        listener = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/lb/1/"
        return {
            "deploymentGroupInfo": {
                "ecsServices": [{"serviceName": ECS_SERVICE, "clusterName": CLUSTER}],
                "loadBalancerInfo": {
                    "targetGroupPairInfoList": [
                        {
                            "targetGroups": [{"name": "blue"}, {"name": "green"}],
                            "prodTrafficRoute": {"listenerArns": [listener + "prod"]},
                            "testTrafficRoute": {"listenerArns": [listener + "test"]},
                        }
                    ]
                },
            }
        }


class CannedSsm:
    """GetParameter answered from `values` (name -> value), ParameterNotFound for any other name;
    `error` makes every read fail with it instead. Records the names read."""

    def __init__(
        self, values: dict[str, str] | None = None, error: Exception | None = None
    ) -> None:
        self.exceptions = client("ssm").exceptions
        self.values = values or {}
        self.error = error
        self.names: list[str] = []

    def get_parameter(self, **params: str) -> dict[str, Any]:
        name = params["Name"]
        self.names.append(name)
        if self.error is not None:
            raise self.error
        if name in self.values:
            return {"Parameter": {"Name": name, "Type": "String", "Value": self.values[name]}}
        raise self.exceptions.ParameterNotFound(
            {"Error": {"Code": "ParameterNotFound", "Message": params["Name"]}}, "GetParameter"
        )


def canned_dependencies(
    codedeploy: CannedCodeDeploy | None = None, ssm: CannedSsm | None = None
) -> Dependencies:
    """Dependencies that resolve the deployment and nothing else (for checks that read nothing)."""
    return Dependencies(
        codedeploy=codedeploy or CannedCodeDeploy(),  # type: ignore[arg-type]
        elbv2=None,  # type: ignore[arg-type]
        ssm=ssm or CannedSsm(),  # type: ignore[arg-type]
        cloudwatch=None,  # type: ignore[arg-type]
        resolver=FixedAddresses(port=1),
        settings=FAST_SETTINGS,
    )


# ---------------------------------------------------------------- moto world
@dataclass
class World:
    deployment_id: str
    load_balancer_arn: str
    load_balancer_dns: str
    prod_listener_arn: str
    test_listener_arn: str
    blue_arn: str
    green_arn: str
    interface_addresses: list[str]

    def event(self, execution_id: str = "exec-1") -> dict[str, str]:
        return {"DeploymentId": self.deployment_id, "LifecycleEventHookExecutionId": execution_id}


def build_world(*, alarm_configuration: dict[str, Any] | None = None) -> World:
    ec2 = client("ec2")
    elbv2 = client("elbv2")
    vpc_id = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc_id, CidrBlock=cidr, AvailabilityZone=zone)["Subnet"]["SubnetId"]
        for cidr, zone in (("10.0.1.0/24", "us-east-1a"), ("10.0.2.0/24", "us-east-1b"))
    ]
    balancer = elbv2.create_load_balancer(
        Name="pipeline-dev", Subnets=subnets, Scheme="internet-facing", Type="application"
    )["LoadBalancers"][0]
    blue, green = (
        elbv2.create_target_group(
            Name=name, Protocol="HTTP", Port=8080, VpcId=vpc_id, TargetType="ip"
        )["TargetGroups"][0]["TargetGroupArn"]
        for name in ("staging-api-blue", "staging-api-green")
    )
    prod, test = (
        elbv2.create_listener(
            LoadBalancerArn=balancer["LoadBalancerArn"],
            Protocol="HTTP",
            Port=port,
            DefaultActions=[{"Type": "forward", "TargetGroupArn": group}],
        )["Listeners"][0]["ListenerArn"]
        for port, group in ((80, blue), (8080, green))
    )
    elbv2.register_targets(TargetGroupArn=green, Targets=[{"Id": GREEN_ADDRESS, "Port": 8080}])
    name_and_id = balancer["LoadBalancerArn"].split(":loadbalancer/")[1]
    addresses = [
        ec2.create_network_interface(SubnetId=subnet, Description=f"ELB {name_and_id}")[
            "NetworkInterface"
        ]["PrivateIpAddress"]
        for subnet in subnets
    ]
    # An interface of something else in the VPC: must not be mistaken for the ALB's.
    ec2.create_network_interface(SubnetId=subnets[0], Description="ECS task")

    client("ssm").put_parameter(
        Name=CONFIG_PARAMETER,
        Type="String",
        Value=json.dumps(
            {"environment": "staging", "service": "api-service", "smoke_paths": ["/v1/ping"]}
        ),
    )
    for check in ("5xx", "latency"):
        put_alarm(f"{ALARM_PREFIX}{check}", "OK")

    codedeploy = client("codedeploy")
    codedeploy.create_application(applicationName=APPLICATION, computePlatform="ECS")
    codedeploy.create_deployment_group(
        applicationName=APPLICATION,
        deploymentGroupName=GROUP,
        serviceRoleArn="arn:aws:iam::123456789012:role/codedeploy",
        deploymentStyle={
            "deploymentType": "BLUE_GREEN",
            "deploymentOption": "WITH_TRAFFIC_CONTROL",
        },
        ecsServices=[{"serviceName": ECS_SERVICE, "clusterName": CLUSTER}],
        loadBalancerInfo={
            "targetGroupPairInfoList": [
                {
                    "targetGroups": [{"name": "staging-api-blue"}, {"name": "staging-api-green"}],
                    "prodTrafficRoute": {"listenerArns": [prod]},
                    "testTrafficRoute": {"listenerArns": [test]},
                }
            ]
        },
        **({"alarmConfiguration": alarm_configuration} if alarm_configuration else {}),
    )
    deployment_id = codedeploy.create_deployment(
        applicationName=APPLICATION,
        deploymentGroupName=GROUP,
        revision={"revisionType": "AppSpecContent", "appSpecContent": {"content": "{}"}},
    )["deploymentId"]
    return World(
        deployment_id=deployment_id,
        load_balancer_arn=balancer["LoadBalancerArn"],
        load_balancer_dns=balancer["DNSName"],
        prod_listener_arn=prod,
        test_listener_arn=test,
        blue_arn=blue,
        green_arn=green,
        interface_addresses=addresses,
    )


def shift_production_to_green(world: World) -> None:
    """What CodeDeploy's AllowTraffic does: the production listener forwards to green."""
    client("elbv2").modify_listener(
        ListenerArn=world.prod_listener_arn,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": world.green_arn}],
    )


def set_alarm(name: str, state: str) -> None:
    client("cloudwatch").set_alarm_state(AlarmName=name, StateValue=state, StateReason="t")


def put_alarm(name: str, state: str) -> None:
    """A metric alarm in moto, in `state`."""
    support.put_alarm(client("cloudwatch"), name, state)


def invoke(
    handle: Callable[[dict[str, Any], Any, Runtime], dict[str, str]],
    world: World,
    resolver: Any,
    *,
    context: FakeContext | None = None,
    settings: Settings = FAST_SETTINGS,
    clock: Clock | None = None,
    **overrides: Any,
) -> tuple[dict[str, str], RecordingStatusClient]:
    """A hook's `handle` on the world's event, against moto, reporting to a recorder."""
    status = RecordingStatusClient()
    deps = moto_dependencies(resolver, settings, **overrides)
    response = handle(
        world.event(), context or FakeContext(), runtime(status, deps, clock or SystemClock())
    )
    return response, status


def moto_dependencies(
    resolver: Any, settings: Settings = FAST_SETTINGS, **overrides: Any
) -> Dependencies:
    """Dependencies whose clients talk to moto (call inside the `world` fixture)."""
    values: dict[str, Any] = {
        "codedeploy": client("codedeploy"),
        "elbv2": client("elbv2"),
        "ssm": client("ssm"),
        "cloudwatch": client("cloudwatch"),
        "resolver": resolver,
        "settings": settings,
    }
    values.update(overrides)
    return Dependencies(**values)


# ---------------------------------------------------------------- green tasks
@dataclass
class GreenTasks:
    """A local HTTP server standing in for the green task set behind the test listener."""

    port: int
    mode: str = "healthy"  # healthy | failing | slow | flaky
    slow_seconds: float = 2.0
    failing_paths: set[str] = field(default_factory=set)
    requests: list[tuple[str, str]] = field(default_factory=list)  # (path, Host header)


class GreenTasksHandler(BaseHTTPRequestHandler):
    server: GreenTasksServer

    def do_GET(self) -> None:
        tasks = self.server.tasks
        tasks.requests.append((self.path, self.headers.get("Host", "")))
        if tasks.mode == "slow":
            time.sleep(tasks.slow_seconds)
        failing = tasks.mode == "failing" or self.path in tasks.failing_paths
        if tasks.mode == "flaky" and len(tasks.requests) == 1:
            failing = True  # the first request fails, the retry succeeds
        body = b'{"status": "fail"}' if failing else b'{"status": "ok"}'
        self.send_response(500 if failing else 200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # quiet test output
        return


class GreenTasksServer(ThreadingHTTPServer):
    daemon_threads = True
    tasks: GreenTasks

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A "slow" task answers after the smoke test gave up and closed the connection: the
        # broken pipe is the scenario under test, not a failure worth a traceback.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)
