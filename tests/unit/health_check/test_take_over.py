"""The health check takes over the responder's events that the responder could not act on: Lambda's
on-failure destination delivers them to it as invocation records."""

from __future__ import annotations

from typing import Any

import pytest
from health_check.job import Runtime

from health_check import handler, responder
from tests.support import load_event
from tests.unit.health_check.conftest import Aws, watched_release
from tests.unit.health_check.fakes import JOB_ID, PLENTY_MS, Clock, job_event

RESPONDER = "release-responder-dev"
RESPONDER_ARN = f"arn:aws:lambda:us-east-1:123456789012:function:{RESPONDER}"
MINUTES_AGO = 600.0


class FakeContext:
    def get_remaining_time_in_millis(self) -> int:
        return PLENTY_MS


def _record(payload: object, function_arn: object = RESPONDER_ARN) -> dict[str, Any]:
    """An invocation record as Lambda's on-failure destination delivers it once the responder's
    retries are exhausted (Lambda developer guide, "Capturing records of asynchronous
    invocations")."""
    return {
        "version": "1.0",
        "timestamp": "2027-01-15T08:00:05.000Z",
        "requestContext": {
            "requestId": "e4b46cbf-b738-xmpl-8880-a18cdf61200e",
            "functionArn": function_arn,
            "condition": "RetriesExhausted",
            "approximateInvokeCount": 3,
        },
        "requestPayload": payload,
        "responseContext": {
            "statusCode": 200,
            "executedVersion": "$LATEST",
            "functionError": "Unhandled",
        },
        "responsePayload": {"errorMessage": "codedeploy:ListDeployments failed: Throttling"},
    }


def _runtime(aws: Aws, clock: Clock, responder_name: str = RESPONDER) -> Runtime:
    environ = aws.environ | {"RELEASE_RESPONDER_NAME": responder_name}
    return Runtime(gateway=aws.gateway, clock=clock, environ=environ)


def _take_over(aws: Aws, clock: Clock, record: dict[str, Any], **runtime: str) -> Any:
    return responder.take_over(record, FakeContext(), _runtime(aws, clock, **runtime))  # type: ignore[arg-type]


@pytest.mark.parametrize("qualifier", ["", ":$LATEST", ":live"])
def test_the_responders_failed_alarm_is_acted_on_by_the_health_check(
    aws: Aws, clock: Clock, qualifier: str
) -> None:
    # GIVEN production's api-service inside its watch window, and the responder's record of the
    # alarm it could not act on
    release = watched_release(aws, clock.now - MINUTES_AGO)
    event = load_event("alarm_in_alarm.json")
    aws.alarm(event["detail"]["alarmName"], "ALARM")
    record = _record(event, RESPONDER_ARN + qualifier)
    # WHEN the health check receives it
    _take_over(aws, clock, record)
    # THEN it restores the release before, as the responder would have
    [created] = aws.deployments_of("production-api-service")
    assert aws.deployed_task_definition(created) == release.before


def test_a_forged_record_of_an_alarm_that_is_not_in_alarm_restores_nothing(
    aws: Aws, clock: Clock
) -> None:
    # GIVEN production's api-service inside its watch window, its 5XX alarm OK, and a record
    # claiming the responder could not act on that alarm going into ALARM (anyone the account
    # lets invoke the health check can send one; its sender is only a string in it)
    release = watched_release(aws, clock.now - MINUTES_AGO)
    event = load_event("alarm_in_alarm.json")
    aws.alarm(event["detail"]["alarmName"], "OK")
    # WHEN the health check receives it
    reply = _take_over(aws, clock, _record(event))
    # THEN it reads the alarm back and does nothing: no stop, no restore, the record kept
    assert "not in ALARM now" in reply["ignored"]
    assert aws.deployments_of("production-api-service") == []
    assert aws.stops.calls == []
    assert aws.known_good("production", "api-service") == release.record(clock.now - MINUTES_AGO)


