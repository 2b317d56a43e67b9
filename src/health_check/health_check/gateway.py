"""Thin data access: the AWS reads the verdict needs, as facts, and the writes it acts with."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from health_check.clients import AwsClients
from health_check.deployments import DeploymentFact
from health_check.errors import AwsCallError, JobNotLiveError, ReportError
from health_check.verdict import AlarmFact, ServiceFact

if TYPE_CHECKING:
    from mypy_boto3_codedeploy.type_defs import DeploymentGroupInfoTypeDef
    from mypy_boto3_codepipeline.type_defs import ExecutionDetailsTypeDef
    from mypy_boto3_ecs.type_defs import ServiceTypeDef

ALARMS_PAGE_SIZE = 100  # DescribeAlarms' maximum MaxRecords
ECS_BATCH_SIZE = 10  # DescribeServices' maximum services per call
# CodeDeploy statuses of a deployment that can still shift traffic, hence can be stopped.
ACTIVE_DEPLOYMENT_STATUSES: list[Any] = ["Created", "Queued", "InProgress", "Baking", "Ready"]
# How a restore shifts traffic (a predefined ECS configuration).
RESTORE_DEPLOYMENT_CONFIG = "CodeDeployDefault.ECSAllAtOnce"
# CodePipeline's limits on the job result fields.
MAX_FAILURE_MESSAGE = 5000
MAX_SUMMARY = 2048


@contextmanager
def _aws_call(
    operation: str, error: Callable[[str, str], Exception] = AwsCallError
) -> Iterator[None]:
    """Turn every SDK failure (after botocore's retries) into one typed error."""
    try:
        yield
    except ClientError as failure:
        details = failure.response.get("Error", {})
        code, text = details.get("Code", "?"), details.get("Message", "")
        raise error(operation, f"{code}: {text}") from None
    except BotoCoreError as failure:
        raise error(operation, f"{type(failure).__name__}: {failure}") from None


def _report_error(operation: str, detail: str) -> Exception:
    return ReportError(f"{operation} failed: {detail}")


def _unknown_job(job_id: str) -> JobNotLiveError:
    """JobNotFound: CodePipeline has no such job (PutJobSuccessResult API reference, Errors)."""
    return JobNotLiveError(f"CodePipeline knows no job {job_id} (JobNotFound)")


class AwsGateway:
    """The function's reads (as verdict facts) and writes, through one set of clients."""

    def __init__(self, clients: AwsClients) -> None:
        self.clients = clients

    def describe_alarms(self, prefix: str) -> list[AlarmFact]:
        """Metric and composite alarms by name prefix: one paginated call, whatever the count."""
        facts: list[AlarmFact] = []
        with _aws_call("cloudwatch:DescribeAlarms"):
            pages = self.clients.cloudwatch.get_paginator("describe_alarms").paginate(
                AlarmNamePrefix=prefix,
                # Without AlarmTypes, DescribeAlarms returns metric alarms only.
                AlarmTypes=["MetricAlarm", "CompositeAlarm"],
                PaginationConfig={"PageSize": ALARMS_PAGE_SIZE},
            )
            for page in pages:
                alarms = [*page.get("MetricAlarms", []), *page.get("CompositeAlarms", [])]
                facts += [
                    AlarmFact(
                        name=alarm.get("AlarmName", "?"),
                        state=alarm.get("StateValue", "INSUFFICIENT_DATA"),
                        reason=alarm.get("StateReason", ""),
                        updated_at=_epoch(alarm.get("StateUpdatedTimestamp")),
                    )
                    for alarm in alarms
                ]
        return sorted(facts, key=lambda fact: fact.name)

    def describe_services(self, cluster: str, names: tuple[str, ...]) -> list[ServiceFact]:
        """Facts for each named service, in the given order; absent ones are MISSING."""
        found: dict[str, ServiceFact] = {}
        for start in range(0, len(names), ECS_BATCH_SIZE):
            with _aws_call("ecs:DescribeServices"):
                reply = self.clients.ecs.describe_services(
                    cluster=cluster, services=list(names[start : start + ECS_BATCH_SIZE])
                )
            for service in reply.get("services", []):
                fact = _service_fact(service)
                found[fact.name] = fact
        return [found.get(name, ServiceFact(name=name, status="MISSING")) for name in names]

    def publish(self, topic_arn: str, subject: str, message: str) -> None:
        with _aws_call("sns:Publish"):
            # SNS subjects are at most 100 characters.
            self.clients.sns.publish(TopicArn=topic_arn, Subject=subject[:100], Message=message)

    def deployment_groups(self, application: str, group_prefix: str) -> list[str]:
        """The application's deployment groups named `{group_prefix}...`."""
        with _aws_call("codedeploy:ListDeploymentGroups"):
            return [
                group
                for page in self.clients.codedeploy.get_paginator(
                    "list_deployment_groups"
                ).paginate(applicationName=application)
                for group in page.get("deploymentGroups", [])
                if group.startswith(group_prefix)
            ]

    def active_deployments(
        self, application: str, group_prefix: str, *, exact: bool = False
    ) -> list[str]:
        """Ids of deployments still in progress, in groups named `{group_prefix}...` (the group
        `group_prefix` itself with `exact`)."""
        ids: list[str] = []
        groups = [group_prefix] if exact else self.deployment_groups(application, group_prefix)
        for group in groups:
            with _aws_call("codedeploy:ListDeployments"):
                for page in self.clients.codedeploy.get_paginator("list_deployments").paginate(
                    applicationName=application,
                    deploymentGroupName=group,
                    includeOnlyStatuses=ACTIVE_DEPLOYMENT_STATUSES,
                ):
                    ids += page.get("deployments", [])
        return ids

    def deployments_created_since(self, application: str, group: str, since: float) -> list[str]:
        """Ids of the group's deployments created at or after `since` (epoch seconds), whatever
        their status (ListDeployments' createTimeRange)."""
        ids: list[str] = []
        with _aws_call("codedeploy:ListDeployments"):
            for page in self.clients.codedeploy.get_paginator("list_deployments").paginate(
                applicationName=application,
                deploymentGroupName=group,
                createTimeRange={"start": datetime.fromtimestamp(since, tz=UTC)},
            ):
                ids += page.get("deployments", [])
        return ids

    def stop_deployment(self, deployment_id: str) -> bool:
        """Ask CodeDeploy to stop the deployment and roll it back. AWS answers `Pending` (the
        stop takes effect later) or `Succeeded`; False when it had already completed."""
        codedeploy = self.clients.codedeploy
        with _aws_call("codedeploy:StopDeployment"):
            try:
                codedeploy.stop_deployment(deploymentId=deployment_id, autoRollbackEnabled=True)
            except codedeploy.exceptions.DeploymentAlreadyCompletedException:
                return False
        return True

    @contextmanager
    def within(self, out_of_time: Callable[[], bool]) -> Iterator[None]:
        """Inside the block every call but the job result is refused once `out_of_time()`."""
        self.clients.out_of_time = out_of_time
        try:
            yield
        finally:
            self.clients.out_of_time = lambda: False

    def put_job_success(
        self, job_id: str, summary: str, percent_complete: int, continuation_token: str | None
    ) -> bool:
        """True if this call reported; False if the job already had its result (an earlier
        attempt of this invocation reported before Lambda retried it): that is the report's
        success, not an error."""
        details: ExecutionDetailsTypeDef = {
            "summary": summary[:MAX_SUMMARY],
            "percentComplete": percent_complete,
        }
        codepipeline = self.clients.codepipeline
        with _aws_call("codepipeline:PutJobSuccessResult", _report_error):
            try:
                if continuation_token is None:
                    codepipeline.put_job_success_result(jobId=job_id, executionDetails=details)
                else:
                    codepipeline.put_job_success_result(
                        jobId=job_id, executionDetails=details, continuationToken=continuation_token
                    )
            except codepipeline.exceptions.InvalidJobStateException:
                return False
            except codepipeline.exceptions.JobNotFoundException:
                raise _unknown_job(job_id) from None
        return True

    def put_job_failure(self, job_id: str, message: str) -> bool:
        """Like put_job_success: False when the job already had its result."""
        codepipeline = self.clients.codepipeline
        with _aws_call("codepipeline:PutJobFailureResult", _report_error):
            try:
                codepipeline.put_job_failure_result(
                    jobId=job_id,
                    failureDetails={"type": "JobFailed", "message": message[:MAX_FAILURE_MESSAGE]},
                )
            except codepipeline.exceptions.InvalidJobStateException:
                return False
            except codepipeline.exceptions.JobNotFoundException:
                raise _unknown_job(job_id) from None
        return True

    # ------------------------------------------------------------ releases
    def primary_task_definitions(self, cluster: str, names: tuple[str, ...]) -> dict[str, str]:
        """The task definition each service's users are on: its PRIMARY task set's (CodeDeploy
        services), else the service's own."""
        found: dict[str, str] = {}
        for start in range(0, len(names), ECS_BATCH_SIZE):
            with _aws_call("ecs:DescribeServices"):
                reply = self.clients.ecs.describe_services(
                    cluster=cluster, services=list(names[start : start + ECS_BATCH_SIZE])
                )
            for service in reply.get("services", []):
                primary = [s for s in service.get("taskSets", []) if s.get("status") == "PRIMARY"]
                arn = primary[0].get("taskDefinition") if primary else service.get("taskDefinition")
                if arn:
                    found[service.get("serviceName", "?")] = arn
        return found

    def read_parameter(self, name: str) -> str | None:
        ssm = self.clients.ssm
        with _aws_call("ssm:GetParameter"):
            try:
                return ssm.get_parameter(Name=name)["Parameter"].get("Value")
            except ssm.exceptions.ParameterNotFound:
                return None

    def write_parameter(self, name: str, value: str, description: str) -> None:
        with _aws_call("ssm:PutParameter"):
            self.clients.ssm.put_parameter(
                Name=name, Value=value, Type="String", Overwrite=True, Description=description
            )

    def tag_image(self, repository: str, reference: dict[str, str], tag: str) -> None:
        """Add `tag` to an image already in `repository` (same manifest, one more tag)."""
        ecr = self.clients.ecr
        with _aws_call("ecr:BatchGetImage"):
            images = ecr.batch_get_image(
                repositoryName=repository,
                imageIds=[reference],  # type: ignore[list-item]
            ).get("images", [])
        if not images:
            raise AwsCallError("ecr:BatchGetImage", f"no image {reference} in {repository}")
        # Already tagged by an earlier attempt: the same result.
        already = contextlib.suppress(ecr.exceptions.ImageAlreadyExistsException)
        with _aws_call("ecr:PutImage"), already:
            ecr.put_image(
                repositoryName=repository, imageManifest=images[0]["imageManifest"], imageTag=tag
            )

    def describe_deployments(self, deployment_ids: list[str]) -> list[DeploymentFact]:
        facts: list[DeploymentFact] = []
        for deployment_id in deployment_ids:
            with _aws_call("codedeploy:GetDeployment"):
                info = self.clients.codedeploy.get_deployment(deploymentId=deployment_id)
            deployment = info["deploymentInfo"]
            facts.append(
                DeploymentFact(
                    id=deployment_id,
                    group=str(deployment.get("deploymentGroupName", "")),
                    status=str(deployment.get("status", "")),
                    creator=str(deployment.get("creator", "")),
                    rollback_of=deployment.get("rollbackInfo", {}).get(
                        "rollbackTriggeringDeploymentId"
                    ),
                    created_at=_epoch(deployment.get("createTime")),
                    traffic_moved=deployment.get("instanceTerminationWaitTimeStarted") is True,
                )
            )
        return facts

    def _deployment_group(self, application: str, group: str) -> DeploymentGroupInfoTypeDef:
        with _aws_call("codedeploy:GetDeploymentGroup"):
            return self.clients.codedeploy.get_deployment_group(
                applicationName=application, deploymentGroupName=group
            )["deploymentGroupInfo"]

    def ecs_service_of(self, application: str, group: str) -> tuple[str, str]:
        """The (cluster, service) the deployment group deploys, as CodeDeploy has it."""
        info = self._deployment_group(application, group)
        services = info.get("ecsServices") or []
        if len(services) != 1:
            raise AwsCallError(
                "codedeploy:GetDeploymentGroup", f"{group} deploys {len(services)} ECS services"
            )
        return str(services[0].get("clusterName", "")), str(services[0].get("serviceName", ""))

    def group_alarms(self, application: str, group: str) -> list[str]:
        """The alarms the deployment group's alarm monitoring watches (none when disabled)."""
        alarms = self._deployment_group(application, group).get("alarmConfiguration") or {}
        if not alarms.get("enabled"):
            return []
        return [alarm["name"] for alarm in alarms.get("alarms") or [] if alarm.get("name")]

    def alarms_in_alarm(self, names: list[str]) -> list[str]:
        """Which of `names` are in ALARM now."""
        firing: list[str] = []
        for start in range(0, len(names), ALARMS_PAGE_SIZE):
            with _aws_call("cloudwatch:DescribeAlarms"):
                reply = self.clients.cloudwatch.describe_alarms(
                    AlarmNames=names[start : start + ALARMS_PAGE_SIZE],
                    StateValue="ALARM",
                    MaxRecords=ALARMS_PAGE_SIZE,
                )
            firing += [
                alarm.get("AlarmName", "?")
                for alarm in reply.get("MetricAlarms", [])
                if alarm.get("StateValue") == "ALARM"  # the filter, checked
            ]
        return sorted(firing)

    def set_scaling_suspended(self, cluster: str, service: str, *, suspended: bool) -> bool:
        """Suspend or resume every kind of scaling of the service's desired count (the target
        keeps its capacity bounds); False when the service has no scalable target."""
        resource = f"service/{cluster}/{service}"
        autoscaling = self.clients.autoscaling
        with _aws_call("application-autoscaling:DescribeScalableTargets"):
            targets = autoscaling.describe_scalable_targets(
                ServiceNamespace="ecs",
                ResourceIds=[resource],
                ScalableDimension="ecs:service:DesiredCount",
            ).get("ScalableTargets", [])
        if not targets:
            return False
        with _aws_call("application-autoscaling:RegisterScalableTarget"):
            autoscaling.register_scalable_target(
                ServiceNamespace="ecs",
                ResourceId=resource,
                ScalableDimension="ecs:service:DesiredCount",
                SuspendedState={
                    "DynamicScalingInSuspended": suspended,
                    "DynamicScalingOutSuspended": suspended,
                    "ScheduledScalingSuspended": suspended,
                },
            )
        return True

    def describe_task_definition(self, arn: str) -> dict[str, Any]:
        """The task definition as ECS describes it (its `status`: ACTIVE or INACTIVE)."""
        with _aws_call("ecs:DescribeTaskDefinition"):
            described = self.clients.ecs.describe_task_definition(taskDefinition=arn)
        return dict(described["taskDefinition"])

    def register_task_definition(self, registration: dict[str, Any]) -> str:
        """A new revision from RegisterTaskDefinition's arguments; its ARN."""
        with _aws_call("ecs:RegisterTaskDefinition"):
            registered = self.clients.ecs.register_task_definition(**registration)
        return str(registered["taskDefinition"]["taskDefinitionArn"])

    def create_restore(
        self, application: str, group: str, appspec: str, description: str
    ) -> str | None:
        """A deployment of `appspec` with the group's alarm monitoring switched off for it
        (CreateDeployment's overrideAlarmConfiguration), so the alarms of the release it
        replaces cannot stop it. None when the group already has a deployment in progress."""
        codedeploy = self.clients.codedeploy
        with _aws_call("codedeploy:CreateDeployment"):
            try:
                created = codedeploy.create_deployment(
                    applicationName=application,
                    deploymentGroupName=group,
                    description=description,
                    # The known-good release passed its validation: users go back to it at once
                    # (the hooks still test it first), not through the group's canary.
                    deploymentConfigName=RESTORE_DEPLOYMENT_CONFIG,
                    revision={
                        "revisionType": "AppSpecContent",
                        "appSpecContent": {"content": appspec},
                    },
                    overrideAlarmConfiguration={
                        "enabled": False,
                        "ignorePollAlarmFailure": False,
                        "alarms": [],
                    },
                )
            except codedeploy.exceptions.DeploymentLimitExceededException:
                return None
        return created["deploymentId"]


def _epoch(moment: datetime | None) -> float | None:
    return None if moment is None else moment.timestamp()


def _service_fact(service: ServiceTypeDef) -> ServiceFact:
    controller = service.get("deploymentController", {}).get("type", "ECS")
    # Blue/green (CODE_DEPLOY) and EXTERNAL services roll out through task sets, not deployments.
    rollouts: list[Any] = (
        list(service.get("taskSets", []))
        if controller != "ECS"
        else list(service.get("deployments", []))
    )
    primary = sum(1 for rollout in rollouts if rollout.get("status") == "PRIMARY")
    return ServiceFact(
        name=service.get("serviceName", "?"),
        status=service.get("status", "MISSING"),
        running=service.get("runningCount", 0),
        desired=service.get("desiredCount", 0),
        primary_deployments=primary,
        other_deployments=len(rollouts) - primary,
        failed_rollout=any(rollout.get("rolloutState") == "FAILED" for rollout in rollouts),
    )


@cache
def default_gateway() -> AwsGateway:
    """The Lambda's gateway: created on the first invocation, reused by the next ones."""
    return AwsGateway(AwsClients())
