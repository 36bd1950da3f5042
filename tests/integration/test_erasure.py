"""Right to erasure end to end: `journey run` on the real broker and the embedded engine fills
ClickHouse with ten people's journeys; `journey erase` removes one of them (their customer id and
the anonymous id it is linked to) while `run` keeps running; one more event of that customer comes
after. Then: nothing of the person from before remains in any ClickHouse table or in the latest
state of any changelog and of journey.identities; every other row is as it was; the rollups equal
their raw tables again; the later event started a fresh journey."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from journey.cli.samples import sample_journey
from journey.cli.topic_reader import read_to_end
from journey.config import Settings
from journey.publisher import TouchpointPublisher
from journey.streams.codec import decode_state
from journey.topics import INGEST_STATE_TABLE, JOURNEY_IDENTITIES, JOURNEY_STATE_TABLE, changelog_topic, create_topics
from tests.integration.worker_helpers import (
    advance_event_time,
    assert_adds_up,
    engine_json,
    make_test_worker,
    wait_caught_up,
)

pytestmark = pytest.mark.integration

START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
PEOPLE = range(10)
ERASED = 3
CUSTOMER, ANONYMOUS = f"cust-{ERASED:06d}", f"anon-{ERASED:06d}"

# Every table's rows as text (the aggregate states aside), and each rollup beside the figures its
# raw table gives: they must agree after the rebuild.
TABLES = """
import sys, orjson, clickhouse_connect
c = clickhouse_connect.get_client(dsn=sys.argv[1])
text = {}
for (table,) in c.query("SELECT name FROM system.tables WHERE database = 'journey' AND engine NOT LIKE '%View' "
                        "AND name NOT IN ('sink_progress', 'schema_migrations', 'erasures')").result_rows:
    columns = [name for name, kind in c.query(
        f"SELECT name, type FROM system.columns WHERE database = 'journey' AND table = '{table}'").result_rows
        if not kind.startswith('AggregateFunction')]
    values = ", ".join("ifNull(toString(`%s`), '')" % name for name in columns)
    text[table] = sorted('|'.join(r) for r in c.query(f"SELECT {values} FROM journey.`{table}`").result_rows)
