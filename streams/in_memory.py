"""Stages 1 and 2 wired together without Kafka: the routing the worker does, in memory.

Source partitions (stage 1 input, keyed by the publisher's key) and stitched partitions (stage 2,
keyed by journey_key) are modelled as Kafka has them: per-partition order, nothing across
partitions. Every stitched message goes through the wire format, in bundles per destination
partition as the worker sends what one read of a partition caused (`bundle_bytes` at most each).
Handoffs and forwards are appended to the stitched partition of their key, as the worker sends
them, and read whenever that partition is read next. Used by the property tests and the pure-core benchmark.

- `run` is the simple path: every event through stage 1, then stage 2 in the given batch cuts.
- `run_interleaved` is a catch-up as a worker meets it: a seeded random schedule picks which
  source or stitched partition is read next and how much of it, and sends the timer's source
  progress broadcasts and ticks between.
- `run_trickle` delivers one event at a time and lets everything settle before the next.
"""

from __future__ import annotations

import random
import zlib
from collections import defaultdict, deque

from journey.config import IdentitySettings
from journey.schemas.touchpoint import Touchpoint
from journey.streams.codec import decode_state
from journey.streams.erasure import ErasureRequest, erasure_targets
from journey.streams.identity import IngestState, Linked, Stitched, anonymous_journey_key, ingest
from journey.streams.journey import NO_WATERMARK, Forward, Handoff, JourneyRules
from journey.streams.messages import (
    AbsorbMessage,
    EraseMessage,
    HandoffMessage,
    SourceIdleMessage,
    SourceProgressMessage,
    SourceStamp,
    StitchedMessage,
    TickMessage,
    TouchpointMessage,
    decode_messages,
    encode_bundles,
    encode_message,
)
from journey.streams.partition import JourneyPartition
from journey.streams.timeutil import to_ms


def partition_of(key: str, partitions: int) -> int:
    return zlib.crc32(key.encode()) % partitions


