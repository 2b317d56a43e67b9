"""Fixtures for the health-check tests: moto for what it implements, recorders for the rest."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from health_check.clients import AwsClients
from health_check.gateway import AwsGateway
from health_check.release import KNOWN_GOOD_PARAMETER, KnownGood, read_known_good
from moto import mock_aws

from tests.support import put_alarm
from tests.unit.health_check.fakes import (
    APPLICATION,
    CLUSTER,
    FAST_CONFIG,
    REGION,
    SMOKE_TEST_HOOK_ARN,
    TRAFFIC_GUARD_HOOK_ARN,
    AlarmTimestamps,
    CallLog,
    CallRecorder,
    Clock,
    release_targets,
    task_definition_arguments,
)

# RegisterScalableTarget's SuspendedState: every kind of scaling of a target.
SUSPENDED_STATE_FLAGS = (
    "DynamicScalingInSuspended",
    "DynamicScalingOutSuspended",
    "ScheduledScalingSuspended",
)


@dataclass
class Aws:
    """One moto account with helpers to arrange alarms, services and deployments."""

    gateway: AwsGateway
    reports: CallRecorder
    stops: CallRecorder
    alarm_timestamps: AlarmTimestamps
    topic_arn: str
    queue_url: str
    environ: dict[str, str] = field(default_factory=dict)
    revisions: int = 0  # task definitions registered through task_definition()

    def configure(self, **services: tuple[str, ...]) -> None:
        """RELEASE_TARGETS naming only these services per environment (ECS service names
        without the -dev suffix), for a check of exactly what the test created."""
        self.environ["RELEASE_TARGETS"] = release_targets(services)

    def alarm(self, name: str, state: str = "OK", reason: str = "test") -> None:
        put_alarm(self.gateway.clients.cloudwatch, name, state, reason)

    def services(
        self, monkeypatch: pytest.MonkeyPatch, names: list[str], running: int, desired: int = 2
    ) -> None:
        # moto reports MOTO_ECS_SERVICE_RUNNING tasks running for services created meanwhile.
        monkeypatch.setenv("MOTO_ECS_SERVICE_RUNNING", str(running))
        ecs = self.gateway.clients.ecs
        ecs.create_cluster(clusterName=CLUSTER)
        task = ecs.register_task_definition(**task_definition_arguments("staging", "api-service"))[
            "taskDefinition"
        ]["taskDefinitionArn"]
        for name in names:
            ecs.create_service(
                cluster=CLUSTER, serviceName=name, taskDefinition=task, desiredCount=desired
            )

    def deployment_group(self, group: str, ecs_service: str | None = None) -> None:
        """The group, deploying `ecs_service` of CLUSTER if given, unless it exists already."""
        codedeploy = self.gateway.clients.codedeploy
        if group in codedeploy.list_deployment_groups(applicationName=APPLICATION).get(
            "deploymentGroups", []
        ):
            return
        codedeploy.create_deployment_group(
            applicationName=APPLICATION,
            deploymentGroupName=group,
            serviceRoleArn="arn:aws:iam::123456789012:role/codedeploy",
            ecsServices=[{"serviceName": ecs_service, "clusterName": CLUSTER}]
            if ecs_service
            else [],
        )

    def deployment(self, group: str, description: str = "") -> str:
        """A deployment in progress in the group (moto keeps it `Created`)."""
        self.deployment_group(group)
        return self.gateway.clients.codedeploy.create_deployment(
            applicationName=APPLICATION,
            deploymentGroupName=group,
            revision={"revisionType": "AppSpecContent", "appSpecContent": {"content": "{}"}},
            description=description,
        )["deploymentId"]

    def ended(self, deployment_id: str, status: str) -> None:
        """GetDeployment answers `status` (Failed, Stopped) for the deployment from now on: moto
        keeps every deployment `Created` and implements no StopDeployment."""

        def _status(parsed: dict[str, Any], **_: Any) -> None:
            info = parsed.get("deploymentInfo", {})
            if info.get("deploymentId") == deployment_id:
                info["status"] = status

        self.gateway.clients.codedeploy.meta.events.register(
            "after-call.codedeploy.GetDeployment", _status
        )

    def scalable(self, ecs_service: str, *, suspended: bool) -> None:
        """An Application Auto Scaling target on the service's desired count (the service must
        exist), its scaling suspended or not."""
        self.gateway.clients.autoscaling.register_scalable_target(
            ServiceNamespace="ecs",
            ResourceId=f"service/{CLUSTER}/{ecs_service}",
            ScalableDimension="ecs:service:DesiredCount",
            MinCapacity=1,
            MaxCapacity=4,
            SuspendedState=dict.fromkeys(SUSPENDED_STATE_FLAGS, suspended),  # type: ignore[arg-type]
        )

    def scaling_suspended(self, ecs_service: str) -> dict[str, bool]:
        [target] = self.gateway.clients.autoscaling.describe_scalable_targets(
            ServiceNamespace="ecs", ResourceIds=[f"service/{CLUSTER}/{ecs_service}"]
        )["ScalableTargets"]
        return dict(target.get("SuspendedState", {}))

    def notifications(self) -> list[dict[str, Any]]:
        sqs = boto3.client("sqs", region_name=REGION)
        received = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10)
        return [json.loads(message["Body"]) for message in received.get("Messages", [])]

    # ------------------------------------------------------------ releases (moto)
    def task_definition(self, environment: str, service: str) -> str:
        """A new (ACTIVE) revision of the service's task definition in the environment; its ARN."""
        self.revisions += 1
        return self.gateway.clients.ecs.register_task_definition(
            **task_definition_arguments(environment, service, str(self.revisions))
        )["taskDefinition"]["taskDefinitionArn"]

    def released(self, environment: str, service: str, running: str) -> None:
        """The service as the pipeline deploys it: ECS service `{service}-dev` of
        `{environment}-cluster-dev` under CodeDeploy, its users on `running` (its PRIMARY task
        set), deployed by the group `{environment}-{service}`."""
        cluster, ecs_service = f"{environment}-cluster-dev", f"{service}-dev"
        ecs = self.gateway.clients.ecs
        ecs.create_cluster(clusterName=cluster)
        ecs.create_service(
            cluster=cluster,
            serviceName=ecs_service,
            taskDefinition=running,
            desiredCount=1,
            deploymentController={"type": "CODE_DEPLOY"},
        )
        task_set = ecs.create_task_set(cluster=cluster, service=ecs_service, taskDefinition=running)
        ecs.update_service_primary_task_set(
            cluster=cluster, service=ecs_service, primaryTaskSet=task_set["taskSet"]["taskSetArn"]
        )
        self.gateway.clients.codedeploy.create_deployment_group(
            applicationName=APPLICATION,
            deploymentGroupName=f"{environment}-{service}",
            serviceRoleArn="arn:aws:iam::123456789012:role/codedeploy",
            ecsServices=[{"serviceName": ecs_service, "clusterName": cluster}],
        )

    def put_known_good(self, environment: str, service: str, record: KnownGood) -> None:
        self.gateway.write_parameter(
            KNOWN_GOOD_PARAMETER.format(environment=environment, service=service),
            record.to_json(),
            "arranged by the test",
        )

    def known_good(self, environment: str, service: str) -> KnownGood | None:
        return read_known_good(self.gateway, environment, service)

    def deployments_of(self, group: str) -> list[str]:
        """Every deployment of the group (moto keeps each one `Created`: in progress)."""
        return self.gateway.clients.codedeploy.list_deployments(
            applicationName=APPLICATION, deploymentGroupName=group
        )["deployments"]

    def deployed_task_definition(self, deployment_id: str) -> str:
        """The task definition the deployment's AppSpec deploys."""
        info = self.gateway.clients.codedeploy.get_deployment(deploymentId=deployment_id)
        appspec = json.loads(info["deploymentInfo"]["revision"]["appSpecContent"]["content"])
        return str(appspec["Resources"][0]["TargetService"]["Properties"]["TaskDefinition"])

    def every_call(self) -> CallLog:
        """A log of every call any of the gateway's clients makes from now on."""
        clients = self.gateway.clients
        log = CallLog()
        for client in (
            clients.autoscaling,
            clients.cloudwatch,
            clients.codedeploy,
            clients.codepipeline,
            clients.ecr,
            clients.ecs,
            clients.sns,
            clients.ssm,
        ):
            log.attach(client)
        return log


