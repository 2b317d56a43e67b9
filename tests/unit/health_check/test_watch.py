"""The watch window: an alarm while nothing deploys sends a service that passed its health check
a short while ago back to the release it replaced; later, a human is told how to."""

from __future__ import annotations

import json
import shlex
from dataclasses import replace
from typing import Any

import pytest
from health_check.deployments import RestoreRecord, restore_parameter
from health_check.release import RestoreState
from health_check.settings import Settings
from health_check.watch import RESTORE_MEMORY_SECONDS, WatchOutcome, watch_restore

from tests.unit.health_check.conftest import Aws, WatchedRelease, watched_release
from tests.unit.health_check.fakes import Clock, inject_client_error

ENVIRONMENT, SERVICE = "production", "api-service"
GROUP = f"{ENVIRONMENT}-{SERVICE}"
# An alarm of the service (events/alarm_in_alarm.json's).
ALARM = f"dev-{ENVIRONMENT}-{SERVICE}-5xx-rate"
# Well inside and well outside the default 60-minute window.
MINUTES_AGO, HOURS_AGO = 600.0, 3 * 3_600.0


def _watch(
    aws: Aws, clock: Clock, window_minutes: int | None = None, alarm: str = ALARM
) -> WatchOutcome:
    environ = dict(aws.environ)
    if window_minutes is not None:
        environ["WATCH_WINDOW_MINUTES"] = str(window_minutes)
    settings = Settings.from_environ(environ)
    return watch_restore(aws.gateway, settings, ENVIRONMENT, clock.time(), alarm)


def _inside_window(aws: Aws, clock: Clock) -> WatchedRelease:
    return watched_release(aws, clock.now - MINUTES_AGO)


def test_inside_the_window_the_known_good_record_goes_back_to_the_release_before(
    aws: Aws, clock: Clock
) -> None:
    # GIVEN api-service on the release that passed its health check ten minutes ago
    release = _inside_window(aws, clock)
    # WHEN the watch runs on an alarm
    _watch(aws, clock)
    # THEN the release it replaced is the known-good one again, with no previous of its own
    previous = release.record(clock.now - MINUTES_AGO).previous
    assert aws.known_good(ENVIRONMENT, SERVICE) == previous


def test_inside_the_window_one_restore_of_the_release_before_is_created(
    aws: Aws, clock: Clock
) -> None:
    # GIVEN api-service on the release that passed its health check ten minutes ago
    release = _inside_window(aws, clock)
    # WHEN the watch runs on an alarm
    _watch(aws, clock)
    # THEN its group deploys the release before, once
    [created] = aws.deployments_of(GROUP)
    assert aws.deployed_task_definition(created) == release.before


def test_the_watchs_restore_is_recorded_by_its_id_as_the_health_checks_is(
    aws: Aws, clock: Clock
) -> None:
    # GIVEN api-service inside its watch window
    release = _inside_window(aws, clock)
    # WHEN the watch runs on an alarm
    _watch(aws, clock)
    # THEN the restore record names the deployment, so no responder or check ever stops it
    [created] = aws.deployments_of(GROUP)
    record = RestoreRecord.from_json(aws.gateway.read_parameter(restore_parameter(GROUP)))
    assert record == RestoreRecord(clock.now, release.before, created)


def test_inside_the_window_the_outcome_names_the_service_sent_back_and_the_restore_started(
    aws: Aws, clock: Clock
) -> None:
    _inside_window(aws, clock)
    outcome = _watch(aws, clock)
    assert (outcome.demoted, [step.state for step in outcome.steps], outcome.acted) == (
        (SERVICE,),
        [RestoreState.STARTED],
        True,
    )


def test_a_second_watch_in_a_row_waits_for_the_first_restore_instead_of_creating_another(
    aws: Aws, clock: Clock
) -> None:
    # GIVEN the watch already sent api-service back and created its restore
    _inside_window(aws, clock)
    _watch(aws, clock)
    # WHEN it runs again (another alarm, a retry) a minute later
    clock.advance(60)
    outcome = _watch(aws, clock)
    # THEN the restore in progress is left to run: neither stopped nor created again
    assert (len(aws.deployments_of(GROUP)), aws.stops.calls, outcome.acted) == (1, [], False)


def test_outside_the_window_nothing_is_deployed_and_the_record_is_kept(
    aws: Aws, clock: Clock
) -> None:
    # GIVEN api-service on a release that passed its health check three hours ago
    release = watched_release(aws, clock.now - HOURS_AGO)
    # WHEN the watch runs on an alarm
    _watch(aws, clock)
    # THEN an alarm alone redeploys nothing: a human decides
    assert (aws.deployments_of(GROUP), aws.known_good(ENVIRONMENT, SERVICE)) == (
        [],
        release.record(clock.now - HOURS_AGO),
    )


