"""Reading topics back in tests with a plain confluent-kafka consumer."""

from __future__ import annotations

import time
import uuid

from confluent_kafka import Consumer, Message, TopicPartition

from journey.config import Settings


def consume_all(settings: Settings, topic: str, expected: int, timeout_s: float = 30.0) -> list[Message]:
    """Read `topic` from the beginning until `expected` messages arrived, then 1 s more to catch extras."""
    consumer = Consumer(
        {
            **settings.kafka.confluent_config(),
            "group.id": f"test-{uuid.uuid4()}",
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
        }
    )
    partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
    messages: list[Message] = []
    deadline = time.monotonic() + timeout_s
    settle_until = None
    try:
        while time.monotonic() < deadline:
            if len(messages) >= expected and settle_until is None:
                settle_until = time.monotonic() + 1.0
            if settle_until is not None and time.monotonic() > settle_until:
                break
            message = consumer.poll(0.2)
            if message is not None and not message.error():
                messages.append(message)
    finally:
        consumer.close()
    return messages
