"""One state table of a worker (the ingest or journey states): the partitions this worker owns,
each restored from the table's compacted changelog topic when assigned, and written through
the changelog before the local store.

Writes of a batch are staged with `send` (records in a batch's OutputBatch made with
`track_offsets=True`, to the changelog partition of the input partition they belong to), and
`apply`-ed to the local stores once Kafka acknowledged them: a store never holds a value its
changelog lacks, so a worker taking the partition over restores exactly what this one had.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import defaultdict
from pathlib import Path

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

from journey.sdk_settings import KafkaSettings
from journey.streams.kafka_output import OutputBatch
from journey.streams.state_store import PartitionStore, open_store

log = logging.getLogger("journey.worker")

RESTORE_BATCH = 10_000
RESTORE_POLL_S = 1.0
METADATA_TIMEOUT_S = 30.0


class StateTable:
    def __init__(
        self, name: str, changelog_topic: str, store_kind: str, directory: Path, kafka: KafkaSettings, memory_mb: int
    ) -> None:
        self.name = name
        self.changelog_topic = changelog_topic
        self.store_kind = store_kind
        self.memory_mb = memory_mb
        self.directory = directory
        self.kafka = kafka
        self.partitions: dict[int, PartitionStore] = {}
        self._staged: dict[int, list[tuple[bytes, bytes | None]]] = defaultdict(list)

    # -- ownership ---------------------------------------------------------------------------------
    def assign(self, partition: int) -> None:
        """Open the partition's store and bring it up to the changelog's end (blocking)."""
        if partition in self.partitions:
            return
        store = open_store(self.store_kind, self.directory, self.changelog_topic, partition, self.memory_mb)
        started = time.monotonic()
        restored = self._restore(store, partition)
        self.partitions[partition] = store
        if restored:
            log.info("%s[%d]: restored %d changelog records in %.1fs", self.name, partition, restored,
                     time.monotonic() - started)  # fmt: skip

    def revoke(self, partition: int) -> None:
        store = self.partitions.pop(partition, None)
        self._staged.pop(partition, None)
        if store is not None:
            store.close()

    def close(self) -> None:
        for partition in list(self.partitions):
            self.revoke(partition)

    # -- reads -------------------------------------------------------------------------------------
    def get(self, partition: int, key: bytes) -> bytes | None:
        store = self.partitions.get(partition)
        return None if store is None else store.get(key)

    def live_bytes(self) -> int:
        """The state this worker holds of the table (its assigned partitions)."""
        return sum(store.live_bytes for store in list(self.partitions.values()))

    def keys(self, partition: int) -> list[bytes]:
        store = self.partitions.get(partition)
        return [] if store is None else list(store.keys())

    # -- writes ------------------------------------------------------------------------------------
    def send(self, out: OutputBatch, partition: int, key: bytes, value: bytes | None) -> None:
        """Stage one value (None: delete the key; a tombstone in the compacted changelog): to the
        changelog now, to the local store on `apply`."""
        out.send(self.changelog_topic, key, value, partition)
        self._staged[partition].append((key, value))

    def apply(self, out: OutputBatch) -> None:
        """After `out.delivered()`: the staged values go to their stores with the changelog offset
        after them."""
        for partition, items in self._staged.items():
            store = self.partitions.get(partition)
            if store is not None:
                store.write(items, out.last_offsets[(self.changelog_topic, partition)] + 1)
        self._staged.clear()

    # -- restore -----------------------------------------------------------------------------------
    def _restore(self, store: PartitionStore, partition: int) -> int:
        consumer = Consumer({
            **self.kafka.confluent_config(),
            "group.id": f"journey-restore-{uuid.uuid4()}",  # assigned, never subscribed or committed
            "enable.auto.commit": False,
            "enable.partition.eof": True,
        })  # fmt: skip
        try:
            tp = TopicPartition(self.changelog_topic, partition)
            low, high = consumer.get_watermark_offsets(tp, timeout=METADATA_TIMEOUT_S, cached=False)
            if store.changelog_offset > high:
                log.warning("%s[%d]: the local store is ahead of its changelog (recreated?): restoring afresh",
                            self.name, partition)  # fmt: skip
                store.reset()
            start = max(store.changelog_offset, low)
            if start >= high:
                return 0
            consumer.assign([TopicPartition(self.changelog_topic, partition, start)])
            restored = 0
            while True:
                items: list[tuple[bytes, bytes | None]] = []
                last = -1
                at_end = False
                for message in consumer.consume(RESTORE_BATCH, timeout=RESTORE_POLL_S):
                    error = message.error()
                    if error is not None:
                        if error.code() == KafkaError._PARTITION_EOF:
                            at_end = True
                            continue
                        raise KafkaException(error)
                    items.append((message.key(), message.value()))  # None: a tombstone, deletes the key
                    last = message.offset()
                if last >= 0:
                    store.write(items, last + 1)
                    restored += len(items)
                if at_end or store.changelog_offset >= high:
                    return restored
        finally:
            consumer.close()