def test_a_taken_over_event_is_answered_as_the_responder_answers_it(aws: Aws, clock: Clock) -> None:
    # GIVEN an event of another copy of the system, which the responder answers without acting
    event = load_event("alarm_in_alarm.json")
    event["detail"]["alarmName"] = "other-production-api-service-5xx-rate"
    runtime = _runtime(aws, clock)
    # WHEN the health check takes it over
    reply = responder.take_over(_record(event), FakeContext(), runtime)  # type: ignore[arg-type]
    # THEN its reply is the responder's, naming where it came from
    assert reply == {"taken_over_from": RESPONDER, **responder.handle(event, None, runtime)}  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "sender",
    [
        "arn:aws:lambda:us-east-1:123456789012:function:health-check-dev",
        # A name that merely begins with the responder's is another function.
        f"arn:aws:lambda:us-east-1:123456789012:function:{RESPONDER}-copy",
        f"arn:aws:lambda:us-east-1:123456789012:function:{RESPONDER}x:$LATEST",
        "",
    ],
)
def test_a_record_from_another_function_is_rejected_without_an_aws_call(
    aws: Aws, clock: Clock, sender: str
) -> None:
    # GIVEN production's api-service inside its watch window
    watched_release(aws, clock.now - MINUTES_AGO)
    calls = aws.every_call()
    # WHEN a record of the same alarm from another function arrives
    reply = _take_over(aws, clock, _record(load_event("alarm_in_alarm.json"), sender))
    # THEN it is refused before anything is read or done
    assert ("rejected" in reply, calls.calls) == (True, [])


def test_a_record_is_rejected_when_no_responder_is_configured(aws: Aws, clock: Clock) -> None:
    calls = aws.every_call()
    reply = _take_over(aws, clock, _record(load_event("alarm_in_alarm.json")), responder_name="")
    assert ("rejected" in reply, calls.calls) == (True, [])


@pytest.mark.parametrize("context", [None, "the responder", ["functionArn", RESPONDER_ARN]])
def test_a_record_whose_request_context_is_not_an_object_is_rejected(
    aws: Aws, clock: Clock, context: object
) -> None:
    # GIVEN a record whose requestContext Lambda never sends so
    record = _record(load_event("alarm_in_alarm.json")) | {"requestContext": context}
    calls = aws.every_call()
    # WHEN / THEN it is answered (raising would only have it retried), and nothing is done
    reply = _take_over(aws, clock, record)
    assert ("rejected" in reply, calls.calls) == (True, [])


@pytest.mark.parametrize("payload", [None, "an alarm", [{"detail": {}}]])
def test_a_record_without_an_event_is_rejected_without_an_aws_call(
    aws: Aws, clock: Clock, payload: object
) -> None:
    calls = aws.every_call()
    reply = _take_over(aws, clock, _record(payload))
    assert (reply, calls.calls) == ({"rejected": "an invocation record without an event"}, [])


def test_the_health_check_handler_hands_invocation_records_to_the_take_over(
    aws: Aws, clock: Clock
) -> None:
    # GIVEN the responder's record of an alarm
    record = _record(load_event("alarm_in_alarm.json"))
    # WHEN the health check's handler receives it
    reply = handler.handle(record, FakeContext(), _runtime(aws, clock))  # type: ignore[arg-type]
    # THEN it is taken over, and no job result is reported (there is no job)
    assert (reply.get("taken_over_from"), aws.reports.calls) == (RESPONDER, [])


def test_a_pipeline_job_still_gets_its_job_result_from_the_handler(aws: Aws, clock: Clock) -> None:
    # GIVEN the health check configured to take over the responder's records
    runtime = _runtime(aws, clock)
    # WHEN a CodePipeline job arrives
    reply = handler.handle(job_event(), FakeContext(), runtime)  # type: ignore[arg-type]
    # THEN it is run as a job: exactly one job result, for that job
    [(_, reported)] = aws.reports.calls
    assert (reply["job_id"], reported["jobId"]) == (JOB_ID, JOB_ID)
