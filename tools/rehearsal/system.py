"""What the templates say about a release, as typed values: the rehearsal's only source of timings
and settings (target groups, deployment groups, alarms, Lambda functions, pipeline stages).

`load_system` renders template.yaml with its nested stacks for the given parameter values; a
design variant (design.py) may then replace settings, never the engine.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from buildspecs.scripts.deploy_files import appspec
from tools.rehearsal.stack import RenderedStack

REPO_ROOT = Path(__file__).resolve().parents[2]
ROOT_TEMPLATE = REPO_ROOT / "template.yaml"
STACK_NAME = "microservices-pipeline"
ENVIRONMENTS = ("staging", "production")

# CloudFormation's documented defaults for properties a template leaves out.
DEFAULT_HEALTH_CHECK_INTERVAL = 30
DEFAULT_HEALTHY_THRESHOLD = 5
DEFAULT_UNHEALTHY_THRESHOLD = 2
DEFAULT_DEREGISTRATION_DELAY = 300
# Lambda's defaults for asynchronous invocation (EventInvokeConfig absent).
DEFAULT_ASYNC_RETRIES = 2
DEFAULT_MAX_EVENT_AGE = 21600
DEFAULT_LAMBDA_TIMEOUT = 3


@dataclass(frozen=True)
class HealthCheck:
    interval: float
    healthy_threshold: int
    unhealthy_threshold: int
    path: str


@dataclass(frozen=True)
class TargetGroupSpec:
    arn: str
    name: str
    full_name: str
    health_check: HealthCheck
    deregistration_delay: float


@dataclass(frozen=True)
class ListenerSpec:
    arn: str
    port: int
    protocol: str


@dataclass(frozen=True)
class MetricQuery:
    """One entry of an alarm's Metrics (or the alarm's single metric, as id `m`)."""

    id: str
    return_data: bool
    expression: str | None = None
    namespace: str = ""
    metric_name: str = ""
    dimensions: tuple[tuple[str, str], ...] = ()
    stat: str = ""
    period: int = 60


@dataclass(frozen=True)
class AlarmSpec:
    name: str
    queries: tuple[MetricQuery, ...]
    period: int
    evaluation_periods: int
    datapoints_to_alarm: int
    threshold: float
    comparison: str
    treat_missing_data: str


@dataclass(frozen=True)
class DeploymentGroupSpec:
    name: str
    config_name: str
    termination_wait_seconds: float
    alarms_enabled: bool
    ignore_poll_alarm_failure: bool
    alarm_names: tuple[str, ...]
    auto_rollback_events: tuple[str, ...]
    raw: dict[str, Any] = field(compare=False, repr=False)


@dataclass(frozen=True)
class ServiceEnvironment:
    """One service in one environment: everything its releases go through."""

    environment: str
    service: str
    cluster: str
    ecs_service: str
    task_family: str
    # The roles its task definitions run with (what the validator's cross-checks expect).
    task_role: str
    execution_role: str
    desired_count: int
    grace_period: float
    blue: TargetGroupSpec
    green: TargetGroupSpec
    listener: ListenerSpec
    test_listener: ListenerSpec
    deployment_group: DeploymentGroupSpec
    alarms: tuple[AlarmSpec, ...]
    config_parameter: str
    config_value: str


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    name: str
    arn: str
    handler: str
    code_uri: str
    timeout: float
    environment: dict[str, str]
    max_retry_attempts: int
    max_event_age: float
    # EventBridge rules (their event patterns) and schedules that invoke the function.
    event_patterns: tuple[dict[str, Any], ...] = ()
    schedules: tuple[str, ...] = ()
    # EventInvokeConfig's on-failure destination (a function's ARN): where an event goes once
    # its retries failed or it grew too old.
    on_failure: str | None = None


@dataclass(frozen=True)
class ActionSpec:
    name: str
    category: str
    provider: str
    run_order: int
    configuration: dict[str, Any]
    timeout_minutes: float | None = None


@dataclass(frozen=True)
class StageSpec:
    name: str
    actions: tuple[ActionSpec, ...]
    on_failure: str | None  # ROLLBACK, FAIL, RETRY or None (fail)


@dataclass(frozen=True)
class LoadBalancerSpec:
    arn: str
    dns_name: str
    full_name: str


@dataclass(frozen=True)
class System:
    suffix: str
    application: str
    load_balancer: LoadBalancerSpec
    notification_topic_arn: str
    services: tuple[str, ...]
    environments: dict[str, dict[str, ServiceEnvironment]]
    functions: dict[str, FunctionSpec]
    stages: tuple[StageSpec, ...]
    # Lifecycle event -> function name, from the AppSpec the build writes.
    hooks: dict[str, str]
    # Alarms of an environment as a whole (the root template's), by environment.
    environment_alarms: dict[str, tuple[AlarmSpec, ...]] = field(default_factory=dict)
    # Whether the tasks can make the first pull of the bootstrap image through its ECR
    # pull-through cache rule (an internet path; see tasks_reach_the_internet).
    bootstrap_pull_possible: bool = True

    def function_by_arn_or_name(self, reference: str) -> FunctionSpec:
        for function in self.functions.values():
            if reference in {function.name, function.arn}:
                return function
        raise KeyError(f"no function {reference!r} in the templates")

    def service_environment(self, deployment_group: str) -> ServiceEnvironment:
        for services in self.environments.values():
            for spec in services.values():
                if spec.deployment_group.name == deployment_group:
                    return spec
        raise KeyError(f"no deployment group {deployment_group!r} in the templates")

    def all_alarms(self) -> list[AlarmSpec]:
        return [
            alarm for env in self.environments.values() for s in env.values() for alarm in s.alarms
        ]


def load_system(parameters: dict[str, Any] | None = None, root: Path = ROOT_TEMPLATE) -> System:
    stack = RenderedStack(root, STACK_NAME, dict(parameters or {}))
    network = stack.nested("NetworkStack")
    services = {
        stack.properties(logical_id)["Parameters"]["ServiceName"]: nested
        for logical_id, nested in stack.nested_stacks().items()
        if nested.path.name == "service.yaml"
    }
    functions = _functions(stack)
    hook_names = _appspec_hooks(functions)
    return System(
        suffix=str(stack.renderer.values["EnvironmentSuffix"]),
        application=str(stack.physical("CodeDeployApplication")),
        load_balancer=LoadBalancerSpec(
            arn=network.output("LoadBalancerArn"),
            dns_name=network.output("LoadBalancerDnsName"),
            full_name=network.output("LoadBalancerFullName"),
        ),
        notification_topic_arn=str(stack.physical("NotificationTopic")),
        services=tuple(services),
        environments={
            environment: {
                name: _service_environment(nested, environment, name)
                for name, nested in services.items()
            }
            for environment in ENVIRONMENTS
        },
        functions=functions,
        stages=_stages(stack.nested("DeliveryStack")),
        hooks=hook_names,
        bootstrap_pull_possible=tasks_reach_the_internet(network),
        environment_alarms={
            environment: tuple(
                _alarm(stack.properties(logical_id))
                for logical_id in stack.resources("AWS::CloudWatch::Alarm")
                if logical_id.startswith(environment.capitalize())
            )
            for environment in ENVIRONMENTS
        },
    )


# ---------------------------------------------------------------- network
def tasks_reach_the_internet(network: RenderedStack) -> bool:
    """A public IP on the tasks, or a NAT route from their private subnets, in this egress mode.

    The first pull of an image through an ECR pull-through cache rule needs that path when ECR is
    reached over interface endpoints; later pulls do not ("Amazon ECR interface VPC endpoints",
    considerations: https://docs.aws.amazon.com/AmazonECR/latest/userguide/vpc-endpoints.html).
    """
    if network.output("TaskAssignPublicIp") == "ENABLED":
        return True
    return any(
        "NatGatewayId" in route["Properties"]
        and route["Properties"]["RouteTableId"] == {"Ref": "PrivateRouteTable"}
        for route in network.resources("AWS::EC2::Route").values()
    )


# ---------------------------------------------------------------- services
def _service_environment(
    stack: RenderedStack, environment: str, service: str
) -> ServiceEnvironment:
    prefix = environment.capitalize()
    ecs = stack.properties(f"{prefix}Service")
    task = stack.properties(f"{prefix}TaskDefinition")
    group = stack.properties(f"{prefix}DeploymentGroup")
    config = stack.properties(f"{prefix}Config")
    alarm_ids = [
        logical_id
        for logical_id in stack.resources("AWS::CloudWatch::Alarm")
        if logical_id.startswith(prefix)
    ]
    return ServiceEnvironment(
        environment=environment,
        service=service,
        cluster=ecs["Cluster"],
        ecs_service=ecs["ServiceName"],
        task_family=task["Family"],
        task_role=task["TaskRoleArn"],
        execution_role=task["ExecutionRoleArn"],
        desired_count=_desired_count(stack, prefix, ecs),
        grace_period=float(ecs.get("HealthCheckGracePeriodSeconds", 0)),
        blue=_target_group(stack, f"{prefix}BlueTargetGroup"),
        green=_target_group(stack, f"{prefix}GreenTargetGroup"),
        listener=_listener(stack, f"{prefix}Listener"),
        test_listener=_listener(stack, f"{prefix}TestListener"),
        deployment_group=_deployment_group(group),
        alarms=tuple(_alarm(stack.properties(logical_id)) for logical_id in alarm_ids),
        config_parameter=config["Name"],
        config_value=config["Value"],
    )


def _desired_count(stack: RenderedStack, prefix: str, ecs: dict[str, Any]) -> int:
    """Tasks the service runs: its scalable target's minimum when Application Auto Scaling owns
    the count (the service itself is created with none), else the service's DesiredCount."""
    scalable = f"{prefix}ScalableTarget"
    if scalable in stack.resources("AWS::ApplicationAutoScaling::ScalableTarget"):
        return int(stack.properties(scalable)["MinCapacity"])
    return int(ecs.get("DesiredCount", 1))


def _target_group(stack: RenderedStack, logical_id: str) -> TargetGroupSpec:
    props = stack.properties(logical_id)
    attributes = {a["Key"]: a["Value"] for a in props.get("TargetGroupAttributes", [])}
    return TargetGroupSpec(
        arn=stack.physical(logical_id),
        name=stack.physical(f"{logical_id}.TargetGroupName"),
        full_name=stack.physical(f"{logical_id}.TargetGroupFullName"),
        health_check=HealthCheck(
            interval=float(props.get("HealthCheckIntervalSeconds", DEFAULT_HEALTH_CHECK_INTERVAL)),
            healthy_threshold=int(props.get("HealthyThresholdCount", DEFAULT_HEALTHY_THRESHOLD)),
            unhealthy_threshold=int(
                props.get("UnhealthyThresholdCount", DEFAULT_UNHEALTHY_THRESHOLD)
            ),
            path=str(props.get("HealthCheckPath", "/")),
        ),
        deregistration_delay=float(
            attributes.get("deregistration_delay.timeout_seconds", DEFAULT_DEREGISTRATION_DELAY)
        ),
    )


def _listener(stack: RenderedStack, logical_id: str) -> ListenerSpec:
    props = stack.properties(logical_id)
    return ListenerSpec(
        arn=stack.physical(logical_id), port=int(props["Port"]), protocol=str(props["Protocol"])
    )


def _deployment_group(props: dict[str, Any]) -> DeploymentGroupSpec:
    blue_green = props.get("BlueGreenDeploymentConfiguration", {})
    termination = blue_green.get("TerminateBlueInstancesOnDeploymentSuccess", {})
    alarms = props.get("AlarmConfiguration", {})
    rollback = props.get("AutoRollbackConfiguration", {})
    return DeploymentGroupSpec(
        name=props["DeploymentGroupName"],
        config_name=props.get("DeploymentConfigName", "CodeDeployDefault.ECSAllAtOnce"),
        termination_wait_seconds=60.0 * float(termination.get("TerminationWaitTimeInMinutes", 0)),
        alarms_enabled=bool(alarms.get("Enabled", False)),
        ignore_poll_alarm_failure=bool(alarms.get("IgnorePollAlarmFailure", False)),
        alarm_names=tuple(alarm["Name"] for alarm in alarms.get("Alarms", [])),
        auto_rollback_events=tuple(rollback.get("Events", [])) if rollback.get("Enabled") else (),
        raw=props,
    )


def _alarm(props: dict[str, Any]) -> AlarmSpec:
    if "Metrics" in props:
        queries = tuple(_query(entry) for entry in props["Metrics"])
        period = max((q.period for q in queries if q.expression is None), default=60)
    else:
        period = int(props["Period"])
        queries = (
            MetricQuery(
                id="m",
                return_data=True,
                namespace=props["Namespace"],
                metric_name=props["MetricName"],
                dimensions=tuple((d["Name"], d["Value"]) for d in props.get("Dimensions", [])),
                stat=props.get("Statistic") or props["ExtendedStatistic"],
                period=period,
            ),
        )
    evaluation_periods = int(props["EvaluationPeriods"])
    return AlarmSpec(
        name=props["AlarmName"],
        queries=queries,
        period=period,
        evaluation_periods=evaluation_periods,
        datapoints_to_alarm=int(props.get("DatapointsToAlarm", evaluation_periods)),
        threshold=float(props["Threshold"]),
        comparison=props["ComparisonOperator"],
        treat_missing_data=props.get("TreatMissingData", "missing"),
    )


def _query(entry: dict[str, Any]) -> MetricQuery:
    if "Expression" in entry:
        return MetricQuery(
            id=entry["Id"],
            return_data=bool(entry.get("ReturnData", True)),
            expression=entry["Expression"],
        )
    stat = entry["MetricStat"]
    metric = stat["Metric"]
    return MetricQuery(
        id=entry["Id"],
        return_data=bool(entry.get("ReturnData", True)),
        namespace=metric["Namespace"],
        metric_name=metric["MetricName"],
        dimensions=tuple((d["Name"], d["Value"]) for d in metric.get("Dimensions", [])),
        stat=stat["Stat"],
        period=int(stat["Period"]),
    )


# ---------------------------------------------------------------- functions and pipeline
def _functions(stack: RenderedStack) -> dict[str, FunctionSpec]:
    globals_ = stack.renderer.render(stack.template.get("Globals", {}).get("Function", {}))
    functions = {}
    for logical_id in stack.resources("AWS::Serverless::Function"):
        props = {**globals_, **stack.properties(logical_id)}
        variables = {
            **globals_.get("Environment", {}).get("Variables", {}),
            **props.get("Environment", {}).get("Variables", {}),
        }
        invoke_config = props.get("EventInvokeConfig", {})
        name = props["FunctionName"]
        events = props.get("Events", {}).values()
        functions[name] = FunctionSpec(
            logical_id=logical_id,
            name=name,
            arn=stack.physical(f"{logical_id}.Arn"),
            handler=props["Handler"],
            code_uri=props["CodeUri"],
            timeout=float(props.get("Timeout", DEFAULT_LAMBDA_TIMEOUT)),
            environment={key: str(value) for key, value in variables.items()},
            max_retry_attempts=int(
                invoke_config.get("MaximumRetryAttempts", DEFAULT_ASYNC_RETRIES)
            ),
            max_event_age=float(
                invoke_config.get("MaximumEventAgeInSeconds", DEFAULT_MAX_EVENT_AGE)
            ),
            event_patterns=tuple(
                e["Properties"]["Pattern"]
                for e in events
                if e.get("Type") in {"EventBridgeRule", "CloudWatchEvent"}
            ),
            schedules=tuple(
                e["Properties"]["Schedule"] for e in events if e.get("Type") == "Schedule"
            ),
            on_failure=_lambda_destination(invoke_config),
        )
    return functions


def _lambda_destination(invoke_config: dict[str, Any]) -> str | None:
    on_failure = invoke_config.get("DestinationConfig", {}).get("OnFailure", {})
    return str(on_failure["Destination"]) if on_failure.get("Type") == "Lambda" else None


def _appspec_hooks(functions: dict[str, FunctionSpec]) -> dict[str, str]:
    """The hooks the build writes into appspec.yaml (its own code), mapped to function names."""
    by_logical = {function.logical_id: function for function in functions.values()}
    text = appspec(
        service="any",
        smoke_test_hook_arn=by_logical["SmokeTestHookFunction"].arn,
        traffic_guard_hook_arn=by_logical["TrafficGuardHookFunction"].arn,
    )
    hooks: dict[str, str] = {}
    for entry in yaml.safe_load(text).get("Hooks") or []:
        for event, arn in entry.items():
            hooks[event] = next(f.name for f in functions.values() if f.arn == arn)
    return hooks


def _stages(delivery: RenderedStack) -> tuple[StageSpec, ...]:
    pipeline = delivery.properties("Pipeline")
    return tuple(
        StageSpec(
            name=stage["Name"],
            on_failure=(stage.get("OnFailure") or {}).get("Result"),
            actions=tuple(
                ActionSpec(
                    name=action["Name"],
                    category=action["ActionTypeId"]["Category"],
                    provider=action["ActionTypeId"]["Provider"],
                    run_order=int(action.get("RunOrder", 1)),
                    configuration=dict(action.get("Configuration", {})),
                    timeout_minutes=action.get("TimeoutInMinutes"),
                )
                for action in stage["Actions"]
            ),
        )
        for stage in pipeline["Stages"]
    )


def smoke_paths(spec: ServiceEnvironment) -> list[str]:
    paths: list[str] = json.loads(spec.config_value).get("smoke_paths", [])
    return paths
