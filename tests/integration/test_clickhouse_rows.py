"""What the stream logic really emits fits the ClickHouse tables: scripted journeys through the
pure stages, encoded as on the journey.* topics, converted and inserted into the real engine."""

from __future__ import annotations

import orjson
import pytest

from journey.topics import JOURNEY_FRICTION, JOURNEY_IDENTITIES, JOURNEY_SESSIONS, JOURNEY_STAGES, JOURNEY_TOUCHPOINTS
from sinks.migrations import migrate
from sinks.rows import TABLES, to_columns
from streams.identity import Linked
from streams.journey import EnrichedTouchpoint, FrictionSignal, JourneyStageTransition, SessionRecord
from streams.records import friction_record, identity_record, session_record, stage_transition_record, touchpoint_record
from tests.unit.builders import rules
from streams.in_memory import InMemoryPipeline
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
    sessions = client.query(f"SELECT journey_key, event_count, path[1], friction_score FROM {db}.sessions ORDER BY started_at").result_rows
    assert [(k, n, first) for k, n, first, _ in sessions] == [("cust-000001", 6, "ad.click"), ("cust-000001", 5, "onboarding.started")]
    signals = client.query(
        f"SELECT kind, severity, flow, JSONExtractInt(details, 'score') FROM {db}.friction_signals ORDER BY kind"
    ).result_rows
    # The scripted CSAT 2, and onboarding started but never completed nor activated (time passed).
    assert signals == [("abandonment", "warning", "onboarding", 0), ("negative_feedback", "warning", None, 2),
                       ("stalled_onboarding", "warning", "onboarding", 0)]  # fmt: skip
    assert client.query(f"SELECT kind, score, category FROM {db}.survey_responses").result_rows == [("csat", 2, "unsatisfied")]
    events = client.query(f"SELECT uniqExactMerge(events) FROM {db}.touchpoints_per_minute").result_rows[0][0]
    assert events == 11
