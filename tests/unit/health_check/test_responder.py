"""The responder: an environment in trouble gets its deployments rolled back, except CodeDeploy's
rollbacks and our recorded restores; a deployment's group holds its scaling while it deploys."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import pytest
from health_check.deployments import DeploymentFact, RestoreRecord, restore_parameter
from health_check.errors import AwsCallError
from health_check.gateway import ACTIVE_DEPLOYMENT_STATUSES
from health_check.job import Runtime

from health_check import responder
from tests.support import load_event
from tests.unit.health_check.conftest import Aws, watched_release
from tests.unit.health_check.fakes import (
    APPLICATION,
    SMOKE_TEST_HOOK_ARN,
    TRAFFIC_GUARD_HOOK_ARN,
    Clock,
    Rollbacks,
    inject_client_error,
)

ENVIRON = {
    "NOTIFICATION_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:pipeline-notifications-dev",
    "CODEDEPLOY_APPLICATION": APPLICATION,
    "SMOKE_TEST_HOOK_ARN": SMOKE_TEST_HOOK_ARN,
    "TRAFFIC_GUARD_HOOK_ARN": TRAFFIC_GUARD_HOOK_ARN,
}
CREATED = 1_800_000_000.0
# The group and deployment of events/deployment_failed.json.
FAILED_GROUP, FAILED_ID = "staging-api-service", "d-FAILED123"


def _deployment(
    deployment_id: str,
    group: str,
    *,
    creator: str = "user",
    rollback_of: str | None = None,
    created_at: float = CREATED,
    status: str = "InProgress",
) -> DeploymentFact:
    return DeploymentFact(deployment_id, group, status, creator, rollback_of, created_at)


@dataclass
class Release:
    """What the responder reads and does through the gateway: CodeDeploy's deployments in
    progress, the restore records in SSM, each group's ECS service and its scaling."""

    deployments: list[DeploymentFact] = field(default_factory=list)
    parameters: dict[str, str] = field(default_factory=dict)
    stopped: list[str] = field(default_factory=list)
    # (service, suspended) of each change of a service's scaling
    scaling: list[tuple[str, bool]] = field(default_factory=list)
    unreadable: bool = False
    # Deployments that completed before a StopDeployment reached them.
    completed: set[str] = field(default_factory=set)
    # The alarms in ALARM now; None: every alarm an event names (the tests about what follows).
    firing: set[str] | None = None

    def alarms_in_alarm(self, names: list[str]) -> list[str]:
        return sorted(n for n in names if self.firing is None or n in self.firing)

    def active_deployments(
        self, application: str, group_prefix: str, *, exact: bool = False
    ) -> list[str]:
        if self.unreadable:
            raise AwsCallError("codedeploy:ListDeploymentGroups", "AccessDeniedException: no")
        return [
            deployment.id
            for deployment in self.deployments
            if deployment.status in ACTIVE_DEPLOYMENT_STATUSES
            and (
                deployment.group == group_prefix
                if exact
                else deployment.group.startswith(group_prefix)
            )
        ]

    def describe_deployments(self, ids: list[str]) -> list[DeploymentFact]:
        return [deployment for deployment in self.deployments if deployment.id in ids]

    def deployment_groups(self, application: str, prefix: str) -> list[str]:
        # No group the watch could restore: an alarm's watch (watch.py) finds no service of its
        # and does nothing; the watch is tested with moto below and in test_watch.py.
        return []

    def read_parameter(self, name: str) -> str | None:
        return self.parameters.get(name)

    def stop_deployment(self, deployment_id: str) -> bool:
        if deployment_id in self.completed:
            return False
        self.stopped.append(deployment_id)
        return True

    def ecs_service_of(self, application: str, group: str) -> tuple[str, str]:
        environment, _, service = group.partition("-")
        return f"{environment}-cluster-dev", f"{service}-dev"

    def set_scaling_suspended(self, cluster: str, service: str, *, suspended: bool) -> bool:
        self.scaling.append((service, suspended))
        return True


def _handle(event: dict[str, Any], gateway: Any, environ: dict[str, str] = ENVIRON) -> Any:
    runtime = Runtime(gateway=gateway, clock=Clock(), environ=environ)
    return responder.handle(event, None, runtime)  # type: ignore[arg-type]


