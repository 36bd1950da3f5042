"""Read a topic from its beginning with a throw-away consumer (demo, tests, operators' checks)."""

from __future__ import annotations

import time
import uuid

from confluent_kafka import Consumer, Message, TopicPartition

from journey.config import Settings

SETTLE_S = 1.0  # after `expected` messages, keep reading this long to catch extras


def read_topic(settings: Settings, topic: str, expected: int, timeout_s: float = 30.0) -> list[Message]:
    """Every partition of `topic` from offset 0 (committed records only), until `expected`
    messages arrived and SETTLE_S more passed, or `timeout_s` ran out. No offsets are committed."""
    consumer = Consumer({**settings.kafka.confluent_config(), "group.id": f"journey-reader-{uuid.uuid4()}",
                         "enable.auto.commit": False, "isolation.level": "read_committed"})  # fmt: skip
    partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
    messages: list[Message] = []
    deadline = time.monotonic() + timeout_s
    settle_until: float | None = None
    try:
        while time.monotonic() < deadline:
            if len(messages) >= expected and settle_until is None:
                settle_until = time.monotonic() + SETTLE_S
            if settle_until is not None and time.monotonic() > settle_until:
                break
            message = consumer.poll(0.2)
            if message is not None and not message.error():
                messages.append(message)
    finally:
        consumer.close()
    return messages


def read_to_end(settings: Settings, topic: str, timeout_s: float = 60.0) -> list[Message]:
    """Every record of `topic`, from each partition's start to its end as of the call (a fixed
    range, whatever arrives meanwhile). No offsets are committed. A missing topic reads as empty."""
    consumer = Consumer({**settings.kafka.confluent_config(), "group.id": f"journey-reader-{uuid.uuid4()}",
                         "enable.auto.commit": False, "isolation.level": "read_committed"})  # fmt: skip
    messages: list[Message] = []
    try:
        metadata = consumer.list_topics(topic, timeout=10).topics.get(topic)
        if metadata is None or metadata.error is not None:
            return []
        ends = {}
        for partition in metadata.partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10, cached=False)
            if high > low:
                ends[partition] = high
        consumer.assign([TopicPartition(topic, p, 0) for p in ends])
        deadline = time.monotonic() + timeout_s
        while ends:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{topic}: not read to its end within {timeout_s:.0f}s")
            message = consumer.poll(0.5)
            if message is None or message.error():
                continue
            messages.append(message)
            if message.offset() + 1 >= ends.get(message.partition(), 0):
                ends.pop(message.partition(), None)
    finally:
        consumer.close()
    return messages
