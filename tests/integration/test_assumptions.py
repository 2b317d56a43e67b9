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
- A7, A8 and A10 each redeploy staging api-service the same way and act in its blue termination
  wait: A7 holds one of the group's alarms in ALARM (with the release responder's alarm rule
  disabled meanwhile, so that only CodeDeploy's monitoring can act), A8 stops the deployment with
  rollback, A10 stops that rollback and then leaves the group on its last successful revision
  (redeploying it if the stopped rollback left traffic on the replacement). A9 reads the hook
  functions' logs for the rollbacks of A7 and A8.
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
from botocore.exceptions import ClientError

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
TERMINAL = analysis.TERMINAL_DEPLOYMENT
# A7-A10: the blue termination wait and rollback deployments.
ACTIVE_DEPLOYMENT = ["Created", "Queued", "InProgress", "Baking", "Ready"]
GROUP_IDLE_BOUND_S = 10 * 60
WAIT_POLL_S = 15  # the termination wait lasts minutes; it is caught well inside it
WAIT_MARGIN_S = 5 * 60  # beyond TerminationWaitTimeInMinutes, for the deployment to end
REROUTE_BOUND_S = 5 * 60
ROLLBACK_ID_BOUND_S = 2 * 60
ROLLBACK_POLL_S = 2  # a rollback only reroutes: A10 must reach it within seconds
LOG_DELIVERY_S = 2 * 60
HOOK_FUNCTIONS = ("CodeDeployHook_SmokeTest", "CodeDeployHook_TrafficGuard")
# SAM names an EventBridgeRule event's rule <function logical id><event name> (template.yaml).
RESPONDER_ALARM_RULE = "ReleaseResponderFunctionEnvironmentAlarm"
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
        observed = {
            port: {analysis.target_group_name(arn): weight for arn, weight in found.items()}
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


# --- A7-A10: the blue termination wait and rollback deployments -----------------------------


@dataclass(frozen=True)
class WaitRun:
    """A redeployment of staging api-service caught in its blue termination wait, or why not."""

    deployment_id: str | None
    revision: dict[str, Any]
    original_group: str  # the target group the production listener served before it
    listener_arn: str
    alarms: list[str]
    wait_s: float  # TerminationWaitTimeInMinutes
    detail: str  # empty when caught in the wait

    @property
    def caught(self) -> bool:
        return self.deployment_id is not None and not self.detail


@dataclass(frozen=True)
class WaitStop:
    """What stopping a deployment in its termination wait did (A7: by an alarm, A8: by a call)."""

    run: WaitRun
    status: str
    error_code: str | None
    stop_error: str | None  # StopDeployment's refusal (A8)
    traffic_back: bool
    rollback_id: str | None
    detail: str


def deployment_info(deployment_id: str) -> dict[str, Any]:
    info: dict[str, Any] = client("codedeploy").get_deployment(deploymentId=deployment_id)[
        "deploymentInfo"
    ]
    return info


def lifecycle(deployment_id: str) -> dict[str, str]:
    """The ECS target's lifecycle events (GetDeployment has none for ECS); {} before it has one."""
    codedeploy = client("codedeploy")
    targets = codedeploy.list_deployment_targets(deploymentId=deployment_id).get("targetIds", [])
    if not targets:
        return {}
    target = codedeploy.get_deployment_target(deploymentId=deployment_id, targetId=targets[0])
    return analysis.lifecycle_statuses(target["deploymentTarget"])


def live_group(listener_arn: str) -> str | None:
    [listener] = client("elbv2").describe_listeners(ListenerArns=[listener_arn])["Listeners"]
    return analysis.live_target_group(analysis.forward_weights(listener))


def group_idle(application: str) -> bool | None:
    active = client("codedeploy").list_deployments(
        applicationName=application,
        deploymentGroupName=REDEPLOY_GROUP,
        includeOnlyStatuses=ACTIVE_DEPLOYMENT,
    )["deployments"]
    return None if active else True


def stop(deployment_id: str, rollback: bool) -> str | None:
    """StopDeployment: None when CodeDeploy accepts it, else its error code."""
    try:
        client("codedeploy").stop_deployment(
            deploymentId=deployment_id, autoRollbackEnabled=rollback
        )
    except ClientError as error:
        return str(error.response.get("Error", {}).get("Code", "unknown"))
    return None


def wait_for_end(
    deployment_id: str,
    bound_s: float,
    interval_s: float = WAIT_POLL_S,
    meanwhile: Callable[[], None] | None = None,
) -> dict[str, Any] | None:
    """GetDeployment's answer once the deployment is over (calling `meanwhile` before each
    look), or None at the bound."""

    def ended() -> dict[str, Any] | None:
        if meanwhile is not None:
            meanwhile()
        info = deployment_info(deployment_id)
        return info if info["status"] in TERMINAL else None

    return analysis.wait_until(ended, bound_s, interval_s)


def rollback_of(deployment_id: str, bound_s: float = ROLLBACK_ID_BOUND_S) -> str | None:
    """The id of the rollback deployment CodeDeploy created for a stopped or failed one."""
    return analysis.wait_until(
        lambda: (
            deployment_info(deployment_id).get("rollbackInfo", {}).get("rollbackDeploymentId")
            or None
        ),
        bound_s,
        ROLLBACK_POLL_S,
    )


def traffic_returns(run: WaitRun) -> bool:
    """Whether the production listener goes back to the original target group, bounded."""
    back = analysis.wait_until(
        lambda: True if live_group(run.listener_arn) == run.original_group else None,
        REROUTE_BOUND_S,
        10,
    )
    return back is not None


def not_redeployable(application: str, group: dict[str, Any], listener: str, wait_s: float) -> str:
    """Why staging api-service cannot be redeployed into its termination wait now ('' if it can);
    waits (bounded) for a deployment still running in the group to end."""
    if not group.get("lastSuccessfulDeployment", {}).get("deploymentId"):
        return "no successful deployment to repeat yet: release once through the pipeline"
    if wait_s <= 0 or not listener:
        return f"{REDEPLOY_GROUP} has no blue termination wait or no production listener"
    if analysis.wait_until(lambda: group_idle(application), GROUP_IDLE_BOUND_S, 30) is None:
        return f"{REDEPLOY_GROUP} still busy after {GROUP_IDLE_BOUND_S} s"
    return ""


def redeploy_into_termination_wait(application: str, purpose: str) -> WaitRun:
    """Redeploy staging api-service's last successful revision and return once its traffic is
    on the replacement and the original task set waits out its termination (bounded; a
    deployment still short of it at the bound is stopped with rollback)."""
    codedeploy = client("codedeploy")
    group = codedeploy.get_deployment_group(
        applicationName=application, deploymentGroupName=REDEPLOY_GROUP
    )["deploymentGroupInfo"]
    termination = group.get("blueGreenDeploymentConfiguration", {}).get(
        "terminateBlueInstancesOnDeploymentSuccess", {}
    )
    terminates = termination.get("action") == "TERMINATE"
    wait_s = 60.0 * termination.get("terminationWaitTimeInMinutes", 0) if terminates else 0.0
    listeners = [
        arn
        for pair in group.get("loadBalancerInfo", {}).get("targetGroupPairInfoList", [])
        for arn in pair.get("prodTrafficRoute", {}).get("listenerArns", [])
    ]
    alarms = [alarm["name"] for alarm in group.get("alarmConfiguration", {}).get("alarms", [])]
    listener = listeners[0] if listeners else ""

    def not_caught(why: str, deployment_id: str | None = None, original: str = "") -> WaitRun:
        return WaitRun(deployment_id, {}, original, listener, alarms, wait_s, why)

    why = not_redeployable(application, group, listener, wait_s)
    if why:
        return not_caught(why)
    original = live_group(listener)
    if original is None:
        return not_caught("the production listener does not serve exactly one target group")
    last = group["lastSuccessfulDeployment"]["deploymentId"]
    revision = codedeploy.get_deployment(deploymentId=last)["deploymentInfo"]["revision"]
    deployment_id = codedeploy.create_deployment(
        applicationName=application,
        deploymentGroupName=REDEPLOY_GROUP,
        revision=revision,
        description=f"make acceptance {purpose}: last successful revision again",
    )["deploymentId"]

    def waiting() -> str | None:
        status = deployment_info(deployment_id)["status"]
        if status in TERMINAL:
            return str(status)
        caught = analysis.in_termination_wait(
            status, lifecycle(deployment_id), live_group(listener), original
        )
        return "waiting" if caught else None

    reached = None
    try:
        reached = analysis.wait_until(waiting, DEPLOYMENT_BOUND_S, WAIT_POLL_S)
    finally:
        if reached is None:
            stop(deployment_id, rollback=True)
    if reached is None:
        why = f"not in its termination wait after {DEPLOYMENT_BOUND_S} s; stopped with rollback"
        return not_caught(why, deployment_id, original)
    if reached != "waiting":
        return not_caught(f"ended {reached} before its termination wait", deployment_id, original)
    return WaitRun(deployment_id, revision, original, listener, alarms, wait_s, "")


def not_stopped(run: WaitRun, why: str = "") -> WaitStop:
    return WaitStop(run, "-", None, None, False, None, why or run.detail)


def responder_alarm_rule(stack_name: str) -> str | None:
    """The EventBridge rule that sends the copy's alarms to the release responder, or None."""
    try:
        resource = client("cloudformation").describe_stack_resource(
            StackName=stack_name, LogicalResourceId=RESPONDER_ALARM_RULE
        )
    except ClientError:
        return None
    return str(resource["StackResourceDetail"]["PhysicalResourceId"])


@pytest.fixture(scope="module")
def alarm_in_termination_wait(
    sandbox: str, stack: dict[str, object], outputs: dict[str, str]
) -> WaitStop:
    run = redeploy_into_termination_wait(
        outputs["CodeDeployApplicationName"], "A7: an alarm in the termination wait"
    )
    if not run.caught or not run.alarms:
        return not_stopped(run, "" if run.alarms else f"{REDEPLOY_GROUP} lists no alarm")
    assert run.deployment_id is not None
    alarm, cloudwatch, events = run.alarms[0], client("cloudwatch"), client("events")
    # The responder would stop the deployment within seconds of the alarm (that is A8's
    # question): with its alarm rule disabled, only CodeDeploy's own monitoring can act.
    rule = responder_alarm_rule(str(stack["name"]))
    held_from = time.monotonic()

    def hold_alarm() -> None:
        cloudwatch.set_alarm_state(
            AlarmName=alarm, StateValue="ALARM", StateReason="make acceptance A7"
        )

    info = None
    if rule:
        events.disable_rule(Name=rule)
    try:
        info = wait_for_end(
            run.deployment_id, run.wait_s + WAIT_MARGIN_S, ALARM_HOLD_INTERVAL_S, hold_alarm
        )
    finally:
        if info is None:
            stop(run.deployment_id, rollback=True)  # a refusal comes back as its code
        if rule:
            events.enable_rule(Name=rule)
    # The alarm returns to its real state at its next evaluation (one 60 s period).
    held_s = round(time.monotonic() - held_from)
    if info is None:
        detail = f"still running {held_s} s into the alarm; stopped with rollback"
        return WaitStop(run, "timed out", None, None, False, None, detail)
    stopped = info["status"] in ("Stopped", "Failed")
    return WaitStop(
        run,
        info["status"],
        info.get("errorInformation", {}).get("code"),
        None,
        stopped and traffic_returns(run),
        rollback_of(run.deployment_id) if stopped else None,
        f"{alarm} held in ALARM for {held_s} s of a {run.wait_s:.0f} s termination wait"
        + ("" if rule else "; the responder's alarm rule was not found, so it was not disabled"),
    )


@pytest.fixture(scope="module")
def stop_in_termination_wait(sandbox: str, outputs: dict[str, str]) -> WaitStop:
    run = redeploy_into_termination_wait(
        outputs["CodeDeployApplicationName"], "A8: stopped in the termination wait"
    )
    if not run.caught:
        return not_stopped(run)
    assert run.deployment_id is not None
    stop_error = stop(run.deployment_id, rollback=True)
    info = wait_for_end(run.deployment_id, run.wait_s + WAIT_MARGIN_S)
    if info is None:
        stop(run.deployment_id, rollback=True)
    status = info["status"] if info else "timed out"
    accepted = stop_error is None
    return WaitStop(
        run,
        status,
        info.get("errorInformation", {}).get("code") if info else None,
        stop_error,
        accepted and traffic_returns(run),
        rollback_of(run.deployment_id) if accepted else None,
        "StopDeployment(autoRollbackEnabled) in the termination wait",
    )


def test_a7_an_alarm_in_the_termination_wait_stops_the_deployment_and_moves_traffic_back(
    alarm_in_termination_wait: WaitStop, record: Record
) -> None:
    result = alarm_in_termination_wait
    outcome = (
        analysis.termination_wait_alarm_outcome(
            result.status, result.error_code, result.traffic_back
        )
        if result.run.caught
        else Outcome.UNSETTLED
    )
    settle(
        record,
        Observation(
            "A7",
            outcome,
            {
                "status": result.status,
                "error_code": result.error_code or "-",
                "traffic_back": result.traffic_back,
            },
            result.detail,
        ),
    )


def test_a8_a_stop_in_the_termination_wait_moves_traffic_back(
    stop_in_termination_wait: WaitStop, record: Record
) -> None:
    result = stop_in_termination_wait
    outcome = (
        analysis.termination_wait_stop_outcome(result.stop_error, result.traffic_back)
        if result.run.caught
        else Outcome.UNSETTLED
    )
    settle(
        record,
        Observation(
            "A8",
            outcome,
            {
                "stop_error": result.stop_error or "-",
                "status": result.status,
                "traffic_back": result.traffic_back,
            },
            result.detail,
        ),
    )


def hook_log_events(log_group: str, deployment_id: str, since: datetime) -> list[dict[str, Any]]:
    logs = client("logs")
    events: list[dict[str, Any]] = []
    arguments: dict[str, Any] = {
        "logGroupName": log_group,
        "startTime": int(since.timestamp() * 1000),
        "filterPattern": f'"{deployment_id}"',
    }
    for _ in range(LOG_PAGES):
        page = logs.filter_log_events(**arguments)
        events += page.get("events", [])
        if "nextToken" not in page:
            break
        arguments["nextToken"] = page["nextToken"]
    return events


def sleep_until(moment: datetime) -> None:
    time.sleep(max(0.0, (moment - datetime.now(UTC)).total_seconds()))


def test_a9_a_rollback_deployment_does_not_invoke_the_hook_functions(
    alarm_in_termination_wait: WaitStop,
    stop_in_termination_wait: WaitStop,
    sandbox: str,
    record: Record,
) -> None:
    rollback_ids = [
        result.rollback_id
        for result in (alarm_in_termination_wait, stop_in_termination_wait)
        if result.rollback_id
    ]
    found: dict[str, int] = {}
    observed: dict[str, Any] = {}
    for rollback_id in rollback_ids:
        info = wait_for_end(rollback_id, REROUTE_BOUND_S)
        if info is None:
            observed[rollback_id] = f"not over after {REROUTE_BOUND_S} s"
            continue
        # Lambda's log lines reach CloudWatch Logs within seconds; give them two minutes.
        sleep_until(info["completeTime"] + timedelta(seconds=LOG_DELIVERY_S))
        since = info["createTime"] - timedelta(minutes=1)
        found[rollback_id] = sum(
            analysis.mentions(
                hook_log_events(f"/aws/lambda/{function}-{sandbox}", rollback_id, since),
                rollback_id,
            )
            for function in HOOK_FUNCTIONS
        )
        observed[rollback_id] = {
            "creator": info.get("creator", "-"),
            "rolls_back": info.get("rollbackInfo", {}).get("rollbackTriggeringDeploymentId", "-"),
            "status": info["status"],
            "hook_log_events": found[rollback_id],
            "lifecycle": lifecycle(rollback_id),
        }
    settle(
        record,
        Observation(
            "A9",
            analysis.rollback_hooks_outcome(found),
            observed,
            "hook log lines naming each rollback deployment of A7 and A8"
            if rollback_ids
            else "no rollback deployment from A7 or A8: "
            f"{alarm_in_termination_wait.detail}; {stop_in_termination_wait.detail}",
        ),
    )


def leave_on_last_release(application: str, run: WaitRun, last_status: str | None) -> str:
    """After A10: the group left on its last successful revision by a deployment that completed.
    When the last one did not (a stopped rollback may leave traffic on the replacement task
    set), the revision is deployed again (bounded; stopped with rollback at the bound)."""
    if analysis.wait_until(lambda: group_idle(application), GROUP_IDLE_BOUND_S, 30) is None:
        return f"{REDEPLOY_GROUP} still busy after {GROUP_IDLE_BOUND_S} s: check it by hand"
    if last_status == "Succeeded":
        return "the group's last deployment completed: nothing to redeploy"
    deployment_id = client("codedeploy").create_deployment(
        applicationName=application,
        deploymentGroupName=REDEPLOY_GROUP,
        revision=run.revision,
        description="make acceptance A10: the last successful revision, after a stopped rollback",
    )["deploymentId"]
    info = wait_for_end(deployment_id, DEPLOYMENT_BOUND_S)
    if info is None:
        stop(deployment_id, rollback=True)
        return f"redeployed as {deployment_id}, still running at {DEPLOYMENT_BOUND_S} s: stopped"
    return f"redeployed the last successful revision as {deployment_id}: {info['status']}"


def test_a10_stop_deployment_stops_a_rollback_in_progress(
    sandbox: str, outputs: dict[str, str], record: Record
) -> None:
    application = outputs["CodeDeployApplicationName"]
    run = redeploy_into_termination_wait(application, "A10: its rollback stopped")
    if not run.caught:
        settle(record, Observation("A10", Outcome.UNSETTLED, {}, run.detail))
        return
    assert run.deployment_id is not None
    first_error = stop(run.deployment_id, rollback=True)
    rollback_id = None if first_error else rollback_of(run.deployment_id)
    if rollback_id is None:
        info = wait_for_end(run.deployment_id, run.wait_s + WAIT_MARGIN_S)
        cleanup = leave_on_last_release(application, run, info["status"] if info else None)
        why = f"StopDeployment: {first_error}" if first_error else "no rollback id appeared"
        settle(
            record,
            Observation("A10", Outcome.UNSETTLED, {}, f"no rollback to stop ({why}); {cleanup}"),
        )
        return
    status_before = deployment_info(rollback_id)["status"]
    # A plain stop, as an operator would ask; the release responder never stops a rollback.
    stop_error = None if status_before in TERMINAL else stop(rollback_id, rollback=False)
    final = wait_for_end(rollback_id, REROUTE_BOUND_S)
    final_status = final["status"] if final else None
    cleanup = leave_on_last_release(application, run, final_status)
    settle(
        record,
        Observation(
            "A10",
            analysis.rollback_stop_outcome(status_before, stop_error, final_status),
            {
                "rollback": rollback_id,
                "status_before": status_before,
                "stop_error": stop_error or "-",
                "final_status": final_status or "still running",
            },
            (
                "the rollback was over before StopDeployment reached it"
                if status_before in TERMINAL
                else "StopDeployment on the rollback deployment while in progress"
            )
            + f"; {cleanup}",
        ),
    )
