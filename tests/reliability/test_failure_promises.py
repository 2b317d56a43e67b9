"""Promises under failure that the templates themselves keep (docs/security.md)."""

from __future__ import annotations

import pytest

from tests.support import PIPELINE_DIR, load_template


@pytest.mark.parametrize("environment", ["Staging", "Production"])
def test_a_deployment_whose_alarms_cannot_be_read_stops_instead_of_going_ahead(
    environment: str,
) -> None:
    # GIVEN a deployment group of the service stack
    group = load_template(PIPELINE_DIR / "service.yaml")["Resources"][
        f"{environment}DeploymentGroup"
    ]["Properties"]
    # THEN CodeDeploy treats a failed alarm poll (CloudWatch erroring in the region) as a stop,
    # and a stopped deployment rolls back
    assert group["AlarmConfiguration"]["IgnorePollAlarmFailure"] is False
    assert "DEPLOYMENT_STOP_ON_ALARM" in group["AutoRollbackConfiguration"]["Events"]
