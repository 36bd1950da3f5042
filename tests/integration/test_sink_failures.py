"""The sink against trouble, on the real broker and the real engine (in this process): rows
ClickHouse rejects go to the sink's dead-letter topic while the rest of their batch lands; a
table that disappears (a server-side failure) stalls the sink without loss or duplicates."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import orjson
import pytest
from clickhouse_connect.driver.client import Client
from confluent_kafka import Producer

from journey.cli.samples import sample_journey
from journey.cli.topic_reader import read_topic
from journey.config import Settings, SinkSettings
from journey.schemas.touchpoint import Touchpoint
from journey.sinks.migrations import migrate
from journey.sinks.sink import ClickHouseSink
from journey.streams.in_memory import InMemoryPipeline
from journey.streams.journey import EnrichedTouchpoint
from journey.streams.records import touchpoint_record
from journey.topics import create_topics
from tests.integration.worker_helpers import wait_until
from tests.unit.builders import rules
from tests.unit.test_journey_pipeline import T0

pytestmark = pytest.mark.integration


def touchpoint_records(journeys: int) -> list[dict]:
    """Real journey.touchpoints records: sample journeys through the pure stages."""
    events = [Touchpoint.model_validate(e) for seed in range(journeys) for e in sample_journey(seed, T0)]
    outputs = InMemoryPipeline(rules()).run(events)
    return [orjson.loads(touchpoint_record(o)) for o in outputs if isinstance(o, EnrichedTouchpoint)]


@pytest.fixture
def sink_setup(settings: Settings, clickhouse) -> tuple[Client, Settings]:
    """The test's topics and ClickHouse database, migrated; settings for a quick sink on them."""
    client, ch = clickhouse
    settings = settings.model_copy(update={
        "clickhouse": ch, "sink": SinkSettings(max_rows=50, max_wait_s=0.2, retry_backoff_s=(0.2, 0.5)),
    })  # fmt: skip
    create_topics(settings)
    migrate(client, ch)
    return client, settings


def produce(settings: Settings, values: list[bytes], partition: int = 0) -> None:
    producer = Producer(settings.kafka.confluent_config())
    for value in values:
        producer.produce(settings.topics.name("journey.touchpoints"), value, partition=partition)
    assert producer.flush(30) == 0


@contextmanager
def running_sink(settings: Settings) -> Iterator[ClickHouseSink]:
    sink = ClickHouseSink(settings)
    thread = threading.Thread(target=sink.run, daemon=True)
    thread.start()
    try:
        yield sink
    finally:
        sink.stop()
        thread.join(60)
        assert not thread.is_alive()


def count(client, sql: str) -> int:
    return client.query(sql).result_rows[0][0]


def test_rows_clickhouse_rejects_go_to_the_sink_dead_letter_topic_and_the_rest_lands(sink_setup) -> None:
    client, settings = sink_setup
    ch = settings.clickhouse
    good = touchpoint_records(6)
    too_big = {**good[0], "event_id": str(uuid.uuid4()), "score": 40_000}  # Int16 overflow
    not_a_uuid = {**good[1], "event_id": "not-a-uuid"}
    values = [orjson.dumps(r) for r in good[:20]] + [orjson.dumps(too_big), b"{not json"]
    values += [orjson.dumps(r) for r in good[20:40]] + [orjson.dumps(not_a_uuid)] + [orjson.dumps(r) for r in good[40:]]
    produce(settings, values)

    with running_sink(settings):
        wait_until(lambda: count(client, f"SELECT count() FROM {ch.database}.touchpoints") >= len(good))
        dead = read_topic(settings, settings.topics.name("journey.sink.dlq"), expected=3)
        wait_until(lambda: count(client, f"SELECT max(next_offset) FROM {ch.database}.sink_progress") == len(values))

    assert count(client, f"SELECT count() FROM {ch.database}.touchpoints") == len(good)
    assert count(client, f"SELECT uniqExact(event_id) FROM {ch.database}.touchpoints") == len(good)
    envelopes = sorted((orjson.loads(m.value()) for m in dead), key=lambda e: e["offset"])
    assert [e["offset"] for e in envelopes] == [20, 21, 42]
    assert envelopes[0]["reason"].startswith("rejected by ClickHouse")
    assert "`score`" in envelopes[0]["reason"] and "32767" in envelopes[0]["reason"]
    assert orjson.loads(envelopes[0]["original"])["score"] == 40_000
    assert envelopes[1]["reason"].startswith("not JSON") and envelopes[1]["original"] == "{not json"
    assert "UUID" in envelopes[2]["reason"] or "hexadecimal" in envelopes[2]["reason"], envelopes[2]["reason"]


