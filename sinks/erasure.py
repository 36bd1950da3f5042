"""Right to erasure in ClickHouse: the lightweight deletes one erasure marker asks for, and the
rollups kept equal to their raw tables. Used by the sink when a marker (a tombstone with the
request id in a header; streams/erasure.py) reaches it, after every row before it in that
topic-partition was inserted.

A raw table's rows of the key are deleted, and so are those of the tables derived from it per row
(survey answers). The rollups hold per-minute (or per-hour) aggregates: their buckets that held the
key's rows are rebuilt from the raw rows that stay, with the materialized view's own SELECT (read
from system.tables, so it cannot drift from the DDL). Order, so a crash anywhere is mended by the
replay of the same marker: rebuild the rollups without the key's rows first, then delete the raw
rows (a replay finds them still there, and rebuilds again to the same result).
"""

from __future__ import annotations

from dataclasses import dataclass

from clickhouse_connect.driver.client import Client


@dataclass(frozen=True)
class Rollup:
    table: str
    view: str
    source: str  # the table its view reads
    bucket: str  # the rollup's time column, and its expression over the source


@dataclass(frozen=True)
class Derived:
    table: str  # rows derived one per source row (a materialized view's target), keyed alike
    rollups: tuple[Rollup, ...]


@dataclass(frozen=True)
class ErasurePlan:
    table: str
    key_columns: tuple[str, ...]  # a row is the key's when any of them equals it
    derived: tuple[Derived, ...] = ()
    rollups: tuple[Rollup, ...] = ()


TOUCHPOINTS_PER_MINUTE = Rollup("touchpoints_per_minute", "touchpoints_per_minute_mv", "touchpoints",
                                "toStartOfMinute(occurred_at)")  # fmt: skip
CX_SCORES_PER_HOUR = Rollup(
    "cx_scores_per_hour", "cx_scores_per_hour_mv", "survey_responses", "toStartOfHour(occurred_at)"
)
FRICTION_PER_MINUTE = Rollup("friction_per_minute", "friction_per_minute_mv", "friction_signals",
                             "toStartOfMinute(occurred_at)")  # fmt: skip
BUCKET_COLUMN = {"touchpoints_per_minute": "minute", "cx_scores_per_hour": "hour", "friction_per_minute": "minute"}

PLANS = {
    "touchpoints": ErasurePlan(
        "touchpoints",
        ("journey_key",),
        (Derived("survey_responses", (CX_SCORES_PER_HOUR,)),),
        (TOUCHPOINTS_PER_MINUTE,),
    ),
    "sessions": ErasurePlan("sessions", ("journey_key",)),
    "friction_signals": ErasurePlan("friction_signals", ("journey_key",), rollups=(FRICTION_PER_MINUTE,)),
    "stage_transitions": ErasurePlan("stage_transitions", ("journey_key",)),
}
# journey.identities markers are keyed by the id itself: an anonymous id's links, or a customer's
# (as the customer, or as the one who claimed an anonymous id another customer kept).
IDENTITY_PLANS = {
    "anonymous": ErasurePlan("identity_links", ("anonymous_id",)),
    "customer": ErasurePlan("identity_links", ("customer_id", "claimed_customer_id")),
}


def erase(client: Client, database: str, plan: ErasurePlan, key: str) -> dict[str, int]:
    """Delete the key's rows as `plan` says; returns rows deleted per table (rollups: buckets rebuilt)."""
    where = " OR ".join(f"{column} = {{key:String}}" for column in plan.key_columns)
    removed: dict[str, int] = {}
    for derived in plan.derived:
        _rebuild(client, database, derived.rollups, derived.table, where, key, removed)
        removed[derived.table] = _delete(client, f"{database}.{derived.table}", where, key)
    _rebuild(client, database, plan.rollups, plan.table, where, key, removed)
    removed[plan.table] = _delete(client, f"{database}.{plan.table}", where, key)
    return removed


def _delete(client: Client, table: str, where: str, key: str) -> int:
    rows = int(client.query(f"SELECT count() FROM {table} WHERE {where}", parameters={"key": key}).result_rows[0][0])
    if rows:
        client.command(f"DELETE FROM {table} WHERE {where}", parameters={"key": key})
    return rows


def _rebuild(client: Client, database: str, rollups: tuple[Rollup, ...], source: str, where: str, key: str,
             removed: dict[str, int]) -> None:  # fmt: skip
    """Each rollup's buckets that hold the key's rows, aggregated again from the source without them."""
    for rollup in rollups:
        buckets = [row[0] for row in client.query(
            f"SELECT DISTINCT {rollup.bucket} FROM {database}.{source} WHERE {where}", parameters={"key": key},
        ).result_rows]  # fmt: skip
        removed[rollup.table] = len(buckets)
        if not buckets:
            continue
        column = BUCKET_COLUMN[rollup.table]
        view_select = client.query(
            "SELECT as_select FROM system.tables WHERE database = {db:String} AND name = {view:String}",
            parameters={"db": database, "view": rollup.view},
        ).result_rows[0][0]
        kept = f"(SELECT * FROM {database}.{source} WHERE {rollup.bucket} IN {{buckets:Array(DateTime)}} AND NOT ({where}))"
        select = view_select.replace(f"FROM {database}.{source}", f"FROM {kept} AS {source}", 1)
        if select == view_select:
            raise RuntimeError(f"{rollup.view} does not read {database}.{source}: cannot rebuild {rollup.table}")
        parameters = {"key": key, "buckets": buckets}
        client.command(f"DELETE FROM {database}.{rollup.table} WHERE {column} IN {{buckets:Array(DateTime)}}",
                       parameters=parameters)  # fmt: skip
        client.command(f"INSERT INTO {database}.{rollup.table} {select}", parameters=parameters)
