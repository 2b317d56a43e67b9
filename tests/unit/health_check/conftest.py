"""Fixtures for the health-check tests: moto for what it implements, recorders for the rest."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from health_check.clients import AwsClients
from health_check.gateway import AwsGateway
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
    CallRecorder,
    Clock,
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

    def alarm(self, name: str, state: str = "OK", reason: str = "test") -> None:
        put_alarm(self.gateway.clients.cloudwatch, name, state, reason)

    def services(
        self, monkeypatch: pytest.MonkeyPatch, names: list[str], running: int, desired: int = 2
    ) -> None:
        # moto reports MOTO_ECS_SERVICE_RUNNING tasks running for services created meanwhile.
        monkeypatch.setenv("MOTO_ECS_SERVICE_RUNNING", str(running))
        ecs = self.gateway.clients.ecs
        ecs.create_cluster(clusterName=CLUSTER)
        task = ecs.register_task_definition(
            family="app",
            containerDefinitions=[{"name": "app", "image": "app:1", "memory": 512}],
        )["taskDefinition"]["taskDefinitionArn"]
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
            },
        )