def _command_arguments(note: str) -> dict[str, str]:
    """The options of the `aws deploy create-deployment` command in a note, as a shell reads it."""
    words = shlex.split(note[note.index("aws deploy create-deployment") :])
    assert words[:3] == ["aws", "deploy", "create-deployment"]
    options = words[3:]
    return dict(zip(options[::2], options[1::2], strict=True))


def test_outside_the_window_the_note_carries_the_command_that_restores_the_release_before(
    aws: Aws, clock: Clock
) -> None:
    # GIVEN api-service outside its watch window
    release = watched_release(aws, clock.now - HOURS_AGO)
    # WHEN the watch runs on an alarm
    [note] = _watch(aws, clock).outside_window
    # THEN the note's command deploys the release before into the group, with the alarms that
    # are firing because of the current release switched off for that deployment
    arguments = _command_arguments(note)
    revision = json.loads(arguments["--revision"])
    appspec = json.loads(revision["appSpecContent"]["content"])
    assert (
        arguments["--deployment-group-name"],
        arguments["--override-alarm-configuration"],
        appspec["Resources"][0]["TargetService"]["Properties"]["TaskDefinition"],
    ) == (GROUP, "enabled=false", release.before)


def test_a_service_off_its_known_good_release_is_restored_to_it(aws: Aws, clock: Clock) -> None:
    # GIVEN api-service on a later release that has not passed its validation
    release = watched_release(aws, clock.now - MINUTES_AGO, off=True)
    # WHEN the watch runs on an alarm
    _watch(aws, clock)
    # THEN it goes back to its known-good release, the same target as the health check's restore
    [created] = aws.deployments_of(GROUP)
    assert aws.deployed_task_definition(created) == release.watched


def test_a_service_off_its_known_good_release_keeps_its_known_good_record(
    aws: Aws, clock: Clock
) -> None:
    # GIVEN api-service off its known-good release, inside that release's watch window
    release = watched_release(aws, clock.now - MINUTES_AGO, off=True)
    # WHEN the watch runs on an alarm
    _watch(aws, clock)
    # THEN the known-good release did not fail: it is not sent back to the one before
    assert aws.known_good(ENVIRONMENT, SERVICE) == release.record(clock.now - MINUTES_AGO)


def test_a_first_release_off_its_known_good_release_is_restored_to_it(
    aws: Aws, clock: Clock
) -> None:
    # GIVEN a known-good record with no release before it, and the service off it
    release = watched_release(aws, clock.now - MINUTES_AGO, off=True)
    first = replace(release.record(clock.now - MINUTES_AGO), previous=None)
    aws.put_known_good(ENVIRONMENT, SERVICE, first)
    # WHEN the watch runs on an alarm
    _watch(aws, clock)
    # THEN
    [created] = aws.deployments_of(GROUP)
    assert aws.deployed_task_definition(created) == release.watched


@pytest.mark.parametrize("age", [0.0, 1.0, MINUTES_AGO])
def test_a_window_of_zero_minutes_never_sends_a_release_back(
    aws: Aws, clock: Clock, age: float
) -> None:
    # GIVEN the watch window turned off, and a release that passed its check `age` seconds ago
    release = watched_release(aws, clock.now - age)
    # WHEN the watch runs on an alarm
    _watch(aws, clock, window_minutes=0)
    # THEN neither the record nor the service moves
    assert (aws.known_good(ENVIRONMENT, SERVICE), aws.deployments_of(GROUP)) == (
        release.record(clock.now - age),
        [],
    )


def test_a_record_whose_time_cannot_be_read_is_treated_as_outside_the_window(
    aws: Aws, clock: Clock
) -> None:
    # GIVEN a known-good record whose recorded_at is not a time
    release = _inside_window(aws, clock)
    unreadable = replace(release.record(clock.now - MINUTES_AGO), recorded_at="yesterday")
    aws.put_known_good(ENVIRONMENT, SERVICE, unreadable)
    # WHEN the watch runs on an alarm
    outcome = _watch(aws, clock)
    # THEN it is not taken for a recent release: a human decides
    assert (aws.deployments_of(GROUP), len(outcome.outside_window)) == ([], 1)


