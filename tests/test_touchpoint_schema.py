"""The touchpoint contract: what is accepted, and the precise reason for every rejection."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from journey.schemas.export import SCHEMA_FILE, render
from journey.schemas.touchpoint import (
    MAX_EVENT_BYTES,
    MAX_PROPERTIES_BYTES,
    MAX_PROPERTIES_DEPTH,
    MAX_PROPERTIES_KEYS,
    SURVEY_SCORE_RANGES,
    Channel,
    InvalidTouchpoint,
    Touchpoint,
    check_event_time,
    parse_touchpoint,
    validate_touchpoint,
)


def event(**overrides: object) -> dict:
    base = {
        "event_id": "0b7c7a52-9c1e-4c41-8f3e-1f7a1b2c3d4e",
        "occurred_at": "2026-11-22T10:15:00+01:00",
        "anonymous_id": "anon-1",
        "channel": "web",
        "touchpoint": "checkout.started",
        "flow": "checkout",
        "step": "cart",
        "properties": {"cart_value": 42.5},
        "source": "web-frontend",
        "schema_version": 1,
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def encode(document: object) -> bytes:
    return orjson.dumps(document)


def test_valid_event_is_parsed_and_time_normalised_to_utc() -> None:
    touchpoint = parse_touchpoint(encode(event()))
    assert touchpoint.occurred_at == datetime(2026, 11, 22, 9, 15, tzinfo=UTC)
    assert touchpoint.occurred_at.utcoffset() == timedelta(0)
    assert touchpoint.channel is Channel.WEB
    assert touchpoint.partition_key == "anon-1"


def test_partition_key_prefers_anonymous_id_then_customer_id() -> None:
    both = parse_touchpoint(encode(event(customer_id="cust-9")))
    known_only = parse_touchpoint(encode(event(anonymous_id=None, customer_id="cust-9")))
    assert both.partition_key == "anon-1"
    assert known_only.partition_key == "cust-9"


def test_serialised_event_parses_back_to_an_equal_event() -> None:
    touchpoint = parse_touchpoint(encode(event(customer_id="c-1", account_id="a-1")))
    assert parse_touchpoint(touchpoint.to_json_bytes()) == touchpoint


@pytest.mark.parametrize(("survey", "bounds"), SURVEY_SCORE_RANGES.items())
def test_survey_scores_at_their_bounds_are_accepted(survey: str, bounds: tuple[int, int]) -> None:
    for score in bounds:
        assert parse_touchpoint(encode(event(channel="survey", touchpoint=survey, score=score))).score == score


def deep(levels: int) -> dict:
    value: dict = {"leaf": 1}
    for _ in range(levels - 1):
        value = {"nested": value}
    return value


# (payload, expected reason, words the message must contain)
BAD_INPUTS = [
    pytest.param(b"{not json", "not_json", ["not JSON"], id="not-json"),
    pytest.param(b"\xff\xfe{}", "not_utf8", ["not UTF-8", "position 0"], id="non-utf8"),
    pytest.param(b"[1, 2]", "not_an_object", ["array", "not an object"], id="json-array"),
    pytest.param(b"", "not_json", ["not JSON"], id="empty"),
    pytest.param(b" " * (MAX_EVENT_BYTES + 1), "too_large", [str(MAX_EVENT_BYTES)], id="too-large"),
    pytest.param(encode(event(event_id="42")), "schema", ["event_id", "UUID"], id="bad-uuid"),
    pytest.param(encode(event(occurred_at=12345)), "schema", ["occurred_at"], id="time-wrong-type"),
    pytest.param(
        encode(event(occurred_at="2026-11-22T10:15:00")), "schema", ["occurred_at", "no UTC offset"], id="naive"
    ),
    pytest.param(encode(event(anonymous_id=None)), "schema", ["customer_id or anonymous_id"], id="missing-ids"),
    pytest.param(encode(event(channel="pigeon")), "schema", ["channel", "'pigeon'", "web"], id="unknown-channel"),
    pytest.param(
        encode(event(touchpoint="Checkout Started")), "schema", ["touchpoint", "domain.action"], id="bad-name"
    ),
    pytest.param(encode(event(touchpoint="survey.nps", score=11)), "schema", ["score 11", "0 to 10"], id="nps-11"),
    pytest.param(encode(event(touchpoint="survey.csat", score=0)), "schema", ["score 0", "1 to 5"], id="csat-0"),
    pytest.param(encode(event(touchpoint="survey.ces", score=8)), "schema", ["score 8", "1 to 7"], id="ces-8"),
    pytest.param(encode(event(touchpoint="survey.nps")), "schema", ["needs a score"], id="nps-missing-score"),
    pytest.param(encode(event(touchpoint="survey.nps", score="9")), "schema", ["score"], id="score-as-string"),
    pytest.param(encode(event(score=5)), "schema", ["only for survey"], id="score-off-survey"),
    pytest.param(
        encode(event(properties={"blob": "x" * MAX_PROPERTIES_BYTES})),
        "schema",
        ["properties", "bytes"],
        id="oversize-properties",
    ),
    pytest.param(
        encode(event(properties=deep(MAX_PROPERTIES_DEPTH + 1))),
        "schema",
        ["properties", "levels deep"],
        id="deep-properties",
    ),
    pytest.param(
        encode(event(properties={f"k{i}": i for i in range(MAX_PROPERTIES_KEYS + 1)})),
        "schema",
        ["properties", "keys"],
        id="too-many-keys",
    ),
    pytest.param(encode(event(properties=[1, 2])), "schema", ["properties"], id="properties-not-object"),
    pytest.param(encode(event(schema_version=2)), "schema", ["schema_version 2", "not supported"], id="version-2"),
    pytest.param(encode(event(colour="red")), "schema", ["colour", "unknown field"], id="unknown-field"),
    pytest.param(encode(event(source=None)), "schema", ["source", "missing"], id="missing-source"),
    pytest.param(encode(event(customer_id="has space")), "schema", ["customer_id"], id="id-with-space"),
]


@pytest.mark.parametrize(("payload", "reason", "words"), BAD_INPUTS)
def test_each_bad_input_is_rejected_with_a_precise_reason(payload: bytes, reason: str, words: list[str]) -> None:
    with pytest.raises(InvalidTouchpoint) as raised:
        parse_touchpoint(payload)
    assert raised.value.reason == reason
    for word in words:
        assert word in raised.value.message, raised.value.message


def nested_payload(depth: int) -> bytes:
    """An event whose properties nest `depth` objects (by hand: encoders refuse such depths)."""
    body = encode(event(properties={"nested": 0}))
    return body.replace(b'{"nested":0}', b'{"a":' * depth + b"1" + b"}" * depth, 1)


@pytest.mark.parametrize(
    ("depth", "reason"), [(900, "schema"), (1022, "schema"), (1100, "not_json"), (8000, "not_json")]
)
def test_nesting_a_parser_accepts_is_rejected_without_exhausting_the_stack(depth: int, reason: str) -> None:
    with pytest.raises(InvalidTouchpoint) as raised:  # was a RecursionError (a crashed worker) up to orjson's limit
        parse_touchpoint(nested_payload(depth))
    assert raised.value.reason == reason


PUBLISHED = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
LIMITS = (timedelta(minutes=60), timedelta(days=400))


@pytest.mark.parametrize(("occurred_at", "words"), [
    (PUBLISHED + timedelta(minutes=61), ["after its publish time", "contract.max_future_minutes"]),
    (PUBLISHED + timedelta(days=365 * 5), ["after its publish time"]),
    (PUBLISHED - timedelta(days=401), ["before its publish time", "400 days", "contract.max_age_days"]),
    (datetime(1970, 1, 1, tzinfo=UTC), ["before its publish time"]),
])  # fmt: skip
def test_an_event_time_implausible_for_its_publish_time_is_rejected(occurred_at: datetime, words: list[str]) -> None:
    touchpoint = validate_touchpoint(event(occurred_at=occurred_at.isoformat()))
    with pytest.raises(InvalidTouchpoint) as raised:
        check_event_time(touchpoint, PUBLISHED, *LIMITS)
    assert raised.value.reason == "time_out_of_range"
    assert raised.value.errors[0]["field"] == "occurred_at"
    for word in words:
        assert word in raised.value.message, raised.value.message


@pytest.mark.parametrize("offset", [timedelta(minutes=59), timedelta(0), timedelta(days=-399)])
def test_clock_skew_and_backfills_within_the_limits_pass(offset: timedelta) -> None:
    touchpoint = validate_touchpoint(event(occurred_at=(PUBLISHED + offset).isoformat()))
    check_event_time(touchpoint, PUBLISHED, *LIMITS)


def test_sdk_dict_with_unserialisable_property_is_rejected_not_crashed() -> None:
    with pytest.raises(InvalidTouchpoint) as raised:
        validate_touchpoint(event(properties={"huge": 2**70}))
    assert raised.value.reason == "schema"
    assert "properties: is not representable as JSON" in raised.value.message


def test_every_offending_field_is_named_once() -> None:
    payload = encode(event(channel="pigeon", occurred_at="yesterday", colour="red"))
    with pytest.raises(InvalidTouchpoint) as raised:
        parse_touchpoint(payload)
    assert sorted(e["field"] for e in raised.value.errors) == ["channel", "colour", "occurred_at"]


@settings(max_examples=300)
@given(st.binary(max_size=512))
def test_arbitrary_bytes_give_an_event_or_an_invalid_touchpoint_never_a_crash(payload: bytes) -> None:
    try:
        parse_touchpoint(payload)
    except InvalidTouchpoint as error:
        assert error.reason in {"not_utf8", "not_json", "not_an_object", "schema", "too_large"}
        assert error.message


identifiers = st.text(
    alphabet=st.characters(min_codepoint=33, max_codepoint=0x2FF, exclude_categories=("Zs", "Cc")),
    min_size=1,
    max_size=40,
)
json_ints = st.integers(min_value=-(2**63), max_value=2**63 - 1)
timezones = st.integers(min_value=-12 * 60, max_value=14 * 60).map(lambda m: timezone(timedelta(minutes=m)))


@settings(max_examples=200)
@given(
    event_id=st.uuids(),
    occurred_at=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=timezones),
    anonymous_id=st.none() | identifiers,
    customer_id=identifiers,
    channel=st.sampled_from(list(Channel)),
    properties=st.dictionaries(st.text(max_size=10), json_ints | st.text(max_size=20), max_size=10),
)
def test_generated_valid_events_round_trip(
    event_id: uuid.UUID,
    occurred_at: datetime,
    anonymous_id: str | None,
    customer_id: str,
    channel: Channel,
    properties: dict,
) -> None:
    original = Touchpoint(
        event_id=event_id,
        occurred_at=occurred_at,
        anonymous_id=anonymous_id,
        customer_id=customer_id,
        channel=channel,
        touchpoint="feature.used",
        properties=properties,
        source="svc",
    )
    parsed = parse_touchpoint(original.to_json_bytes())
    assert parsed == original
    assert parsed.occurred_at == occurred_at  # same instant, now in UTC
    assert parsed.occurred_at.tzinfo == UTC


def test_committed_json_schema_matches_the_model() -> None:
    assert SCHEMA_FILE.read_bytes() == render(), "run `make schema` and commit schemas/touchpoint.schema.json"


def test_json_schema_describes_the_contract() -> None:
    schema = orjson.loads(SCHEMA_FILE.read_bytes())
    assert set(schema["required"]) == {"event_id", "occurred_at", "channel", "touchpoint", "source"}
    assert schema["additionalProperties"] is False
    assert {"required": ["anonymous_id"]} in schema["anyOf"]
    assert set(schema["$defs"]["Channel"]["enum"]) == {c.value for c in Channel}
