"""`journey demo`: the first thing a new user runs, on the embedded default.

Today it brings up the local broker, creates the topics, publishes scripted journeys through
the SDK and reads them back; the stream stages and ClickHouse join it as they land.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter

import orjson
from confluent_kafka import Consumer, TopicPartition
from rich.console import Console
from rich.table import Table

from journey.config import Settings
from journey.localstack.kafka import LocalKafka, StackError
from journey.publisher import TouchpointPublisher
from journey.samples import sample_journey
from journey.topics import TOUCHPOINTS, create_topics

READ_BACK_TIMEOUT_S = 60.0


def read_back(settings: Settings, topic: str, event_ids: set[str], timeout_s: float = READ_BACK_TIMEOUT_S) -> list:
    """Consume `topic` from the start until every id in `event_ids` was seen (or time runs out)."""
    consumer = Consumer(
        {
            **settings.kafka.confluent_config(),
            "group.id": f"journey-demo-{uuid.uuid4()}",
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
        }
    )
    metadata = consumer.list_topics(topic, timeout=10).topics[topic]
    consumer.assign([TopicPartition(topic, p, 0) for p in metadata.partitions])  # offset 0 = from the start
    seen: dict[str, dict] = {}
    deadline = time.monotonic() + timeout_s
    try:
        while len(seen) < len(event_ids) and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None or message.error():
                continue
            event = orjson.loads(message.value())
            if event.get("event_id") in event_ids:
                seen[event["event_id"]] = event
    finally:
        consumer.close()
    return list(seen.values())


def run_demo(settings: Settings, customers: int, console: Console) -> int:
    try:
        LocalKafka(settings.stack).up()
    except StackError as error:
        console.print(f"[red]{error}[/red]")
        return 1
    report = create_topics(settings)
    console.print(f"topics: {len(report.created)} created, {len(report.existing)} already there")

    events = [event for seed in range(customers) for event in sample_journey(seed)]
    started = time.monotonic()
    with TouchpointPublisher(settings) as publisher:
        for event in events:
            publisher.publish(event)
    console.print(f"published {len(events)} events of {customers} journeys in {time.monotonic() - started:.2f}s")

    received = read_back(settings, settings.topics.name(TOUCHPOINTS), {e["event_id"] for e in events})
    table = Table(title=f"Touchpoints read back from Kafka ({len(received)}/{len(events)})")
    table.add_column("channel")
    table.add_column("touchpoint")
    table.add_column("events", justify="right")
    for (channel, touchpoint), count in sorted(Counter((e["channel"], e["touchpoint"]) for e in received).items()):
        table.add_row(channel, touchpoint, str(count))
    console.print(table)
    console.print("The broker keeps running: `journey stack status`, `journey stack down`.")
    return 0 if len(received) == len(events) else 1
