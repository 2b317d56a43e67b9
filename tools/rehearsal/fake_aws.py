"""AWS for the Lambda code inside a rehearsal, answered below botocore from the model's state.

botocore emits `before-call.<service>.<operation>` before it serializes and sends a request; a
handler that returns `(http_response, parsed)` there replaces the network round trip (the
mechanism botocore's own Stubber uses). Every client the Lambda code creates, with its own
configuration, therefore makes its real calls and gets AWS's response shapes, while nothing
leaves the process. An operation the model does not answer is an error the Lambda code sees
(and fails closed on) and the rehearsal lists, never a silent success.

botocore's retries and timeouts are not exercised here: they act on the network round trip.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import uuid
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import boto3
import botocore.handlers
import yaml
from botocore.awsrequest import AWSResponse, HTTPHeaders

from tools.rehearsal.clock import EPOCH
from tools.rehearsal.codedeploy import (
    DeploymentAlreadyCompleted,
    DeploymentLimitExceeded,
    LifecycleEventAlreadyCompleted,
    StopRefused,
)
from tools.rehearsal.pipeline import InvalidJobState
from tools.rehearsal.stack import ACCOUNT, REGION

if TYPE_CHECKING:
    from tools.rehearsal.autoscaling import AutoScaling
    from tools.rehearsal.codedeploy import CodeDeploy, Deployment
    from tools.rehearsal.pipeline import CodePipeline
    from tools.rehearsal.world import World


class ApiError(Exception):
    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


Handler = Callable[[dict[str, Any]], dict[str, Any]]


class FakeAws:
    """One rehearsal's AWS: operations answered from the world, CodeDeploy and CodePipeline."""

    def __init__(
        self,
        world: World,
        codedeploy: CodeDeploy,
        pipeline: CodePipeline,
        autoscaling: AutoScaling,
    ) -> None:
        self.world = world
        self.codedeploy = codedeploy
        self.pipeline = pipeline
        self.autoscaling = autoscaling
        self.operations: dict[tuple[str, str], Handler] = {
            (
                "applicationautoscaling",
                "DescribeScalableTargets",
            ): self.describe_scalable_targets,
            ("applicationautoscaling", "RegisterScalableTarget"): self.register_scalable_target,
            ("ecs", "RegisterTaskDefinition"): self.register_task_definition,
            ("cloudwatch", "DescribeAlarms"): self.describe_alarms,
            ("cloudwatch", "GetMetricData"): self.get_metric_data,
            ("ecs", "DescribeServices"): self.describe_services,
            ("ecs", "DescribeTaskDefinition"): self.describe_task_definition,
            ("sns", "Publish"): self.publish,
            ("ssm", "GetParameter"): self.get_parameter,
            ("ecr", "BatchGetImage"): self.batch_get_image,
            ("ecr", "PutImage"): self.put_image,
            ("ssm", "PutParameter"): self.put_parameter,
            ("elasticloadbalancingv2", "DescribeListeners"): self.describe_listeners,
            ("elasticloadbalancingv2", "DescribeTargetGroups"): self.describe_target_groups,
            ("elasticloadbalancingv2", "DescribeTargetHealth"): self.describe_target_health,
            ("elasticloadbalancingv2", "DescribeLoadBalancers"): self.describe_load_balancers,
            ("ec2", "DescribeNetworkInterfaces"): self.describe_network_interfaces,
            ("codedeploy", "GetDeployment"): self.get_deployment,
            ("codedeploy", "GetDeploymentGroup"): self.get_deployment_group,
            ("codedeploy", "ListDeploymentGroups"): self.list_deployment_groups,
            ("codedeploy", "ListDeployments"): self.list_deployments,
            ("codedeploy", "StopDeployment"): self.stop_deployment,
            ("codedeploy", "CreateDeployment"): self.create_deployment,
            (
                "codedeploy",
                "PutLifecycleEventHookExecutionStatus",
            ): self.put_lifecycle_event_hook_execution_status,
            ("codepipeline", "PutJobSuccessResult"): self.put_job_success_result,
            ("codepipeline", "PutJobFailureResult"): self.put_job_failure_result,
        }

    def call(self, service: str, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        world = self.world
        world.clock.check_alive()
        if world.scenario.faults.unavailable(service, world.t):
            raise ApiError("ServiceUnavailable", f"{service} is unavailable (injected fault)", 503)
        handler = self.operations.get((service, operation))
        if handler is None:
            world.unmodelled_calls.append(f"{service}:{operation}")
            raise ApiError("RehearsalUnmodelledOperation", f"{service}:{operation} is not modelled")
        return handler(params)

    def _caller(self) -> str:
        """The function whose code is making the call (one runs at a time)."""
        running = self.world.clock.running
        return running.name.removesuffix(f"-{self.world.system.suffix}") if running else "?"

    # ------------------------------------------------------------ CloudWatch
    def describe_alarms(self, params: dict[str, Any]) -> dict[str, Any]:
        prefix = params.get("AlarmNamePrefix")
        names = set(params.get("AlarmNames") or [])
        state = params.get("StateValue")
        alarms = [
            alarm
            for name, alarm in sorted(self.world.alarms.items())
            if (prefix is None or name.startswith(prefix))
            and (not names or name in names)
            and (state is None or alarm.state == state)
        ]
        return {
            "MetricAlarms": [
                {
                    "AlarmName": a.spec.name,
                    "AlarmArn": f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{a.spec.name}",
                    "StateValue": a.state,
                    "StateReason": a.reason,
                    "StateUpdatedTimestamp": _timestamp(a.updated_at),
                    # The model changes an alarm's time only with its state.
                    "StateTransitionedTimestamp": _timestamp(a.updated_at),
                    "EvaluationPeriods": a.spec.evaluation_periods,
                    "Threshold": a.spec.threshold,
                    "ComparisonOperator": a.spec.comparison,
                }
                for a in alarms
            ],
            "CompositeAlarms": [],
        }

    def get_metric_data(self, params: dict[str, Any]) -> dict[str, Any]:
        from tools.rehearsal.cloudwatch import metric_key  # noqa: PLC0415 - avoids an import cycle

        start = params["StartTime"].timestamp() - EPOCH
        end = params["EndTime"].timestamp() - EPOCH
        results = []
        visible_until = self.world.now - self.world.metrics.delay
        for query in params["MetricDataQueries"]:
            stat = query["MetricStat"]
            metric = stat["Metric"]
            key = metric_key(
                metric["Namespace"],
                metric["MetricName"],
                {d["Name"]: d["Value"] for d in metric.get("Dimensions", [])},
            )
            period = int(stat["Period"])
            points = self.world.metrics.series.get(key, {})
            timestamps, values = [], []
            for minute in sorted(points):
                if start <= minute < end and minute + period <= visible_until:
                    timestamps.append(_timestamp(minute))
                    values.append(points[minute].stat(stat["Stat"]))
            results.append(
                {
                    "Id": query["Id"],
                    "Label": metric["MetricName"],
                    "Timestamps": timestamps,
                    "Values": values,
                    "StatusCode": "Complete",
                }
            )
        return {"MetricDataResults": results, "Messages": []}

    # ------------------------------------------------------------ ECS
    def describe_services(self, params: dict[str, Any]) -> dict[str, Any]:
        found, failures = [], []
        for name in params.get("services", []):
            fleet = next(
                (
                    f
                    for f in self.world.fleets.values()
                    if f.spec.ecs_service == name and f.spec.cluster == params.get("cluster")
                ),
                None,
            )
            if fleet is None:
                failures.append({"arn": name, "reason": "MISSING"})
                continue
            found.append(
                {
                    "serviceName": name,
                    "serviceArn": (
                        f"arn:aws:ecs:{REGION}:{ACCOUNT}:service/{fleet.spec.cluster}/{name}"
                    ),
                    "clusterArn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/{fleet.spec.cluster}",
                    "status": "ACTIVE",
                    "desiredCount": fleet.spec.desired_count,
                    "runningCount": min(fleet.spec.desired_count, fleet.running_tasks()),
                    "pendingCount": 0,
                    "deploymentController": {"type": "CODE_DEPLOY"},
                    "taskDefinition": fleet.primary.task_definition,
                    "taskSets": [
                        {
                            "id": ts.id,
                            "status": ts.status,
                            "taskDefinition": ts.task_definition,
                            "runningCount": sum(1 for t in ts.tasks if t.state == "RUNNING"),
                            "computedDesiredCount": ts.desired,
                            "stabilityStatus": "STEADY_STATE",
                        }
                        for ts in fleet.task_sets
                    ],
                }
            )
        return {"services": found, "failures": failures}

    def describe_task_definition(self, params: dict[str, Any]) -> dict[str, Any]:
        arn = params["taskDefinition"]
        release = self.world.task_definition_releases.get(arn)
        if release is None:
            raise ApiError("ClientException", f"Unable to describe task definition {arn}")
        family = arn.rsplit("/", 1)[-1].split(":")[0]
        spec = next(f.spec for f in self.world.fleets.values() if f.spec.task_family == family)
        service = spec.service
        return {
            "taskDefinition": {
                "taskDefinitionArn": arn,
                "family": family,
                "taskRoleArn": spec.task_role,
                "executionRoleArn": spec.execution_role,
                "status": "INACTIVE" if self.world.task_definition_inactive(arn) else "ACTIVE",
                "networkMode": "awsvpc",
                "requiresCompatibilities": ["FARGATE"],
                "cpu": "256",
                "memory": "512",
                "containerDefinitions": [
                    {
                        "name": service,
                        "image": self.world.image_of(service, release),
                        "environment": [{"name": "GIT_COMMIT", "value": release}],
                    }
                ],
            }
        }

    def register_task_definition(self, params: dict[str, Any]) -> dict[str, Any]:
        """A new revision of the family, running what its containers name (the release its
        image's digest stands for: the pipeline deploys by digest)."""
        family = params["family"]
        fleet = next((f for f in self.world.fleets.values() if f.spec.task_family == family), None)
        if fleet is None:
            raise ApiError("ClientException", f"family {family} is not one of this system's")
        image = params["containerDefinitions"][0]["image"]
        release = self.world.release_of(image)
        arn = fleet.register_task_definition(release)
        self.world.task_definition_releases[arn] = release
        self.world.log(self._caller(), f"RegisterTaskDefinition {arn} ({release})")
        return {"taskDefinition": {"taskDefinitionArn": arn, "family": family, "status": "ACTIVE"}}

    # ------------------------------------------------------------ Application Auto Scaling
    def describe_scalable_targets(self, params: dict[str, Any]) -> dict[str, Any]:
        wanted = set(params.get("ResourceIds") or self.autoscaling.targets)
        return {
            "ScalableTargets": [
                {
                    "ServiceNamespace": "ecs",
                    "ResourceId": t.resource_id,
                    "ScalableDimension": "ecs:service:DesiredCount",
                    "MinCapacity": t.minimum,
                    "MaxCapacity": t.maximum,
                    "RoleARN": "arn:aws:iam::123456789012:role/aws-service-role/ecs",
                    "CreationTime": _timestamp(0),
                    "SuspendedState": dict(t.suspended),
                }
                for t in self.autoscaling.targets.values()
                if t.resource_id in wanted
            ]
        }

    def register_scalable_target(self, params: dict[str, Any]) -> dict[str, Any]:
        resource = params["ResourceId"]
        if resource not in self.autoscaling.targets:
            raise ApiError("ValidationException", f"no scalable target {resource}")
        self.autoscaling.register(resource, params.get("SuspendedState") or {})
        return {"ScalableTargetARN": f"arn:aws:application-autoscaling:{REGION}:{ACCOUNT}:x"}

    # ------------------------------------------------------------ SNS, SSM
    def publish(self, params: dict[str, Any]) -> dict[str, Any]:
        self.world.notifications.append(
            {
                "at": f"{self.world.now:.0f}",
                "subject": params.get("Subject", ""),
                "message": params.get("Message", ""),
            }
        )
        self.world.log("SNS", f"notification: {params.get('Subject', '')}")
        return {"MessageId": str(uuid.uuid4())}

    def get_parameter(self, params: dict[str, Any]) -> dict[str, Any]:
        name = params["Name"]
        if name not in self.world.ssm:
            raise ApiError("ParameterNotFound", f"parameter {name} not found")
        return {"Parameter": {"Name": name, "Type": "String", "Value": self.world.ssm[name]}}

    def put_parameter(self, params: dict[str, Any]) -> dict[str, Any]:
        self.world.ssm[params["Name"]] = params["Value"]
        return {"Version": 1, "Tier": "Standard"}

    def batch_get_image(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "images": [
                {
                    "repositoryName": params["repositoryName"],
                    "imageId": image_id,
                    "imageManifest": "{}",
                }
                for image_id in params["imageIds"]
            ],
            "failures": [],
        }

    def put_image(self, params: dict[str, Any]) -> dict[str, Any]:
        self.world.log("ECR", f"{params['repositoryName']}: tagged {params['imageTag']}")
        return {
            "image": {
                "repositoryName": params["repositoryName"],
                "imageId": {"imageTag": params["imageTag"]},
            }
        }

    # ------------------------------------------------------------ load balancing, EC2
    def describe_listeners(self, params: dict[str, Any]) -> dict[str, Any]:
        listeners = []
        for arn in params.get("ListenerArns", []):
            for fleet in self.world.fleets.values():
                spec = fleet.spec
                if arn == spec.listener.arn:
                    forwards = fleet.forward_action(fleet.weights)
                    listener = spec.listener
                elif arn == spec.test_listener.arn:
                    forwards = fleet.forward_action({fleet.test_target_group: 1})
                    listener = spec.test_listener
                else:
                    continue
                listeners.append(
                    {
                        "ListenerArn": arn,
                        "LoadBalancerArn": self.world.system.load_balancer.arn,
                        "Port": listener.port,
                        "Protocol": listener.protocol,
                        "DefaultActions": [
                            {"Type": "forward", "ForwardConfig": {"TargetGroups": forwards}}
                        ],
                    }
                )
        if not listeners:
            raise ApiError("ListenerNotFound", "One or more listeners not found")
        return {"Listeners": listeners}

    def describe_target_groups(self, params: dict[str, Any]) -> dict[str, Any]:
        wanted = set(params.get("Names") or []) | set(params.get("TargetGroupArns") or [])
        groups = [
            {
                "TargetGroupArn": spec.arn,
                "TargetGroupName": spec.name,
                "Port": 8080,
                "Protocol": "HTTP",
                "TargetType": "ip",
                "HealthCheckIntervalSeconds": int(spec.health_check.interval),
                "LoadBalancerArns": [self.world.system.load_balancer.arn],
            }
            for fleet in self.world.fleets.values()
            for spec in fleet.groups.values()
            if spec.name in wanted or spec.arn in wanted
        ]
        if not groups:
            raise ApiError("TargetGroupNotFound", "One or more target groups not found")
        return {"TargetGroups": groups}

    def describe_target_health(self, params: dict[str, Any]) -> dict[str, Any]:
        arn = params["TargetGroupArn"]
        fleet = next((f for f in self.world.fleets.values() if arn in f.groups), None)
        if fleet is None:
            raise ApiError("TargetGroupNotFound", f"target group {arn} not found")
        return {
            "TargetHealthDescriptions": [
                {
                    "Target": {"Id": t.task.ip, "Port": 8080},
                    "TargetHealth": {
                        "State": t.state,
                        **({"Reason": t.reason} if t.reason else {}),
                    },
                }
                for t in fleet.targets[arn]
            ]
        }

    def describe_load_balancers(self, params: dict[str, Any]) -> dict[str, Any]:
        balancer = self.world.system.load_balancer
        if balancer.arn not in params.get("LoadBalancerArns", [balancer.arn]):
            raise ApiError("LoadBalancerNotFound", "load balancer not found")
        return {
            "LoadBalancers": [
                {
                    "LoadBalancerArn": balancer.arn,
                    "DNSName": balancer.dns_name,
                    "Type": "application",
                    "Scheme": "internet-facing",
                }
            ]
        }

    def describe_network_interfaces(self, params: dict[str, Any]) -> dict[str, Any]:
        full_name = self.world.system.load_balancer.full_name
        wanted = [
            v for f in params.get("Filters", []) if f["Name"] == "description" for v in f["Values"]
        ]
        if wanted and f"ELB {full_name}" not in wanted:
            return {"NetworkInterfaces": []}
        return {
            "NetworkInterfaces": [
                {
                    "NetworkInterfaceId": f"eni-{index}",
                    "PrivateIpAddress": f"10.0.{index}.10",
                    "Description": f"ELB {full_name}",
                }
                for index in range(3)
            ]
        }

    # ------------------------------------------------------------ CodeDeploy
    def _deployment(self, deployment_id: str) -> Deployment:
        deployment = self.codedeploy.deployments.get(deployment_id)
        if deployment is None:
            raise ApiError(
                "DeploymentDoesNotExistException", f"deployment {deployment_id} not found"
            )
        return deployment

    def _scenario_time(self, t: float) -> dt.datetime:
        """A deployment's times are kept in scenario time (`world.t`); the functions' clock and
        the alarms' timestamps run on simulation time, warm-up included."""
        return _timestamp(self.world.origin + t)

    def get_deployment(self, params: dict[str, Any]) -> dict[str, Any]:
        d = self._deployment(params["deploymentId"])
        return {
            "deploymentInfo": {
                "deploymentId": d.id,
                "applicationName": self.world.system.application,
                "deploymentGroupName": d.group.name,
                "computePlatform": "ECS",
                "status": d.status,
                "creator": d.aws_creator,
                "createTime": self._scenario_time(d.created_at),
                **({"completeTime": self._scenario_time(d.completed_at)} if d.completed_at else {}),
                "description": d.description,
                "rollbackInfo": d.rollback_info(),
                # All traffic on the replacement, the original task set in its termination wait
                # (it stays true once the wait started, as AWS's flag does).
                "instanceTerminationWaitTimeStarted": d.termination_wait_started,
            }
        }

    def get_deployment_group(self, params: dict[str, Any]) -> dict[str, Any]:
        spec = self.world.system.service_environment(params["deploymentGroupName"])
        group = spec.deployment_group
        return {
            "deploymentGroupInfo": {
                "applicationName": self.world.system.application,
                "deploymentGroupName": group.name,
                "computePlatform": "ECS",
                "deploymentConfigName": group.config_name,
                "ecsServices": [{"clusterName": spec.cluster, "serviceName": spec.ecs_service}],
                "loadBalancerInfo": {
                    "targetGroupPairInfoList": [
                        {
                            "targetGroups": [{"name": spec.blue.name}, {"name": spec.green.name}],
                            "prodTrafficRoute": {"listenerArns": [spec.listener.arn]},
                            "testTrafficRoute": {"listenerArns": [spec.test_listener.arn]},
                        }
                    ]
                },
                "alarmConfiguration": {
                    "enabled": group.alarms_enabled,
                    "ignorePollAlarmFailure": group.ignore_poll_alarm_failure,
                    "alarms": [{"name": name} for name in group.alarm_names],
                },
                "autoRollbackConfiguration": {
                    "enabled": bool(group.auto_rollback_events),
                    "events": list(group.auto_rollback_events),
                },
            }
        }

    def list_deployment_groups(self, params: dict[str, Any]) -> dict[str, Any]:
        names = [
            s.deployment_group.name
            for e in self.world.system.environments.values()
            for s in e.values()
        ]
        return {"applicationName": params["applicationName"], "deploymentGroups": sorted(names)}

    def list_deployments(self, params: dict[str, Any]) -> dict[str, Any]:
        statuses = set(params.get("includeOnlyStatuses") or [])
        group = params.get("deploymentGroupName")
        created = params.get("createTimeRange") or {}
        start, end = created.get("start"), created.get("end")
        return {
            "deployments": [
                d.id
                for d in self.codedeploy.deployments.values()
                if (group is None or d.group.name == group)
                and (not statuses or d.status in statuses)
                and (start is None or self._scenario_time(d.created_at) >= start)
                and (end is None or self._scenario_time(d.created_at) <= end)
            ]
        }

    def stop_deployment(self, params: dict[str, Any]) -> dict[str, Any]:
        d = self._deployment(params["deploymentId"])
        try:
            self.codedeploy.stop(
                d.id,
                rollback=bool(params.get("autoRollbackEnabled")),
                reason=f"stopped by StopDeployment ({self._caller()})",
            )
        except DeploymentAlreadyCompleted as error:
            raise ApiError("DeploymentAlreadyCompletedException", str(error)) from None
        except StopRefused as error:
            raise ApiError("UnsupportedActionForDeploymentTypeException", str(error)) from None
        self.world.acted(f"{self._caller()} (StopDeployment)")
        self.world.log(self._caller(), f"StopDeployment {d.id} ({d.aws_creator}): Pending")
        return {"status": "Pending", "statusMessage": "stop requested"}

    def create_deployment(self, params: dict[str, Any]) -> dict[str, Any]:
        revision = params.get("revision", {})
        content = revision.get("appSpecContent", {}).get("content") or revision.get(
            "string", {}
        ).get("content")
        if not content:
            raise ApiError("RevisionRequiredException", "an AppSpec content revision is required")
        appspec = (
            yaml.safe_load(content) if not content.lstrip().startswith("{") else json.loads(content)
        )
        task_definition = appspec["Resources"][0]["TargetService"]["Properties"]["TaskDefinition"]
        if task_definition not in self.world.task_definition_releases:
            raise ApiError("InvalidRevisionException", f"unknown task definition {task_definition}")
        try:
            d = self.codedeploy.create(
                params["deploymentGroupName"],
                task_definition,
                creator=f"{self._caller()} restore",
                override_alarms=params.get("overrideAlarmConfiguration"),
                description=str(params.get("description", "")),
                config_name=params.get("deploymentConfigName"),
            )
        except DeploymentLimitExceeded as error:
            raise ApiError("DeploymentLimitExceededException", str(error)) from None
        self.world.acted(f"{self._caller()} (restore)")
        return {"deploymentId": d.id}

    def put_lifecycle_event_hook_execution_status(self, params: dict[str, Any]) -> dict[str, Any]:
        d = self._deployment(params["deploymentId"])
        try:
            self.codedeploy.report_hook(
                d.id, params["lifecycleEventHookExecutionId"], params["status"]
            )
        except KeyError:
            raise ApiError(
                "InvalidLifecycleEventHookExecutionIdException", "unknown execution id"
            ) from None
        except LifecycleEventAlreadyCompleted as error:
            raise ApiError("LifecycleEventAlreadyCompletedException", str(error)) from None
        return {"lifecycleEventHookExecutionId": params["lifecycleEventHookExecutionId"]}

    # ------------------------------------------------------------ CodePipeline
    def put_job_success_result(self, params: dict[str, Any]) -> dict[str, Any]:
        self._job_result(
            params["jobId"],
            success=True,
            message=params.get("executionDetails", {}).get("summary", ""),
            token=params.get("continuationToken"),
        )
        return {}

    def put_job_failure_result(self, params: dict[str, Any]) -> dict[str, Any]:
        self._job_result(
            params["jobId"],
            success=False,
            message=params.get("failureDetails", {}).get("message", ""),
            token=None,
        )
        return {}

    def _job_result(self, job_id: str, *, success: bool, message: str, token: str | None) -> None:
        try:
            self.pipeline.put_job_result(job_id, success=success, message=message, token=token)
        except KeyError:
            raise ApiError("JobNotFoundException", f"job {job_id} not found") from None
        except InvalidJobState as error:
            raise ApiError("InvalidJobStateException", str(error)) from None


def _timestamp(seconds: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(EPOCH + seconds, tz=dt.UTC)


# ---------------------------------------------------------------- the botocore hooks
_active: FakeAws | None = None


def _remember_params(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    if _active is not None:
        context["rehearsal_params"] = dict(params)


def _respond(
    model: Any, context: dict[str, Any], **_: Any
) -> tuple[AWSResponse, dict[str, Any]] | None:
    if _active is None:
        return None
    service = model.service_model.service_id.hyphenize().replace("-", "")
    params = context.get("rehearsal_params", {})
    try:
        parsed = _active.call(service, model.name, params)
        status = 200
    except ApiError as error:
        status = error.status
        parsed = {"Error": {"Code": error.code, "Message": error.message}}
    parsed.setdefault(
        "ResponseMetadata", {"HTTPStatusCode": status, "RequestId": str(uuid.uuid4())}
    )
    return AWSResponse(f"https://{service}.rehearsal", status, HTTPHeaders(), None), parsed


_sessions_with_handlers: list[boto3.Session] = []
_HANDLERS = (("before-parameter-build", _remember_params), ("before-call", _respond))
for _handler in _HANDLERS:
    if _handler not in botocore.handlers.BUILTIN_HANDLERS:
        botocore.handlers.BUILTIN_HANDLERS.append(_handler)


@contextlib.contextmanager
def answering(fake: FakeAws) -> Iterator[None]:
    """Inside the block every new boto3 client in the process talks to `fake`."""
    global _active  # noqa: PLW0603 - one process-wide switch, like botocore's own handler list
    previous = _active
    _active = fake
    if boto3.DEFAULT_SESSION is None or boto3.DEFAULT_SESSION not in _sessions_with_handlers:
        # A default session made before this module was imported lacks the handlers; a new one
        # gets them from BUILTIN_HANDLERS (and keeps its loaded API models for later rehearsals).
        boto3.setup_default_session()
        if boto3.DEFAULT_SESSION is not None:
            _sessions_with_handlers.append(boto3.DEFAULT_SESSION)
    try:
        yield
    finally:
        _active = previous
