"""ValidateHealth beside the deployments: the rollout's phase and the verdict on it, as pure
functions of deployment, alarm and service facts."""

from __future__ import annotations

from health_check.deployments import DeploymentFact
from health_check.errors import AwsCallError
from health_check.params import CheckParameters, new_token
from health_check.rollout import (
    CREATED_SKEW_SECONDS,
    LOOKBACK_SECONDS,
    MISSING_LIMIT_SECONDS,
    SHIFT_LIMIT_SECONDS,
    Phase,
    Rollout,
    judge,
    observe,
    rollout_of,
)
from health_check.settings import Settings
from health_check.verdict import AlarmFact, Outcome, ServiceFact

from health_check import job
from tests.support import REPO_ROOT, load_template
from tests.unit.health_check.fakes import APPLICATION, SMOKE_TEST_HOOK_ARN, TRAFFIC_GUARD_HOOK_ARN

NOW = 1_800_000_000.0
API, AUTH = "production-api-service", "production-auth-service"
TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:pipeline-notifications-dev"
PARAMS = CheckParameters(
    environment="production",
    alarm_prefix="dev-production-",
    bake_seconds=300,
    cluster="production-cluster-dev",
    services=("api-service-dev", "auth-service-dev"),
    beside_deployments=True,
)
OK = [AlarmFact("dev-production-api-service-5xx-rate", "OK", updated_at=NOW - 3600)]
# During the termination wait the original task set is still there beside the new one.
IN_WAIT = [
    ServiceFact("api-service-dev", "ACTIVE", 2, 2, primary_deployments=1, other_deployments=1),
    ServiceFact("auth-service-dev", "ACTIVE", 2, 2, primary_deployments=1, other_deployments=1),
]
STEADY = [
    ServiceFact("api-service-dev", "ACTIVE", 2, 2),
    ServiceFact("auth-service-dev", "ACTIVE", 2, 2),
]


def deployment(
    id_: str, group: str, status: str = "InProgress", moved: bool = False
) -> DeploymentFact:
    return DeploymentFact(id=id_, group=group, status=status, traffic_moved=moved)


def test_a_group_without_its_deployment_yet_is_still_shifting() -> None:
    rollout = rollout_of({API: [deployment("d-1", API, moved=True)], AUTH: []})
    assert rollout.phase is Phase.SHIFTING
    assert "no deployment of this stage yet" in rollout.note


def test_traffic_not_yet_moved_everywhere_is_still_shifting() -> None:
    rollout = rollout_of(
        {API: [deployment("d-1", API, moved=True)], AUTH: [deployment("d-2", AUTH)]}
    )
    assert rollout.phase is Phase.SHIFTING


def test_every_deployment_in_its_termination_wait_is_moved_with_blue_waiting() -> None:
    rollout = rollout_of(
        {API: [deployment("d-1", API, moved=True)], AUTH: [deployment("d-2", AUTH, moved=True)]}
    )
    assert (rollout.phase, rollout.blue_waiting, rollout.complete) == (
        Phase.MOVED,
        (API, AUTH),
        False,
    )


def test_every_deployment_succeeded_is_a_complete_rollout() -> None:
    rollout = rollout_of(
        {API: [deployment("d-1", API, "Succeeded")], AUTH: [deployment("d-2", AUTH, "Succeeded")]}
    )
    assert rollout.complete


def test_a_stopped_deployment_fails_the_rollout_naming_it() -> None:
    rollout = rollout_of(
        {API: [deployment("d-1", API, "Stopped")], AUTH: [deployment("d-2", AUTH, moved=True)]}
    )
    assert rollout.phase is Phase.FAILED
    assert "d-1" in rollout.note


def test_two_deployments_in_one_group_are_refused_as_ambiguous() -> None:
    rollout = rollout_of({API: [deployment("d-1", API), deployment("d-9", API)], AUTH: []})
    assert rollout.phase is Phase.AMBIGUOUS


def _judge(rollout: Rollout, *, alarms=OK, services=IN_WAIT, token=None, now=NOW):  # type: ignore[no-untyped-def]
    token = token or new_token(PARAMS, int(NOW) - 600)
    return judge(
        alarms, services, params=PARAMS, token=token, now=now, rollout=rollout, suffix="dev"
    )


def test_while_shifting_nothing_bakes_and_the_move_is_not_recorded() -> None:
    verdict, moved_at = _judge(Rollout(Phase.SHIFTING, "d-2 traffic moving"))
    assert (verdict.outcome, verdict.healthy_since, moved_at) == (Outcome.WAITING, None, None)


def test_an_alarm_gone_into_alarm_while_shifting_fails_the_check_at_once() -> None:
    firing = [AlarmFact("dev-production-api-service-5xx-rate", "ALARM", updated_at=NOW - 60)]
    verdict, _ = _judge(Rollout(Phase.SHIFTING, "moving"), alarms=firing)
    assert verdict.outcome is Outcome.FAILED_ALARM


