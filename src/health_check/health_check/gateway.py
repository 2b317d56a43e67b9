"""Thin data access: the AWS reads the verdict needs, as facts, and the writes it acts with."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from health_check.clients import AwsClients
from health_check.errors import AwsCallError, ReportError
from health_check.verdict import AlarmFact, ServiceFact

if TYPE_CHECKING:
    from mypy_boto3_codepipeline.type_defs import ExecutionDetailsTypeDef
    from mypy_boto3_ecs.type_defs import ServiceTypeDef

ALARMS_PAGE_SIZE = 100  # DescribeAlarms' maximum MaxRecords
ECS_BATCH_SIZE = 10  # DescribeServices' maximum services per call
# CodeDeploy statuses of a deployment that can still shift traffic, hence can be stopped.
ACTIVE_DEPLOYMENT_STATUSES: list[Any] = ["Created", "Queued", "InProgress", "Baking", "Ready"]
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

    def active_deployments(self, application: str, group_prefix: str) -> list[str]:
        """Ids of deployments that can still be stopped, in groups named `{group_prefix}...`."""
        ids: list[str] = []
        codedeploy = self.clients.codedeploy
        with _aws_call("codedeploy:ListDeploymentGroups"):
            groups = [
                group
                for page in codedeploy.get_paginator("list_deployment_groups").paginate(
                    applicationName=application
                )
                for group in page.get("deploymentGroups", [])
                if group.startswith(group_prefix)
            ]
        for group in groups:
            with _aws_call("codedeploy:ListDeployments"):
                for page in codedeploy.get_paginator("list_deployments").paginate(
                    applicationName=application,
                    deploymentGroupName=group,
                    includeOnlyStatuses=ACTIVE_DEPLOYMENT_STATUSES,
                ):
                    ids += page.get("deployments", [])
        return ids

    def stop_deployment(self, deployment_id: str) -> None:
        with _aws_call("codedeploy:StopDeployment"):
            self.clients.codedeploy.stop_deployment(
                deploymentId=deployment_id, autoRollbackEnabled=True
            )

    def put_job_success(
        self, job_id: str, summary: str, percent_complete: int, continuation_token: str | None
    ) -> None:
        details: ExecutionDetailsTypeDef = {
            "summary": summary[:MAX_SUMMARY],
            "percentComplete": percent_complete,
        }
        codepipeline = self.clients.codepipeline
        with _aws_call("codepipeline:PutJobSuccessResult", _report_error):
            if continuation_token is None:
                codepipeline.put_job_success_result(jobId=job_id, executionDetails=details)
            else:
                codepipeline.put_job_success_result(
                    jobId=job_id, executionDetails=details, continuationToken=continuation_token
                )

    def put_job_failure(self, job_id: str, message: str) -> None:
        with _aws_call("codepipeline:PutJobFailureResult", _report_error):
            self.clients.codepipeline.put_job_failure_result(
                jobId=job_id,
                failureDetails={"type": "JobFailed", "message": message[:MAX_FAILURE_MESSAGE]},
            )


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
