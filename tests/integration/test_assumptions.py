"""Settle docs/assumptions.md on a sandbox stack (`make acceptance ENV=<env>`); skipped otherwise.

Each test observes one assumption and records what it saw; the session writes the report.
A check that cannot observe (no earlier release, metrics not arrived) records `unsettled`
and is skipped rather than guessed. Every wait is bounded and every change is undone:
- A1-A3 share one redeployment of staging api-service with its last successful revision (same
  image: about 10 minutes of a second task set), during which the deployment group's alarms are
  held in INSUFFICIENT_DATA. A deployment still running at its bound is stopped with rollback.
- A5 only reads the health-check function's logs.
- A4 (ACCEPTANCE_LONG=1, up to 2 hours) runs two pipeline executions and fails the first one's
  staging validation by setting one alarm to ALARM; the second is stopped and abandoned at the end.
- A6 (ACCEPTANCE_SCRATCH_REGION=<region>, up to 45 minutes per mode) deploys a throwaway copy
  per egress mode in another region, where no copy of the system runs, and deletes it.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.integration.acceptance import analysis
from tests.integration.acceptance.aws import client
from tests.integration.acceptance.report import Observation, Outcome

pytestmark = pytest.mark.integration

Record = Callable[[Observation], None]

REDEPLOY_GROUP = "staging-api-service"
DEPLOYMENT_BOUND_S = 25 * 60
ALARM_HOLD_INTERVAL_S = 20
METRICS_BOUND_S = 8 * 60
LOG_LOOKBACK = timedelta(days=7)
LOG_PAGES = 20
PIPELINE_BOUND_S = 2 * 60 * 60
FIRST_DEPLOY_BOUND_S = 45 * 60
EGRESS_MODES = ("VpcEndpoints", "NatGateway", "PublicSubnets")
SAM = str(Path(sys.executable).parent / "sam")  # the virtualenv's SAM CLI, whatever PATH says
TERMINAL = ("Succeeded", "Failed", "Stopped")
FINISHED_EXECUTION = ("Succeeded", "Failed", "Stopped", "Cancelled", "Superseded")


def settle(record: Record, observation: Observation) -> None:
    """Record, then fail on a broken assumption and skip an unsettled one."""
    record(observation)
    if observation.outcome is Outcome.UNSETTLED:
        pytest.skip(f"{observation.assumption} not settled: {observation.detail}")
    assert observation.outcome is Outcome.HELD, f"{observation.assumption}: {observation.detail}"


@dataclass(frozen=True)
class Redeployment:
    deployment_id: str | None
    status: str
    error_code: str | None
    started: datetime
    finished: datetime
    group: dict[str, Any]
    detail: str


@pytest.fixture(scope="module")
def redeployment(sandbox: str, outputs: dict[str, str]) -> Redeployment:
    codedeploy, cloudwatch = client("codedeploy"), client("cloudwatch")
    application = outputs["CodeDeployApplicationName"]
    group = codedeploy.get_deployment_group(
        applicationName=application, deploymentGroupName=REDEPLOY_GROUP
    )["deploymentGroupInfo"]
    started = datetime.now(UTC)
    last = group.get("lastSuccessfulDeployment", {}).get("deploymentId")
    if not last:
        return Redeployment(
            None,
            "none",
            None,
            started,
            started,
            group,
            "no successful deployment to repeat yet: release once through the pipeline",
        )
    alarms = [alarm["name"] for alarm in group.get("alarmConfiguration", {}).get("alarms", [])]
    revision = codedeploy.get_deployment(deploymentId=last)["deploymentInfo"]["revision"]
    deployment_id = codedeploy.create_deployment(
        applicationName=application,
        deploymentGroupName=REDEPLOY_GROUP,
        revision=revision,
        description="make acceptance: last successful revision again, alarms held in "
        "INSUFFICIENT_DATA",
    )["deploymentId"]

    def finished() -> dict[str, Any] | None:
        for name in alarms:
            cloudwatch.set_alarm_state(
                AlarmName=name, StateValue="INSUFFICIENT_DATA", StateReason="make acceptance A2"
            )
        info: dict[str, Any] = codedeploy.get_deployment(deploymentId=deployment_id)[
            "deploymentInfo"
        ]
        return info if info["status"] in TERMINAL else None

    info = None
    try:
        info = analysis.wait_until(finished, DEPLOYMENT_BOUND_S, ALARM_HOLD_INTERVAL_S)
    finally:
        if info is None:
            codedeploy.stop_deployment(deploymentId=deployment_id, autoRollbackEnabled=True)
    # The alarms return to their real state at their next evaluation (one 60 s period).
    if info is None:
        return Redeployment(
            deployment_id,
            "timed out",
            None,
            started,
            datetime.now(UTC),
            group,
            f"still running after {DEPLOYMENT_BOUND_S} s; stopped with rollback",
        )
    return Redeployment(
        deployment_id,
        info["status"],
        info.get("errorInformation", {}).get("code"),
        started,
        datetime.now(UTC),
        group,
        info.get("errorInformation", {}).get("message", ""),
    )


def metric_sum(function: str, metric: str, start: datetime, end: datetime) -> float:
    points = client("cloudwatch").get_metric_statistics(
        Namespace="AWS/Lambda",
        MetricName=metric,
        Dimensions=[{"Name": "FunctionName", "Value": function}],
        StartTime=start,
        EndTime=end,
        Period=60,
        Statistics=["Sum"],
    )["Datapoints"]
    return float(sum(point["Sum"] for point in points))


def test_a1_codedeploy_invokes_hook_functions_asynchronously(
    redeployment: Redeployment, sandbox: str, record: Record
) -> None:
    function = f"CodeDeployHook_SmokeTest-{sandbox}"
    start = redeployment.started - timedelta(minutes=1)
    end = redeployment.finished + timedelta(minutes=5)

    def counted() -> tuple[float, float] | None:
        # Lambda's metrics arrive minutes late: wait until the hook's invocations show.
        invocations = metric_sum(function, "Invocations", start, end)
        if invocations <= 0:
            return None
        return invocations, metric_sum(function, "AsyncEventsReceived", start, end)

    seen = analysis.wait_until(counted, METRICS_BOUND_S, 60)
    invocations, async_events = seen or (0.0, 0.0)
    outcome = analysis.invocation_mode(async_events, invocations)
    settle(
        record,
        Observation(
            "A1",
            outcome,
            {"invocations": invocations, "async_events_received": async_events},
            "AsyncEventsReceived counts only asynchronous invocations"
            if invocations
            else f"no invocation of {function} seen: {redeployment.detail}",
        ),
    )


def test_a2_alarm_monitoring_lets_a_deployment_through_insufficient_data(
    redeployment: Redeployment, record: Record
) -> None:
    outcome = analysis.deployment_outcome(redeployment.status, redeployment.error_code)
    settle(
        record,
        Observation(
            "A2",
            outcome,
            {"status": redeployment.status, "error_code": redeployment.error_code or "-"},
            redeployment.detail or "deployment ran with its alarms held in INSUFFICIENT_DATA",
        ),
    )


def test_a3_listeners_forward_to_both_groups_with_the_idle_one_at_zero(
    redeployment: Redeployment, record: Record
) -> None:
    pairs = redeployment.group.get("loadBalancerInfo", {}).get("targetGroupPairInfoList", [])
    listener_arns = [
        arn
        for pair in pairs
        for route in ("prodTrafficRoute", "testTrafficRoute")
        for arn in pair.get(route, {}).get("listenerArns", [])
    ]
    if redeployment.deployment_id is None or not listener_arns:
        outcomes = [Outcome.UNSETTLED]
        observed: dict[str, Any] = {}
    else:
        listeners = client("elbv2").describe_listeners(ListenerArns=listener_arns)["Listeners"]
        weights = {
            f"port {listener['Port']}": analysis.forward_weights(listener) for listener in listeners
        }
        outcomes = [analysis.forward_outcome(found) for found in weights.values()]
        # Target group ARNs end in targetgroup/<name>/<id>: the name says blue or green.
        observed = {
            port: {arn.split("/")[-2]: weight for arn, weight in found.items()}
            for port, found in weights.items()
        }
    outcome = (
        Outcome.BROKEN
        if Outcome.BROKEN in outcomes
        else Outcome.UNSETTLED
        if Outcome.UNSETTLED in outcomes
        else Outcome.HELD
    )
    settle(record, Observation("A3", outcome, observed, redeployment.detail or "after redeploy"))


def test_a5_codepipeline_re_invokes_a_continuation_about_once_a_minute(
    sandbox: str, record: Record
) -> None:
    logs = client("logs")
    since = int((datetime.now(UTC) - LOG_LOOKBACK).timestamp() * 1000)
    events: list[dict[str, Any]] = []
    arguments: dict[str, Any] = {
        "logGroupName": f"/aws/lambda/health-check-{sandbox}",
        "startTime": since,
        "filterPattern": '{ $.message = "verdict" }',
    }
    for _ in range(LOG_PAGES):
        page = logs.filter_log_events(**arguments)
        events += page.get("events", [])
        if "nextToken" not in page:
            break
        arguments["nextToken"] = page["nextToken"]
    outcome, observed = analysis.interval_outcome(analysis.continuation_intervals(events))
    settle(
        record,
        Observation(
            "A5",
            outcome,
            dict(observed),
            "time from each waiting or baking verdict to the next verdict of the environment, "
            f"over the last {LOG_LOOKBACK.days} days"
            if observed
            else "no ValidateHealth job with a continuation in the logs: release once first",
        ),
    )


@pytest.mark.skipif(not os.environ.get("ACCEPTANCE_LONG"), reason="ACCEPTANCE_LONG=1 runs A4")
def test_a4_a_queued_execution_does_not_overtake_a_stage_rollback(
    sandbox: str, record: Record
) -> None:
    codepipeline, cloudwatch = client("codepipeline"), client("cloudwatch")
    pipeline = f"microservices-pipeline-{sandbox}"
    began = time.time()
    first = codepipeline.start_pipeline_execution(name=pipeline)["pipelineExecutionId"]
    second = codepipeline.start_pipeline_execution(name=pipeline)["pipelineExecutionId"]
    alarm = f"{sandbox}-staging-api-service-5xx-rate"
    try:

        def validating() -> bool | None:
            actions = codepipeline.list_action_executions(
                pipelineName=pipeline, filter={"pipelineExecutionId": first}
            )["actionExecutionDetails"]
            running = any(
                a["stageName"] == "Staging"
                and a["actionName"] == "ValidateHealth"
                and a["status"] == "InProgress"
                for a in actions
            )
            return True if running else None

        if analysis.wait_until(validating, PIPELINE_BOUND_S / 2, 30):
            cloudwatch.set_alarm_state(
                AlarmName=alarm, StateValue="ALARM", StateReason="make acceptance A4"
            )
        rollback = analysis.wait_until(
            lambda: rollback_window(pipeline, began), PIPELINE_BOUND_S / 2, 30
        )
        next_start = analysis.wait_until(
            lambda: stage_start(pipeline, second, "Staging"), PIPELINE_BOUND_S / 4, 30
        )
    finally:
        # The second execution would otherwise wait at the approval; one already over is fine.
        with contextlib.suppress(codepipeline.exceptions.PipelineExecutionNotStoppableException):
            codepipeline.stop_pipeline_execution(
                pipelineName=pipeline,
                pipelineExecutionId=second,
                abandon=True,
                reason="make acceptance A4 done",
            )
    outcome = analysis.overtaking_outcome(
        rollback[1] if rollback else None, next_start if next_start else None
    )
    settle(
        record,
        Observation(
            "A4",
            outcome,
            {
                "rollback_end": rollback[1] if rollback else "-",
                "next_staging_start": next_start or "-",
            },
            "the rollback needs an earlier success in Staging under the current pipeline version"
            if rollback is None
            else "queued execution's Staging start against the rollback's end (epoch s)",
        ),
    )


def rollback_window(pipeline: str, after: float) -> tuple[float, float] | None:
    """Start and end (epoch s) of a finished rollback execution started after `after`.

    A rollback execution runs only the failed stage, so its end is the stage's end.
    """
    summaries = client("codepipeline").list_pipeline_executions(pipelineName=pipeline)[
        "pipelineExecutionSummaries"
    ]
    for summary in summaries:
        started = summary["startTime"].timestamp()
        if (
            summary.get("executionType") == "ROLLBACK"
            and started >= after
            and summary["status"] in FINISHED_EXECUTION
        ):
            return started, summary["lastUpdateTime"].timestamp()
    return None


def stage_start(pipeline: str, execution: str, stage: str) -> float | None:
    actions = client("codepipeline").list_action_executions(
        pipelineName=pipeline, filter={"pipelineExecutionId": execution}
    )["actionExecutionDetails"]
    starts = [a["startTime"].timestamp() for a in actions if a["stageName"] == stage]
    return min(starts) if starts else None


@pytest.fixture
def scratch_region() -> str:
    region = os.environ.get("ACCEPTANCE_SCRATCH_REGION", "")
    if not region:
        pytest.skip("ACCEPTANCE_SCRATCH_REGION=<region without a copy of the system> runs A6")
    return region


def test_a6_the_first_deploy_completes_in_every_egress_mode(
    sandbox: str, scratch_region: str, record: Record
) -> None:
    completed: dict[str, str] = {}
    for index, mode in enumerate(EGRESS_MODES):
        stack, suffix = f"microservices-pipeline-acc{index}", f"acc{index}"
        started = time.monotonic()
        try:
            result = subprocess.run(
                [
                    SAM,
                    "deploy",
                    "--stack-name",
                    stack,
                    "--region",
                    scratch_region,
                    "--capabilities",
                    "CAPABILITY_IAM",
                    "CAPABILITY_NAMED_IAM",
                    "CAPABILITY_AUTO_EXPAND",
                    "--resolve-s3",
                    "--no-confirm-changeset",
                    "--parameter-overrides",
                    f"EnvironmentSuffix={suffix}",
                    f"EgressMode={mode}",
                ],
                timeout=FIRST_DEPLOY_BOUND_S,
                check=False,
                capture_output=True,
                text=True,
            )
            completed[mode] = (
                f"completed in {time.monotonic() - started:.0f} s"
                if result.returncode == 0
                else f"failed: {result.stderr.strip().splitlines()[-1:]}"
            )
        except subprocess.TimeoutExpired:
            completed[mode] = f"not complete after {FIRST_DEPLOY_BOUND_S} s"
        finally:
            subprocess.run(
                [
                    SAM,
                    "delete",
                    "--stack-name",
                    stack,
                    "--region",
                    scratch_region,
                    "--no-prompts",
                ],
                timeout=FIRST_DEPLOY_BOUND_S,
                check=False,
            )
            # Left behind by the stack: the source repository (DeletionPolicy: Retain) and the
            # repositories ECR's pull-through cache created on the first pulls.
            delete_retained_repository(scratch_region, f"microservices-monorepo-{suffix}")
            delete_cache_repositories(
                scratch_region, (f"bootstrap-{suffix}/", f"ecr-public-{suffix}/")
            )
    held = all(status.startswith("completed") for status in completed.values())
    settle(
        record,
        Observation(
            "A6",
            Outcome.HELD if held else Outcome.BROKEN,
            completed,
            f"throwaway copies in {scratch_region}, deleted afterwards",
        ),
    )


def delete_retained_repository(region: str, name: str) -> None:
    codecommit = client("codecommit", region)
    try:
        codecommit.delete_repository(repositoryName=name)
    except codecommit.exceptions.RepositoryDoesNotExistException:
        return


def delete_cache_repositories(region: str, prefixes: tuple[str, ...]) -> None:
    ecr = client("ecr", region)
    for page in ecr.get_paginator("describe_repositories").paginate():
        for repository in page["repositories"]:
            if repository["repositoryName"].startswith(prefixes):
                ecr.delete_repository(repositoryName=repository["repositoryName"], force=True)