def test_an_alarm_in_alarm_since_before_the_check_is_waited_on_while_shifting() -> None:
    # GIVEN a new stack's liveness alarm, in ALARM since before the check began (600 s ago)
    standing = [
        AlarmFact("dev-production-api-service-running-tasks", "ALARM", updated_at=NOW - 7200)
    ]
    verdict, _ = _judge(Rollout(Phase.SHIFTING, "moving"), alarms=standing)
    # THEN the rollout is waited for: the bake after the move needs it OK
    assert verdict.outcome is Outcome.WAITING


def test_a_missing_service_while_shifting_fails_the_check_as_misconfigured() -> None:
    missing = [ServiceFact("api-service-dev", "MISSING"), STEADY[1]]
    verdict, _ = _judge(Rollout(Phase.SHIFTING, "moving"), services=missing)
    assert verdict.outcome is Outcome.FAILED_MISCONFIGURED


def test_a_rollout_that_never_moves_traffic_fails_after_the_limit() -> None:
    token = new_token(PARAMS, int(NOW) - SHIFT_LIMIT_SECONDS)
    verdict, _ = _judge(Rollout(Phase.SHIFTING, "moving"), token=token)
    assert verdict.outcome is Outcome.FAILED_UNHEALTHY


def test_the_bake_starts_when_traffic_is_first_seen_moved_and_blue_is_tolerated() -> None:
    # GIVEN every deployment in its termination wait, first seen now (the job began 600 s ago)
    verdict, moved_at = _judge(Rollout(Phase.MOVED, "blue waits", (API, AUTH)))
    # THEN the bake starts now: the original task sets beside the new ones are no unsteadiness
    assert (verdict.outcome, verdict.healthy_since, moved_at) == (Outcome.BAKING, NOW, NOW)


def test_a_finished_bake_keeps_watching_until_the_deployments_succeed() -> None:
    token = new_token(PARAMS, int(NOW) - 900).with_move(NOW - 301).with_streak(NOW - 301)
    # GIVEN auth-service's deployment succeeded (its original is gone), api-service's waits
    services = [IN_WAIT[0], STEADY[1]]
    verdict, _ = _judge(Rollout(Phase.MOVED, "blue waits", (API,)), token=token, services=services)
    assert verdict.outcome is Outcome.BAKING
    assert "watching" in verdict.message


def test_a_finished_bake_with_every_deployment_succeeded_passes() -> None:
    token = new_token(PARAMS, int(NOW) - 900).with_move(NOW - 301).with_streak(NOW - 301)
    verdict, _ = _judge(Rollout(Phase.MOVED, "done"), token=token, services=STEADY)
    assert verdict.outcome is Outcome.SUCCEEDED


def test_a_failed_deployment_fails_the_check_as_an_unhealthy_environment() -> None:
    verdict, _ = _judge(Rollout(Phase.FAILED, "d-1 ended Stopped"))
    # environment_unhealthy: the check's restore step then waits for CodeDeploy's rollbacks
    assert verdict.outcome.environment_unhealthy


def test_an_ambiguous_rollout_is_judged_misconfigured() -> None:
    verdict, _ = _judge(Rollout(Phase.AMBIGUOUS, "two deployments"))
    assert verdict.outcome is Outcome.FAILED_MISCONFIGURED


# ---------------------------------------------------------------- the job's side: fail closed
SETTINGS = Settings.from_environ(
    {
        "CODEDEPLOY_APPLICATION": APPLICATION,
        "NOTIFICATION_TOPIC_ARN": TOPIC_ARN,
        "SMOKE_TEST_HOOK_ARN": SMOKE_TEST_HOOK_ARN,
        "TRAFFIC_GUARD_HOOK_ARN": TRAFFIC_GUARD_HOOK_ARN,
    }
)


class Unreadable:
    """A gateway whose CloudWatch does not answer (after the SDK's retries)."""

    def describe_alarms(self, prefix: str) -> list[AlarmFact]:
        raise AwsCallError("cloudwatch:DescribeAlarms", "ThrottlingException: slow down")


class Ambiguous:
    """Two deployments of this stage's time in api-service's group, the alarms quiet."""

    def describe_alarms(self, prefix: str) -> list[AlarmFact]:
        return OK

    def describe_services(self, cluster: str, names: tuple[str, ...]) -> list[ServiceFact]:
        return IN_WAIT

    def read_parameter(self, name: str) -> str | None:
        return None

    def deployments_created_since(self, application: str, group: str, since: float) -> list[str]:
        return ["d-1", "d-2"] if group == API else ["d-3"]

    def describe_deployments(self, ids: list[str]) -> list[DeploymentFact]:
        group = {"d-1": API, "d-2": API, "d-3": AUTH}
        return [deployment(i, group[i], moved=True) for i in ids]


def _beside(gateway: object) -> Outcome:
    token = new_token(PARAMS, int(NOW - 120))
    verdict, _ = job._beside_deployments(gateway, SETTINGS, PARAMS, token, NOW)  # type: ignore[arg-type]
    assert "failing closed" in verdict.message
    return verdict.outcome


