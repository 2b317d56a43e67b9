"""UserParameters and continuation-token parsing: defaults, every rejection, tampering."""

from __future__ import annotations

import hashlib
import json

import pytest
from health_check.errors import ParameterError, TokenError
from health_check.params import (
    DEFAULT_BAKE_SECONDS,
    TOKEN_CAUSE_CHARS,
    CheckParameters,
    configured,
    decode_token,
    encode_token,
    new_token,
    parse_user_parameters,
)
from health_check.targets import ReleaseTargets
from health_check.verdict import Outcome
from hypothesis import given
from hypothesis import strategies as st

from tests.unit.health_check.fakes import SERVICES, release_targets

NOW = 1_800_000_000.0
PARAMS = CheckParameters(environment="staging", alarm_prefix="dev-staging-", bake_seconds=300)
_BODY: dict[str, object] = {
    "v": 4,
    "started_at": int(NOW),
    "healthy_since": None,
    "environment": "staging",
    "bake_seconds": 300,
    "restoring_since": None,
    "cause": "",
    "failed_as": "",
    "moved_at": None,
}


def _signed(body: dict[str, object]) -> str:
    """A token with a valid digest: what a hand edit that recomputed it would produce."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return json.dumps({**body, "digest": hashlib.sha256(canonical.encode()).hexdigest()[:16]})


def test_the_contract_example_parses_with_every_field() -> None:
    raw = json.dumps(
        {
            "environment": "staging",
            "alarm_prefix": "dev-staging-",
            "bake_seconds": 120,
            "cluster": "staging-cluster-dev",
            "services": ["api-service-dev", "auth-service-dev"],
        }
    )
    assert parse_user_parameters(raw) == CheckParameters(
        "staging",
        "dev-staging-",
        120,
        "staging-cluster-dev",
        ("api-service-dev", "auth-service-dev"),
    )


def test_bake_seconds_defaults_and_ecs_is_optional() -> None:
    params = parse_user_parameters('{"environment": "staging", "alarm_prefix": "dev-staging-"}')
    assert params.bake_seconds == DEFAULT_BAKE_SECONDS == 300
    assert params.cluster is None
    assert params.services == ()


@pytest.mark.parametrize(
    ("raw", "named_problem"),
    [
        (None, "missing"),
        ("", "missing"),
        ("{not json", "not valid JSON"),
        ('["staging"]', "must be a JSON object"),
        ('{"alarm_prefix": "p-"}', "environment is required"),
        ('{"environment": "staging", "alarm_prefix": " "}', "alarm_prefix must be a non-empty"),
        ('{"environment": 7, "alarm_prefix": "p-"}', "environment must be a non-empty string"),
        ('{"environment": "Staging!", "alarm_prefix": "p-"}', "staging or production"),
        ('{"environment": "bogus", "alarm_prefix": "p-"}', "staging or production"),
        ('{"environment": "staging", "alarm_prefix": ""}', "alarm_prefix must be a non-empty"),
        ('{"environment": "staging", "alarm_prefix": "p-", "bake_seconds": -1}', "negative"),
        ('{"environment": "staging", "alarm_prefix": "p-", "bake_seconds": "60"}', "integer"),
        ('{"environment": "staging", "alarm_prefix": "p-", "bake_seconds": 1.5}', "integer"),
        ('{"environment": "staging", "alarm_prefix": "p-", "bake_seconds": true}', "integer"),
        ('{"environment": "staging", "alarm_prefix": "p-", "bake_seconds": 999999}', "at most"),
        ('{"environment": "staging", "alarm_prefix": "p-", "bake_second": 60}', "unknown keys"),
        ('{"environment": "staging", "alarm_prefix": "p-", "cluster": "c"}', "together"),
        (
            '{"environment": "staging", "alarm_prefix": "p-", "cluster": "c", "services": []}',
            "non-empty list",
        ),
        (
            '{"environment": "staging", "alarm_prefix": "p-", "cluster": "c", "services": "a"}',
            "non-empty list",
        ),
        (
            '{"environment": "staging", "alarm_prefix": "p-", "cluster": "", "services": ["a"]}',
            "cluster must be",
        ),
        (
            '{"environment": "staging", "alarm_prefix": "p-", "cluster": "c", '
            '"services": ["a", "a"]}',
            "twice",
        ),
    ],
)
def test_bad_user_parameters_are_rejected_naming_the_problem(
    raw: object, named_problem: str
) -> None:
    with pytest.raises(ParameterError, match=named_problem):
        parse_user_parameters(raw)


@given(st.one_of(st.none(), st.integers(), st.text(), st.binary()))
def test_arbitrary_input_either_parses_or_raises_parameter_error(raw: object) -> None:
    try:
        params = parse_user_parameters(raw)
    except ParameterError:
        return
    assert params.bake_seconds >= 0


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)


@given(
    st.dictionaries(
        st.sampled_from(["environment", "alarm_prefix", "bake_seconds", "cluster", "services"]),
        json_values,
    )
)
def test_mistyped_keys_never_escape_as_anything_but_parameter_error(
    data: dict[str, object],
) -> None:
    try:
        parse_user_parameters(json.dumps(data))
    except ParameterError as error:
        message = str(error)
    else:
        return
    assert message.startswith("UserParameters")


def test_a_token_round_trips_with_its_bake_start() -> None:
    token = new_token(PARAMS, started_at=int(NOW))
    assert decode_token(encode_token(token), PARAMS, NOW + 120).started_at == int(NOW)


@pytest.mark.parametrize(
    ("mangle", "reason"),
    [
        (lambda raw: raw[:-5], "not JSON"),
        (lambda raw: "[]", "unknown format"),
        (lambda raw: raw.replace('"v":4', '"v":5'), "unknown format"),
        (lambda raw: raw.replace(f'"started_at":{int(NOW)}', '"started_at":1'), "integrity"),
        (lambda raw: raw.replace('"digest":"', '"digest":"0'), "integrity"),
        (lambda raw: raw[:-1] + ',"extra":1}', "integrity"),
    ],
)
def test_an_unreadable_or_edited_token_is_refused(mangle: object, reason: str) -> None:
    raw = encode_token(new_token(PARAMS, started_at=int(NOW)))
    assert callable(mangle)
    with pytest.raises(TokenError, match=reason):
        decode_token(mangle(raw), PARAMS, NOW)


def test_a_well_formed_token_without_a_numeric_start_is_refused() -> None:
    body = {**_BODY, "started_at": "yesterday"}
    with pytest.raises(TokenError, match="no bake start"):
        decode_token(_signed(body), PARAMS, NOW)


@pytest.mark.parametrize("healthy_since", ["soon", True, int(NOW) - 1])
def test_a_token_whose_healthy_streak_is_not_a_time_after_its_start_is_refused(
    healthy_since: object,
) -> None:
    with pytest.raises(TokenError, match="healthy streak"):
        decode_token(_signed({**_BODY, "healthy_since": healthy_since}), PARAMS, NOW)


def test_a_token_round_trips_with_its_healthy_streak() -> None:
    token = new_token(PARAMS, started_at=int(NOW)).with_streak(NOW + 60.2)
    decoded = decode_token(encode_token(token), PARAMS, NOW + 120)
    # rounded up: the stored streak is never longer than the one observed
    assert (decoded.started_at, decoded.healthy_since) == (int(NOW), int(NOW) + 61)


def test_a_version_1_token_is_refused_naming_the_version() -> None:
    # GIVEN a token written before the bake measured a healthy streak (no healthy_since)
    v1 = {"v": 1, "started_at": int(NOW), "environment": "staging", "bake_seconds": 300}
    # WHEN / THEN it is refused rather than read as healthy since its start
    with pytest.raises(TokenError, match="version 1"):
        decode_token(_signed(v1), PARAMS, NOW + 60)


def test_a_version_2_token_is_refused_naming_the_version() -> None:
    # GIVEN a token written before the restore phase existed (no restoring_since, no cause)
    restore_phase = {"restoring_since", "cause", "failed_as"}
    v2 = {key: value for key, value in _BODY.items() if key not in restore_phase}
    # WHEN / THEN it is refused: the stage is retried rather than read with a guessed phase
    with pytest.raises(TokenError, match="version 2"):
        decode_token(_signed({**v2, "v": 2}), PARAMS, NOW + 60)


def test_a_restoring_token_round_trips_with_its_restore_start_and_cause() -> None:
    # GIVEN a bake that failed 100.7 s in
    token = new_token(PARAMS, started_at=int(NOW)).with_streak(NOW + 10)
    restoring = token.restoring(
        NOW + 100.7, "alarm dev-staging-api-5xx in ALARM", Outcome.FAILED_ALARM
    )
    # WHEN it is handed to the next invocation
    decoded = decode_token(encode_token(restoring), PARAMS, NOW + 160)
    # THEN it carries when the restore began (never later than it did), why and how it failed,
    # and no streak
    assert (decoded.restoring_since, decoded.cause, decoded.failed_as) == (
        int(NOW) + 100,
        "alarm dev-staging-api-5xx in ALARM",
        "failed_alarm",
    )
    assert decoded.healthy_since is None


def test_a_restoring_token_keeps_a_bounded_part_of_a_long_cause() -> None:
    restoring = new_token(PARAMS, started_at=int(NOW)).restoring(
        NOW, "x" * 5_000, Outcome.FAILED_UNHEALTHY
    )
    assert restoring.cause == "x" * TOKEN_CAUSE_CHARS


def test_a_cause_json_writes_longer_is_cut_to_its_written_length() -> None:
    # GIVEN a cause naming alarms with non-ASCII names (JSON writes each such character as six)
    restoring = new_token(PARAMS, started_at=int(NOW)).restoring(
        NOW, "é" * 5_000, Outcome.FAILED_ALARM
    )
    # WHEN / THEN the token keeps only as much as fits its bound once written
    assert restoring.cause == "é" * (TOKEN_CAUSE_CHARS // 6)


def test_a_restoring_token_without_the_failure_it_follows_is_refused() -> None:
    body = {**_BODY, "restoring_since": int(NOW), "cause": "alarm", "failed_as": "succeeded"}
    with pytest.raises(TokenError, match="without the failure it follows"):
        decode_token(_signed(body), PARAMS, NOW)


@pytest.mark.parametrize("restoring_since", ["soon", True, int(NOW) - 1])
def test_a_token_whose_restore_is_not_a_time_after_its_start_is_refused(
    restoring_since: object,
) -> None:
    with pytest.raises(TokenError, match="restore that is not after its start"):
        decode_token(_signed({**_BODY, "restoring_since": restoring_since}), PARAMS, NOW)


@pytest.mark.parametrize("cause", [None, 7, ["alarm"]])
def test_a_token_without_a_readable_cause_is_refused(cause: object) -> None:
    with pytest.raises(TokenError, match="no readable cause"):
        decode_token(_signed({**_BODY, "cause": cause}), PARAMS, NOW)


def test_lateness_of_a_restoring_token_is_measured_from_the_restore() -> None:
    # GIVEN a check that failed, and began restoring, 3,000 s after its first invocation
    token = new_token(PARAMS, started_at=int(NOW)).restoring(
        NOW + 3_000, "alarm", Outcome.FAILED_ALARM
    )
    # WHEN it is read over an hour after the first invocation's bake, early in the restore
    decoded = decode_token(encode_token(token), PARAMS, NOW + 3_000 + 600)
    # THEN it is accepted; an hour after the restore's start (plus a bake) it is stale
    assert decoded.restoring_since == int(NOW) + 3_000
    with pytest.raises(TokenError, match="stale"):
        decode_token(encode_token(token), PARAMS, NOW + 3_000 + 300 + 3_601)


def test_lateness_is_measured_from_the_healthy_streak_not_the_first_invocation() -> None:
    # GIVEN a run that waited, then began a streak 1000 s later (a run lasts up to ~2 bakes)
    token = new_token(PARAMS, started_at=int(NOW), healthy_since=int(NOW) + 3_900)
    # WHEN it is read over an hour after the first invocation's bake, but early in the streak
    decoded = decode_token(encode_token(token), PARAMS, NOW + 4_000)
    # THEN it is accepted; an hour after the streak's bake it is stale
    assert decoded.healthy_since == int(NOW) + 3_900
    with pytest.raises(TokenError, match="stale"):
        decode_token(encode_token(token), PARAMS, NOW + 3_900 + 300 + 3_601)


def test_a_token_of_another_check_is_refused() -> None:
    raw = encode_token(new_token(PARAMS, started_at=int(NOW)))
    production = CheckParameters("production", "dev-production-", 300)
    with pytest.raises(TokenError, match="different check"):
        decode_token(raw, production, NOW)


def test_a_token_whose_bake_starts_in_the_future_is_refused() -> None:
    raw = encode_token(new_token(PARAMS, started_at=int(NOW) + 3600))
    with pytest.raises(TokenError, match="future"):
        decode_token(raw, PARAMS, NOW)


def test_a_token_long_past_its_bake_is_refused_as_stale() -> None:
    raw = encode_token(new_token(PARAMS, started_at=int(NOW)))
    with pytest.raises(TokenError, match="stale"):
        decode_token(raw, PARAMS, NOW + 300 + 3601)


def test_an_encoded_token_fits_codepipelines_2048_character_limit() -> None:
    long_environment = CheckParameters("e" * 32, "p-", 86_400)
    token = new_token(long_environment, started_at=10**12)
    # the longest a restoring token gets: a cause of characters JSON writes longest
    for cause in ('"' * 5_000, "é" * 5_000, "\u0001" * 5_000):
        restoring = token.restoring(10**12, cause, Outcome.FAILED_UNHEALTHY)
        assert len(encode_token(restoring)) < 2048, cause[0]


@given(st.text())
def test_arbitrary_text_is_never_accepted_as_a_token(raw: str) -> None:
    with pytest.raises(TokenError):
        decode_token(raw, PARAMS, NOW)


def test_a_version_3_token_is_refused_naming_the_version() -> None:
    # GIVEN a token written before the traffic move was carried (no moved_at)
    v3 = {key: value for key, value in _BODY.items() if key != "moved_at"}
    # WHEN / THEN it is refused: the stage is retried rather than read with a guessed move
    with pytest.raises(TokenError, match="version 3"):
        decode_token(_signed({**v3, "v": 3}), PARAMS, NOW + 60)


def test_a_token_round_trips_with_its_traffic_move_rounded_up() -> None:
    token = new_token(PARAMS, started_at=int(NOW)).with_move(NOW + 600.2)
    decoded = decode_token(encode_token(token), PARAMS, NOW + 660)
    assert decoded.moved_at == int(NOW) + 601


def test_a_token_whose_traffic_move_is_before_its_start_is_refused() -> None:
    with pytest.raises(TokenError, match="traffic move"):
        decode_token(_signed({**_BODY, "moved_at": int(NOW) - 1}), PARAMS, NOW)


def test_a_token_is_stale_an_hour_after_the_move_not_after_its_start() -> None:
    # GIVEN a check beside a slow rollout: traffic moved 50 minutes after the first invocation
    moved = new_token(PARAMS, started_at=int(NOW)).with_move(NOW + 3000)
    # WHEN it is read 10 minutes after the move (over an hour after its start) THEN it is live
    assert decode_token(encode_token(moved), PARAMS, NOW + 3600).moved_at == int(NOW) + 3000


def test_beside_deployments_is_read_and_its_services_come_from_the_configuration() -> None:
    # GIVEN the pipeline's production event: the environment, its bake, beside the deployments
    event = {"environment": "production", "bake_seconds": 300}
    parsed = parse_user_parameters(json.dumps({**event, "beside_deployments": True}))
    assert parsed.beside_deployments
    assert not parse_user_parameters(json.dumps(event)).beside_deployments
    with pytest.raises(ParameterError, match="true or false"):
        parse_user_parameters(json.dumps({**event, "beside_deployments": "yes"}))
    # WHEN bound to the function's configuration, THEN the groups to wait for are its services
    bound = configured(parsed, ReleaseTargets.from_json(release_targets()))
    assert bound.beside_deployments
    assert bound.services == tuple(f"{service}-dev" for service in SERVICES)
    # (RELEASE_TARGETS itself refuses an environment without services: there is always a group)