def test_a_server_side_failure_stalls_the_sink_and_loses_nothing(sink_setup) -> None:
    client, settings = sink_setup
    ch = settings.clickhouse
    records = touchpoint_records(12)
    first, second = records[: len(records) // 2], records[len(records) // 2 :]
    rows = f"SELECT count() FROM {ch.database}.touchpoints"

    with running_sink(settings) as sink:
        produce(settings, [orjson.dumps(r) for r in first])
        wait_until(lambda: count(client, rows) == len(first))
        client.command(f"DETACH TABLE {ch.database}.touchpoints")  # the server now fails every insert
        produce(settings, [orjson.dumps(r) for r in second], partition=1)
        wait_until(lambda: sink.failures >= 3)  # retried, with backoff
        assert sink.buffer.in_flight  # held, not committed, not dropped
        committed = sink.consumer.committed([tp for tp in sink.consumer.assignment() if tp.partition == 1], timeout=10)
        assert all(tp.offset < 0 for tp in committed if tp.topic.endswith("journey.touchpoints"))
        client.command(f"ATTACH TABLE {ch.database}.touchpoints")
        wait_until(lambda: count(client, rows) == len(records))

    assert count(client, rows) == len(records)  # no loss, no duplicate
    assert count(client, f"SELECT uniqExact(event_id) FROM {ch.database}.touchpoints") == len(records)
    assert count(client, f"SELECT uniqExactMerge(events) FROM {ch.database}.touchpoints_per_minute") == len(records)


def test_a_table_missing_at_the_first_insert_stalls_the_sink_and_rejects_nothing(sink_setup) -> None:
    """The first insert into a table first reads its column types (which rows ClickHouse's JSON
    input may take); that lookup failing is ClickHouse's trouble, retried, not the rows'."""
    client, settings = sink_setup
    ch = settings.clickhouse
    records = touchpoint_records(6)
    client.command(f"DETACH TABLE {ch.database}.touchpoints")
    produce(settings, [orjson.dumps(r) for r in records])

    with running_sink(settings) as sink:
        wait_until(lambda: sink.failures >= 2)  # retried, with backoff
        assert sink.buffer.in_flight  # held, not rejected
        client.command(f"ATTACH TABLE {ch.database}.touchpoints")
        wait_until(lambda: count(client, f"SELECT count() FROM {ch.database}.touchpoints") == len(records))

    assert read_topic(settings, settings.topics.name("journey.sink.dlq"), expected=0, timeout_s=3) == []
    assert count(client, f"SELECT uniqExact(event_id) FROM {ch.database}.touchpoints") == len(records)


OUTAGE_S = 60.0


def test_clickhouse_failing_for_a_minute_under_load_pauses_within_bounds_then_catches_up(sink_setup) -> None:
    """Records keep arriving at ~250/s while every insert fails for 60 s: the sink holds at most
    `sink.max_buffered_rows` (then pauses consumption), commits nothing it did not write, and
    once ClickHouse is back writes exactly what arrived."""
    client, settings = sink_setup
    ch = settings.clickhouse
    settings = settings.model_copy(update={"sink": settings.sink.model_copy(update={"max_buffered_rows": 2000})})
    template = touchpoint_records(4)
    rows = f"SELECT count() FROM {ch.database}.touchpoints"
    sent: list[int] = []
    stop_sending = threading.Event()

    def keep_sending() -> None:  # ~250 records/s on 3 partitions, each with an event id of its own
        producer, n = Producer(settings.kafka.confluent_config()), 0
        while not stop_sending.is_set():
            for _ in range(25):
                record = {**template[n % len(template)], "event_id": str(uuid.uuid5(uuid.NAMESPACE_OID, str(n)))}
                producer.produce(settings.topics.name("journey.touchpoints"), orjson.dumps(record), partition=n % 3)
                n += 1
            producer.poll(0)
            stop_sending.wait(0.1)
        assert producer.flush(30) == 0
        sent.append(n)

    peak_buffered = 0
    with running_sink(settings) as sink:
        sender = threading.Thread(target=keep_sending, daemon=True)
        sender.start()
        wait_until(lambda: count(client, rows) > 500)
        client.command(f"DETACH TABLE {ch.database}.touchpoints")  # every insert fails from now on
        failing_until = time.monotonic() + OUTAGE_S
        paused = False
        while time.monotonic() < failing_until:
            peak_buffered = max(peak_buffered, sink.buffer.buffered_rows)
            paused = paused or sink.paused
            time.sleep(0.05)
        client.command(f"ATTACH TABLE {ch.database}.touchpoints")
        back_at = time.monotonic()
        stop_sending.set()
        sender.join(60)
        wait_until(
            lambda: count(client, rows) == sent[0], timeout_s=120, explain=lambda: f"{count(client, rows)} of {sent[0]}"
        )
        caught_up_s = time.monotonic() - back_at

    print(f"ClickHouse failing {OUTAGE_S:.0f}s: {sent[0]} records, peak {peak_buffered} buffered rows, "
          f"caught up {caught_up_s:.1f}s after it came back")  # fmt: skip
    assert paused and sink.failures == 0
    assert 0 < peak_buffered <= settings.sink.max_buffered_rows
    assert sent[0] > 250 * OUTAGE_S * 0.5  # the load went on during the outage
    assert count(client, f"SELECT uniqExact(event_id) FROM {ch.database}.touchpoints") == sent[0]
    assert count(client, rows) == sent[0]  # no duplicate
    assert count(client, f"SELECT uniqExactMerge(events) FROM {ch.database}.touchpoints_per_minute") == sent[0]
