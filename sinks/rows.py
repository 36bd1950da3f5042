"""From journey.* records (JSON, streams/records.py) to ClickHouse columns. Pure.

Each table declares its columns and how to read each from a record; `to_columns` turns a batch of
records (with their Kafka partition and offset) into column-oriented data for one insert.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from journey.topics import JOURNEY_FRICTION, JOURNEY_IDENTITIES, JOURNEY_SESSIONS, JOURNEY_STAGES, JOURNEY_TOUCHPOINTS

Reader = Callable[[dict[str, Any]], Any]


def _time(name: str) -> Reader:
    return lambda r: None if r.get(name) is None else datetime.fromisoformat(r[name])


def _uuid(name: str) -> Reader:
    return lambda r: None if r.get(name) is None else uuid.UUID(r[name])


def _json(name: str) -> Reader:
    return lambda r: orjson.dumps(r.get(name) or {}).decode()


def _plain(name: str) -> Reader:
    return lambda r: r.get(name)


@dataclass(frozen=True)
class TableSpec:
    table: str
    columns: tuple[tuple[str, Reader], ...]

    @property
    def column_names(self) -> list[str]:
        return [name for name, _ in self.columns] + ["_kafka_partition", "_kafka_offset"]


def _spec(table: str, *columns: str | tuple[str, Reader]) -> TableSpec:
    return TableSpec(table, tuple((c, _plain(c)) if isinstance(c, str) else c for c in columns))


# Topic (without prefix) -> table and columns. Column order follows schemas/clickhouse/.
TABLES: dict[str, TableSpec] = {
    JOURNEY_TOUCHPOINTS: _spec(
        "touchpoints", ("event_id", _uuid("event_id")), ("occurred_at", _time("occurred_at")), "journey_key",
        "customer_id", "anonymous_id", "account_id", ("session_id", _uuid("session_id")), "stage", "late", "channel",
        "touchpoint", "flow", "step", "score", ("properties", _json("properties")), "source",
    ),
    JOURNEY_SESSIONS: _spec(
        "sessions", ("session_id", _uuid("session_id")), "journey_key", "customer_id", "account_id",
        ("started_at", _time("started_at")), ("ended_at", _time("ended_at")), "duration_ms", "event_count", "channels",
        "path", "stages", ("merged_from", lambda r: [uuid.UUID(s) for s in r["merged_from"]]), "close_reason",
        "friction_score", "version",
    ),
    JOURNEY_FRICTION: _spec(
        "friction_signals", ("signal_id", _uuid("signal_id")), "kind", "severity", "journey_key", "customer_id",
        "account_id", ("session_id", _uuid("session_id")), ("detected_at", _time("detected_at")),
        ("occurred_at", _time("occurred_at")), "channel", "touchpoint", "flow", "step", "count",
        ("details", _json("details")), "version",
    ),
    JOURNEY_STAGES: _spec(
        "stage_transitions", ("transition_id", _uuid("transition_id")), "journey_key", "customer_id", "from_stage",
        "to_stage", ("at", _time("at")), "time_in_previous_ms", "first_time", ("event_id", _uuid("event_id")),
        "time_to_first_value_ms",
    ),
    JOURNEY_IDENTITIES: _spec(
        "identity_links", "kind", "anonymous_id", "customer_id", "claimed_customer_id", ("linked_at", _time("linked_at")),
        ("event_id", _uuid("event_id")),
    ),
}  # fmt: skip


# ClickHouse's JSON input accepts some values silently that the typed path refuses: an integer
# beyond its column's range is wrapped (40000 becomes -25536 in Int16), a null in a column that
# is not Nullable becomes the default. Rows with such values take the typed path, which rejects
# them with a reason (measured: tests/integration/test_sink_failures.py).
INTEGER_RANGES = {
    "Int8": (-(2**7), 2**7 - 1), "Int16": (-(2**15), 2**15 - 1), "Int32": (-(2**31), 2**31 - 1),
    "UInt8": (0, 2**8 - 1), "UInt16": (0, 2**16 - 1), "UInt32": (0, 2**32 - 1),
    "Int64": (-(2**63), 2**63 - 1), "UInt64": (0, 2**64 - 1),
}  # fmt: skip


@dataclass(frozen=True)
class JsonRowCheck:
    """Whether a record can go through ClickHouse's JSON input (JSONEachRow) with the result the
    typed path would give: every integer within its column's range, no null where the column is
    not Nullable. Built from the table's column types (system.columns)."""

    ranges: tuple[tuple[str, int, int], ...]
    required: tuple[str, ...]

    @classmethod
    def from_types(cls, spec: TableSpec, types: dict[str, str]) -> JsonRowCheck:
        ranges, required = [], []
        for name, _ in spec.columns:
            kind = types[name]
            if kind.startswith("LowCardinality("):
                kind = kind.removeprefix("LowCardinality(").removesuffix(")")
            nullable = kind.startswith("Nullable(")
            bare = kind.removeprefix("Nullable(").removesuffix(")") if nullable else kind
            if bare in INTEGER_RANGES:
                ranges.append((name, *INTEGER_RANGES[bare]))
            if not nullable:
                required.append(name)
        return cls(tuple(ranges), tuple(required))

    def accepts(self, record: dict[str, Any]) -> bool:
        for name in self.required:
            if record.get(name) is None:
                return False
        for name, low, high in self.ranges:
            value = record.get(name)
            if value is not None and (type(value) is not int or not low <= value <= high):
                return False
        return True


def json_each_row(records: Sequence[tuple[dict[str, Any], int, int]]) -> bytes:
    """The rows as ClickHouse's JSONEachRow input, with their Kafka partition and offset (spliced
    into each object's text: copying every dict cost more than the insert). Records that passed a
    JsonRowCheck have fields, so no object is empty."""
    return b"\n".join(
        b'%s,"_kafka_partition":%d,"_kafka_offset":%d}' % (orjson.dumps(record)[:-1], partition, offset)
        for record, partition, offset in records
    )


def to_columns(spec: TableSpec, records: Sequence[tuple[dict[str, Any], int, int]]) -> list[list[Any]]:
    """Column-oriented data for (record, kafka_partition, kafka_offset) triples."""
    columns: list[list[Any]] = [[reader(record) for record, _, _ in records] for _, reader in spec.columns]
    columns.append([partition for _, partition, _ in records])
    columns.append([offset for _, _, offset in records])
    return columns
