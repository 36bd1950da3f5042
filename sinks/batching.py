"""Sink batching, pure: records accumulate per topic-partition and leave as batches.

The sink's contract, in the order things happen (the shell follows it; tests check the pieces):
  1. on assignment, seek each partition to the larger of the group's committed offset and the next
     offset recorded in ClickHouse's sink_progress table: nothing written is inserted again;
  2. `add` each consumed record to its partition's open batch;
  3. a batch is `ready` when it holds `max_rows` or its oldest record waited `max_wait_s`; it is
     inserted with `insert_deduplication_token` = topic/partition/first-last (`dedup_token`), so a
     retry of the same batch is dropped by ClickHouse;
  4. only after the insert returned (its materialized views fed too) record `last + 1` in
     sink_progress, then commit that offset to Kafka (`confirm`);
  5. a failed insert is `retry`-ed later with the same token; while unconfirmed rows reach
     `max_buffered`, `add` raises SinkBackpressure and the consumer pauses: a ClickHouse outage
     stalls the sink instead of growing its memory;
  6. a batch ClickHouse rejects for its data is split (`insert_splitting`) until the rows it
     refuses are single; those go to the sink's dead-letter topic, the rest is inserted;
  7. an erasure marker (`add_erasure`) closes its partition's open batch and follows it in flight
     as a batch of its own: the deletes run after every row before it is in ClickHouse, and rows
     after it (a fresh journey) are inserted after the deletes.
A process killed anywhere re-inserts at most its unconfirmed batches; every table is idempotent
under that (Replacing engines, uniqExact states), so queries stay exact.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Row = tuple[dict[str, Any], int, int]  # (record, partition, offset)


def dedup_token(topic: str, rows: list[Row]) -> str:
    """The insert_deduplication_token of consecutive rows of one partition."""
    return f"{topic}/{rows[0][1]}/{rows[0][2]}-{rows[-1][2]}"


class SinkBackpressure(Exception):
    """The buffer is full of unconfirmed rows: pause consuming until inserts succeed again."""


@dataclass(frozen=True)
class ErasureMarker:
    key: str  # the journey key (journey.identities: the id)
    request_id: str
    subject: str | None  # journey.identities: "customer" or "anonymous"
    offset: int


@dataclass
class Batch:
    topic: str
    partition: int
    opened_at: float
    records: list[Row] = field(default_factory=list)
    erasure: ErasureMarker | None = None  # instead of records: delete the key's rows

    @property
    def first_offset(self) -> int:
        return self.erasure.offset if self.erasure else self.records[0][2]

    @property
    def last_offset(self) -> int:
        return self.erasure.offset if self.erasure else self.records[-1][2]

    @property
    def size(self) -> int:
        return 1 if self.erasure else len(self.records)

    @property
    def token(self) -> str:
        return (
            f"{self.topic}/{self.partition}/erasure-{self.last_offset}"
            if self.erasure
            else dedup_token(self.topic, self.records)
        )

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
    buffered_rows: int = 0  # in open and in-flight batches (counted: asked on every add)

    def add(self, topic: str, partition: int, offset: int, record: dict[str, Any], now: float) -> None:
        if self.buffered_rows >= self.max_buffered:
            raise SinkBackpressure(f"{self.buffered_rows} rows wait for ClickHouse (max_buffered {self.max_buffered})")
        batch = self.open.get((topic, partition))
        if batch is None:
            batch = self.open[(topic, partition)] = Batch(topic, partition, now)
        batch.records.append((record, partition, offset))
        self.buffered_rows += 1

    def add_erasure(self, topic: str, partition: int, marker: ErasureMarker, now: float) -> None:
        """After the partition's rows so far (its open batch goes in flight first)."""
        batch = self.open.pop((topic, partition), None)
        if batch is not None:
            self.in_flight.append(batch)
        self.in_flight.append(Batch(topic, partition, now, erasure=marker))
        self.buffered_rows += 1

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
        self.buffered_rows -= batch.size
        return batch.commit_offset

    def retry(self) -> list[Batch]:
        """Unconfirmed batches, oldest first, to insert again with their same tokens."""
        return list(self.in_flight)


class RowsRejected(Exception):
    """ClickHouse refused the data itself (a value out of range, a wrong type), not because it is
    unavailable: inserting the same rows again cannot succeed."""


def insert_splitting(rows: list[Row], insert: Callable[[list[Row]], None]) -> list[tuple[Row, str]]:
    """Insert `rows`; when `insert` raises RowsRejected, insert each half on its own, down to single
    rows, and return the rejected rows with ClickHouse's reason (they go to the dead-letter topic).

    Any other exception propagates: ClickHouse is unavailable and the caller retries the batch.
    The halves are fixed by the batch, so a retried split gets the same dedup tokens.
    """
    try:
        insert(rows)
    except RowsRejected as rejected:
        if len(rows) == 1:
            return [(rows[0], str(rejected))]
        middle = len(rows) // 2
        return insert_splitting(rows[:middle], insert) + insert_splitting(rows[middle:], insert)
    return []
