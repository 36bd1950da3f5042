"""The stream worker: stage 1 (`ingest`, touchpoints → stitched) and stage 2 (`journeys`,
stitched → journey.*) as thin shells around the pure logic in streams/, run by one consumer loop
(streams/group_loop.py, where the commit order is), plus the tick timer and the web views.

Scale out by running more workers with the same `worker.app_id`: the group spreads the
partitions of both topics; a partition's state moves with it through its changelog.
"""

from __future__ import annotations

import functools
import logging
import signal
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson
from confluent_kafka import TIMESTAMP_NOT_AVAILABLE, Message

from journey.config import Settings
from journey.schemas.touchpoint import InvalidTouchpoint, check_event_time, parse_touchpoint
from journey.streams import metrics
from journey.streams.codec import StateFormatError, decode_ingest_state, decode_state, encode_ingest_state
from journey.streams.erasure import (
    MARKER_HEADER,
    SUBJECT_HEADER,
    ErasureFormatError,
    ErasureRequest,
    erasure_targets,
    is_erasure_request,
    parse_erasure_request,
)
from journey.streams.group_loop import GroupLoop, Timer, TopicHandler
from journey.streams.identity import Conflict, Duplicate, IngestState, Linked, Stitched, anonymous_journey_key, ingest
from journey.streams.journey import (
    DuplicateEvent,
    EnrichedTouchpoint,
    Erased,
    Forward,
    FrictionSignal,
    Handoff,
    JourneyRules,
    JourneyStageTransition,
    SessionRecord,
)
from journey.streams.kafka_output import KafkaOutput, OutputBatch
from journey.streams.lag import LagReporter
from journey.streams.messages import (
    AbsorbMessage,
    EraseMessage,
    HandoffMessage,
    MessageFormatError,
    SourceIdleMessage,
    SourceProgressMessage,
    SourceStamp,
    StitchedMessage,
    TouchpointMessage,
    decode_messages,
    encode_bundles,
    encode_message,
)
from journey.streams.murmur2 import key_partition
from journey.streams.partition import NO_WATERMARK, JourneyPartition
from journey.streams.privacy import Protection
from journey.streams.records import (
    dead_letter_record,
    friction_record,
    identity_record,
    session_record,
    stage_transition_record,
    touchpoint_record,
)
from journey.streams.sessions import new_session_id
from journey.streams.source_clock import SourceClock
from journey.streams.state_table import StateTable
from journey.streams.ticks import Ticks
from journey.streams.timeutil import to_ms
from journey.topics import (
    DEAD_LETTER,
    INGEST_STATE_TABLE,
    JOURNEY_FRICTION,
    JOURNEY_IDENTITIES,
    JOURNEY_SESSIONS,
    JOURNEY_STAGES,
    JOURNEY_STATE_TABLE,
    JOURNEY_TOUCHPOINTS,
    STATE_TABLES,
    STITCHED,
    TOUCHPOINTS,
    changelog_topic,
    create_topics,
)

if TYPE_CHECKING:
    from clickhouse_connect.driver.client import Client

log = logging.getLogger("journey.worker")

READY = "worker ready"  # the line tests, the demo and the benchmarks wait for

# Table keys under which each partition keeps its progress; control characters cannot appear in a
# journey or partition key (schemas.touchpoint.IDENTIFIER_PATTERN): no collision.
WATERMARK_KEY = "\x00watermark:{partition}"
SOURCE_CLOCK_KEY = "\x00source-watermark:{partition}"  # its SourceClock (0.2.0: its newest event time)
# After the last record whose outputs were delivered: a jump means records lost or out of order.
SOURCE_OFFSET_KEY = "\x00source-next-offset:{partition}"
STITCHED_OFFSET_KEY = "\x00stitched-next-offset:{partition}"

LOG_LEVELS = {"crit": logging.CRITICAL, "error": logging.ERROR, "warn": logging.WARNING, "info": logging.INFO,
              "debug": logging.DEBUG}  # fmt: skip


