"""The watch window: an alarm while nothing deploys sends a service that passed its health check
a short while ago back to the release it replaced; later, a human is told how to."""

from __future__ import annotations

import json
import shlex
from dataclasses import replace

import pytest
from health_check.deployments import RestoreRecord, restore_parameter
from health_check.release import RestoreState
from health_check.settings import Settings
from health_check.watch import WatchOutcome, watch_restore

from tests.unit.health_check.conftest import Aws, WatchedRelease, watched_release
from tests.unit.health_check.fakes import Clock

ENVIRONMENT, SERVICE = "production", "api-service"
GROUP = f"{ENVIRONMENT}-{SERVICE}"
# Well inside and well outside the default 60-minute window.
MINUTES_AGO, HOURS_AGO = 600.0, 3 * 3_600.0


def _watch(aws: Aws, clock: Clock, window_minutes: int | None = None) -> WatchOutcome:
    environ = dict(aws.environ)
    if window_minutes is not None:
        environ["WATCH_WINDOW_MINUTES"] = str(window_minutes)
    return watch_restore(aws.gateway, Settings.from_environ(environ), ENVIRONMENT, clock.time())


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
