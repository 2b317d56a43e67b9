"""The notification topic: encrypted with a key its AWS-service publishers can use."""

from __future__ import annotations

from typing import Any

from tests.support import resources_of_type


def key_statements(root_template: dict[str, Any]) -> list[dict[str, Any]]:
    key = root_template["Resources"]["NotificationKey"]["Properties"]
    statements: list[dict[str, Any]] = key["KeyPolicy"]["Statement"]
    return statements


def statement_for(root_template: dict[str, Any], service: str) -> dict[str, Any]:
    (statement,) = [
        s for s in key_statements(root_template) if s["Principal"].get("Service") == service
    ]
    return statement


def test_topic_uses_its_own_rotating_customer_managed_key(root_template: dict[str, Any]) -> None:
    # GIVEN the notification topic and its key
    topic = root_template["Resources"]["NotificationTopic"]["Properties"]
    key = root_template["Resources"]["NotificationKey"]["Properties"]

    # THEN the topic is encrypted with that key (aws/sns would refuse CloudWatch and EventBridge)
    assert topic["KmsMasterKeyId"] == {"Ref": "NotificationKey"}
    assert key["EnableKeyRotation"] is True


def test_cloudwatch_alarms_may_use_the_key_only_for_this_account(
    root_template: dict[str, Any],
) -> None:
    statement = statement_for(root_template, "cloudwatch.amazonaws.com")

    assert set(statement["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}
    assert statement["Condition"] == {
        "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    }


def test_eventbridge_may_use_the_key_without_source_conditions_it_cannot_meet(
    root_template: dict[str, Any],
) -> None:
    # EventBridge's calls to KMS when delivering to an encrypted topic carry no aws:Source*
    # keys; a condition on them would drop every pipeline notification without an error.
    statement = statement_for(root_template, "events.amazonaws.com")

    assert set(statement["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}
    assert "Condition" not in statement


def test_no_key_policy_statement_grants_kms_star(root_template: dict[str, Any]) -> None:
    for logical_id, key in resources_of_type(root_template, "AWS::KMS::Key").items():
        for statement in key["Properties"]["KeyPolicy"]["Statement"]:
            actions = statement["Action"]
            actions = [actions] if isinstance(actions, str) else actions
            assert "kms:*" not in actions, logical_id
            assert "*" not in actions, logical_id
