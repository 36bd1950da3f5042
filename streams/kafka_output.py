"""What the stream stages send, through one confluent-kafka producer (librdkafka, in C).

Outputs and the state tables' changelog records (streams/state_table.py) go through it, each
batch's outputs acknowledged before its changelog records are sent (the commit order of
streams/worker.py). The producer is idempotent with acks=all: records to one partition are
written in the order they were sent, retries included. Keyed records go where Kafka's Java
client puts them (murmur2), as streams/murmur2.py computes for the stitched topic.
"""

from __future__ import annotations

import logging

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from journey.sdk_settings import KafkaSettings

log = logging.getLogger("journey.worker")

FULL_QUEUE_WAIT_S = 0.1


class DeliveryFailed(RuntimeError):
    """Kafka did not acknowledge an output: the batch must not be committed."""


class KafkaOutput:
    def __init__(self, kafka: KafkaSettings, max_record_bytes: int) -> None:
        self.producer = Producer({
            "enable.idempotence": True,  # acks=all, ordered retries
            "partitioner": "murmur2_random",  # where Kafka's Java client puts keyed records
            "message.max.bytes": max_record_bytes + 64 * 1024,  # a dead letter of the largest input, and headroom
            **kafka.confluent_config(),
        })  # fmt: skip

    def batch(self, *, track_offsets: bool = False) -> OutputBatch:
        """`track_offsets`: remember where each partition's records landed (changelog batches:
        a store records how far into its changelog it is); outputs do not pay for it."""
        return OutputBatch(self.producer, track_offsets)


class OutputBatch:
    """The records of one batch: `send` them in order, then `delivered()`."""

    def __init__(self, producer: Producer, track_offsets: bool = False) -> None:
        self.producer = producer
        self.failures: list[KafkaError] = []
        self.last_offsets: dict[tuple[str, int], int] = {}  # (topic, partition) -> last acknowledged offset
        self._on_delivery = self._acknowledged_where if track_offsets else self._acknowledged

    def _acknowledged(self, error: KafkaError | None, message: Message) -> None:
        if error is not None:
            self.failures.append(error)

    def _acknowledged_where(self, error: KafkaError | None, message: Message) -> None:
        if error is not None:
            self.failures.append(error)
        else:
            self.last_offsets[(message.topic(), message.partition())] = message.offset()

    def send(
        self, topic: str, key: bytes | None, value: bytes | None, partition: int | None = None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> None:  # fmt: skip
        """`value` None: a tombstone (a deleted state, an erasure marker)."""
        where = {} if partition is None else {"partition": partition}
        while True:
            try:
                self.producer.produce(topic, value, key, on_delivery=self._on_delivery, headers=headers, **where)
                return
            except BufferError:  # the local queue is full: let deliveries drain it
                self.producer.poll(FULL_QUEUE_WAIT_S)

    def delivered(self) -> None:
        """Wait until Kafka acknowledged every record sent so far; raise DeliveryFailed when one
        was refused or timed out (`message.timeout.ms`, librdkafka's default 5 minutes)."""
        try:
            self.producer.flush()
        except KafkaException as error:
            raise DeliveryFailed(f"could not deliver outputs: {error}") from error
        if self.failures:
            raise DeliveryFailed(f"{len(self.failures)} outputs not acknowledged by Kafka: {self.failures[0]}")