def test_beside_the_deployments_unreadable_facts_fail_the_environment_so_traffic_goes_back() -> (
    None
):
    # While the stage's deployments wait out their termination, a check that cannot read its
    # facts must not let them complete: the failure is the environment's, and its restore step
    # stops them with rollback (elsewhere it only fails the job: nothing is left deploying).
    assert _beside(Unreadable()) is Outcome.FAILED_UNHEALTHY


def test_beside_the_deployments_someone_elses_deployment_fails_the_environment() -> None:
    assert _beside(Ambiguous()) is Outcome.FAILED_UNHEALTHY


# ---------------------------------------------------------------- a late first invocation
class Groups:
    """Each group's deployments (created_at, status, moved), as CodeDeploy lists and describes
    them; ListDeployments' createTimeRange honoured."""

    def __init__(self, **deployments: list[DeploymentFact]) -> None:
        self.by_group = {group.replace("_", "-"): found for group, found in deployments.items()}

    def read_parameter(self, name: str) -> str | None:
        return None

    def deployments_created_since(self, application: str, group: str, since: float) -> list[str]:
        return [d.id for d in self.by_group.get(group, []) if (d.created_at or since) >= since]

    def describe_deployments(self, ids: list[str]) -> list[DeploymentFact]:
        every = [d for found in self.by_group.values() for d in found]
        return [d for d in every if d.id in ids]


def _created(
    id_: str, group: str, created_at: float, status: str = "InProgress", moved: bool = False
) -> DeploymentFact:
    return DeploymentFact(id_, group, status, created_at=created_at, traffic_moved=moved)


def _observe(groups: Groups, started_at: float) -> Rollout:
    return observe(groups, SETTINGS, PARAMS, started_at)  # type: ignore[arg-type]


def test_a_late_first_invocation_still_finds_the_stages_deployments() -> None:
    # GIVEN the stage's deployments created 90 s before the check's first invocation got through
    # (Lambda retried a first attempt that died), both in their termination wait
    groups = Groups(
        production_api_service=[_created("d-api", API, NOW - 90, moved=True)],
        production_auth_service=[_created("d-auth", AUTH, NOW - 85, moved=True)],
    )
    # WHEN it looks, THEN it judges them: traffic moved, blue waiting, since when they began
    rollout = _observe(groups, started_at=NOW)
    assert rollout.phase is Phase.MOVED
    assert rollout.blue_waiting == (API, AUTH)
    assert rollout.began_at == NOW - 90


def test_an_earlier_executions_failed_deployment_is_not_taken_for_this_stages() -> None:
    # GIVEN api-service's group with an earlier execution's stopped deployment (WaitForIdle let
    # this execution in after it ended), and this stage's not created yet
    groups = Groups(
        production_api_service=[_created("d-old", API, NOW - 600, status="Stopped")],
        production_auth_service=[_created("d-auth", AUTH, NOW + 5)],
    )
    # WHEN the check looks, THEN api-service's deployment is still to come, not a failure
    rollout = _observe(groups, started_at=NOW)
    assert rollout.phase is Phase.SHIFTING
    assert rollout.missing == (API,)


def test_an_alarm_gone_into_alarm_after_a_late_checks_deployments_began_still_fails_it() -> None:
    # GIVEN deployments created 90 s before the first invocation got through, traffic moving,
    # and api-service's alarm in ALARM since 20 s after they began
    rollout = Rollout(Phase.SHIFTING, "traffic moving", began_at=NOW - 90)
    alarms = [AlarmFact("dev-production-api-service-5xx-rate", "ALARM", updated_at=NOW - 70)]
    token = new_token(PARAMS, int(NOW))
    # WHEN judged, THEN the alarm is the rollout's doing: the check fails at once
    verdict, _ = judge(
        alarms, IN_WAIT, params=PARAMS, token=token, now=NOW + 60, rollout=rollout, suffix="dev"
    )
    assert verdict.outcome is Outcome.FAILED_ALARM


def test_a_group_still_without_its_deployment_fails_the_check_after_the_limit() -> None:
    rollout = Rollout(Phase.SHIFTING, "no deployment yet", missing=(API,))
    token = new_token(PARAMS, int(NOW))
    early, _ = judge(
        OK, IN_WAIT, params=PARAMS, token=token, now=NOW + MISSING_LIMIT_SECONDS - 1,
        rollout=rollout, suffix="dev",
    )  # fmt: skip
    late, _ = judge(
        OK, IN_WAIT, params=PARAMS, token=token, now=NOW + MISSING_LIMIT_SECONDS,
        rollout=rollout, suffix="dev",
    )  # fmt: skip
    assert early.outcome is Outcome.WAITING
    assert late.outcome is Outcome.FAILED_MISCONFIGURED
    assert API in late.message


def test_the_look_back_covers_the_functions_maximum_event_age() -> None:
    # A first invocation Lambda held as long as it may still finds the stage's deployments.
    function = load_template(REPO_ROOT / "template.yaml")["Resources"]["HealthCheckFunction"]
    age = function["Properties"]["EventInvokeConfig"]["MaximumEventAgeInSeconds"]
    assert age + CREATED_SKEW_SECONDS <= LOOKBACK_SECONDS
