"""scripts/release_clock.py: the release timings it reads from the templates."""

from __future__ import annotations

import pytest

from scripts import release_clock


def test_a_new_target_is_healthy_after_one_check_whatever_the_healthy_threshold() -> None:
    # A newly registered target must pass one health check; the healthy threshold applies to a
    # target returning to service (ALB guide, target group health checks).
    target_group = {"HealthCheckIntervalSeconds": 5, "HealthyThresholdCount": 3}

    assert release_clock.time_to_healthy(target_group) == 5


def test_a_failed_target_returns_after_interval_times_healthy_threshold() -> None:
    target_group = {"HealthCheckIntervalSeconds": 5, "HealthyThresholdCount": 3}

    assert release_clock.time_back_in_service(target_group) == 15


def test_absent_health_check_settings_count_as_the_aws_defaults() -> None:
    assert release_clock.time_to_healthy({}) == 30
    assert release_clock.time_back_in_service({}) == 150
    assert release_clock.deregistration_delay({}) == 300


def test_detection_time_uses_the_longest_metric_period_and_datapoints_to_alarm() -> None:
    # GIVEN a metric-math alarm with 60 s queries, firing on 2 of 3 datapoints
    alarm = {
        "Metrics": [
            {"Id": "rate", "Expression": "errors / requests"},
            {"Id": "errors", "MetricStat": {"Period": 60, "Metric": {}}},
        ],
        "EvaluationPeriods": 3,
        "DatapointsToAlarm": 2,
    }

    # THEN a sustained failure fires it after two periods
    assert release_clock.detection_time(alarm) == 120


def test_a_parameter_driven_value_is_refused_rather_than_guessed() -> None:
    with pytest.raises(TypeError):
        release_clock.as_number({"Ref": "Interval"})


def test_a_slow_health_check_misses_the_goal() -> None:
    # GIVEN a service template with the original design's 30 s health checks
    service = {
        "Resources": {
            "Tg": {"Type": "AWS::ElasticLoadBalancingV2::TargetGroup", "Properties": {}},
            "Svc": {
                "Type": "AWS::ECS::Service",
                "Properties": {"HealthCheckGracePeriodSeconds": 30},
            },
            "Alarm": {
                "Type": "AWS::CloudWatch::Alarm",
                "Properties": {
                    "MetricName": "HTTPCode_Target_5XX_Count",
                    "Period": 60,
                    "EvaluationPeriods": 1,
                },
            },
        }
    }

    # WHEN the clock reads it
    figures = {f.name: f.ok for f in release_clock.service_figures(service)}

    # THEN time to healthy (one 30 s check) and deregistration miss their goals, the rest pass
    assert figures == {
        "time to healthy (goal <= 15 s)": False,
        "back in service after failed checks": None,
        "deregistration delay (goal <= 30 s)": False,
        "grace period (goal >= start time)": True,
        "5XX detection (goal <= 120 s)": True,
    }


def test_the_repository_templates_meet_every_release_goal() -> None:
    assert release_clock.main() == 0


def test_production_blue_outlives_the_validation_bake_beside_its_deployments() -> None:
    # GIVEN the templates as they are: production's termination wait and ValidateHealth's bake
    root = release_clock.load(release_clock.ROOT_TEMPLATE)
    delivery = release_clock.load(release_clock.DELIVERY_TEMPLATE)
    # WHEN the release clock times production's validation
    [figure] = release_clock.production_validation_figures(root, delivery)
    # THEN blue still runs when the bake (and its polling slack) ends: a failure found in the
    # bake is a traffic move back, not a redeploy
    assert figure.ok, figure.render()


def test_a_termination_wait_shorter_than_the_bake_misses_the_goal() -> None:
    root = {"Parameters": {"ProductionBlueTerminationWaitMinutes": {"Default": 5}}}
    delivery = release_clock.load(release_clock.DELIVERY_TEMPLATE)
    [figure] = release_clock.production_validation_figures(root, delivery)
    assert figure.ok is False


def test_a_validation_after_the_deployments_is_refused_by_the_clock() -> None:
    # GIVEN a production ValidateHealth that does not run beside the deployments
    stage = {
        "Name": "Production",
        "Actions": [
            {"Name": "ValidateHealth", "Configuration": {"UserParameters": '{"bake_seconds": 300}'}}
        ],
    }
    delivery = {"Resources": {"Pipeline": {"Properties": {"Stages": [stage]}}}}
    with pytest.raises(ValueError, match="beside"):
        release_clock.validation_bake(delivery, "Production")
