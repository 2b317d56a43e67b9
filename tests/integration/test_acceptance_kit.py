"""The acceptance kit's own logic, without AWS: refusals, readings of AWS data, the report."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.integration.acceptance import analysis, run
from tests.integration.acceptance.assumptions import ASSUMPTIONS
from tests.integration.acceptance.report import Observation, Outcome, Report
from tests.integration.acceptance.target import AcceptanceRefused, resolve_target
from tests.support import REPO_ROOT

SAMCONFIG = REPO_ROOT / "samconfig.toml"


# --- which stack ---------------------------------------------------------------------------


@pytest.mark.parametrize("env", [None, "", "   "])
def test_no_env_is_refused_rather_than_guessed(env: str | None) -> None:
    with pytest.raises(AcceptanceRefused, match="ENV is required"):
        resolve_target(env, SAMCONFIG, "dev")


def test_an_environment_samconfig_lacks_is_refused_naming_those_it_has() -> None:
    with pytest.raises(AcceptanceRefused, match=r"ENV=staging is not .*sandbox"):
        resolve_target("staging", SAMCONFIG, "dev")


def test_the_repositorys_prod_environment_is_refused() -> None:
    with pytest.raises(AcceptanceRefused, match="refusing microservices-pipeline-prod"):
        resolve_target("prod", SAMCONFIG, "dev")


def test_a_stack_named_prod_is_refused_whatever_its_suffix(tmp_path: Path) -> None:
    # GIVEN an environment whose suffix looks harmless but whose stack is the production one
    samconfig = tmp_path / "samconfig.toml"
    samconfig.write_text(
        'version = 0.1\n[trial.deploy.parameters]\nstack_name = "microservices-pipeline-prod"\n'
        'parameter_overrides = "EnvironmentSuffix=trial"\n'
    )

    with pytest.raises(AcceptanceRefused, match="refusing"):
        resolve_target("trial", samconfig, "dev")


def test_a_suffix_of_prod_is_refused_whatever_the_stack_name(tmp_path: Path) -> None:
    samconfig = tmp_path / "samconfig.toml"
    samconfig.write_text(
        'version = 0.1\n[other.deploy.parameters]\nstack_name = "pipeline-copy"\n'
        "parameter_overrides = \"EgressMode=NatGateway EnvironmentSuffix='prod'\"\n"
    )

    with pytest.raises(AcceptanceRefused, match="suffix 'prod'"):
        resolve_target("other", samconfig, "dev")


def test_the_sandbox_environment_resolves_to_its_stack_and_suffix() -> None:
    target = resolve_target("sandbox", SAMCONFIG, "dev")

    assert (target.stack_name, target.suffix) == ("microservices-pipeline-sandbox", "sandbox")


def test_a_suffix_samconfig_does_not_override_is_the_templates_default(tmp_path: Path) -> None:
    samconfig = tmp_path / "samconfig.toml"
    samconfig.write_text('version = 0.1\n[lab.global.parameters]\nstack_name = "lab-stack"\n')

    target = resolve_target("lab", samconfig, "dev")

    assert (target.stack_name, target.suffix) == ("lab-stack", "dev")


class Recorder:
    """Stands in for the pytest run that make acceptance starts."""

    def __init__(self) -> None:
        self.calls: list[tuple[list[str], dict[str, str]]] = []

    def __call__(self, command: list[str], env: dict[str, str], cwd: Path) -> int:
        self.calls.append((command, env))
        return 0


def test_make_acceptance_without_env_exits_2_with_one_line_and_runs_nothing(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder = Recorder()
    monkeypatch.delenv("ENV", raising=False)

    code = run.main([], recorder)

    assert code == 2
    assert recorder.calls == []
    assert capsys.readouterr().err.strip().count("\n") == 0


def test_make_acceptance_refuses_prod_before_running_anything(
    capsys: pytest.CaptureFixture[str],
) -> None:
    recorder = Recorder()

    assert run.main(["--env", "prod"], recorder) == 2
    assert recorder.calls == []
    assert "sandbox" in capsys.readouterr().err


def test_make_acceptance_runs_the_integration_checks_against_the_resolved_stack(
    tmp_path: Path,
) -> None:
    recorder = Recorder()

    assert run.main(["--env", "sandbox", "--report-dir", str(tmp_path)], recorder) == 0

    [(command, environment)] = recorder.calls
    assert command[-4:] == ["tests/integration", "-m", "integration", "-v"]
    assert environment["AWS_SAM_STACK_NAME"] == "microservices-pipeline-sandbox"
    assert environment["ACCEPTANCE_REPORT_DIR"] == str(tmp_path)


# --- readings of AWS data ------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_wait_until_gives_up_at_its_bound_without_sleeping_past_it() -> None:
    clock, probes = FakeClock(), []

    found = analysis.wait_until(lambda: probes.append(1), 60, 20, clock, clock.sleep)

    assert found is None
    assert clock.now == 60
    assert len(probes) == 4  # at 0, 20, 40 and 60 s


def test_wait_until_returns_the_first_answer() -> None:
    clock = FakeClock()

    found = analysis.wait_until(lambda: "done" if clock.now >= 40 else None, 600, 20, clock,
                                clock.sleep)  # fmt: skip

    assert (found, clock.now) == ("done", 40)


@pytest.mark.parametrize(
    ("async_events", "invocations", "outcome"),
    [(3, 3, Outcome.HELD), (0, 3, Outcome.BROKEN), (0, 0, Outcome.UNSETTLED)],
)
def test_hook_invocations_counted_as_async_events_mean_asynchronous(
    async_events: float, invocations: float, outcome: Outcome
) -> None:
    assert analysis.invocation_mode(async_events, invocations) is outcome


@pytest.mark.parametrize(
    ("status", "code", "outcome"),
    [
        ("Succeeded", None, Outcome.HELD),
        ("Stopped", "ALARM_ACTIVE", Outcome.BROKEN),
        ("Failed", "HEALTH_CONSTRAINTS", Outcome.UNSETTLED),
        ("timed out", None, Outcome.UNSETTLED),
    ],
)
def test_a_deployment_under_insufficient_data_alarms_settles_a2_only_by_completing_or_alarming(
    status: str, code: str | None, outcome: Outcome
) -> None:
    assert analysis.deployment_outcome(status, code) is outcome


def listener(*groups: tuple[str, int]) -> dict[str, object]:
    return {
        "DefaultActions": [
            {
                "Type": "forward",
                "ForwardConfig": {
                    "TargetGroups": [{"TargetGroupArn": a, "Weight": w} for a, w in groups]
                },
            }
        ]
    }


def test_both_groups_with_the_idle_one_at_zero_hold_a3() -> None:
    weights = analysis.forward_weights(listener(("blue", 0), ("green", 1)))

    assert weights == {"blue": 0, "green": 1}
    assert analysis.forward_outcome(weights) is Outcome.HELD


def test_one_group_alone_or_split_traffic_breaks_a3() -> None:
    assert analysis.forward_outcome({"green": 1}) is Outcome.BROKEN
    assert analysis.forward_outcome({"blue": 1, "green": 1}) is Outcome.BROKEN


def test_a_plain_forward_action_counts_as_one_group_at_full_weight() -> None:
    plain = {"DefaultActions": [{"Type": "forward", "TargetGroupArn": "blue"}]}

    assert analysis.forward_weights(plain) == {"blue": 1}


def verdict(ms: int, environment: str, outcome: str) -> dict[str, object]:
    message = {"message": "verdict", "environment": environment, "outcome": outcome,
               "job_id": f"job-{ms}"}  # fmt: skip
    return {"timestamp": ms, "message": json.dumps(message)}


def test_continuation_intervals_run_from_a_continuing_verdict_to_the_next_one() -> None:
    # GIVEN two validations of staging (each re-invocation a new job) and one of production
    events = [
        verdict(0, "staging", "waiting"),
        verdict(61_000, "staging", "baking"),
        verdict(125_000, "staging", "succeeded"),
        verdict(900_000, "staging", "failed_alarm"),  # a later release: no continuation before it
        verdict(10_000, "production", "baking"),
        verdict(70_000, "production", "succeeded"),
        {"timestamp": 5, "message": "START RequestId: r1"},  # Lambda's own plain-text line
        {"timestamp": 6, "message": json.dumps({"message": "checking", "environment": "staging"})},
    ]

    # THEN only the gaps after a waiting or baking verdict count
    assert sorted(analysis.continuation_intervals(events)) == [60.0, 61.0, 64.0]


def test_intervals_around_a_minute_hold_a5_and_slow_ones_break_it() -> None:
    held, observed = analysis.interval_outcome([58.0, 61.0, 64.0])
    broken, _ = analysis.interval_outcome([58.0, 61.0, 300.0])

    assert (held, observed["median_s"], observed["max_s"]) == (Outcome.HELD, 61.0, 64.0)
    assert broken is Outcome.BROKEN
    assert analysis.interval_outcome([]) == (Outcome.UNSETTLED, {})


def test_a_queued_execution_entering_the_stage_before_the_rollback_ends_breaks_a4() -> None:
    assert analysis.overtaking_outcome(rollback_end=1000, next_stage_start=1200) is Outcome.HELD
    assert analysis.overtaking_outcome(rollback_end=1000, next_stage_start=900) is Outcome.BROKEN
    assert analysis.overtaking_outcome(None, 900) is Outcome.UNSETTLED


# --- A7-A10: the blue termination wait and rollback deployments -----------------------------

TARGET_GROUPS = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup"
BLUE = f"{TARGET_GROUPS}/sbx-stg-api-blue/50dc6c495c0c9188"
GREEN = f"{TARGET_GROUPS}/sbx-stg-api-green/6d0ecf831eec9f09"
ALL_EVENTS_DONE = {
    "BeforeInstall": "Succeeded", "Install": "Succeeded", "AfterInstall": "Succeeded",
    "AllowTestTraffic": "Succeeded", "AfterAllowTestTraffic": "Succeeded",
    "BeforeAllowTraffic": "Succeeded", "AllowTraffic": "Succeeded",
    "AfterAllowTraffic": "Succeeded",
}  # fmt: skip


def test_a_target_group_arn_is_named_by_the_part_before_its_id() -> None:
    assert analysis.target_group_name(BLUE) == "sbx-stg-api-blue"


def test_the_live_target_group_is_the_only_one_carrying_weight() -> None:
    assert analysis.live_target_group({BLUE: 0, GREEN: 1}) == "sbx-stg-api-green"


def test_no_live_target_group_when_traffic_is_split_or_nowhere() -> None:
    assert analysis.live_target_group({BLUE: 1, GREEN: 1}) is None
    assert analysis.live_target_group({BLUE: 0}) is None


def test_lifecycle_statuses_are_read_from_the_ecs_target() -> None:
    target = {
        "deploymentTargetType": "ECSTarget",
        "ecsTarget": {
            "lifecycleEvents": [
                {"lifecycleEventName": "Install", "status": "Succeeded"},
                {"lifecycleEventName": "AfterAllowTraffic", "status": "InProgress"},
            ]
        },
    }

    assert analysis.lifecycle_statuses(target) == {
        "Install": "Succeeded",
        "AfterAllowTraffic": "InProgress",
    }


def test_a_deployment_past_its_last_hook_with_traffic_on_the_replacement_is_in_its_wait() -> None:
    assert analysis.in_termination_wait(
        "InProgress", ALL_EVENTS_DONE, "sbx-stg-api-green", original_group="sbx-stg-api-blue"
    )


@pytest.mark.parametrize(
    ("status", "after_allow_traffic", "live"),
    [
        ("InProgress", "InProgress", "sbx-stg-api-green"),  # the bake still runs
        ("InProgress", "Succeeded", "sbx-stg-api-blue"),  # traffic still on the original
        ("InProgress", "Succeeded", None),  # traffic split
        ("Succeeded", "Succeeded", "sbx-stg-api-green"),  # the wait is over
    ],
)
def test_a_deployment_short_of_its_wait_or_past_it_is_not_in_it(
    status: str, after_allow_traffic: str, live: str | None
) -> None:
    lifecycle = ALL_EVENTS_DONE | {"AfterAllowTraffic": after_allow_traffic}

    assert not analysis.in_termination_wait(status, lifecycle, live, "sbx-stg-api-blue")


def test_an_alarm_stop_in_the_wait_with_traffic_back_holds_a7() -> None:
    assert analysis.termination_wait_alarm_outcome("Stopped", "ALARM_ACTIVE", True) is Outcome.HELD


def test_a_deployment_that_succeeds_through_an_alarm_in_its_wait_breaks_a7() -> None:
    assert analysis.termination_wait_alarm_outcome("Succeeded", None, False) is Outcome.BROKEN


def test_an_alarm_stop_that_leaves_traffic_on_the_replacement_breaks_a7() -> None:
    assert analysis.termination_wait_alarm_outcome("Stopped", "ALARM_ACTIVE", False) is (
        Outcome.BROKEN
    )


@pytest.mark.parametrize(
    ("status", "code"),
    [
        ("Stopped", "MANUAL_STOP"),  # the responder or an operator got there first
        ("timed out", None),
    ],
)
def test_a_deployment_not_stopped_by_its_alarms_leaves_a7_unsettled(
    status: str, code: str | None
) -> None:
    assert analysis.termination_wait_alarm_outcome(status, code, True) is Outcome.UNSETTLED


def test_a_stop_in_the_wait_accepted_with_traffic_back_holds_a8() -> None:
    assert analysis.termination_wait_stop_outcome(None, traffic_back=True) is Outcome.HELD


@pytest.mark.parametrize(
    ("stop_error", "traffic_back"),
    [("DeploymentAlreadyCompletedException", False), (None, False)],
)
def test_a_stop_in_the_wait_refused_or_without_effect_breaks_a8(
    stop_error: str | None, traffic_back: bool
) -> None:
    assert analysis.termination_wait_stop_outcome(stop_error, traffic_back) is Outcome.BROKEN


def test_a_stop_the_kit_could_not_make_leaves_a8_unsettled() -> None:
    assert analysis.termination_wait_stop_outcome("ThrottlingException", False) is (
        Outcome.UNSETTLED
    )


def test_hook_log_events_count_only_when_they_name_the_deployment() -> None:
    events = [
        {"timestamp": 1, "message": json.dumps({"deployment_id": "d-ROLLBACK1", "hook": "x"})},
        {"timestamp": 2, "message": json.dumps({"deployment_id": "d-ORIGINAL1", "hook": "x"})},
        {"timestamp": 3, "message": "START RequestId: r1"},
    ]

    assert analysis.mentions(events, "d-ROLLBACK1") == 1


@pytest.mark.parametrize(
    ("mentions", "outcome"),
    [
        ({"d-ROLLBACK1": 0, "d-ROLLBACK2": 0}, Outcome.HELD),
        ({"d-ROLLBACK1": 0, "d-ROLLBACK2": 2}, Outcome.BROKEN),
        ({}, Outcome.UNSETTLED),  # no rollback to look at
    ],
)
def test_a9_breaks_when_any_hook_log_names_a_rollback(
    mentions: dict[str, int], outcome: Outcome
) -> None:
    assert analysis.rollback_hooks_outcome(mentions) is outcome


def test_a_rollback_stopped_in_progress_holds_a10() -> None:
    assert analysis.rollback_stop_outcome("InProgress", None, "Stopped") is Outcome.HELD


def test_a_stop_of_a_rollback_in_progress_that_errors_breaks_a10() -> None:
    refused = analysis.rollback_stop_outcome(
        "InProgress", "UnsupportedActionForDeploymentTypeException", "Succeeded"
    )

    assert refused is Outcome.BROKEN


@pytest.mark.parametrize(
    ("before", "stop_error", "final"),
    [
        ("Succeeded", None, "Succeeded"),  # over before the kit reached it
        ("InProgress", "DeploymentAlreadyCompletedException", "Succeeded"),  # over meanwhile
        ("InProgress", None, "Succeeded"),  # accepted, completed anyway
        ("InProgress", None, None),  # still running at the bound
    ],
)
def test_a_rollback_neither_stopped_nor_refused_leaves_a10_unsettled(
    before: str, stop_error: str | None, final: str | None
) -> None:
    assert analysis.rollback_stop_outcome(before, stop_error, final) is Outcome.UNSETTLED


# --- the report ----------------------------------------------------------------------------


def test_the_report_names_the_rehearsal_setting_of_each_broken_assumption(tmp_path: Path) -> None:
    # GIVEN a run where A1 broke and A5 held, and nothing else ran
    report = Report("sandbox", "microservices-pipeline-sandbox", datetime(2026, 1, 2, tzinfo=UTC))
    report.record(Observation("A1", Outcome.BROKEN, {"async_events_received": 0.0}, "sync"))
    report.record(Observation("A5", Outcome.HELD, {"median_s": 61.0}, "ok"))

    # WHEN it is written
    json_path, markdown_path = report.write(tmp_path, datetime(2026, 1, 2, 1, tzinfo=UTC))

    # THEN the JSON has every assumption, and the Markdown says which setting to change
    data = json.loads(json_path.read_text())
    outcomes = {item["id"]: item["outcome"] for item in data["assumptions"]}
    assert outcomes == {
        "A1": "broken", "A2": "not run", "A3": "not run", "A4": "not run", "A5": "held",
        "A6": "not run", "A7": "not run", "A8": "not run", "A9": "not run", "A10": "not run",
    }  # fmt: skip
    markdown = markdown_path.read_text()
    to_change = markdown.split("## Rehearsal settings to change")[1].split("##")[0]
    assert "`hook_invocation`: assumed async" in to_change
    assert "codepipeline_continuation_delay_seconds" not in to_change
    assert json_path.name == "acceptance-sandbox-20260102T000000Z.json"


def test_a_broken_assumption_no_setting_replays_says_what_to_do_instead(tmp_path: Path) -> None:
    report = Report("sandbox", "s", datetime(2026, 1, 2, tzinfo=UTC))
    report.record(Observation("A6", Outcome.BROKEN, {"VpcEndpoints": "failed"}, "scratch"))

    markdown = report.as_markdown(datetime(2026, 1, 2, 1, tzinfo=UTC))

    to_change = markdown.split("## Rehearsal settings to change")[1].split("##")[0]
    assert "A6: AWS showed" in to_change
    assert "no setting replays a copy that did not complete" in to_change
    assert "`bootstrap_first_pull`: assumed" not in to_change


def test_a_rerun_check_supersedes_its_first_observation() -> None:
    report = Report("sandbox", "s", datetime(2026, 1, 2, tzinfo=UTC))
    report.record(Observation("A2", Outcome.UNSETTLED, {}, "timed out"))
    report.record(Observation("A2", Outcome.HELD, {"status": "Succeeded"}, "ok"))

    assert report.latest()["A2"].outcome is Outcome.HELD


def test_an_observation_of_an_unknown_assumption_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown assumption"):
        Observation("A99", Outcome.HELD, {}, "")


def test_every_assumption_has_a_section_and_rehearsal_setting_in_the_docs() -> None:
    doc = (REPO_ROOT / "docs" / "assumptions.md").read_text()

    for key, assumption in ASSUMPTIONS.items():
        assert f"### {key}. " in doc, key
        assert f"rehearsal setting: `{assumption.rehearsal_setting}`" in doc, key