rows = lambda sql: sorted([list(map(str, r)) for r in c.query(sql).result_rows])
text["rollups"] = {
  "touchpoints_per_minute": [
    rows("SELECT minute, stage, channel, touchpoint, uniqExactMerge(events), uniqMerge(customers) FROM journey.touchpoints_per_minute GROUP BY ALL"),
    rows("SELECT toStartOfMinute(occurred_at), ifNull(stage, ''), channel, touchpoint, uniqExact(event_id), uniq(journey_key) FROM journey.touchpoints GROUP BY ALL")],
  "friction_per_minute": [
    rows("SELECT minute, kind, severity, uniqExactMerge(signals) FROM journey.friction_per_minute GROUP BY ALL"),
    rows("SELECT toStartOfMinute(occurred_at), kind, severity, uniqExact(signal_id) FROM journey.friction_signals WHERE version = 1 GROUP BY ALL")],
  "cx_scores_per_hour": [
    rows("SELECT hour, kind, score, uniqExactMerge(answers) FROM journey.cx_scores_per_hour GROUP BY ALL"),
    rows("SELECT toStartOfHour(occurred_at), kind, score, uniqExact(event_id) FROM journey.survey_responses GROUP BY ALL")],
}
text["erasures"] = rows("SELECT table, key_kind, rows FROM journey.erasures")
print(orjson.dumps(text).decode())
"""


def person_events() -> list[dict]:
    """The sample journey, plus a billing event keyed by the customer id alone (another partition)."""
    events = sample_journey(ERASED, START)
    billing = {"event_id": str(uuid.uuid4()), "occurred_at": (START + timedelta(hours=30)).isoformat(),
               "customer_id": CUSTOMER, "channel": "billing", "touchpoint": "billing.trial_started",
               "source": "billing-service", "schema_version": 1}  # fmt: skip
    return [*events, billing]


def mentions_person(row: str) -> bool:
    return CUSTOMER in row or ANONYMOUS in row


def latest(settings: Settings, topic: str) -> dict[bytes, bytes | None]:
    values: dict[bytes, bytes | None] = {}
    for message in read_to_end(settings, topic):
        values[message.key()] = message.value()
    return values


def test_erase_removes_a_person_and_nothing_else(settings: Settings, tmp_path: Path) -> None:
    create_topics(settings)
    dsn = f"chdb://{tmp_path / 'clickhouse'}"
    run = make_test_worker(settings, tmp_path, "run", JOURNEY_CLICKHOUSE__DSN=dsn, JOURNEY_SINK__MAX_WAIT_S="0.3")
    run.start()
    try:
        with TouchpointPublisher(settings.publisher) as publisher:
            for seed in PEOPLE:
                for event in person_events() if seed == ERASED else sample_journey(seed, START):
                    publisher.publish(event)
        advance_event_time(settings, START + timedelta(days=3))
        wait_caught_up(settings, run, timeout_s=180)
    finally:
        assert run.stop(signal.SIGTERM) == 0, run.log_tail()
    before = engine_json(TABLES, dsn)
    person_rows = {t: [r for r in rows if mentions_person(r)] for t, rows in before.items() if isinstance(rows, list)}
    assert all(person_rows[t] for t in ("touchpoints", "sessions", "stage_transitions", "identity_links",
                                        "survey_responses", "friction_signals")), person_rows  # fmt: skip

    run.start()
    try:
        command = [
            sys.executable,
            "-c",
            "from journey.cli.app import app; app()",
            "erase",
            CUSTOMER,
            "--json",
            "--timeout",
            "120",
        ]
        erased = subprocess.run(command, env={**os.environ, **run.env}, capture_output=True, text=True, timeout=180)
        assert erased.returncode == 0, erased.stderr[-3000:] + run.log_tail()
        report = orjson.loads(erased.stdout)
        after_erasure = START + timedelta(days=3, hours=1)
        with TouchpointPublisher(settings.publisher) as publisher:  # the customer comes back
            publisher.publish({"event_id": str(uuid.uuid4()), "occurred_at": after_erasure.isoformat(),
                               "customer_id": CUSTOMER, "channel": "web", "touchpoint": "web.pricing_viewed",
                               "source": "web-frontend"})  # fmt: skip
        advance_event_time(settings, after_erasure + timedelta(days=1))
        wait_caught_up(settings, run, timeout_s=180)
        journey = orjson.loads(run.fetch(f"/journeys/{CUSTOMER}"))
    finally:
        assert run.stop(signal.SIGTERM) == 0, run.log_tail()
    after = engine_json(TABLES, dsn)
    assert_adds_up(settings, dsn)  # what stays adds up: the erased journey's rows and state went together

    # the report: one request per id, what went from each table
    assert report["applied"] and report["anonymous_ids"] == 1
    removed = {(r["table"], r["key_kind"]): r["rows"] for r in report["removed"]}
    assert removed[("touchpoints", "customer")] == len([r for r in person_rows["touchpoints"] if f"|{CUSTOMER}|" in r])
    assert removed[("touchpoints", "anonymous")] == len(
        [r for r in person_rows["touchpoints"] if f"|anon:{ANONYMOUS}|" in r]
    )
    # the link row names both ids: whichever of the two markers (partitions of journey.identities) the
    # sink reaches first deletes it, so the count is the person's, split between the kinds either way
    assert (
        removed.get(("identity_links", "anonymous"), 0) + removed.get(("identity_links", "customer"), 0)
        == len(person_rows["identity_links"])
        == 1
    )
    assert min(removed[("touchpoints", "customer")], removed[("touchpoints", "anonymous")], removed[("sessions", "customer")],
               removed[("stage_transitions", "customer")], removed[("survey_responses", "customer")]) > 0, removed  # fmt: skip
    assert sorted(after["erasures"]) == sorted([t, k, str(n)] for (t, k), n in removed.items())

    # nothing of the person from before; every other row as it was; rollups equal their raw tables
    for table, rows in before.items():
        if not isinstance(rows, list) or table == "erasures" or table.endswith(("_per_minute", "_per_hour")):
            continue  # rollup rows name no one: compared with their raw tables below
        left = set(after[table])
        assert not [r for r in person_rows[table] if r in left], f"{table}: the erased person's rows remain"
        others = [r for r in rows if not mentions_person(r)]
        assert [r for r in others if r not in left] == [], f"{table}: another person's rows changed"
        fresh = [r for r in after[table] if mentions_person(r)]
        assert all((ANONYMOUS not in r and "web.pricing_viewed" in r) or table != "touchpoints" for r in fresh), fresh
    for rollup, (aggregated, raw) in after["rollups"].items():
        assert aggregated == raw, f"{rollup} differs from its raw table after the erasure"
    assert after["rollups"]["touchpoints_per_minute"][0] != before["rollups"]["touchpoints_per_minute"][0]

    # the customer who came back: a fresh journey of one event
    assert journey["events"] == 1, journey
    # Kafka: the latest state of the person's keys holds nothing of them
    ingest = latest(settings, changelog_topic(settings, INGEST_STATE_TABLE))
    assert ingest[ANONYMOUS.encode()] is None
    journeys = latest(settings, changelog_topic(settings, JOURNEY_STATE_TABLE))
    anonymous_state = decode_state(journeys[f"anon:{ANONYMOUS}".encode()])  # type: ignore[arg-type]
    assert anonymous_state.event_count == 0 and anonymous_state.erasure is not None
    customer_state = decode_state(journeys[CUSTOMER.encode()])  # type: ignore[arg-type]
    assert customer_state.event_count == 1 and customer_state.erasure.request_id == report["request_id"]  # type: ignore[union-attr]
    assert latest(settings, settings.topics.name(JOURNEY_IDENTITIES))[ANONYMOUS.encode()] is None
