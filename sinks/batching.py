"""Sink batching, pure: records accumulate per topic-partition and leave as batches.

The sink's contract, in the order things happen (the shell follows it; tests check the pieces):
  1. on assignment, seek each partition past the highest `_kafka_offset` ClickHouse already holds
     for it (rows carry their source partition and offset), so nothing is inserted twice;
  2. `add` each consumed record to its partition's open batch;
  3. a batch is `ready` when it holds `max_rows` or its oldest record waited `max_wait_s`; it is
     inserted with `insert_deduplication_token` = topic/partition/first-last (`Batch.token`), so a
     retry of the same batch is dropped by ClickHouse;
  4. only after the insert succeeded (`confirm`), commit offset `last + 1` for that partition;
  5. a failed insert is `retry`-ed later with the same token; while unconfirmed rows reach
     `max_buffered`, `add` raises SinkBackpressure and the consumer pauses: a ClickHouse outage
     stalls the sink instead of growing its memory.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class SinkBackpressure(Exception):
    """The buffer is full of unconfirmed rows: pause consuming until inserts succeed again."""


@dataclass
class Batch:
    topic: str
    partition: int
    opened_at: float
    records: list[tuple[dict[str, Any], int, int]] = field(default_factory=list)  # (record, partition, offset)

    @property
    def first_offset(self) -> int:
        return self.records[0][2]

    @property
    def last_offset(self) -> int:
        return self.records[-1][2]

    @property
    def token(self) -> str:
        return f"{self.topic}/{self.partition}/{self.first_offset}-{self.last_offset}"

    @property
    def commit_offset(self) -> int:
        return self.last_offset + 1


@dataclass
class SinkBuffer:
    max_rows: int = 5000
    max_wait_s: float = 1.0
    max_buffered: int = 100_000
    open: dict[tuple[str, int], Batch] = field(default_factory=dict)
    in_flight: list[Batch] = field(default_factory=list)  # handed out, not yet confirmed

    @property
    def buffered_rows(self) -> int:
        return sum(len(b.records) for b in self.open.values()) + sum(len(b.records) for b in self.in_flight)

    def add(self, topic: str, partition: int, offset: int, record: dict[str, Any], now: float) -> None:
        if self.buffered_rows >= self.max_buffered:
            raise SinkBackpressure(f"{self.buffered_rows} rows wait for ClickHouse (max_buffered {self.max_buffered})")
        batch = self.open.get((topic, partition))
        if batch is None:
            batch = self.open[(topic, partition)] = Batch(topic, partition, now)
        batch.records.append((record, partition, offset))

    def ready(self, now: float, *, everything: bool = False) -> list[Batch]:
        """Batches to insert now (all open ones when `everything`, e.g. at shutdown), in offset order
        per partition; they stay in flight until confirmed."""
        due = [
            key for key, batch in self.open.items()
            if everything or len(batch.records) >= self.max_rows or now - batch.opened_at >= self.max_wait_s
        ]  # fmt: skip
        batches = [self.open.pop(key) for key in sorted(due)]
        self.in_flight.extend(batches)
        return batches

    def confirm(self, batch: Batch) -> int:
        """The batch is in ClickHouse: forget it; return the offset to commit for its partition."""
        self.in_flight.remove(batch)
        return batch.commit_offset

    def retry(self) -> list[Batch]:
        """Unconfirmed batches, oldest first, to insert again with their same tokens."""
        return list(self.in_flight)
