"""What the stream stages send, through one confluent-kafka producer (librdkafka, in C).

Faust's producer (aiokafka) costs tens of microseconds of Python per record; the stages send one
or more records per event, which was a large share of a batch (docs/decisions.md, "Stitched
messages in bundles, outputs through confluent-kafka"). Faust's own producer still writes the
table changelogs, after these outputs are acknowledged: the commit order of streams/worker.py
is unchanged.

The producer is idempotent with acks=all: records to one partition are written in the order
they were sent, retries included. Keyed records go where aiokafka would have put them (murmur2,
as Kafka's Java client), so the stitched topic's partition of a journey does not change.
"""

from __future__ import annotations

import asyncio
import logging

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from journey.config import KafkaSettings

log = logging.getLogger("journey.worker")

FULL_QUEUE_WAIT_S = 0.1


class DeliveryFailed(RuntimeError):
    """Kafka did not acknowledge an output: the batch must not be committed."""


class KafkaOutput:
    def __init__(self, kafka: KafkaSettings) -> None:
        self.producer = Producer({
            "enable.idempotence": True,  # acks=all, ordered retries
            "partitioner": "murmur2_random",  # where aiokafka's default partitioner put keyed records
            **kafka.confluent_config(),
        })  # fmt: skip

    def batch(self) -> OutputBatch:
        return OutputBatch(self.producer)


class OutputBatch:
    """The records of one agent batch: `send` them in order, then `await delivered()`."""

    def __init__(self, producer: Producer) -> None:
        self.producer = producer
        self.failures: list[KafkaError] = []

    def _on_delivery(self, error: KafkaError | None, message: Message) -> None:
        if error is not None:
            self.failures.append(error)

    def send(self, topic: str, key: bytes | None, value: bytes, partition: int | None = None) -> None:
        while True:
            try:
                if partition is None:
                    self.producer.produce(topic, value, key, on_delivery=self._on_delivery)
                else:
                    self.producer.produce(topic, value, key, partition, on_delivery=self._on_delivery)
                return
            except BufferError:  # the local queue is full: let deliveries drain it
                self.producer.poll(FULL_QUEUE_WAIT_S)

    async def delivered(self) -> None:
        """Wait (off the event loop) until Kafka acknowledged every record sent so far; raise
        DeliveryFailed when one was refused or timed out."""
        try:
            await asyncio.to_thread(self.producer.flush)
        except KafkaException as error:
            raise DeliveryFailed(f"could not deliver outputs: {error}") from error
        if self.failures:
            raise DeliveryFailed(f"{len(self.failures)} outputs not acknowledged by Kafka: {self.failures[0]}")