def _unreadable(table: str, key: bytes, error: Exception, fresh: Any) -> Any:
    """A state another worker version wrote: start that key afresh, loudly, rather than stall the
    partition in a crash loop. Events are not lost (they stay in Kafka); accumulated state is.
    Upgrades that change the state format need `worker.app_id` changed or the changelogs reset
    (docs/operations.md)."""
    metrics.STATE_ERRORS.labels(table).inc()
    log.error("%s: cannot read the state of %r (%s); starting it afresh", table, key, error)
    return fresh


class JourneyWorker:
    """The stages for the given settings; `run()` runs them until SIGTERM or Ctrl-C."""

    def __init__(self, settings: Settings, *, with_sink: bool = False) -> None:
        self.settings = settings
        w, t = settings.worker, settings.topics
        self.touchpoints_topic = t.name(TOUCHPOINTS)
        self.stitched_topic = t.name(STITCHED)
        self.dead_letter_topic = t.name(DEAD_LETTER)
        self.out_touchpoints, self.out_sessions = t.name(JOURNEY_TOUCHPOINTS), t.name(JOURNEY_SESSIONS)
        self.out_stages, self.out_friction = t.name(JOURNEY_STAGES), t.name(JOURNEY_FRICTION)
        self.out_identities = t.name(JOURNEY_IDENTITIES)
        state_dir = w.data_dir.resolve() / "state"
        self.ingest_table = StateTable(INGEST_STATE_TABLE, changelog_topic(settings, INGEST_STATE_TABLE), w.store,
                                       state_dir, settings.kafka, w.rocksdb_memory_mb)  # fmt: skip
        self.journey_table = StateTable(JOURNEY_STATE_TABLE, changelog_topic(settings, JOURNEY_STATE_TABLE), w.store,
                                        state_dir, settings.kafka, w.rocksdb_memory_mb)  # fmt: skip

        self.output = KafkaOutput(settings.kafka, t.dlq_max_message_bytes)  # outputs and changelog records
        self.rules = JourneyRules.from_settings(settings)
        self.time_limits = (settings.contract.max_future, settings.contract.max_age)
        self.protection = Protection.from_settings(settings.privacy)
        self.partitions: dict[int, JourneyPartition] = {}  # stage-2 processors, created on first use
        self.active_sessions = 0
        self.stitched_next_offset: dict[int, int] = {}  # stage-2 partition -> offset after the last one processed
        self.source_clocks: dict[int, SourceClock] = {}  # stage-1 partition -> its event-time progress and holds
        self.source_next_offset: dict[int, int] = {}  # stage-1 partition -> offset after the last one processed
        self.ticks = Ticks(w.source_idle_s, w.tick_interval_s)

        self.loop = GroupLoop(
            settings,
            [TopicHandler(self.touchpoints_topic, self._ingest_batch, self.ingest_table.assign, self._source_revoked),
             TopicHandler(self.stitched_topic, self._journeys_batch, self.journey_table.assign, self._stitched_revoked)],
            [Timer(w.tick_interval_s, self._tick)],
        )  # fmt: skip
        self.lag = LagReporter(settings, w.lag_interval_s, self._report_lag)
        metrics.export_zero_series(settings.friction.flows)
        self.sink_thread = None
        self.report_client: Client | None = None  # the web views' own ClickHouse connection
        if with_sink:  # `journey run`: the sink on a thread of this process
            from journey.sinks.in_worker import SinkThread

            self.sink_thread = SinkThread(settings)

    def _source_revoked(self, partition: int) -> None:
        """A partition taken away may come back changed by another worker: drop what this one kept
        of it; the changelog has it."""
        self.source_clocks.pop(partition, None)
        self.source_next_offset.pop(partition, None)
        self.ticks.forget_source(partition)
        self.ingest_table.revoke(partition)

    def _stitched_revoked(self, partition: int) -> None:
        self.partitions.pop(partition, None)
        self.stitched_next_offset.pop(partition, None)
        self.ticks.forget_stitched(partition)
        self.journey_table.revoke(partition)

    # -- stage 1 -----------------------------------------------------------------------------
    def _ingest_batch(self, messages: list[Message]) -> None:
        with metrics.BATCH_SECONDS.labels("ingest").time():
            self._ingest(messages)

    def _ingest(self, messages: list[Message]) -> None:
        out = self.output.batch()
        stitched: dict[int, list[bytes]] = defaultdict(list)  # destination partition -> encoded messages
        touched: dict[tuple[int, bytes], IngestState] = {}  # (partition, key) -> state
        erased: set[tuple[int, bytes]] = set()  # (partition, key) of states deleted by an erasure request
        moves = self.output.batch(track_offsets=True)  # records moved to their key's partition
        read: set[int] = set()  # partitions with a record in the batch
        moved_from: set[int] = set()  # ... with a record moved to its key's partition
        now = time.time()
        released = self._release_holds(self.source_next_offset)  # every batch before this one is delivered
        for message in messages:
            partition, value = message.partition(), message.value() or b""
            self._check_contiguous(TOUCHPOINTS, self.ingest_table, SOURCE_OFFSET_KEY, self.source_next_offset, message)
            read.add(partition)  # read up to here, whatever the record turns out to be
            if is_erasure_request(message.headers()):
                self._erasure_request(message, out, stitched, touched, erased)
                continue
            try:
                touchpoint = parse_touchpoint(value)
                published_type, published_ms = message.timestamp()
                if published_type != TIMESTAMP_NOT_AVAILABLE:
                    check_event_time(touchpoint, datetime.fromtimestamp(published_ms / 1000, UTC), *self.time_limits)
            except InvalidTouchpoint as error:
                self._dead_letter(message, error.reason, error.message, error.errors, out)
                continue
            key = touchpoint.partition_key.encode()
            placed = key_partition(touchpoint.partition_key, self.settings.topics.partitions)  # every topic has as many
            if message.key() != key or partition != placed:
                # Not keyed, or not placed, as the contract says (murmur2 of the key): a key's ingest
                # state lives on one partition, so move it there, whatever placed it; this partition's
                # progress is held at its event time until it is processed there (streams/source_clock.py).
                metrics.EVENTS.labels("ingest", "misrouted").inc()
                moves.send(self.touchpoints_topic, key, value, placed)
                clock = self._clock(partition)
                clock.moved(placed, to_ms(touchpoint.occurred_at))
                clock.read_at_s = now
                self.ticks.source_event(partition, now)
                if partition not in moved_from:  # stage 2 may hold this source idle: tell it the held progress
                    moved_from.add(partition)
                    told = encode_message(SourceProgressMessage(SourceStamp(partition, clock.stamp_ms)))
                    for destination in range(self.settings.topics.partitions):
                        stitched[destination].append(told)
                continue
            touchpoint = self.protection.protect(touchpoint)  # nothing downstream sees personal data
            key = touchpoint.partition_key.encode()
            fresh = (partition, key) in erased  # erased earlier in this batch: starts afresh
            state = touched.get((partition, key)) or (IngestState() if fresh else self._load_ingest(partition, key))
            touched[(partition, key)] = state
            stamp = self._stamp(partition, touchpoint.occurred_at)
            self.ticks.source_event(partition, now)
            self._clock(partition).read_at_s = now
            for output in ingest(state, touchpoint, self.settings.identity):
                self._route_ingest_output(output, stamp, out, stitched)
        self._send_bundles(out, stitched)
        out.delivered()
        moves.delivered()
        landed = {p: offset for (_, p), offset in moves.last_offsets.items()}
        for partition in read:
            self._clock(partition).moves_delivered(landed)
        moved_on = read | set(released)  # a hold released at the batch's start lets the progress move on too
        progress = {p: self._clock(p).stamp_ms for p in moved_on if self._clock(p).newest_ms != NO_WATERMARK}
        states = self.output.batch(track_offsets=True)
        for (partition, key), state in touched.items():
            self.ingest_table.send(states, partition, key, encode_ingest_state(state))
        for partition, key in erased - touched.keys():
            self.ingest_table.send(states, partition, key, None)
        for partition in read:
            self.ingest_table.send(states, partition, SOURCE_CLOCK_KEY.format(partition=partition).encode(),
                                   orjson.dumps(self._clock(partition).snapshot()))  # fmt: skip
            self.ingest_table.send(states, partition, SOURCE_OFFSET_KEY.format(partition=partition).encode(),
                                   orjson.dumps(self.source_next_offset[partition]))  # fmt: skip
        states.delivered()
        self.ingest_table.apply(states)
        self.ticks.source_progress_delivered(progress)

    def _dead_letter(self, message: Message, reason: str, explanation: str, errors: list, out: OutputBatch) -> None:
        metrics.EVENTS.labels("ingest", "invalid").inc()
        original, original_key, redacted = self.protection.redact_record(message.value() or b"", message.key())
        record = dead_letter_record(
            reason=reason, message=explanation, errors=errors, topic=message.topic(),
            partition=message.partition(), offset=message.offset(), key=original_key, original=original,
            max_bytes=self.settings.topics.dlq_max_message_bytes, redacted=redacted,
        )  # fmt: skip
        out.send(self.dead_letter_topic, original_key, record)

    def _erasure_request(
        self, message: Message, out: OutputBatch, stitched: dict[int, list[bytes]],
        touched: dict[tuple[int, bytes], IngestState], erased: set[tuple[int, bytes]],
    ) -> None:  # fmt: skip
        """Delete the key's ingest state and tell the journey and the identity links, in order with
        the key's events (streams/erasure.py)."""
        try:
            request: ErasureRequest = parse_erasure_request(message.value())
        except ErasureFormatError as error:
            self._dead_letter(message, "erasure_request", str(error), [], out)
            return
        if message.key() != request.partition_key.encode():  # as for events: to its key's partition
            metrics.EVENTS.labels("ingest", "misrouted").inc()
            out.send(self.touchpoints_topic, request.partition_key.encode(), message.value(), headers=request.headers())
            return
        metrics.ERASURES.labels("ingest").inc()
        customer = None if request.customer_id is None else self.protection.journey_key_of(request.customer_id)
        targets = erasure_targets(request, customer)
        state_key = (message.partition(), targets.state_key.encode())
        touched.pop(state_key, None)
        erased.add(state_key)
        out.send(self.out_identities, targets.state_key.encode(), None,
                 headers=[(MARKER_HEADER, request.request_id.encode()), (SUBJECT_HEADER, request.subject.encode())])  # fmt: skip
        for journey_key, markers in targets.journeys:
            erase = EraseMessage(journey_key, request.request_id, markers, request.index, message.partition(),
                                 targets.senders)  # fmt: skip
            stitched[self._stitched_partition(journey_key)].append(encode_message(erase))

    def _check_contiguous(
        self, label: str, table: StateTable, key_format: str, next_offsets: dict[int, int], message: Message
    ) -> None:
        """Each input partition is read offset after offset, across restarts and rebalances: a
        record after a gap means records lost (committed without being processed, or deleted by
        retention before they were read) or out of order. Count and log it (docs/reliability.md);
        then read on from it."""
        partition, offset = message.partition(), message.offset()
        expected = next_offsets.get(partition)
        if expected is None:
            stored = table.get(partition, key_format.format(partition=partition).encode())
            expected = None if stored is None else orjson.loads(stored)
        if expected is not None and offset > expected:
            metrics.OFFSET_GAPS.labels(label).inc(offset - expected)
            log.error("%s[%d]: offset %d read before %d to %d (out of order, or committed without being processed)",
                      message.topic(), partition, offset, expected, offset - 1)  # fmt: skip
        next_offsets[partition] = offset + 1

    def _clock(self, partition: int) -> SourceClock:
        """The source partition's event-time progress and holds (kept across restarts)."""
        clock = self.source_clocks.get(partition)
        if clock is None:
            stored = self.ingest_table.get(partition, SOURCE_CLOCK_KEY.format(partition=partition).encode())
            clock = self.source_clocks[partition] = SourceClock.restore(
                None if stored is None else orjson.loads(stored)
            )
            if clock.read_at_s is not None:
                self.ticks.last_read(partition, clock.read_at_s)
        return clock

    def _stamp(self, partition: int, occurred_at: Any) -> SourceStamp:
        """The source partition's progress told with this event: the newest event read, held below
        any record moved from here and not yet processed on its key's partition."""
        clock = self._clock(partition)
        clock.read(to_ms(occurred_at))
        return SourceStamp(partition, clock.stamp_ms)

    def _release_holds(self, processed: dict[int, int]) -> list[int]:
        """Release the owned sources' holds on records their key's partition has processed
        (`processed`: partition -> next offset); the sources whose told progress may move on."""
        return [p for p, clock in self.source_clocks.items() if clock.holds and clock.release(processed)]

    def _load_ingest(self, partition: int, key: bytes) -> IngestState:
        raw = self.ingest_table.get(partition, key)
        if raw is None:
            return IngestState()
        try:
            return decode_ingest_state(raw)
        except StateFormatError as error:
            return _unreadable(INGEST_STATE_TABLE, key, error, IngestState())

    def _route_ingest_output(
        self, output: Stitched | Duplicate | Linked | Conflict, stamp: SourceStamp, out: OutputBatch,
        stitched: dict[int, list[bytes]],
    ) -> None:  # fmt: skip
        match output:
            case Stitched(journey_key, customer_id, event, awaits_handoff):
                metrics.EVENTS.labels("ingest", "valid").inc()
                message = TouchpointMessage(journey_key, customer_id, event, awaits_handoff, stamp)
                stitched[self._stitched_partition(journey_key)].append(encode_message(message))
            case Duplicate():
                metrics.EVENTS.labels("ingest", "duplicate").inc()
            case Linked(anonymous_id, customer_id, linked_at_ms, _, new):
                metrics.IDENTITY_LINKS.labels("link").inc()
                out.send(self.out_identities, anonymous_id.encode(), identity_record(output))
                if new:
                    anonymous_key = anonymous_journey_key(anonymous_id)
                    absorb = AbsorbMessage(anonymous_key, customer_id, linked_at_ms, stamp)
                    stitched[self._stitched_partition(anonymous_key)].append(encode_message(absorb))
            case Conflict(anonymous_id, kept, claimed, _):
                metrics.IDENTITY_LINKS.labels("conflict").inc()
                log.warning(
                    "identity conflict: %s is linked to %s, %s claimed it; first link kept", anonymous_id, kept, claimed
                )
                out.send(self.out_identities, anonymous_id.encode(), identity_record(output))

    def _stitched_partition(self, journey_key: str) -> int:
        return key_partition(journey_key, self.settings.topics.partitions)

    journey_partition = _stitched_partition  # the stitched partition (and worker) that keeps a journey

    def _send_bundles(self, out: OutputBatch, stitched: dict[int, list[bytes]]) -> None:
        for partition, encoded in sorted(stitched.items()):
            for bundle in encode_bundles(encoded, self.settings.worker.max_bundle_bytes):
                out.send(self.stitched_topic, None, bundle, partition)

    # -- stage 2 -----------------------------------------------------------------------------
    def _journeys_batch(self, messages: list[Message]) -> None:
        with metrics.BATCH_SECONDS.labels("journeys").time():
            self._journeys(messages)

    def _journeys(self, records: list[Message]) -> None:
        by_partition: dict[int, list[StitchedMessage]] = defaultdict(list)
        for record in records:
            self._check_contiguous(STITCHED, self.journey_table, STITCHED_OFFSET_KEY, self.stitched_next_offset, record)
            try:
                by_partition[record.partition()].extend(decode_messages(record.value()))
            except MessageFormatError as error:  # an internal topic: only a bug writes garbage here
                log.error("undecodable message on %s at offset %s: %s", record.topic(), record.offset(), error)
        out = self.output.batch()
        stitched: dict[int, list[bytes]] = defaultdict(list)
        writes: list[tuple[int, bytes, bytes]] = []
        now = time.time()
        for partition in sorted({record.partition() for record in records}):
            items = by_partition.get(partition, [])
            processor = self._partition(partition)
            result = processor.process(items, functools.partial(self._load_journey, partition))
            for output in result.outputs:
                self._route_journey_output(output, now, out, stitched)
            if any(isinstance(m, TouchpointMessage) and m.source is not None for m in items):
                self.ticks.stitched_event(partition, now)
            writes.extend((partition, key.encode(), encoded) for key, encoded in result.stored.items())
            watermarks = orjson.dumps(
                [processor.watermark_ms, processor.event_watermark_ms,
                 {str(p): wm for p, wm in processor.source_watermarks.items()}, sorted(processor.idle_sources)]
            )  # fmt: skip
            writes.append((partition, WATERMARK_KEY.format(partition=partition).encode(), watermarks))
            writes.append((partition, STITCHED_OFFSET_KEY.format(partition=partition).encode(),
                           orjson.dumps(self.stitched_next_offset[partition])))  # fmt: skip
            metrics.WATERMARK.labels(str(partition)).set(max(processor.watermark_ms, 0) / 1000)
        self._send_bundles(out, stitched)
        out.delivered()
        states = self.output.batch(track_offsets=True)
        for partition, key, value in writes:
            self.journey_table.send(states, partition, key, value)
        states.delivered()
        self.journey_table.apply(states)
        self.active_sessions = sum(p.open_sessions for p in self.partitions.values())
        metrics.ACTIVE_SESSIONS.set(self.active_sessions)

    def load_journey(self, key: str):
        """A journey's stored state (the web view; None when unknown or not kept here)."""
        return self._load_journey(self._stitched_partition(key), key)

    def _load_journey(self, partition: int, key: str):
        raw = self.journey_table.get(partition, key.encode())
        if raw is None:
            return None
        try:
            return decode_state(raw)
        except StateFormatError as error:
            return _unreadable(JOURNEY_STATE_TABLE, key.encode(), error, None)

    def _partition(self, partition: int) -> JourneyPartition:
        """The partition's processor; on first use after a start or rebalance, restore its
        watermarks and find its journeys with open sessions in the restored table."""
        processor = self.partitions.get(partition)
        if processor is None:
            processor = JourneyPartition(self.rules, source_partitions=self.settings.topics.partitions,
                                         cached_state_bytes=self.settings.worker.cached_state_mb_per_partition << 20)  # fmt: skip
            stored = self.journey_table.get(partition, WATERMARK_KEY.format(partition=partition).encode())
            if stored is not None:
                processor.watermark_ms, processor.event_watermark_ms, sources, idle = orjson.loads(stored)
                processor.source_watermarks = {int(p): wm for p, wm in sources.items()}
                processor.idle_sources = set(idle)
            keys = [key.decode() for key in self.journey_table.keys(partition) if not key.startswith(b"\x00")]
            states = [s for s in (self._load_journey(partition, key) for key in keys) if s is not None]
            processor.rebuild_index(states)
            self.partitions[partition] = processor
            self.ticks.stitched_assigned(partition, time.time())
        return processor

    def _route_journey_output(
        self, output: object, now: float, out: OutputBatch, stitched: dict[int, list[bytes]]
    ) -> None:
        match output:
            case EnrichedTouchpoint(journey_key, _, session_id, _, late, event):
                metrics.EVENTS.labels("journeys", "late" if late else "valid").inc()
                metrics.EVENT_TIME_LAG.observe(max(0.0, now - event.occurred_at.timestamp()))
                if session_id == new_session_id(str(event.event_id)):
                    metrics.SESSIONS_OPENED.inc()
                out.send(self.out_touchpoints, journey_key.encode(), touchpoint_record(output))
            case SessionRecord(journey_key, _, _, _, reason):
                metrics.SESSIONS_CLOSED.labels(reason).inc()
                out.send(self.out_sessions, journey_key.encode(), session_record(output))
            case JourneyStageTransition(journey_key, _, transition, _):
                metrics.STAGE_TRANSITIONS.labels(transition.to_stage).inc()
                out.send(self.out_stages, journey_key.encode(), stage_transition_record(output))
            case FrictionSignal(journey_key, _, _, signal):
                if signal.version == 1:
                    metrics.FRICTION_SIGNALS.labels(signal.kind, signal.severity).inc()
                    if signal.kind == "abandonment":
                        metrics.ABANDONMENTS.labels(signal.flow or "", signal.step or "").inc()
                elif signal.kind == "abandonment":
                    metrics.RECOVERIES.labels(signal.flow or "").inc()
                out.send(self.out_friction, journey_key.encode(), friction_record(output))
            case DuplicateEvent():
                metrics.EVENTS.labels("journeys", "duplicate").inc()
            case Forward(journey_key, customer_id, event, forwarded_from, erasure):
                message = TouchpointMessage(journey_key, customer_id, event, None, None, forwarded_from, erasure)
                stitched[self._stitched_partition(journey_key)].append(encode_message(message))
            case Handoff(to_journey_key):
                stitched[self._stitched_partition(to_journey_key)].append(encode_message(HandoffMessage(output)))
            case Erased(journey_key, request_id):
                # A marker behind the journey's rows in each topic: the sink deletes what came before it.
                metrics.ERASURES.labels("journeys").inc()
                marker = [(MARKER_HEADER, request_id.encode())]
                for topic in (self.out_touchpoints, self.out_sessions, self.out_friction, self.out_stages):
                    out.send(topic, journey_key.encode(), None, headers=marker)

    # -- ticks -------------------------------------------------------------------------------
    def _tick(self) -> None:
        """Sends what moves time on without events (streams/ticks.py says what and why)."""
        now = time.time()
        for table in (self.ingest_table, self.journey_table):
            metrics.STATE_BYTES.labels(table.name).set(table.live_bytes())
        owned = self.loop.assigned(self.touchpoints_topic)
        self._release_remote_holds(owned)  # (loads the owned partitions' clocks: where silence counts from)
        for partition in self._caught_up(self.ticks.silent_sources(owned, now)):
            clock = self._clock(partition)
            if clock.newest_ms == NO_WATERMARK:  # never had an event: nothing to move on from
                self._broadcast(SourceIdleMessage(partition))
                self.ticks.announced(partition)
            elif (heartbeat := self.ticks.silent_progress(partition, clock.stamp_ms, now)) is not None:
                self.ticks.source_silent(partition, *heartbeat)  # moves on with the wall clock, told below
        for progress in self.ticks.progress_to_tell(owned):
            self._broadcast(progress)
        for partition in self.loop.assigned(self.stitched_topic):
            processor = self.partitions.get(partition)
            tick = None if processor is None else self.ticks.tick_due(partition, processor, now)
            if tick is not None:
                out = self.output.batch()
                out.send(self.stitched_topic, None, encode_message(tick), partition)
                out.delivered()

    def _broadcast(self, message: StitchedMessage) -> None:
        """To every stitched partition, after everything stage 1 sent before it."""
        body, out = encode_message(message), self.output.batch()
        for partition in range(self.settings.topics.partitions):
            out.send(self.stitched_topic, None, body, partition)
        out.delivered()

    def _release_remote_holds(self, owned: list[int]) -> None:
        """Holds on records moved to partitions this worker does not read are released by the
        group's committed offsets there (a commit follows the delivery of their outputs)."""
        elsewhere = {d for p in owned for d in self._clock(p).destinations()} - set(self.source_next_offset)
        processed = dict(self.source_next_offset)
        if elsewhere:
            try:
                processed.update({d: resume for d, (resume, _) in
                                  self.loop.progress(self.touchpoints_topic, sorted(elsewhere)).items()})  # fmt: skip
            except Exception as error:  # noqa: BLE001 - unknown: held, ask again next tick
                log.warning("could not read the touchpoints partitions' offsets: %s", error)
        released = self._release_holds(processed)
        self.ticks.source_progress_delivered({p: self._clock(p).stamp_ms for p in released})

    def _caught_up(self, partitions: list[int]) -> list[int]:
        """Those touchpoints partitions whose every record was processed and its outputs delivered:
        here (`source_next_offset`), or, before this worker's first record of one since it got it,
        as far as the group committed (an empty partition counts as read). A partition announced
        idle with a backlog would make its events late everywhere."""
        if not partitions:
            return []
        try:
            progress = self.loop.progress(self.touchpoints_topic, partitions)
        except Exception as error:  # noqa: BLE001 - unknown: not idle, ask again next tick
            log.warning("could not read the touchpoints partitions' offsets: %s", error)
            return []
        return [p for p in partitions
                if self.source_next_offset.get(p, progress[p][0]) >= progress[p][1] and self._clock(p).settled]  # fmt: skip

    @staticmethod
    def _report_lag(lag: dict[str, int]) -> None:
        for consumer, records in lag.items():
            metrics.CONSUMER_LAG.labels(consumer).set(records)

    # -- lifecycle -------------------------------------------------------------------------------
    def run(self, loglevel: str = "info") -> None:
        """Serve, consume until SIGTERM or Ctrl-C (the batch in hand is finished and committed),
        then stop the sink (it catches up first) and leave."""
        from journey.streams.web import WebServer
        from journey.streams.worker_views import routes

        logging.basicConfig(level=LOG_LEVELS.get(loglevel, logging.INFO), stream=sys.stdout,
                            format="[%(asctime)s] [%(process)d] [%(levelname)s] %(name)s: %(message)s")  # fmt: skip
        self._ensure_topics()
        w = self.settings.worker
        web = WebServer(w.web_host, w.web_port, routes(self))
        web.start()
        self.lag.start()
        if self.sink_thread is not None:
            self.sink_thread.start()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: self.loop.stop())
        ready = f"{READY}: group {w.app_id}, web on http://{w.web_host}:{w.web_port}"
        try:
            self.loop.run(on_ready=lambda: print(ready, flush=True))
        finally:
            self.lag.stop()
            if self.sink_thread is not None:
                self.sink_thread.stop()
            web.stop()
            self.ingest_table.close()
            self.journey_table.close()
            log.info("stopped")

    def _ensure_topics(self) -> None:
        """Create missing topics, state changelogs included (idempotent); refuse to start on a
        changelog whose partitions differ from its input's."""
        try:
            report = create_topics(self.settings)
        except Exception as error:  # noqa: BLE001 - go on: where credentials may not create topics, an operator did
            log.warning("could not check or create the topics (%s); `journey topics create` does it", error)
            return
        for table in STATE_TABLES:
            changelog = changelog_topic(self.settings, table)
            if changelog in report.other_partitions:
                raise SystemExit(
                    f"cannot start: {changelog} has {report.other_partitions[changelog]} partitions, configured "
                    f"{self.settings.topics.partitions}. Use another worker.app_id, or recreate that topic."
                )
        for warning in report.warnings:
            log.warning("topics: %s", warning)
