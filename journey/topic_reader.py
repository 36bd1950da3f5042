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
