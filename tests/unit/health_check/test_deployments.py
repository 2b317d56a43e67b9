"""Which deployments must be left to finish: CodeDeploy's rollbacks and our recorded restores."""

from __future__ import annotations

import json

import pytest
from codedeploy_hooks.checks.deployment import RESTORE_PARAMETER as HOOKS_RESTORE_PARAMETER
from codedeploy_hooks.checks.deployment import ROLLBACK_CREATOR as HOOKS_ROLLBACK_CREATOR
from health_check.deployments import (
    RESTORE_INTENT_SECONDS,
    RESTORE_PARAMETER,
    ROLLBACK_CREATOR,
    DeploymentFact,
    RestoreRecord,
    must_not_stop,
    restore_parameter,
)

REQUESTED = 1_800_000_000.0
GROUP = "production-api-service"


def _deployment(
    created_at: float | None = REQUESTED + 5,
    *,
    id: str = "d-1",
    creator: str = "user",
    rollback_of: str | None = None,
) -> DeploymentFact:
    return DeploymentFact(id, GROUP, "InProgress", creator, rollback_of, created_at)


def test_the_hooks_and_the_health_check_agree_on_where_a_restore_is_recorded() -> None:
    assert RESTORE_PARAMETER == HOOKS_RESTORE_PARAMETER


def test_the_hooks_and_the_health_check_agree_on_what_a_rollback_is() -> None:
    assert ROLLBACK_CREATOR == HOOKS_ROLLBACK_CREATOR


def test_a_groups_record_is_named_for_its_environment_and_service() -> None:
    assert restore_parameter(GROUP) == "/pipeline/production/api-service/restore"


@pytest.mark.parametrize(
    "rollback",
    [_deployment(creator="codeDeployRollback"), _deployment(rollback_of="d-FAILED1")],
    ids=["creator", "rollbackInfo"],
)
def test_a_codedeploy_rollback_is_never_stopped(rollback: DeploymentFact) -> None:
    assert must_not_stop(rollback, None) == "a CodeDeploy rollback"


def test_the_recorded_restore_is_never_stopped() -> None:
    record = RestoreRecord(REQUESTED, "td:7", deployment_id="d-1")
    assert must_not_stop(_deployment(), record) == "a restore of the last known-good release"


def test_a_deployment_the_record_does_not_name_may_be_stopped() -> None:
    # GIVEN a record with an id: only that deployment is the restore, whenever the other began
    record = RestoreRecord(REQUESTED, "td:7", deployment_id="d-RESTORE")
    assert must_not_stop(_deployment(id="d-OTHER"), record) is None


def test_an_ordinary_deployment_without_a_record_may_be_stopped() -> None:
    assert must_not_stop(_deployment(), None) is None


def test_an_intent_record_covers_a_deployment_created_soon_after_it() -> None:
    # GIVEN a restore asked for, CreateDeployment answered, but the id not recorded yet
    intent = RestoreRecord(REQUESTED, "td:7")
    # WHEN / THEN a deployment the group started within the window is taken for it
    assert intent.covers(_deployment(created_at=REQUESTED + RESTORE_INTENT_SECONDS))


@pytest.mark.parametrize(
    "created_at",
    [REQUESTED + RESTORE_INTENT_SECONDS + 1, REQUESTED - 60, None],
    ids=["too-late", "before-the-request", "unknown"],
)
def test_an_intent_record_does_not_cover_a_deployment_outside_its_window(
    created_at: float | None,
) -> None:
    assert not RestoreRecord(REQUESTED, "td:7").covers(_deployment(created_at=created_at))


def test_a_record_round_trips_through_its_json() -> None:
    record = RestoreRecord(REQUESTED, "td:7", deployment_id="d-1")
    assert RestoreRecord.from_json(record.to_json()) == record


@pytest.mark.parametrize(
    "raw",
    [
        None,
        "",
        "not json",
        "[]",
        json.dumps({"task_definition": "td:7"}),
        json.dumps({"requested_at": "soon", "task_definition": "td:7"}),
        json.dumps({"requested_at": REQUESTED, "task_definition": "td:7", "deployment_id": 7}),
    ],
)
def test_an_unreadable_record_is_no_record(raw: str | None) -> None:
    # An unreadable record takes nothing for a restore: what it would protect gets stopped
    assert RestoreRecord.from_json(raw) is None