class InMemoryPipeline:
    def __init__(
        self,
        rules: JourneyRules,
        identity: IdentitySettings | None = None,
        *,
        sources: int = 1,
        partitions: int = 1,
        cached_state_bytes: int = 0,
        bundle_bytes: int = 512 * 1024,
    ) -> None:
        self.rules = rules
        self.identity = identity or rules.identity
        self.sources = sources
        self.bundle_bytes = bundle_bytes
        self.ingest_states: dict[str, IngestState] = defaultdict(IngestState)
        self.source_watermarks = [NO_WATERMARK] * sources  # stamped on stage 1's messages
        self.table: dict[str, bytes] = {}
        self.partitions = [JourneyPartition(rules, source_partitions=sources, cached_state_bytes=cached_state_bytes)
                           for _ in range(partitions)]  # fmt: skip
        self.stitched: list[list[StitchedMessage]] = [[] for _ in range(partitions)]  # the topic's partitions
        self.read = [0] * partitions  # stage 2's position in each
        self.outputs: list = []

    # -- stage 1 ---------------------------------------------------------------------------
    def source_of(self, event: Touchpoint | ErasureRequest) -> int:
        return partition_of(event.partition_key, self.sources)

    def stage1(self, event: Touchpoint | ErasureRequest) -> list[StitchedMessage]:
        if isinstance(event, ErasureRequest):  # as the worker: the key's state goes, the journey is told
            targets = erasure_targets(event, event.customer_id)
            self.ingest_states.pop(targets.state_key, None)
            source = self.source_of(event)
            return [EraseMessage(key, event.request_id, markers, event.index, source, targets.senders)
                    for key, markers in targets.journeys]  # fmt: skip
        source = self.source_of(event)
        self.source_watermarks[source] = max(self.source_watermarks[source], to_ms(event.occurred_at))
        stamp = SourceStamp(source, self.source_watermarks[source])
        messages: list[StitchedMessage] = []
        for output in ingest(self.ingest_states[event.partition_key], event, self.identity):
            if isinstance(output, Stitched):
                messages.append(
                    TouchpointMessage(
                        output.journey_key, output.customer_id, output.event, output.awaits_handoff, stamp
                    )
                )
            elif isinstance(output, Linked) and output.new:
                key = anonymous_journey_key(output.anonymous_id)
                messages.append(AbsorbMessage(key, output.customer_id, output.linked_at_ms, stamp))
        return messages

    def _send(self, message: StitchedMessage, partition: int | None = None) -> None:
        self._send_all([message], partition)

    def _send_all(self, messages: list[StitchedMessage], partition: int | None = None) -> None:
        """Through the wire format: per destination partition, in order, in bundles."""
        encoded: dict[int, list[bytes]] = defaultdict(list)
        for message in messages:
            destination = partition_of(message.journey_key, len(self.partitions)) if partition is None else partition  # type: ignore[union-attr]
            encoded[destination].append(encode_message(message))
        for destination, bodies in encoded.items():
            for bundle in encode_bundles(bodies, self.bundle_bytes):
                self.stitched[destination].extend(decode_messages(bundle))

    def _announce_idle(self, source: int) -> None:
        for partition in range(len(self.partitions)):
            self._send(SourceIdleMessage(source), partition)

    def _broadcast_progress(self, source: int) -> None:
        """A source's progress to every stitched partition, as the worker's timer sends it: a
        partition none of its keys reach still follows it."""
        if self.source_watermarks[source] != NO_WATERMARK:
            for partition in range(len(self.partitions)):
                self._send(SourceProgressMessage(SourceStamp(source, self.source_watermarks[source])), partition)

    # -- stage 2 ---------------------------------------------------------------------------
    def _process(self, partition: int, batch: list[StitchedMessage]) -> None:
        load = lambda k: decode_state(self.table[k]) if k in self.table else None  # noqa: E731
        result = self.partitions[partition].process(batch, load)
        self.table.update(result.stored)
        sent: list[StitchedMessage] = []
        for output in result.outputs:
            if isinstance(output, Handoff):
                sent.append(HandoffMessage(output))
            elif isinstance(output, Forward):
                sent.append(TouchpointMessage(output.journey_key, output.customer_id, output.event, None, None,
                                              output.from_journey_key, output.erasure))  # fmt: skip
            else:
                self.outputs.append(output)
        self._send_all(sent)

    def _read(self, partition: int, most: int) -> bool:
        start = self.read[partition]
        batch = self.stitched[partition][start : start + most]
        self.read[partition] += len(batch)
        if batch:
            self._process(partition, batch)
        return bool(batch)

    def drain(self) -> None:
        """Read every stitched partition to its end, again while handoffs and forwards arrive."""
        while any(self._read(p, len(self.stitched[p])) for p in range(len(self.partitions))):
            pass

    def stage2(self, batch: list[StitchedMessage]) -> None:
        """One batch as the worker reads it (each partition's share at once), then whatever it sent."""
        self._send_all(batch)
        self.drain()

    def tick(self, watermark_ms: int) -> None:
        """A timer tick with this watermark on every stitched partition, then settle."""
        for partition in range(len(self.partitions)):
            self._send(TickMessage(watermark_ms), partition)
        self.drain()

    # -- whole runs ------------------------------------------------------------------------
    def run(
        self,
        events: list[Touchpoint | ErasureRequest],
        batch_sizes: list[int] | None = None,
        tick_ms: int | None = None,
    ) -> list:
        messages = [m for e in events for m in self.stage1(e)]
        sizes = iter(batch_sizes or [len(messages) or 1])
        position = 0
        while position < len(messages):
            size = next(sizes, 1)
            self.stage2(messages[position : position + size])
            position += size
        if tick_ms is not None:  # after the batches drained, as a wall-clock tick would come
            self.tick(tick_ms)
        return self.outputs

    def run_trickle(self, events: list[Touchpoint | ErasureRequest], tick_ms: int | None = None) -> list:
        """One event at a time, everything it causes settled before the next."""
        for event in events:
            self._send_all(self.stage1(event))
            self.drain()
        return self._finish(tick_ms)

    def run_interleaved(
        self, events: list[Touchpoint | ErasureRequest], rng: random.Random, most: int, tick_ms: int | None = None
    ) -> list:
        """A catch-up: all events waiting in their source partitions (in the given order), then a
        random schedule of reads of 1..`most` records from a source or stitched partition, and
        ticks at a partition's event watermark (what the worker's timer sends, less wall time)."""
        queues: list[deque[Touchpoint | ErasureRequest]] = [deque() for _ in range(self.sources)]
        for event in events:
            queues[self.source_of(event)].append(event)
        announced: set[int] = set()
        while True:
            for source, queue in enumerate(queues):
                if not queue and source not in announced:  # caught up: no longer holds watermarks back
                    self._announce_idle(source)
                    announced.add(source)
            readable = [("source", s) for s, q in enumerate(queues) if q]
            readable += [("stitched", p) for p in range(len(self.partitions)) if self.read[p] < len(self.stitched[p])]
            if not readable:
                break
            kind, index = rng.choice(readable)
            count = rng.randint(1, most)
            if kind == "source":
                read = [queues[index].popleft() for _ in range(min(count, len(queues[index])))]
                self._send_all([m for event in read for m in self.stage1(event)])
            else:
                self._read(index, count)
            if rng.random() < 0.05:
                self._broadcast_progress(rng.randrange(self.sources))
            if rng.random() < 0.05:
                partition = rng.randrange(len(self.partitions))
                watermark = self.partitions[partition].event_watermark_ms
                if watermark != NO_WATERMARK:
                    self._send(TickMessage(watermark), partition)
        return self._finish(tick_ms)

    def _finish(self, tick_ms: int | None) -> list:
        for source in range(self.sources):
            self._announce_idle(source)
        self.drain()
        if tick_ms is not None:
            self.tick(tick_ms)
        return self.outputs