@dataclass(frozen=True)
class WatchedRelease:
    """A service on a release recorded known-good some time ago, which replaced `before`."""

    before: str  # the known-good release the watched one replaced
    watched: str  # the known-good release now, in its watch window or not
    running: str  # what the service's users are on

    def record(self, recorded_at: float) -> KnownGood:
        return KnownGood(
            self.watched,
            "api-service:2",
            _iso(recorded_at),
            "job-2",
            previous=KnownGood(self.before, "api-service:1", _iso(recorded_at - 86_400), "job-1"),
        )


def _iso(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, tz=dt.UTC).isoformat()


def watched_release(
    aws: Aws,
    recorded_at: float,
    *,
    environment: str = "production",
    service: str = "api-service",
    off: bool = False,
) -> WatchedRelease:
    """`service` of `environment` whose known-good release was recorded at `recorded_at`, on that
    release (or, `off`, on a later one that has not passed its validation)."""
    before = aws.task_definition(environment, service)
    watched = aws.task_definition(environment, service)
    running = aws.task_definition(environment, service) if off else watched
    aws.released(environment, service, running)
    release = WatchedRelease(before, watched, running)
    aws.put_known_good(environment, service, release.record(recorded_at))
    return release


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def aws() -> Iterator[Aws]:
    with mock_aws():
        gateway = AwsGateway(AwsClients(boto3.Session(region_name=REGION), config=FAST_CONFIG))
        topic_arn = gateway.clients.sns.create_topic(Name="pipeline-notifications-dev")["TopicArn"]
        sqs = boto3.client("sqs", region_name=REGION)
        queue_url = sqs.create_queue(QueueName="inbox")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        gateway.clients.sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
        gateway.clients.codedeploy.create_application(
            applicationName=APPLICATION, computePlatform="ECS"
        )
        yield Aws(
            gateway=gateway,
            # moto implements neither the job-result calls nor StopDeployment.
            reports=CallRecorder().attach(
                gateway.clients.codepipeline, "PutJobSuccessResult", "PutJobFailureResult"
            ),
            stops=CallRecorder().attach(gateway.clients.codedeploy, "StopDeployment"),
            alarm_timestamps=AlarmTimestamps().attach(gateway.clients.cloudwatch),
            topic_arn=topic_arn,
            queue_url=queue_url,
            environ={
                "NOTIFICATION_TOPIC_ARN": topic_arn,
                "CODEDEPLOY_APPLICATION": APPLICATION,
                "SMOKE_TEST_HOOK_ARN": SMOKE_TEST_HOOK_ARN,
                "TRAFFIC_GUARD_HOOK_ARN": TRAFFIC_GUARD_HOOK_ARN,
                "RELEASE_TARGETS": release_targets(),
            },
        )
