"""Personal data never leaves stage 1: events carrying emails and phone numbers (and customer ids,
hashed too) through `journey run` on the real broker and the embedded engine; then every topic
the pipeline wrote (stitched, changelogs, journey.*, dead letters) and every ClickHouse table is
scanned for them. Only `touchpoints`, the publishers' own input, holds them."""

from __future__ import annotations

import signal
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from confluent_kafka.admin import AdminClient

from journey.cli.samples import sample_journey
from journey.cli.topic_reader import read_to_end
from journey.config import Settings
from journey.publisher import TouchpointPublisher
from journey.topics import DEAD_LETTER, TOUCHPOINTS, create_topics
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
KEY = "pii-test-key-0123456789"

TABLE_TEXT = """
import sys, orjson, clickhouse_connect
c = clickhouse_connect.get_client(dsn=sys.argv[1])
text = {}
for (table,) in c.query("SELECT name FROM system.tables WHERE database = 'journey' AND engine NOT LIKE '%View'").result_rows:
    columns = [name for name, kind in c.query(
        f"SELECT name, type FROM system.columns WHERE database = 'journey' AND table = '{table}'").result_rows
        if not kind.startswith('AggregateFunction')]  # states of counts and distinct hashes, no values
    values = ", ".join("ifNull(toString(`%s`), '')" % name for name in columns)
    rows = c.query(f"SELECT {values} FROM journey.`{table}`").result_rows
    text[table] = [len(rows), '\\n'.join('|'.join(r) for r in rows)]
print(orjson.dumps(text).decode())
"""


def personal(seed: int) -> list[str]:
    return [f"person-{seed}@example.com", f"+1-555-01{seed:02d}", f"cust-{seed:06d}"]


def test_no_personal_data_downstream_of_stage_one(settings: Settings, tmp_path: Path) -> None:
    create_topics(settings)
    dsn = f"chdb://{tmp_path / 'clickhouse'}"
    run = make_test_worker(
        settings, tmp_path, "run", JOURNEY_CLICKHOUSE__DSN=dsn, JOURNEY_SINK__MAX_WAIT_S="0.3",
        JOURNEY_PRIVACY__HASH_PROPERTIES='["email", "contact.phone"]', JOURNEY_PRIVACY__DROP_PROPERTIES='["note"]',
        JOURNEY_PRIVACY__HASH_CUSTOMER_ID="true", JOURNEY_PRIVACY__HMAC_KEYS=orjson.dumps({"k1": KEY}).decode(),
        JOURNEY_PRIVACY__CURRENT_KEY="k1",
    )  # fmt: skip
    run.start()
    try:
        with TouchpointPublisher(settings.publisher) as publisher:
            for seed in PEOPLE:
                email, phone, _ = personal(seed)
                for event in sample_journey(seed, START):
                    event["properties"] = {**event.get("properties", {}), "email": email,
                                           "contact": {"phone": phone}, "note": f"call {phone}"}  # fmt: skip
                    publisher.publish(event)
            # a broken publisher's record: its dead letter keeps it, redacted
            broken = {**sample_journey(3, START)[6], "channel": "fax", "properties": {"email": personal(3)[0]}}
            publisher.publish_raw(orjson.dumps(broken), broken["customer_id"].encode())
        advance_event_time(settings, START + timedelta(days=3))
        wait_caught_up(settings, run, timeout_s=180)
        # a support agent looks a customer up by the id they know: found under its pseudonym
        with urllib.request.urlopen(f"http://127.0.0.1:{run.web_port}/journeys/cust-000001", timeout=30) as response:
            looked_up = orjson.loads(response.read())
    finally:
        assert run.stop(signal.SIGTERM) == 0, run.log_tail()

    secrets = [value for seed in PEOPLE for value in personal(seed)]
    written = [t for t in AdminClient(settings.kafka.confluent_config()).list_topics(timeout=10).topics
               if t.startswith(settings.topics.prefix) and t != settings.topics.name(TOUCHPOINTS)]  # fmt: skip
    assert len(written) >= 8  # stitched, the changelogs, journey.*, the dead letters
    seen_records = 0
    for topic in written:
        for message in read_to_end(settings, topic):
            seen_records += 1
            blob = (message.key() or b"") + b"|" + (message.value() or b"")
            leaked = [s for s in secrets if s.encode() in blob]
            assert not leaked, f"{topic}: {leaked} in {blob[:300]!r}"
    assert seen_records > len(PEOPLE) * 11  # journey.touchpoints alone has one per event

    dead = [orjson.loads(m.value()) for m in read_to_end(settings, settings.topics.name(DEAD_LETTER))]
    assert [d["reason"] for d in dead] == ["schema"] and dead[0]["redacted"] is True

    assert looked_up["journey_key"].startswith("hmac:k1:") and looked_up["events"] == 11 - 4  # 4 anonymous, handed over
    assert not [s for s in secrets if s in orjson.dumps(looked_up).decode()]

    tables = engine_json(TABLE_TEXT, dsn)
    assert_adds_up(settings, dsn)
    assert tables["touchpoints"][0] == len(PEOPLE) * 11 + settings.topics.partitions  # and the clock's heartbeats
    assert "hmac:k1:" in tables["touchpoints"][1] and "hmac:k1:" in tables["sessions"][1]
    for table, (_, text) in tables.items():
        leaked = [s for s in secrets if s in text]
        assert not leaked, f"journey.{table}: {leaked}"
