"""Which records the sink may hand to ClickHouse's JSON input (sinks/rows.py JsonRowCheck)."""

from __future__ import annotations

import orjson

from journey.sinks.rows import TABLES, JsonRowCheck, json_each_row
from journey.topics import JOURNEY_TOUCHPOINTS

TOUCHPOINT_TYPES = {
    "event_id": "UUID", "occurred_at": "DateTime64(3, 'UTC')", "journey_key": "String",
    "customer_id": "Nullable(String)", "anonymous_id": "Nullable(String)", "account_id": "Nullable(String)",
    "session_id": "Nullable(UUID)", "stage": "LowCardinality(Nullable(String))", "late": "Bool",
    "channel": "LowCardinality(String)", "touchpoint": "LowCardinality(String)",
    "flow": "LowCardinality(Nullable(String))", "step": "LowCardinality(Nullable(String))",
    "score": "Nullable(Int16)", "properties": "String", "source": "LowCardinality(String)",
}  # fmt: skip
GOOD = {
    "event_id": "0b7e3a52-1f7a-4b8e-9d55-3c2b1a0f9e88", "occurred_at": "2026-11-03T10:00:00.000Z",
    "journey_key": "cust-1", "customer_id": "cust-1", "anonymous_id": None, "account_id": None, "session_id": None,
    "stage": None, "late": False, "channel": "web", "touchpoint": "ad.click", "flow": None, "step": None,
    "score": 9, "properties": {}, "source": "web",
}  # fmt: skip
CHECK = JsonRowCheck.from_types(TABLES[JOURNEY_TOUCHPOINTS], TOUCHPOINT_TYPES)


def test_a_record_the_stages_write_is_accepted() -> None:
    assert CHECK.accepts(GOOD)


def test_integers_beyond_their_column_and_non_integers_take_the_typed_path() -> None:
    """ClickHouse's JSON input would wrap 40000 into Int16; the typed path rejects it with a reason."""
    assert not CHECK.accepts({**GOOD, "score": 40_000})
    assert not CHECK.accepts({**GOOD, "score": -40_000})
    assert not CHECK.accepts({**GOOD, "score": 9.5})
    assert not CHECK.accepts({**GOOD, "score": True})
    assert CHECK.accepts({**GOOD, "score": None})  # Nullable


def test_a_null_or_missing_value_in_a_column_that_is_not_nullable_takes_the_typed_path() -> None:
    assert not CHECK.accepts({**GOOD, "journey_key": None})
    assert not CHECK.accepts({k: v for k, v in GOOD.items() if k != "touchpoint"})
    assert CHECK.accepts({**GOOD, "customer_id": None})


def test_json_each_row_adds_the_kafka_partition_and_offset_to_each_line() -> None:
    lines = json_each_row([(GOOD, 3, 41), ({**GOOD, "score": 1}, 3, 42)]).split(b"\n")
    assert [orjson.loads(line) for line in lines] == [
        {**GOOD, "_kafka_partition": 3, "_kafka_offset": 41},
        {**GOOD, "score": 1, "_kafka_partition": 3, "_kafka_offset": 42},
    ]
