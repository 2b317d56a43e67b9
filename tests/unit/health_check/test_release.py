"""The last known-good release: recorded when an environment passes, restored when it fails."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any

import boto3
from botocore.stub import Stubber
from health_check.clients import AwsClients
from health_check.deployments import DeploymentFact, RestoreRecord, restore_parameter
from health_check.errors import AwsCallError
from health_check.gateway import ACTIVE_DEPLOYMENT_STATUSES, AwsGateway
from health_check.params import parse_user_parameters
from health_check.release import (
    KNOWN_GOOD_PARAMETER,
    RESTORE_DESCRIPTION,
    KnownGood,
    RestoreState,
    ServiceRestore,
    record_known_good,
    registration_of,
    restore,
)
from health_check.settings import Settings
from health_check.targets import ReleaseTargets

from tests.unit.health_check.fakes import (
    pinned,
    release_targets,
    role,
    task_definition_arguments,
)

SETTINGS = Settings(
    notification_topic_arn="arn:aws:sns:us-east-1:123456789012:pipeline-notifications-dev",
    codedeploy_application="microservices-dev",
    smoke_test_hook_arn="arn:aws:lambda:us-east-1:123456789012:function:CodeDeployHook_SmokeTest-dev",
    traffic_guard_hook_arn=(
        "arn:aws:lambda:us-east-1:123456789012:function:CodeDeployHook_TrafficGuard-dev"
    ),
    targets=ReleaseTargets.from_json(release_targets({"production": ("api-service",)})),
)
PARAMS = parse_user_parameters(
    json.dumps(
        {
            "environment": "production",
            "alarm_prefix": "dev-production-",
            "cluster": "production-cluster-dev",
            "services": ["api-service-dev"],
        }
    )
)
GOOD = "arn:aws:ecs:us-east-1:123456789012:task-definition/api-service-production-dev:7"
BAD = "arn:aws:ecs:us-east-1:123456789012:task-definition/api-service-production-dev:8"
REGISTERED = "arn:aws:ecs:us-east-1:123456789012:task-definition/api-service-production-dev:9"
# The build deploys by digest (buildspecs/build.yml).
IMAGE = pinned("api-service", "tree-abc")
GROUP = "production-api-service"
KNOWN_GOOD_NAME = KNOWN_GOOD_PARAMETER.format(environment="production", service="api-service")
RECORD_NAME = restore_parameter(GROUP)
NOW = 1_800_000_000.0
# When this check's restore began (its first step).
SINCE = NOW - 300


@dataclass
class FakeGateway:
    """The gateway's release calls, answered from fields (SSM parameters, CodeDeploy's
    deployments, ECS task definitions) and its writes recorded in `calls`; the restore logic is
    what is under test, the gateway's own calls are tested with Stubber and moto."""

    running: str = BAD
    known_good: str | None = GOOD
    parameters: dict[str, str] = field(default_factory=dict)
    deployments: dict[str, DeploymentFact] = field(default_factory=dict)
    task_definitions: dict[str, dict[str, Any]] = field(default_factory=dict)
    # CreateDeployment answers DeploymentLimitExceededException (another deployment began).
    limit_exceeded: bool = False
    # Reads of the group's deployments fail with this.
    error: AwsCallError | None = None
    calls: list[tuple[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.known_good is not None:
            record = KnownGood(self.known_good, IMAGE, "2026-11-29T10:00:00+00:00", "job-0")
            self.parameters.setdefault(KNOWN_GOOD_NAME, record.to_json())

    def primary_task_definitions(self, cluster: str, names: tuple[str, ...]) -> dict[str, str]:
        return dict.fromkeys(names, self.running)

    def read_parameter(self, name: str) -> str | None:
        return self.parameters.get(name)

    def write_parameter(self, name: str, value: str, description: str) -> None:
        self.parameters[name] = value
        self.calls.append(("write", (name, json.loads(value))))

    def active_deployments(self, application: str, group: str, *, exact: bool = False) -> list[str]:
        if self.error is not None:
            raise self.error
        return [
            deployment.id
            for deployment in self.deployments.values()
            if deployment.status in ACTIVE_DEPLOYMENT_STATUSES
            and (deployment.group == group if exact else deployment.group.startswith(group))
        ]

    def describe_deployments(self, ids: list[str]) -> list[DeploymentFact]:
        return [self.deployments[deployment_id] for deployment_id in ids]

    def stop_deployment(self, deployment_id: str) -> bool:
        self.calls.append(("stop", deployment_id))
        return True

    def describe_task_definition(self, arn: str) -> dict[str, Any]:
        """A release the pipeline built for production's api-service, unless arranged."""
        built = task_definition_arguments("production", "api-service", "tree-abc")
        return {
            "taskDefinitionArn": arn,
            "status": "ACTIVE",
            **built,
            **self.task_definitions.get(arn, {}),
        }

    def register_task_definition(self, registration: dict[str, Any]) -> str:
        self.calls.append(("register", registration))
        return REGISTERED

    def create_restore(
        self, application: str, group: str, appspec: str, description: str
    ) -> str | None:
        self.calls.append(("restore", (group, json.loads(appspec), description)))
        if self.limit_exceeded:
            return None
        created = f"d-restore-{len(self.kinds('restore'))}"
        self.deployments[created] = DeploymentFact(created, group, "Created", created_at=NOW)
        return created

    def tag_image(self, repository: str, reference: dict[str, str], tag: str) -> None:
        self.calls.append(("tag", (repository, reference, tag)))

    def kinds(self, kind: str) -> list[Any]:
        return [arguments for name, arguments in self.calls if name == kind]


def _step(gateway: FakeGateway, now: float = NOW, since: float = SINCE) -> ServiceRestore:
    """One restore step of the one service in PARAMS."""
    [step] = restore(gateway, SETTINGS, PARAMS, now, since)  # type: ignore[arg-type]
    return step


def test_an_idle_group_is_restored_to_its_known_good_task_definition_with_the_hooks() -> None:
    # GIVEN a service off its known-good release, nothing in progress in its group
    gateway = FakeGateway()
    # WHEN
    step = _step(gateway)
    # THEN one restore of the known-good task definition, tested by the same hooks as a release
    [(group, appspec, description)] = gateway.kinds("restore")
    assert group == GROUP
    assert description.startswith(RESTORE_DESCRIPTION)
    target = appspec["Resources"][0]["TargetService"]["Properties"]
    assert target["TaskDefinition"] == GOOD
    assert target["LoadBalancerInfo"] == {"ContainerName": "api-service", "ContainerPort": 8080}
    assert appspec["Hooks"] == [
        {"AfterAllowTestTraffic": SETTINGS.smoke_test_hook_arn},
        {"BeforeAllowTraffic": SETTINGS.traffic_guard_hook_arn},
        {"AfterAllowTraffic": SETTINGS.traffic_guard_hook_arn},
    ]
    assert (step.state, step.note) == (
        RestoreState.STARTED,
        f"restoring {GOOD} (deployment d-restore-1)",
    )


def test_the_restore_is_recorded_as_an_intent_before_it_is_created_then_by_its_id() -> None:
    # GIVEN an idle group
    gateway = FakeGateway()
    # WHEN a restore step runs
    _step(gateway)
    # THEN the intent was written first (a crash after CreateDeployment still leaves the restore
    # recognisable), then the id CodeDeploy gave it
    assert [(call, subject) for call, (subject, *_) in gateway.calls] == [
        ("write", RECORD_NAME),
        ("restore", GROUP),
        ("write", RECORD_NAME),
    ]
    intent, created = (record for _, record in gateway.kinds("write"))
    assert intent == {"requested_at": NOW, "task_definition": GOOD, "deployment_id": None}
    assert created == {"requested_at": NOW, "task_definition": GOOD, "deployment_id": "d-restore-1"}


def test_the_next_step_waits_for_the_restore_it_created_and_never_creates_a_second() -> None:
    # GIVEN a restore created by the previous step, still in progress
    gateway = FakeGateway()
    _step(gateway)
    # WHEN the next step runs
    step = _step(gateway, now=NOW + 60)
    # THEN it waits for that restore: neither stopped nor created again
    assert step.state is RestoreState.WAITING
    assert "a restore of the last known-good release" in step.note
    assert (len(gateway.kinds("restore")), gateway.kinds("stop")) == (1, [])


def test_a_codedeploy_rollback_in_progress_is_waited_for_and_never_stopped() -> None:
    # GIVEN CodeDeploy rolling back the group's failed deployment
    rollback = DeploymentFact("d-rollback", GROUP, "InProgress", "codeDeployRollback", "d-bad")
    gateway = FakeGateway(deployments={"d-rollback": rollback})
    # WHEN a restore step runs
    step = _step(gateway)
    # THEN it waits for the rollback, saying so, and neither stops it nor deploys over it
    assert step.state is RestoreState.WAITING
    assert "CodeDeploy rollback d-rollback" in step.note
    assert gateway.calls == []


def test_a_pipeline_deployment_in_progress_is_stopped_with_rollback_and_waited_for() -> None:
    # GIVEN the next release of the pipeline deploying into the group
    gateway = FakeGateway(deployments={"d-next": DeploymentFact("d-next", GROUP, "InProgress")})
    # WHEN a restore step runs
    step = _step(gateway)
    # THEN it is stopped (CodeDeploy rolls it back), and the restore waits for the group to idle
    assert gateway.calls == [("stop", "d-next")]
    assert step.state is RestoreState.WAITING
    assert "d-next: stopping it with rollback" in step.note


def test_a_service_back_on_its_known_good_release_is_done() -> None:
    gateway = FakeGateway(running=GOOD)
    step = _step(gateway)
    assert (step.state, step.note) == (
        RestoreState.DONE,
        f"on its known-good release {GOOD}",
    )
    assert gateway.calls == []


def test_without_a_known_good_release_a_human_is_asked_to_choose() -> None:
    gateway = FakeGateway(known_good=None)
    step = _step(gateway)
    assert step.state is RestoreState.NEEDS_HUMAN
    assert "a human must choose" in step.note
    assert gateway.calls == []


def _failed_restore(requested_at: float) -> FakeGateway:
    """A gateway whose group's last restore, asked for at `requested_at`, failed."""
    record = RestoreRecord(requested_at, GOOD, "d-restore-0")
    failed = DeploymentFact("d-restore-0", GROUP, "Failed", created_at=requested_at)
    return FakeGateway(
        parameters={RECORD_NAME: record.to_json()}, deployments={"d-restore-0": failed}
    )


def test_a_restore_that_failed_since_this_restore_began_is_handed_to_a_human() -> None:
    # GIVEN this check's own restore failed (the known-good release no longer passes the hooks)
    gateway = _failed_restore(requested_at=SINCE + 60)
    # WHEN the next step runs
    step = _step(gateway)
    # THEN it does not try again
    assert step.state is RestoreState.NEEDS_HUMAN
    assert "restore d-restore-0" in step.note
    assert "ended Failed" in step.note
    assert gateway.kinds("restore") == []


def test_a_restore_that_failed_before_this_restore_began_is_tried_again() -> None:
    # GIVEN a failed restore of an earlier check
    gateway = _failed_restore(requested_at=SINCE - 3_600)
    # WHEN this check's restore steps
    step = _step(gateway)
    # THEN the history of another check does not stop this one
    assert step.state is RestoreState.STARTED
    assert len(gateway.kinds("restore")) == 1


INACTIVE = {
    "taskDefinitionArn": GOOD,
    "family": "api-service-production-dev",
    "revision": 7,
    "status": "INACTIVE",
    "networkMode": "awsvpc",
    "requiresCompatibilities": ["FARGATE"],
    "compatibilities": ["EC2", "FARGATE"],
    "cpu": "256",
    "memory": "512",
    "taskRoleArn": role("production", "api-service", "task"),
    "executionRoleArn": role("production", "api-service", "execution"),
    "containerDefinitions": [{"name": "api-service", "image": IMAGE}],
    "volumes": [],
    "registeredAt": "2026-11-29T10:00:00+00:00",
}


def test_an_inactive_known_good_task_definition_is_registered_again_from_its_description() -> None:
    # GIVEN the known-good revision was deregistered (ECS starts no new task from it)
    gateway = FakeGateway(task_definitions={GOOD: INACTIVE})
    # WHEN a restore step runs
    _step(gateway)
    # THEN a new revision is registered with what RegisterTaskDefinition takes back as it was
    assert gateway.kinds("register") == [
        {
            "family": "api-service-production-dev",
            "networkMode": "awsvpc",
            "requiresCompatibilities": ["FARGATE"],
            "cpu": "256",
            "memory": "512",
            "taskRoleArn": role("production", "api-service", "task"),
            "executionRoleArn": role("production", "api-service", "execution"),
            "containerDefinitions": [{"name": "api-service", "image": IMAGE}],
        }
    ]


def test_a_re_registered_known_good_release_is_restored_and_recorded_under_its_new_arn() -> None:
    # GIVEN an INACTIVE known-good revision
    gateway = FakeGateway(task_definitions={GOOD: INACTIVE})
    # WHEN a restore step runs
    step = _step(gateway)
    # THEN the restore deploys the new revision, and the known-good record names it from now on
    [(_, appspec, _)] = gateway.kinds("restore")
    assert appspec["Resources"][0]["TargetService"]["Properties"]["TaskDefinition"] == REGISTERED
    assert json.loads(gateway.parameters[KNOWN_GOOD_NAME])["task_definition"] == REGISTERED
    assert step.state is RestoreState.STARTED


def test_registration_of_keeps_only_what_register_task_definition_accepts() -> None:
    registration = registration_of(INACTIVE)
    # what DescribeTaskDefinition adds of its own would make RegisterTaskDefinition refuse it
    described_only = {"taskDefinitionArn", "revision", "status", "compatibilities", "registeredAt"}
    assert not described_only & set(registration)


def test_a_group_that_became_busy_before_the_restore_was_created_is_taken_again() -> None:
    # GIVEN CreateDeployment refused: a deployment of the group began since it was found idle
    gateway = FakeGateway(limit_exceeded=True)
    # WHEN a restore step runs
    step = _step(gateway)
    # THEN the step is to be taken again (not final: a one-shot caller raises so it is retried)
    assert step.state is RestoreState.RETRY
    assert not step.state.final
    assert "started meanwhile" in step.note


def test_a_lost_race_without_a_record_before_leaves_no_intent_behind() -> None:
    # GIVEN no restore record yet, and CreateDeployment refused (another deployment took the group)
    gateway = FakeGateway(limit_exceeded=True)
    # WHEN a restore step runs
    _step(gateway)
    # THEN the intent written before CreateDeployment is replaced by an empty record: it never
    # stands for the deployment that took the group
    assert [record for _, record in gateway.kinds("write")] == [
        {"requested_at": NOW, "task_definition": GOOD, "deployment_id": None},
        {},
    ]
    assert RestoreRecord.from_json(gateway.parameters[RECORD_NAME]) is None


def test_a_lost_race_puts_back_the_record_that_was_there_before() -> None:
    # GIVEN the record of an earlier restore that succeeded, and CreateDeployment refused
    earlier = RestoreRecord(SINCE - 3_600, GOOD, "d-restore-0")
    done = DeploymentFact("d-restore-0", GROUP, "Succeeded", created_at=SINCE - 3_600)
    gateway = FakeGateway(
        parameters={RECORD_NAME: earlier.to_json()},
        deployments={"d-restore-0": done},
        limit_exceeded=True,
    )
    # WHEN a restore step runs
    step = _step(gateway)
    # THEN the earlier record is back as it was, and the step is to be taken again
    assert RestoreRecord.from_json(gateway.parameters[RECORD_NAME]) == earlier
    assert step.state is RestoreState.RETRY


def test_a_lost_race_leaves_alone_a_record_the_other_restorer_wrote_meanwhile() -> None:
    # GIVEN CreateDeployment refused because the other restorer's restore took the group, and
    # that restorer's own record written over our intent meanwhile
    theirs = RestoreRecord(NOW + 1, GOOD, "d-theirs")

    class Raced(FakeGateway):
        def create_restore(
            self, application: str, group: str, appspec: str, description: str
        ) -> str | None:
            created = super().create_restore(application, group, appspec, description)
            self.parameters[RECORD_NAME] = theirs.to_json()
            return created

    gateway = Raced(limit_exceeded=True)
    # WHEN a restore step runs
    step = _step(gateway)
    # THEN their record stays: only our own intent is ever put back
    assert RestoreRecord.from_json(gateway.parameters[RECORD_NAME]) == theirs
    assert len(gateway.kinds("write")) == 1
    assert step.state is RestoreState.RETRY


def test_a_restore_the_other_restorer_recorded_since_the_step_looked_is_never_overwritten() -> None:
    # GIVEN an idle group, and the other restorer's restore recorded between this step's first
    # look at the record and its intent (both found the group idle)
    theirs = RestoreRecord(NOW + 1, GOOD, "d-theirs")

    class Overtaken(FakeGateway):
        reads = 0

        def read_parameter(self, name: str) -> str | None:
            value = super().read_parameter(name)
            if name == RECORD_NAME:
                self.reads += 1
                if self.reads == 1:
                    self.parameters[RECORD_NAME] = theirs.to_json()
            return value

    gateway = Overtaken()
    # WHEN a restore step runs
    step = _step(gateway)
    # THEN their record stands (their restore stays protected), nothing of ours is written or
    # created, and the step is taken again
    assert RestoreRecord.from_json(gateway.parameters[RECORD_NAME]) == theirs
    assert (gateway.kinds("write"), gateway.kinds("restore")) == ([], [])
    assert step.state is RestoreState.RETRY


def test_an_aws_error_leaves_the_service_to_be_retried_with_the_error() -> None:
    # GIVEN CodeDeploy refusing to list the group's deployments
    gateway = FakeGateway(error=AwsCallError("codedeploy:ListDeployments", "ThrottlingException"))
    # WHEN a restore step runs
    step = _step(gateway)
    # THEN the service is not given up on: the step is to be taken again
    assert step.state is RestoreState.RETRY
    assert not step.state.final
    assert "codedeploy:ListDeployments failed: ThrottlingException" in step.note
    assert gateway.kinds("restore") == []


def test_services_that_cannot_be_read_leave_the_step_to_be_retried() -> None:
    # GIVEN ECS refusing to describe the environment's services
    class Unreadable(FakeGateway):
        def primary_task_definitions(self, cluster: str, names: tuple[str, ...]) -> dict[str, str]:
            raise AwsCallError("ecs:DescribeServices", "ThrottlingException")

    gateway = Unreadable()
    # WHEN a restore step runs
    step = _step(gateway)
    # THEN nothing is done, and the step is to be taken again
    assert step.state is RestoreState.RETRY
    assert "services not read" in step.note
    assert gateway.calls == []


def test_a_passed_environment_records_what_it_runs_and_protects_the_image() -> None:
    gateway = FakeGateway(running=GOOD)
    note, _ = record_known_good(gateway, SETTINGS, PARAMS, "job-9", 1_767_225_600.0)  # type: ignore[arg-type]
    [(write, (name, record)), (tag_call, (repository, reference, tag))] = gateway.calls
    assert (write, tag_call) == ("write", "tag")
    assert name == KNOWN_GOOD_PARAMETER.format(environment="production", service="api-service")
    assert (record["task_definition"], record["image"], record["job_id"]) == (GOOD, IMAGE, "job-9")
    assert (repository, reference) == ("api-service-dev", {"imageDigest": IMAGE.split("@")[1]})
    assert tag == "known-good-production-20260101000000"
    assert "recorded for api-service" in note


def _stubbable_gateway() -> AwsGateway:
    """The gateway with its own clients, for a Stubber (no moto, no network)."""
    session = boto3.Session(
        aws_access_key_id="t", aws_secret_access_key="t", region_name="us-east-1"
    )
    return AwsGateway(AwsClients(session))


def test_create_restore_switches_alarm_monitoring_off_for_that_deployment_only() -> None:
    # GIVEN the gateway's own CodeDeploy client
    gateway = _stubbable_gateway()
    with Stubber(gateway.clients.codedeploy) as stubber:
        stubber.add_response(
            "create_deployment",
            {"deploymentId": "d-restore"},
            {
                "applicationName": "microservices-dev",
                "deploymentGroupName": "production-api-service",
                "description": "Restore of the last known-good release of production api-service",
                "deploymentConfigName": "CodeDeployDefault.ECSAllAtOnce",
                "revision": {"revisionType": "AppSpecContent", "appSpecContent": {"content": "{}"}},
                # CreateDeployment API reference: a redeploy of a release known to work, with
                # alarm polling turned off, "proceeds without being blocked by the alarm that was
                # generated by the previous, failed, deployment".
                "overrideAlarmConfiguration": {
                    "enabled": False,
                    "ignorePollAlarmFailure": False,
                    "alarms": [],
                },
            },
        )
        # WHEN / THEN
        assert (
            gateway.create_restore(
                "microservices-dev",
                "production-api-service",
                "{}",
                "Restore of the last known-good release of production api-service",
            )
            == "d-restore"
        )
        stubber.assert_no_pending_responses()


def test_a_group_busy_with_another_deployment_is_not_an_error_but_no_restore() -> None:
    gateway = _stubbable_gateway()
    with Stubber(gateway.clients.codedeploy) as stubber:
        stubber.add_client_error(
            "create_deployment", service_error_code="DeploymentLimitExceededException"
        )
        assert (
            gateway.create_restore("microservices-dev", "production-api-service", "{}", "r") is None
        )


BEFORE = KnownGood(GOOD, IMAGE, "2026-11-28T10:00:00+00:00", "job-0")


def test_a_known_good_record_and_the_one_before_it_survive_a_json_round_trip() -> None:
    record = KnownGood(BAD, IMAGE, "2026-11-29T10:00:00+00:00", "job-1", previous=BEFORE)
    assert KnownGood.from_json(record.to_json()) == record


def test_a_record_written_before_records_had_a_previous_one_still_parses() -> None:
    # GIVEN a record as the health check wrote them before the watch window existed
    old = json.dumps(
        {"task_definition": GOOD, "image": IMAGE, "recorded_at": BEFORE.recorded_at, "job_id": "j"}
    )
    # WHEN / THEN
    assert KnownGood.from_json(old) == KnownGood(GOOD, IMAGE, BEFORE.recorded_at, "j")


def test_a_known_good_record_keeps_one_level_of_history_only() -> None:
    # GIVEN a stored record whose previous one claims a previous of its own
    nested = BEFORE.as_dict() | {"previous": BEFORE.as_dict()}
    raw = json.dumps(BEFORE.as_dict() | {"task_definition": BAD, "previous": nested})
    # WHEN / THEN the history below the one before is dropped
    record = KnownGood.from_json(raw)
    assert record is not None
    assert record.previous == BEFORE


def test_the_time_a_record_was_recorded_is_read_as_epoch_seconds() -> None:
    assert BEFORE.recorded_epoch() == 1_795_860_000.0  # 2026-11-28T10:00:00Z


def test_a_record_time_that_cannot_be_read_has_no_epoch() -> None:
    assert replace(BEFORE, recorded_at="soon").recorded_epoch() is None


def _recorded(gateway: FakeGateway) -> KnownGood:
    record = KnownGood.from_json(gateway.parameters[KNOWN_GOOD_NAME])
    assert record is not None
    return record


def test_a_new_release_that_passes_keeps_the_record_it_replaced_as_previous() -> None:
    # GIVEN GOOD recorded known-good (FakeGateway's record), and the environment now on BAD
    gateway = FakeGateway(running=BAD)
    replaced = KnownGood.from_json(gateway.parameters[KNOWN_GOOD_NAME])
    # WHEN BAD passes the health check
    record_known_good(gateway, SETTINGS, PARAMS, "job-9", NOW)  # type: ignore[arg-type]
    # THEN BAD is the known-good release, and GOOD the one its watch window restores
    assert (_recorded(gateway).task_definition, _recorded(gateway).previous) == (BAD, replaced)


def test_the_replaced_record_is_kept_without_its_own_previous() -> None:
    # GIVEN GOOD recorded known-good after BEFORE's task definition, the environment now on BAD
    older = replace(BEFORE, task_definition=REGISTERED)
    current = KnownGood(GOOD, IMAGE, "2026-11-29T10:00:00+00:00", "job-1", previous=older)
    gateway = FakeGateway(running=BAD, parameters={KNOWN_GOOD_NAME: current.to_json()})
    # WHEN BAD passes
    record_known_good(gateway, SETTINGS, PARAMS, "job-9", NOW)  # type: ignore[arg-type]
    # THEN one level of history is stored: GOOD, with no previous of its own
    stored = json.loads(gateway.parameters[KNOWN_GOOD_NAME])["previous"]
    assert stored == replace(current, previous=None).as_dict()


def test_the_same_release_passing_again_keeps_the_previous_it_had() -> None:
    # GIVEN GOOD recorded known-good after BEFORE, and the environment still on GOOD
    older = replace(BEFORE, task_definition=REGISTERED)
    current = KnownGood(GOOD, IMAGE, "2026-11-29T10:00:00+00:00", "job-1", previous=older)
    gateway = FakeGateway(running=GOOD, parameters={KNOWN_GOOD_NAME: current.to_json()})
    # WHEN GOOD passes again (a stage retried)
    record_known_good(gateway, SETTINGS, PARAMS, "job-9", NOW)  # type: ignore[arg-type]
    # THEN its previous is still the release before it, not GOOD itself
    assert _recorded(gateway).previous == older


def test_the_same_release_passing_again_is_never_its_own_previous() -> None:
    # GIVEN GOOD recorded known-good with no release before it, the environment still on GOOD
    gateway = FakeGateway(running=GOOD)
    # WHEN GOOD passes again
    record_known_good(gateway, SETTINGS, PARAMS, "job-9", NOW)  # type: ignore[arg-type]
    # THEN the watch has nothing to send it back to
    assert (_recorded(gateway).job_id, _recorded(gateway).previous) == ("job-9", None)