def _alarm_event(aws: Aws, name: str | None = None) -> dict[str, Any]:
    """events/alarm_in_alarm.json (or with another alarm's name), its alarm in ALARM in moto as
    CloudWatch's event says: the responder reads the state back before acting on it."""
    event = load_event("alarm_in_alarm.json")
    if name is not None:
        event["detail"]["alarmName"] = name
    aws.alarm(event["detail"]["alarmName"], "ALARM")
    return event


def _deployment_event(state: str) -> dict[str, Any]:
    """events/deployment_failed.json, in another state of the same deployment."""
    event = load_event("deployment_failed.json")
    event["detail"]["state"] = state
    return event


def test_an_alarm_in_alarm_rolls_back_every_deployment_of_its_environment() -> None:
    # GIVEN production's three deployments in progress and staging's one
    release = Release(
        [
            _deployment("d-api", "production-api-service"),
            _deployment("d-auth", "production-auth-service"),
            _deployment("d-notify", "production-notification-service"),
            _deployment("d-staging", "staging-api-service"),
        ]
    )
    # WHEN production's api-service 5XX alarm goes into ALARM
    reply = _handle(load_event("alarm_in_alarm.json"), release)
    # THEN all of production's are stopped with rollback, staging's left alone
    assert release.stopped == ["d-api", "d-auth", "d-notify"]
    assert reply["environment"] == "production"


def test_a_failed_deployment_rolls_back_its_siblings() -> None:
    release = Release(
        [
            _deployment(FAILED_ID, FAILED_GROUP, status="Failed"),
            _deployment("d-auth", "staging-auth-service"),
        ]
    )
    reply = _handle(load_event("deployment_failed.json"), release)
    assert release.stopped == ["d-auth"]
    assert FAILED_ID in reply["cause"]


@pytest.mark.parametrize(
    "rollback",
    [
        _deployment("d-rollback", "production-auth-service", creator="codeDeployRollback"),
        _deployment("d-rollback", "production-auth-service", rollback_of="d-auth"),
    ],
    ids=["creator", "rollbackInfo"],
)
def test_a_codedeploy_rollback_is_never_stopped(rollback: DeploymentFact) -> None:
    # GIVEN CodeDeploy rolling back one service while another still deploys
    release = Release([rollback, _deployment("d-api", "production-api-service")])
    # WHEN an alarm of the environment goes into ALARM
    _handle(load_event("alarm_in_alarm.json"), release)
    # THEN the rollback is left to take users back; only the release is stopped
    assert release.stopped == ["d-api"]


def test_a_recorded_restore_is_never_stopped_by_the_alarms_of_the_release_it_replaces() -> None:
    # GIVEN the health check's restore of api-service, recorded by id, and another deployment
    record = RestoreRecord(CREATED - 5, "td:7", deployment_id="d-restore")
    release = Release(
        [
            _deployment("d-restore", "production-api-service"),
            _deployment("d-other", "production-auth-service"),
        ],
        parameters={restore_parameter("production-api-service"): record.to_json()},
    )
    # WHEN the alarms of the release it replaces are in ALARM
    _handle(load_event("alarm_in_alarm.json"), release)
    # THEN only the other deployment is stopped
    assert release.stopped == ["d-other"]


def test_a_restore_whose_id_is_not_recorded_yet_is_covered_by_its_intent() -> None:
    # GIVEN the intent written just before CreateDeployment, and the deployment it created
    intent = RestoreRecord(CREATED - 5, "td:7")
    release = Release(
        [_deployment("d-restore", "production-api-service")],
        parameters={restore_parameter("production-api-service"): intent.to_json()},
    )
    # WHEN an alarm goes into ALARM before the id was recorded
    reply = _handle(load_event("alarm_in_alarm.json"), release)
    # THEN the restore is still left to finish (and does not keep the watch from its step)
    assert (release.stopped, reply["restore"]) == ([], [])


def test_a_deployment_only_described_as_a_restore_is_stopped(aws: Aws) -> None:
    # GIVEN a deployment whose description claims to be a restore (anyone allowed to call
    # CreateDeployment can write one), with no record of the health check naming it
    forged = aws.deployment(
        "production-api-service",
        description="Restore of the last known-good release of production api-service",
    )
    # WHEN an alarm of its environment goes into ALARM
    _handle(_alarm_event(aws), aws.gateway, aws.environ)
    # THEN it is stopped like any release
    assert aws.stops.named("StopDeployment") == [
        {"deploymentId": forged, "autoRollbackEnabled": True}
    ]


