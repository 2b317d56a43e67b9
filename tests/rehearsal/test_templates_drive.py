"""The rehearsal takes every timing and setting from the templates: an edit changes it."""

from __future__ import annotations

import shutil
from pathlib import Path

from tools.rehearsal.system import REPO_ROOT, load_system


def _copy_templates(tmp_path: Path) -> Path:
    shutil.copy(REPO_ROOT / "template.yaml", tmp_path / "template.yaml")
    shutil.copytree(REPO_ROOT / "pipeline", tmp_path / "pipeline")
    return tmp_path / "template.yaml"


def test_health_check_timing_comes_from_the_service_template(tmp_path: Path) -> None:
    root = _copy_templates(tmp_path)
    service = tmp_path / "pipeline" / "service.yaml"
    text = service.read_text()
    assert "HealthCheckIntervalSeconds: 5" in text
    service.write_text(
        text.replace("HealthCheckIntervalSeconds: 5", "HealthCheckIntervalSeconds: 7")
    )
    spec = load_system(root=root).environments["production"]["api-service"]
    assert spec.blue.health_check.interval == 7


def test_deployment_configuration_and_termination_wait_come_from_parameters() -> None:
    system = load_system(
        {
            "ProductionTrafficShift": "CodeDeployDefault.ECSLinear10PercentEvery1Minutes",
            "BlueTerminationWaitMinutes": "9",
            "ProductionBlueTerminationWaitMinutes": "13",
        }
    )
    group = system.environments["production"]["auth-service"].deployment_group
    assert group.config_name == "CodeDeployDefault.ECSLinear10PercentEvery1Minutes"
    assert group.termination_wait_seconds == 13 * 60
    staging = system.environments["staging"]["auth-service"].deployment_group
    assert staging.termination_wait_seconds == 9 * 60


def test_pipeline_stages_and_run_orders_come_from_the_delivery_template() -> None:
    stages = {stage.name: stage for stage in load_system().stages}
    staging = stages["Staging"]
    deploys = [a for a in staging.actions if a.provider == "CodeDeployToECS"]
    gate = next(a for a in staging.actions if a.name == "WaitForIdle")
    validate = next(a for a in staging.actions if a.name == "ValidateHealth")
    assert len(deploys) == 3
    assert gate.run_order == 1
    assert {a.run_order for a in deploys} == {2}
    assert validate.run_order > 2
    assert '"environment": "staging"' in validate.configuration["UserParameters"]


def test_hooks_come_from_the_appspec_the_build_writes() -> None:
    hooks = load_system().hooks
    assert set(hooks) == {"AfterAllowTestTraffic", "BeforeAllowTraffic", "AfterAllowTraffic"}
