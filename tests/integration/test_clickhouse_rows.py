"""What the stream logic really emits fits the ClickHouse tables: scripted journeys through the
pure stages, encoded as on the journey.* topics, converted and inserted into the real engine."""

from __future__ import annotations

import uuid

import orjson
import pytest

from bench.workload import journeys as workload_journeys
from journey.schemas.touchpoint import Touchpoint
from journey.sinks.migrations import migrate
from journey.sinks.rows import TABLES, JsonRowCheck, json_each_row, to_columns
from journey.sinks.sink import JSON_INPUT
from journey.streams.identity import Linked
from journey.streams.in_memory import InMemoryPipeline
from journey.streams.journey import EnrichedTouchpoint, FrictionSignal, JourneyStageTransition, SessionRecord
from journey.streams.records import (
    friction_record,
    identity_record,
    session_record,
    stage_transition_record,
    touchpoint_record,
)
from journey.topics import JOURNEY_FRICTION, JOURNEY_IDENTITIES, JOURNEY_SESSIONS, JOURNEY_STAGES, JOURNEY_TOUCHPOINTS
from tests.unit.builders import rules
from tests.unit.test_journey_pipeline import FAR_FUTURE, scripted

pytestmark = pytest.mark.integration

ENCODERS = {
    EnrichedTouchpoint: (JOURNEY_TOUCHPOINTS, touchpoint_record),
    SessionRecord: (JOURNEY_SESSIONS, session_record),
    FrictionSignal: (JOURNEY_FRICTION, friction_record),
    JourneyStageTransition: (JOURNEY_STAGES, stage_transition_record),
}


def test_every_kind_of_record_inserts_and_reads_back(clickhouse) -> None:
    client, settings = clickhouse
    migrate(client, settings)
    pipeline = InMemoryPipeline(rules())
    outputs = pipeline.run(scripted(), tick_ms=FAR_FUTURE)
    by_topic: dict[str, list] = {topic: [] for topic in TABLES}
    for offset, output in enumerate(outputs):
        topic, encode = ENCODERS[type(output)]
        by_topic[topic].append((orjson.loads(encode(output)), 0, offset))
    link = Linked("anon-000001", "cust-000001", 1_793_610_660_000, "d211e789-03fb-5b53-8556-e054c62f3ec8")
    by_topic[JOURNEY_IDENTITIES].append((orjson.loads(identity_record(link)), 0, 0))

    for topic, records in by_topic.items():
        spec = TABLES[topic]
        assert records, topic
        client.insert(f"{settings.database}.{spec.table}", to_columns(spec, records), column_names=spec.column_names,
                      column_oriented=True)  # fmt: skip
        count = client.query(f"SELECT count() FROM {settings.database}.{spec.table}").result_rows[0][0]
        assert count == len(records), spec.table

    db = settings.database
    sessions = client.query(
        f"SELECT journey_key, event_count, path[1], friction_score FROM {db}.sessions ORDER BY started_at"
    ).result_rows
    assert [(k, n, first) for k, n, first, _ in sessions] == [
        ("cust-000001", 6, "ad.click"),
        ("cust-000001", 5, "onboarding.started"),
    ]
    signals = client.query(
        f"SELECT kind, severity, flow, JSONExtractInt(details, 'score') FROM {db}.friction_signals ORDER BY kind"
    ).result_rows
    # The scripted CSAT 2, and onboarding started but never completed nor activated (time passed).
    assert signals == [("abandonment", "warning", "onboarding", 0), ("negative_feedback", "warning", None, 2),
                       ("stalled_onboarding", "warning", "onboarding", 0)]  # fmt: skip
    assert client.query(f"SELECT kind, score, category FROM {db}.survey_responses").result_rows == [
        ("csat", 2, "unsatisfied")
    ]
    events = client.query(f"SELECT uniqExactMerge(events) FROM {db}.touchpoints_per_minute").result_rows[0][0]
    assert events == 11


def test_json_input_and_typed_columns_store_the_same_rows(clickhouse) -> None:
    """The sink's two insert paths (JSONEachRow parsed by ClickHouse; typed columns converted in
    Python) leave identical tables, views included, for every kind of record a simulated run of
    hundreds of journeys emits."""
    client, settings = clickhouse
    typed, json_input = settings, settings.model_copy(update={"database": settings.database + "_json"})
    migrate(client, typed)
    migrate(client, json_input)
    events = [Touchpoint.model_validate(e) for e in workload_journeys(400)]
    pipeline = InMemoryPipeline(rules())
    outputs = pipeline.run(events, tick_ms=FAR_FUTURE)
    by_topic: dict[str, list] = {topic: [] for topic in TABLES}
    for offset, output in enumerate(outputs):
        if type(output) in ENCODERS:
            topic, encode = ENCODERS[type(output)]
            by_topic[topic].append((orjson.loads(encode(output)), offset % 3, offset))
    links = [o for s in pipeline.ingest_states.values() for o in ([] if s.customer_id is None else [s])]
    assert links, "the workload identifies anonymous visitors"
    by_topic[JOURNEY_IDENTITIES] = [
        (orjson.loads(identity_record(Linked(f"anon-{n:06d}", f"cust-{n:06d}", 1_793_610_660_000 + n, str(uuid.UUID(int=n))))), 0, n)
        for n in range(50)
    ]  # fmt: skip
    try:
        for topic, records in by_topic.items():
            spec = TABLES[topic]
            assert records, topic
            types = dict(client.query(f"SELECT name, type FROM system.columns WHERE database = '{typed.database}' "
                                      f"AND table = '{spec.table}'").result_rows)  # fmt: skip
            assert all(JsonRowCheck.from_types(spec, types).accepts(r) for r, _, _ in records), spec.table
            client.insert(f"{typed.database}.{spec.table}", to_columns(spec, records), column_names=spec.column_names,
                          column_oriented=True)  # fmt: skip
            client.raw_insert(f"{json_input.database}.{spec.table}", spec.column_names, json_each_row(records),
                              fmt="JSONEachRow", settings=JSON_INPUT)  # fmt: skip
        tables = [r[0] for r in client.query(f"SELECT name FROM system.tables WHERE database = '{typed.database}' "
                                             "AND engine NOT IN ('MaterializedView', 'View')").result_rows]  # fmt: skip
        assert len(tables) >= len(TABLES) + 1
        for table in tables:
            if table in ("sink_progress", "schema_migrations", "erasures"):
                continue  # bookkeeping, not written here
            # aggregate states compare as their bytes; the insertion time is the one column that differs
            query = f"SELECT hex(toString(tuple(* EXCEPT (_inserted_at)))) AS r FROM {{db}}.{table} ORDER BY r"
            if "_inserted_at" not in client.query(f"DESCRIBE {typed.database}.{table}").result_columns[0]:
                query = query.replace(" EXCEPT (_inserted_at)", "")
            expected = client.query(query.format(db=typed.database)).result_rows
            assert expected, table
            assert client.query(query.format(db=json_input.database)).result_rows == expected, table
    finally:
        client.command(f"DROP DATABASE IF EXISTS {json_input.database} SYNC")