def test_a_restore_recorded_in_ssm_is_left_to_finish(aws: Aws) -> None:
    # GIVEN a restore CodeDeploy runs, whose id the health check recorded in SSM
    aws.released("production", "api-service", aws.task_definition("production", "api-service"))
    restore = aws.deployment("production-api-service")
    record = RestoreRecord(CREATED, "td:7", deployment_id=restore)
    aws.gateway.write_parameter(restore_parameter("production-api-service"), record.to_json(), "")
    # WHEN an alarm of its environment goes into ALARM
    reply = _handle(_alarm_event(aws), aws.gateway, aws.environ)
    # THEN nothing is stopped
    assert (reply["stopped"], aws.stops.calls) == ([], [])


def test_a_forged_alarm_event_stops_nothing_while_the_alarm_is_not_in_alarm() -> None:
    # GIVEN production's deployments in progress and its 5XX alarm not in ALARM
    release = Release([_deployment("d-api", "production-api-service")], firing=set())
    # WHEN an event claims it went into ALARM (anyone allowed to invoke the responder can send
    # one)
    reply = _handle(load_event("alarm_in_alarm.json"), release)
    # THEN the alarm is read back and nothing is stopped
    assert release.stopped == []
    assert "not in ALARM now" in reply["ignored"]


def test_a_forged_failure_of_a_deployment_still_in_progress_stops_nothing() -> None:
    # GIVEN staging's deployments in progress, the one the event names included
    release = Release(
        [_deployment(FAILED_ID, FAILED_GROUP), _deployment("d-auth", "staging-auth-service")]
    )
    # WHEN an event claims it failed
    reply = _handle(load_event("deployment_failed.json"), release)
    # THEN GetDeployment says otherwise, and its siblings are left alone
    assert release.stopped == []
    assert f"{FAILED_ID} is InProgress, not Failed" in reply["ignored"]


def test_a_failure_event_naming_a_deployment_of_another_group_stops_nothing() -> None:
    release = Release(
        [
            _deployment(FAILED_ID, "staging-auth-service", status="Failed"),
            _deployment("d-notify", "staging-notification-service"),
        ]
    )
    reply = _handle(load_event("deployment_failed.json"), release)
    assert release.stopped == []
    assert f"no deployment {FAILED_ID} in {FAILED_GROUP}" in reply["ignored"]


def test_a_deployment_that_completed_before_its_stop_is_not_reported_stopped() -> None:
    # GIVEN CodeDeploy answering that the deployment had already completed
    release = Release([_deployment("d-api", "production-api-service")], completed={"d-api"})
    # WHEN
    reply = _handle(load_event("alarm_in_alarm.json"), release)
    # THEN
    assert reply["stopped"] == []