@pytest.mark.parametrize(
    "alarm",
    [
        f"dev-{ENVIRONMENT}-synthetic-client",
        f"dev-{ENVIRONMENT}-other-service-5xx-rate",
        f"dev-{ENVIRONMENT}-{SERVICE}",
    ],
    ids=["environment-wide", "no-such-group", "no-metric-part"],
)
def test_an_alarm_that_is_not_a_services_never_restores_anything(
    aws: Aws, clock: Clock, alarm: str
) -> None:
    # GIVEN api-service inside its watch window
    release = _inside_window(aws, clock)
    # WHEN the watch runs on an alarm that names no service of the environment's groups
    outcome = _watch(aws, clock, alarm=alarm)
    # THEN nothing is demoted, deployed or handed to a human: the validator judges that alarm
    assert (
        outcome,
        aws.known_good(ENVIRONMENT, SERVICE),
        aws.deployments_of(GROUP),
    ) == (WatchOutcome((), (), ()), release.record(clock.now - MINUTES_AGO), [])


def test_a_watch_whose_restore_lost_the_group_is_incomplete_and_leaves_no_intent(
    aws: Aws, clock: Clock
) -> None:
    # GIVEN api-service inside its watch window, and CreateDeployment refused (another
    # deployment took the group between the look and the request)
    _inside_window(aws, clock)
    codedeploy = aws.gateway.clients.codedeploy
    inject_client_error(codedeploy, "CreateDeployment", "DeploymentLimitExceededException")
    # WHEN the watch runs on an alarm
    outcome = _watch(aws, clock)
    # THEN the step is to be taken again, and no intent of ours stands for another deployment
    record = aws.gateway.read_parameter(restore_parameter(GROUP))
    assert (
        [step.state for step in outcome.steps],
        outcome.incomplete,
        RestoreRecord.from_json(record),
    ) == ([RestoreState.RETRY], True, None)


def test_a_watch_whose_steps_all_went_through_is_complete(aws: Aws, clock: Clock) -> None:
    _inside_window(aws, clock)
    assert _watch(aws, clock).incomplete is False


def _failed_restore(aws: Aws, requested_at: float, task_definition: str) -> str:
    """A restore of the group recorded at `requested_at` that ended Failed (moto keeps every
    deployment `Created`: CodeDeploy's answers about this one are rewritten)."""
    failed = aws.deployment(GROUP)
    record = RestoreRecord(requested_at, task_definition, failed)
    aws.gateway.write_parameter(restore_parameter(GROUP), record.to_json(), "arranged")
    events = aws.gateway.clients.codedeploy.meta.events

    def not_active(parsed: dict[str, Any], **_: Any) -> None:
        parsed["deployments"] = [d for d in parsed.get("deployments", []) if d != failed]

    def ended_failed(parsed: dict[str, Any], **_: Any) -> None:
        info = parsed.get("deploymentInfo", {})
        if info.get("deploymentId") == failed:
            info["status"] = "Failed"

    events.register("after-call.codedeploy.ListDeployments", not_active)
    events.register("after-call.codedeploy.GetDeployment", ended_failed)
    return failed


def test_a_restore_that_failed_within_the_watchs_memory_is_handed_to_a_human(
    aws: Aws, clock: Clock
) -> None:
    # GIVEN api-service off its known-good release, whose restore failed minutes ago
    release = watched_release(aws, clock.now - MINUTES_AGO, off=True)
    _failed_restore(aws, clock.now - RESTORE_MEMORY_SECONDS + 60, release.watched)
    # WHEN the watch runs on an alarm
    outcome = _watch(aws, clock)
    # THEN it is not tried again (nor taken again by a retry): a human decides
    [step] = outcome.steps
    assert (step.state, outcome.incomplete, aws.deployments_of(GROUP)) == (
        RestoreState.NEEDS_HUMAN,
        False,
        [],
    )
    assert "ended Failed" in step.note


def test_a_restore_that_failed_before_the_watchs_memory_is_tried_again(
    aws: Aws, clock: Clock
) -> None:
    # GIVEN api-service off its known-good release, whose restore failed long ago
    release = watched_release(aws, clock.now - MINUTES_AGO, off=True)
    _failed_restore(aws, clock.now - RESTORE_MEMORY_SECONDS - 60, release.watched)
    # WHEN the watch runs on an alarm
    outcome = _watch(aws, clock)
    # THEN a new restore of the known-good release is created
    [created] = aws.deployments_of(GROUP)
    assert ([step.state for step in outcome.steps], aws.deployed_task_definition(created)) == (
        [RestoreState.STARTED],
        release.watched,
    )