def _with(event: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    """A copy of `event` with the value at `path` replaced (None: the key removed)."""
    changed = copy.deepcopy(event)
    node = changed
    for key in path[:-1]:
        node = node[key]
    if value is None:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return changed


@pytest.mark.parametrize(
    ("name", "path", "value"),
    [
        ("alarm_in_alarm.json", ("detail",), "ALARM"),
        ("alarm_in_alarm.json", ("detail",), None),
        ("alarm_in_alarm.json", ("detail", "state"), "ALARM"),
        ("alarm_in_alarm.json", ("detail", "alarmName"), None),
        ("deployment_failed.json", ("detail", "deploymentId"), None),
        ("deployment_failed.json", ("detail", "deploymentId"), " "),
        ("deployment_failed.json", ("detail", "state"), None),
        ("deployment_failed.json", ("detail", "state"), {"value": "FAILURE"}),
        ("deployment_failed.json", ("detail", "deploymentGroup"), None),
    ],
)
def test_an_event_of_a_shape_eventbridge_never_sends_is_rejected_without_a_retry(
    name: str, path: tuple[str, ...], value: Any
) -> None:
    # GIVEN an event whose shape no EventBridge rule of ours delivers
    release = Release([_deployment("d-api", "production-api-service")])
    # WHEN it is handled
    reply = _handle(_with(load_event(name), path, value), release)
    # THEN it is answered (raising would only make Lambda retry it), and nothing is done
    assert "rejected" in reply
    assert (release.stopped, release.scaling) == ([], [])


@pytest.mark.parametrize(
    ("name", "path", "value"),
    [
        ("alarm_in_alarm.json", ("detail", "state", "value"), "OK"),
        ("alarm_in_alarm.json", ("detail", "alarmName"), "other-production-api-service-5xx-rate"),
        ("alarm_in_alarm.json", ("detail", "alarmName"), "dev-qa-api-service-5xx-rate"),
        ("alarm_in_alarm.json", ("source",), "aws.ec2"),
        ("deployment_failed.json", ("detail", "application"), "microservices-other"),
        ("deployment_failed.json", ("detail", "deploymentGroup"), "qa-api-service"),
    ],
)
def test_events_that_are_not_this_copys_release_stop_nothing(
    name: str, path: tuple[str, ...], value: str
) -> None:
    release = Release(
        [_deployment("d-api", "production-api-service"), _deployment("d-a", "staging-a")]
    )
    assert _handle(_with(load_event(name), path, value), release)["stopped"] == []
    assert (release.stopped, release.scaling) == ([], [])


def test_an_alarm_event_is_read_with_the_alarms_name() -> None:
    release = responder.read_event(load_event("alarm_in_alarm.json"), "dev")
    assert release == responder.ReleaseEvent(
        environment="production",
        trouble="alarm dev-production-api-service-5xx-rate in ALARM",
        alarm="dev-production-api-service-5xx-rate",
    )


def test_a_deployment_event_is_read_with_its_deployment_group_and_state_and_no_alarm() -> None:
    release = responder.read_event(load_event("deployment_failed.json"), "dev")
    assert release is not None
    assert (release.alarm, release.deployment_id, release.group, release.state) == (
        None,
        FAILED_ID,
        FAILED_GROUP,
        "FAILURE",
    )


def test_a_deployment_start_suspends_its_services_scaling() -> None:
    # GIVEN a deployment of staging-api-service starting
    release = Release([_deployment(FAILED_ID, FAILED_GROUP)])
    # WHEN
    reply = _handle(_deployment_event("START"), release)
    # THEN its service's scaling is suspended, and nothing is stopped
    assert release.scaling == [("api-service-dev", True)]
    assert "scaling suspended" in reply["scaling"]
    assert release.stopped == []


def test_a_late_start_of_a_deployment_that_already_finished_leaves_scaling_on() -> None:
    # GIVEN the START event handled late (a retry), after its deployment finished: nothing of
    # the group in progress any more, so no end event will come to resume its scaling
    release = Release()
    # WHEN
    reply = _handle(_deployment_event("START"), release)
    # THEN scaling is suspended, then resumed at once, and the reply says why
    assert release.scaling == [("api-service-dev", True), ("api-service-dev", False)]
    assert "already finished deploying: scaling left on" in reply["scaling"]


def test_a_deployment_success_resumes_its_services_scaling_once_the_group_is_idle() -> None:
    # GIVEN the deployment succeeded and nothing else runs in its group
    release = Release()
    # WHEN
    reply = _handle(_deployment_event("SUCCESS"), release)
    # THEN
    assert release.scaling == [("api-service-dev", False)]
    assert "scaling resumed" in reply["scaling"]


def test_scaling_stays_suspended_while_the_group_is_still_busy() -> None:
    # GIVEN the group's deployment ended, but CodeDeploy's rollback of it still runs
    rollback = _deployment("d-rollback", FAILED_GROUP, creator="codeDeployRollback")
    release = Release([rollback])
    # WHEN the end of the deployment arrives
    reply = _handle(_deployment_event("SUCCESS"), release)
    # THEN the rollback's own end will resume it: nothing changes now
    assert release.scaling == []
    assert "d-rollback in progress" in reply["scaling"]


def test_a_failed_deployment_resumes_its_services_scaling_once_the_group_is_idle() -> None:
    release = Release(
        [
            _deployment(FAILED_ID, FAILED_GROUP, status="Failed"),
            _deployment("d-auth", "staging-auth-service"),
        ]
    )
    _handle(load_event("deployment_failed.json"), release)
    assert release.scaling == [("api-service-dev", False)]


def test_deployments_that_cannot_be_listed_fail_the_invocation_so_lambda_retries_it() -> None:
    with pytest.raises(AwsCallError):
        _handle(load_event("alarm_in_alarm.json"), Release(unreadable=True))


# The watch window (watch.py), reached from an alarm of production (events/alarm_in_alarm.json)
# while nothing of production deploys. Its own decisions are tested in test_watch.py.
WATCHED_GROUP = "production-api-service"
MINUTES_AGO, HOURS_AGO = 600.0, 3 * 3_600.0


def _alarm(aws: Aws, clock: Clock) -> Any:
    runtime = Runtime(gateway=aws.gateway, clock=clock, environ=aws.environ)
    return responder.handle(_alarm_event(aws), None, runtime)  # type: ignore[arg-type]


def _subjects(aws: Aws) -> list[str]:
    return [notification["Subject"] for notification in aws.notifications()]


def test_an_alarm_while_nothing_deploys_inside_the_window_restores_the_release_before(
    aws: Aws, clock: Clock
) -> None:
    # GIVEN production's api-service on a release that passed its health check ten minutes ago
    release = watched_release(aws, clock.now - MINUTES_AGO)
    # WHEN one of production's alarms goes into ALARM
    _alarm(aws, clock)
    # THEN the group deploys the release before
    [created] = aws.deployments_of(WATCHED_GROUP)
    assert aws.deployed_task_definition(created) == release.before


def test_a_restore_from_the_watch_is_announced_once(aws: Aws, clock: Clock) -> None:
    # GIVEN production's api-service inside its watch window
    watched_release(aws, clock.now - MINUTES_AGO)
    # WHEN one of production's alarms goes into ALARM
    _alarm(aws, clock)
    # THEN one notification says what is being restored
    assert _subjects(aws) == ["Restoring production's last known-good release"]


def test_a_second_alarm_during_the_watchs_restore_neither_stops_it_nor_restores_again(
    aws: Aws, clock: Clock
) -> None:
    # GIVEN the watch's restore in progress after a first alarm
    watched_release(aws, clock.now - MINUTES_AGO)
    _alarm(aws, clock)
    # WHEN another of production's alarms goes into ALARM a minute later
    clock.advance(60)
    reply = _alarm(aws, clock)
    # THEN the watch takes its step and waits for the recorded restore: neither stopped nor
    # created again, and not announced a second time
    [note] = reply["restore"]
    assert (len(aws.deployments_of(WATCHED_GROUP)), aws.stops.calls) == (1, [])
    assert note.startswith("api-service: waiting for ")
    assert note.endswith(": a restore of the last known-good release")
    assert _subjects(aws) == ["Restoring production's last known-good release"]


def test_a_recorded_restore_of_another_service_does_not_keep_the_watch_from_its_step(
    aws: Aws, clock: Clock
) -> None:
    # GIVEN api-service inside its watch window, and a recorded restore of auth-service running
    release = watched_release(aws, clock.now - MINUTES_AGO)
    aws.released("production", "auth-service", aws.task_definition("production", "auth-service"))
    restore = aws.deployment("production-auth-service")
    record = RestoreRecord(clock.now - 30, "td:7", deployment_id=restore)
    group = "production-auth-service"
    aws.gateway.write_parameter(restore_parameter(group), record.to_json(), "")
    # WHEN api-service's alarm goes into ALARM
    _alarm(aws, clock)
    # THEN the restore is left to run, and api-service is sent back to the release before
    [created] = aws.deployments_of(WATCHED_GROUP)
    assert (aws.stops.calls, aws.deployments_of(group)) == ([], [restore])
    assert aws.deployed_task_definition(created) == release.before


@pytest.mark.parametrize(
    "alarm", ["dev-production-synthetic-client", "dev-production-synthetic-client-heartbeat"]
)
def test_an_environment_wide_alarm_never_starts_the_watch(
    aws: Aws, clock: Clock, alarm: str
) -> None:
    # GIVEN production's api-service inside its watch window, nothing of production deploying
    record = watched_release(aws, clock.now - MINUTES_AGO).record(clock.now - MINUTES_AGO)
    runtime = Runtime(gateway=aws.gateway, clock=clock, environ=aws.environ)
    event = _alarm_event(aws, alarm)
    # WHEN an alarm of the environment that is no service's goes into ALARM
    reply = responder.handle(event, None, runtime)  # type: ignore[arg-type]
    # THEN the record stays, nothing is deployed, nobody is told: the validator judges it
    assert (
        aws.known_good("production", "api-service"),
        aws.deployments_of(WATCHED_GROUP),
        reply["restore"],
        _subjects(aws),
    ) == (record, [], [], [])


def test_a_watch_step_to_take_again_fails_the_invocation_so_lambda_retries_it(
    aws: Aws, clock: Clock
) -> None:
    # GIVEN api-service inside its watch window, and CreateDeployment refused (another
    # deployment took the group between the look and the request)
    watched_release(aws, clock.now - MINUTES_AGO)
    codedeploy = aws.gateway.clients.codedeploy
    inject_client_error(codedeploy, "CreateDeployment", "DeploymentLimitExceededException")
    # WHEN one of production's alarms goes into ALARM
    with pytest.raises(AwsCallError, match="started meanwhile"):
        _alarm(aws, clock)
    # THEN the invocation fails (Lambda retries it), after telling what was done, and no
    # intent of ours is left to stand for the deployment that took the group
    record = aws.gateway.read_parameter(restore_parameter(WATCHED_GROUP))
    assert (_subjects(aws), RestoreRecord.from_json(record)) == (
        ["Restoring production's last known-good release"],
        None,
    )


def test_an_alarm_outside_the_window_asks_a_human_to_decide(aws: Aws, clock: Clock) -> None:
    # GIVEN production's api-service on a release that passed its health check hours ago
    watched_release(aws, clock.now - HOURS_AGO)
    # WHEN one of production's alarms goes into ALARM
    _alarm(aws, clock)
    # THEN nothing is deployed, and one notification hands the decision to a human
    assert (aws.deployments_of(WATCHED_GROUP), _subjects(aws)) == (
        [],
        ["Alarm in production outside the watch window: a human decides"],
    )


def test_an_alarm_while_a_release_of_the_environment_deploys_leaves_it_to_its_rollback(
    aws: Aws, clock: Clock
) -> None:
    # GIVEN api-service inside its watch window, and the pipeline deploying auth-service
    record = watched_release(aws, clock.now - MINUTES_AGO).record(clock.now - MINUTES_AGO)
    aws.released("production", "auth-service", aws.task_definition("production", "auth-service"))
    aws.deployment("production-auth-service")
    # WHEN one of production's alarms goes into ALARM
    reply = _alarm(aws, clock)
    # THEN that release's rollback moves users back: the watch does not run (no known-good
    # record demoted, no restore created)
    assert (
        aws.known_good("production", "api-service"),
        aws.deployments_of(WATCHED_GROUP),
        "restore" in reply,
    ) == (record, [], False)


def test_an_alarm_while_codedeploy_rolls_back_leaves_the_environment_to_the_rollback(
    aws: Aws, clock: Clock
) -> None:
    # GIVEN api-service inside its watch window, and CodeDeploy rolling back auth-service
    record = watched_release(aws, clock.now - MINUTES_AGO).record(clock.now - MINUTES_AGO)
    aws.released("production", "auth-service", aws.task_definition("production", "auth-service"))
    rollback = aws.deployment("production-auth-service")
    Rollbacks({rollback: "d-auth"}).attach(aws.gateway.clients.codedeploy)
    # WHEN one of production's alarms goes into ALARM
    reply = _alarm(aws, clock)
    # THEN the rollback is neither stopped nor joined by a restore of the watch
    assert (
        aws.stops.calls,
        aws.known_good("production", "api-service"),
        aws.deployments_of(WATCHED_GROUP),
        "restore" in reply,
    ) == ([], record, [], False)


@pytest.mark.parametrize("state", ["FAILURE", "STOP"])
def test_a_deployment_that_failed_or_was_stopped_never_starts_the_watch(
    aws: Aws, clock: Clock, state: str
) -> None:
    # GIVEN staging's api-service inside its watch window, nothing of staging deploying
    record = watched_release(aws, clock.now - MINUTES_AGO, environment="staging").record(
        clock.now - MINUTES_AGO
    )
    runtime = Runtime(gateway=aws.gateway, clock=clock, environ=aws.environ)
    ended = aws.deployment(FAILED_GROUP)
    aws.ended(ended, responder.STATUS_OF_STATE[state])
    event = _deployment_event(state)
    event["detail"]["deploymentId"] = ended
    # WHEN a deployment of staging's api-service ends so (its rollback is CodeDeploy's)
    reply = responder.handle(event, None, runtime)  # type: ignore[arg-type]
    # THEN the record stays, and no restore is created
    assert (
        aws.known_good("staging", "api-service"),
        aws.deployments_of(FAILED_GROUP),
        "restore" in reply,
        "ignored" in reply,
    ) == (record, [ended], False, False)
