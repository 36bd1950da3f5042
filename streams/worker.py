"""The Faust worker: stage 1 (`ingest`) and stage 2 (`journeys`) as thin shells around the pure
logic in streams/, plus the tick timer and the web views.

Commit order, per batch of each agent (at-least-once stages with idempotent outputs):
  1. decide everything with the pure logic (no I/O);
  2. send every output and wait until Kafka acknowledged all of them;
  3. write each touched key's state to its table once (the changelog);
  4. Faust commits the batch's offsets after the agent body returns.
A crash before 2 completes replays the batch on the old state: identical outputs (deterministic
ids), which the sink drops as duplicates. A crash between 3 and 4 replays on the new state: the
events are known by then and count as duplicates, and their outputs were already delivered.
Nothing is lost and no state counts an event twice.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
import weakref
from collections import defaultdict
from datetime import datetime
from typing import Any

import faust
import orjson
from aiokafka.partitioner import murmur2
from faust.streams import _current_event  # table writes pick the changelog partition from it
from faust.types import EventT
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from journey.config import KafkaSettings, Settings
from journey.lag import partition_progress, pipeline_lag
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
from schemas.touchpoint import InvalidTouchpoint, parse_touchpoint
from streams import metrics
from streams.codec import StateFormatError, decode_ingest_state, decode_state, encode_ingest_state, encode_state
from streams.identity import Conflict, Duplicate, IngestState, Linked, Stitched, anonymous_journey_key, ingest
from streams.journey import (
    DuplicateEvent,
    EnrichedTouchpoint,
    Forward,
    FrictionSignal,
    Handoff,
    JourneyRules,
    JourneyStageTransition,
    SessionRecord,
)
from streams.messages import (
    AbsorbMessage,
    HandoffMessage,
    MessageFormatError,
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
from streams.kafka_output import KafkaOutput, OutputBatch
from streams.partition import NO_WATERMARK, JourneyPartition
from streams.records import (
    dead_letter_record,
    friction_record,
    identity_record,
    session_record,
    stage_transition_record,
    touchpoint_record,
)
from streams.sessions import new_session_id
from streams.timeutil import to_ms

log = logging.getLogger("journey.worker")

# Table keys under which each partition keeps its event-time progress; control characters cannot
# appear in a journey or partition key (schemas.touchpoint.IDENTIFIER_PATTERN): no collision.
WATERMARK_KEY = "\x00watermark:{partition}"
SOURCE_WATERMARK_KEY = "\x00source-watermark:{partition}"
SOURCE_OFFSET_KEY = "\x00source-next-offset:{partition}"  # after the last record whose outputs were delivered


def broker_credentials(kafka: KafkaSettings) -> faust.types.auth.CredentialsT | None:
    import ssl

    context = None
    if kafka.security_protocol in ("SSL", "SASL_SSL"):
        context = ssl.create_default_context(cafile=str(kafka.ssl_ca_location) if kafka.ssl_ca_location else None)
        if kafka.ssl_certificate_location and kafka.ssl_key_location:
            password = kafka.ssl_key_password.get_secret_value() if kafka.ssl_key_password else None
            context.load_cert_chain(str(kafka.ssl_certificate_location), str(kafka.ssl_key_location), password)
    if kafka.security_protocol.startswith("SASL"):
        return faust.SASLCredentials(
            username=kafka.sasl_username,
            password=kafka.sasl_password.get_secret_value() if kafka.sasl_password else None,
            mechanism=kafka.sasl_mechanism,
            ssl_context=context,
        )
    if context is not None:
        return faust.SSLCredentials(context)
    return None


@functools.lru_cache(maxsize=1 << 16)  # aiokafka's murmur2 is pure Python; busy keys repeat
def stitched_partition(journey_key: str, partitions: int) -> int:
    """The partition Kafka's default partitioner gives the key (murmur2): its journey's owner."""
    return (murmur2(journey_key.encode()) & 0x7FFFFFFF) % partitions


def _unreadable(table: str, key: bytes, error: Exception, fresh: Any) -> Any:
    """A state another worker version wrote: start that key afresh, loudly, rather than stall the
    partition in a crash loop. Events are not lost (they stay in Kafka); accumulated state is.
    Upgrades that change the state format need `worker.app_id` changed or the changelogs reset
    (docs/operations.md)."""
    metrics.STATE_ERRORS.labels(table).inc()
    log.error("%s: cannot read the state of %r (%s); starting it afresh", table, key, error)
    return fresh


def _store(table: faust.Table, key: bytes, value: bytes, event: EventT) -> None:
    """Write one table value; its changelog partition is that of `event`, the key's source event."""
    token = _current_event.set(weakref.ref(event))
    try:
        table[key] = value
    finally:
        _current_event.reset(token)


class JourneyWorker:
    """Builds the Faust app for the given settings; `run()` starts a worker process."""

    def __init__(self, settings: Settings, *, with_sink: bool = False) -> None:
        self.settings = settings
        w, t = settings.worker, settings.topics
        data_dir = w.data_dir.resolve()
        data_dir.mkdir(parents=True, exist_ok=True)  # Faust creates only the last level
        self.app = faust.App(
            w.app_id,
            broker=[f"kafka://{server}" for server in settings.kafka.bootstrap_servers.split(",")],
            broker_credentials=broker_credentials(settings.kafka),
            store=w.store,
            datadir=str(data_dir),
            topic_partitions=t.partitions,
            topic_replication_factor=t.replication_factor,
            web_enabled=True,
            web_host=w.web_host,
            web_port=w.web_port,
            producer_acks=-1,
            # A crashed agent must take the process down: Faust acks (and commits) the records of a
            # topic no live agent reads, which would skip them unprocessed.
            agent_supervisor="mode.CrashingSupervisor",
            broker_session_timeout=w.session_timeout_s,
            broker_heartbeat_interval=w.session_timeout_s / 10,
            consumer_auto_offset_reset="earliest",
            key_serializer="raw",
            value_serializer="raw",
            autodiscover=False,
            # No standby copies of other workers' tables: with Faust's default of one, 3 workers on
            # a backfill lost or re-emitted thousands of events in 6 of 7 runs; with none, 5 of 7
            # were exact (docs/decisions.md, "No table standbys"). A worker taking a partition
            # over restores it from the changelog.
            table_standby_replicas=0,
        )
        raw = {"key_type": bytes, "value_type": bytes, "key_serializer": "raw", "value_serializer": "raw"}
        self.source = self.app.topic(t.name(TOUCHPOINTS), partitions=t.partitions, **raw)
        self.stitched = self.app.topic(t.name(STITCHED), partitions=t.partitions, **raw)
        self.dead_letters = self.app.topic(t.name(DEAD_LETTER), partitions=t.partitions, **raw)
        self.out_touchpoints = self.app.topic(t.name(JOURNEY_TOUCHPOINTS), partitions=t.partitions, **raw)
        self.out_sessions = self.app.topic(t.name(JOURNEY_SESSIONS), partitions=t.partitions, **raw)
        self.out_stages = self.app.topic(t.name(JOURNEY_STAGES), partitions=t.partitions, **raw)
        self.out_friction = self.app.topic(t.name(JOURNEY_FRICTION), partitions=t.partitions, **raw)
        self.out_identities = self.app.topic(t.name(JOURNEY_IDENTITIES), partitions=t.partitions, **raw)
        # Tables hold our own compact encoding (streams/codec.py); the app's serializers are raw.
        self.ingest_table = self.app.Table(INGEST_STATE_TABLE, partitions=t.partitions, key_type=bytes, value_type=bytes)
        self.journey_table = self.app.Table(JOURNEY_STATE_TABLE, partitions=t.partitions, key_type=bytes, value_type=bytes)

        self.output = KafkaOutput(settings.kafka)  # every output; Faust's producer writes the changelogs
        self.rules = JourneyRules.from_settings(settings)
        self.partitions: dict[int, JourneyPartition] = {}
        self.last_event_wall: dict[int, float] = {}  # stage-2 partition -> wall time of its last event
        self.source_watermarks: dict[int, int] = {}  # stage-1 partition -> newest event time seen
        self.source_last_wall: dict[int, float] = {}  # stage-1 partition -> its last event (or its assignment), wall time
        self.source_next_offset: dict[int, int] = {}  # stage-1 partition -> offset after the last one processed
        self.source_delivered: dict[int, int] = {}  # stage-1 partition -> progress whose outputs Kafka acked
        self.source_broadcast: dict[int, int] = {}  # stage-1 partition -> progress last told every partition
        self.announced_idle: set[int] = set()

        self.app.agent(self.source, name="ingest")(self._ingest_agent)
        self.app.agent(self.stitched, name="journeys")(self._journeys_agent)
        self.app.timer(w.tick_interval_s)(self._tick)
        self.app.on_partitions_revoked.connect(self._forget_revoked)
        self.app.timer(w.lag_interval_s)(self._measure_lag)
        metrics.export_zero_series(settings.friction.flows)
        self._register_views()
        self.sink_thread = None
        self.report_client = None
        if with_sink:  # `journey run`: the sink on a thread of this process, started with the app
            from sinks.in_worker import SinkThread

            self.sink_thread = SinkThread(settings)
            self.app._extra_services.append(self.sink_thread)  # what @app.service does, for an instance

    async def _forget_revoked(self, app: faust.App, revoked: set[Any], **kwargs: Any) -> None:
        """A partition taken away may come back changed by another worker: drop what this one kept
        of it (the processor with its decoded states, the source's progress); the tables have it."""
        for tp in revoked:
            if tp.topic == self.stitched.get_topic_name():
                self.partitions.pop(tp.partition, None)
            elif tp.topic == self.source.get_topic_name():
                for kept in (self.source_watermarks, self.source_last_wall, self.source_next_offset, self.source_delivered,
                             self.source_broadcast):  # fmt: skip
                    kept.pop(tp.partition, None)
                self.announced_idle.discard(tp.partition)

    # -- stage 1 -----------------------------------------------------------------------------
    async def _ingest_agent(self, stream: faust.StreamT) -> None:
        w = self.settings.worker
        async for events in stream.take_events(w.batch_size, within=w.batch_within_s):
            with metrics.BATCH_SECONDS.labels("ingest").time():
                await self._ingest_batch(events)

    async def _ingest_batch(self, events: list[EventT]) -> None:
        out = self.output.batch()
        stitched: dict[int, list[bytes]] = defaultdict(list)  # destination partition -> encoded messages
        touched: dict[bytes, tuple[IngestState, EventT]] = {}
        last_of_partition: dict[int, EventT] = {}  # its last valid event
        last_read: dict[int, EventT] = {}  # its last record, whatever it turned out to be
        now = time.time()
        for event in events:
            message = event.message
            self._check_contiguous(message)
            # Read up to here, whatever the record turns out to be: a partition whose last record
            # is dead-lettered or re-routed is still caught up (and may be announced idle).
            self.source_next_offset[message.partition] = message.offset + 1
            last_read[message.partition] = event
            try:
                touchpoint = parse_touchpoint(message.value or b"")
            except InvalidTouchpoint as error:
                metrics.EVENTS.labels("ingest", "invalid").inc()
                record = dead_letter_record(
                    reason=error.reason, message=error.message, errors=error.errors, topic=message.topic,
                    partition=message.partition, offset=message.offset, key=message.key, original=message.value or b"",
                )  # fmt: skip
                out.send(self.dead_letters.get_topic_name(), message.key, record)
                continue
            key = touchpoint.partition_key.encode()
            if message.key != key:
                # Not keyed as the contract says: route it to its key's partition, processed there.
                metrics.EVENTS.labels("ingest", "misrouted").inc()
                out.send(self.source.get_topic_name(), key, message.value)
                continue
            state = touched[key][0] if key in touched else self._load_ingest(key)
            touched[key] = (state, event)
            stamp = self._stamp(message.partition, touchpoint.occurred_at)
            last_of_partition[message.partition] = event
            self.source_last_wall[message.partition] = now
            self.announced_idle.discard(message.partition)
            for output in ingest(state, touchpoint, self.settings.identity):
                self._route_ingest_output(output, stamp, out, stitched)
        self._send_bundles(out, stitched)
        progress = {partition: self.source_watermarks[partition] for partition in last_of_partition}
        await out.delivered()
        for key, (state, event) in touched.items():
            _store(self.ingest_table, key, encode_ingest_state(state), event)
        for partition, event in last_of_partition.items():
            self.source_delivered[partition] = progress[partition]
            key = SOURCE_WATERMARK_KEY.format(partition=partition).encode()
            _store(self.ingest_table, key, orjson.dumps(progress[partition]), event)
        for partition, event in last_read.items():
            key = SOURCE_OFFSET_KEY.format(partition=partition).encode()
            _store(self.ingest_table, key, orjson.dumps(event.message.offset + 1), event)

    def _check_contiguous(self, message: Any) -> None:
        """Stage 1 should read each touchpoints partition offset after offset, across restarts and
        rebalances. A record after a gap means Faust delivered a later record first (records
        fetched before a rebalance), or committed past records that never reached this stage
        (it acks records it skips during a rebalance; retention deletes unread ones). The first
        makes events late, the second loses them: count and log it (docs/reliability.md)."""
        expected = self.source_next_offset.get(message.partition)
        if expected is None:
            stored = self.ingest_table.get(SOURCE_OFFSET_KEY.format(partition=message.partition).encode())
            expected = None if stored is None else orjson.loads(stored)
        if expected is not None and message.offset > expected:
            metrics.OFFSET_GAPS.labels("touchpoints").inc(message.offset - expected)
            log.error("%s[%d]: offset %d read before %d to %d (out of order, or committed without being processed)",
                      message.topic, message.partition, message.offset, expected, message.offset - 1)  # fmt: skip

    def _stamp(self, partition: int, occurred_at: Any) -> SourceStamp:
        """The source partition's event-time progress, including this event (kept across restarts)."""
        if partition not in self.source_watermarks:
            stored = self.ingest_table.get(SOURCE_WATERMARK_KEY.format(partition=partition).encode())
            self.source_watermarks[partition] = NO_WATERMARK if stored is None else orjson.loads(stored)
        progress = max(self.source_watermarks[partition], to_ms(occurred_at))
        self.source_watermarks[partition] = progress
        return SourceStamp(partition, progress)

    def _load_ingest(self, key: bytes) -> IngestState:
        raw = self.ingest_table.get(key)
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
                out.send(self.out_identities.get_topic_name(), anonymous_id.encode(), identity_record(output))
                if new:
                    anonymous_key = anonymous_journey_key(anonymous_id)
                    absorb = AbsorbMessage(anonymous_key, customer_id, linked_at_ms, stamp)
                    stitched[self._stitched_partition(anonymous_key)].append(encode_message(absorb))
            case Conflict(anonymous_id, kept, claimed, _):
                metrics.IDENTITY_LINKS.labels("conflict").inc()
                log.warning("identity conflict: %s is linked to %s, %s claimed it; first link kept", anonymous_id, kept, claimed)
                out.send(self.out_identities.get_topic_name(), anonymous_id.encode(), identity_record(output))

    def _stitched_partition(self, journey_key: str) -> int:
        return stitched_partition(journey_key, self.settings.topics.partitions)

    def _send_bundles(self, out: OutputBatch, stitched: dict[int, list[bytes]]) -> None:
        topic = self.stitched.get_topic_name()
        for partition, encoded in sorted(stitched.items()):
            for bundle in encode_bundles(encoded, self.settings.worker.max_bundle_bytes):
                out.send(topic, None, bundle, partition)

    # -- stage 2 -----------------------------------------------------------------------------
    async def _journeys_agent(self, stream: faust.StreamT) -> None:
        w = self.settings.worker
        async for events in stream.take_events(w.batch_size, within=w.batch_within_s):
            with metrics.BATCH_SECONDS.labels("journeys").time():
                await self._journeys_batch(events)

    async def _journeys_batch(self, events: list[EventT]) -> None:
        by_partition: dict[int, list[tuple[StitchedMessage, EventT]]] = defaultdict(list)
        for event in events:
            try:
                by_partition[event.message.partition].extend((m, event) for m in decode_messages(event.message.value))
            except MessageFormatError as error:  # an internal topic: only a bug writes garbage here
                log.error("undecodable message on %s at offset %s: %s", event.message.topic, event.message.offset, error)
        out = self.output.batch()
        stitched: dict[int, list[bytes]] = defaultdict(list)
        writes: list[tuple[bytes, bytes, EventT]] = []
        now = time.time()
        for partition, items in by_partition.items():
            processor = self._partition(partition)
            result = processor.process([m for m, _ in items], self._load_journey)
            for output in result.outputs:
                self._route_journey_output(output, now, out, stitched)
            last_event = items[-1][1]
            if any(isinstance(m, TouchpointMessage) and m.source is not None for m, _ in items):
                self.last_event_wall[partition] = now
            for key, state in result.changed.items():
                writes.append((key.encode(), encode_state(state), last_event))
            watermarks = orjson.dumps(
                [processor.watermark_ms, processor.event_watermark_ms,
                 {str(p): wm for p, wm in processor.source_watermarks.items()}, sorted(processor.idle_sources)]
            )  # fmt: skip
            writes.append((WATERMARK_KEY.format(partition=partition).encode(), watermarks, last_event))
            metrics.WATERMARK.labels(str(partition)).set(max(processor.watermark_ms, 0) / 1000)
        self._send_bundles(out, stitched)
        await out.delivered()
        for key, value, event in writes:
            _store(self.journey_table, key, value, event)
        metrics.ACTIVE_SESSIONS.set(sum(p.open_sessions for p in self.partitions.values()))

    def _load_journey(self, key: str):  # noqa: ANN202 - JourneyState | None
        raw = self.journey_table.get(key.encode())
        if raw is None:
            return None
        try:
            return decode_state(raw)
        except StateFormatError as error:
            return _unreadable(JOURNEY_STATE_TABLE, key.encode(), error, None)

    def _partition(self, partition: int) -> JourneyPartition:
        """The partition's processor; on first use after a start or rebalance, restore its
        watermarks and find its journeys with open sessions in the recovered table."""
        processor = self.partitions.get(partition)
        if processor is None:
            processor = JourneyPartition(self.rules, source_partitions=self.settings.topics.partitions,
                                         cached_journeys=self.settings.worker.cached_journeys_per_partition)  # fmt: skip
            stored = self.journey_table.get(WATERMARK_KEY.format(partition=partition).encode())
            if stored is not None:
                processor.watermark_ms, processor.event_watermark_ms, sources, idle = orjson.loads(stored)
                processor.source_watermarks = {int(p): wm for p, wm in sources.items()}
                processor.idle_sources = set(idle)
            count = self.settings.topics.partitions
            keys = [
                key for key in self.journey_table.keys()
                if not key.startswith(b"\x00") and stitched_partition(key.decode(), count) == partition
            ]  # fmt: skip
            states = [s for s in (self._load_journey(key.decode()) for key in keys) if s is not None]
            processor.rebuild_index(states)
            self.partitions[partition] = processor
            self.last_event_wall.setdefault(partition, time.time())
        return processor

    def _route_journey_output(self, output: object, now: float, out: OutputBatch, stitched: dict[int, list[bytes]]) -> None:
        match output:
            case EnrichedTouchpoint(journey_key, _, session_id, _, late, event):
                metrics.EVENTS.labels("journeys", "late" if late else "valid").inc()
                metrics.EVENT_TIME_LAG.observe(max(0.0, now - event.occurred_at.timestamp()))
                if session_id == new_session_id(str(event.event_id)):
                    metrics.SESSIONS_OPENED.inc()
                out.send(self.out_touchpoints.get_topic_name(), journey_key.encode(), touchpoint_record(output))
            case SessionRecord(journey_key, _, _, _, reason):
                metrics.SESSIONS_CLOSED.labels(reason).inc()
                out.send(self.out_sessions.get_topic_name(), journey_key.encode(), session_record(output))
            case JourneyStageTransition(journey_key, _, transition, _):
                metrics.STAGE_TRANSITIONS.labels(transition.to_stage).inc()
                out.send(self.out_stages.get_topic_name(), journey_key.encode(), stage_transition_record(output))
            case FrictionSignal(journey_key, _, _, signal):
                if signal.version == 1:
                    metrics.FRICTION_SIGNALS.labels(signal.kind, signal.severity).inc()
                    if signal.kind == "abandonment":
                        metrics.ABANDONMENTS.labels(signal.flow or "", signal.step or "").inc()
                elif signal.kind == "abandonment":
                    metrics.RECOVERIES.labels(signal.flow or "").inc()
                out.send(self.out_friction.get_topic_name(), journey_key.encode(), friction_record(output))
            case DuplicateEvent():
                metrics.EVENTS.labels("journeys", "duplicate").inc()
            case Forward(journey_key, customer_id, event):
                message = TouchpointMessage(journey_key, customer_id, event)
                stitched[self._stitched_partition(journey_key)].append(encode_message(message))
            case Handoff(to_journey_key):
                stitched[self._stitched_partition(to_journey_key)].append(encode_message(HandoffMessage(output)))

    # -- ticks -------------------------------------------------------------------------------
    async def _tick(self) -> None:
        """Time moves on without events, as messages in the stream so replays agree:
        - each touchpoints partition's progress whose outputs Kafka acknowledged is told to every
          stitched partition, so one that none of its keys reach still follows it;
        - a touchpoints partition that is caught up (nothing left to read) and silent for
          `source_idle_s` is announced idle, so it no longer holds watermarks back; one with a
          backlog never is, however long a catch-up or a rebalance keeps it unread;
        - a stitched partition silent for a tick interval gets a tick at its watermark, which
          closes what is due there; only while every source is idle does the tick add the idle
          wall time (live traffic has paused: event time moves with the clock)."""
        interval_ms = self.settings.worker.tick_interval_s * 1000
        now = time.time()
        assigned = self.app.assignor.assigned_actives()
        source_topic = self.source.get_topic_name()
        owned = sorted((tp for tp in assigned if tp.topic == source_topic), key=lambda tp: tp.partition)
        for tp in owned:
            progress = self.source_delivered.get(tp.partition)
            if progress is not None and progress > self.source_broadcast.get(tp.partition, NO_WATERMARK):
                await self._broadcast(SourceProgressMessage(SourceStamp(tp.partition, progress)))
                self.source_broadcast[tp.partition] = progress
        for tp in owned:  # the idle clock of a partition starts when this worker got it
            self.source_last_wall.setdefault(tp.partition, now)
        silent = [tp for tp in owned if tp.partition not in self.announced_idle
                  and now - self.source_last_wall[tp.partition] >= self.settings.worker.source_idle_s]  # fmt: skip
        for tp in await self._caught_up(silent):
            await self._broadcast(SourceIdleMessage(tp.partition))
            self.announced_idle.add(tp.partition)
        for tp in assigned:
            if tp.topic != self.stitched.get_topic_name():
                continue
            processor = self.partitions.get(tp.partition)
            if processor is None or processor.event_watermark_ms == NO_WATERMARK:
                continue
            idle_ms = (now - self.last_event_wall.get(tp.partition, now)) * 1000
            if idle_ms < interval_ms:
                continue
            watermark_ms = processor.event_watermark_ms + (int(idle_ms) if processor.all_sources_idle else 0)
            if not processor.has_work_due(watermark_ms):
                continue  # nothing to do: keep the topic free of empty ticks
            out = self.output.batch()
            out.send(self.stitched.get_topic_name(), None, encode_message(TickMessage(watermark_ms)), tp.partition)
            await out.delivered()

    async def _broadcast(self, message: StitchedMessage) -> None:
        """To every stitched partition, after everything stage 1 sent before it."""
        body, out = encode_message(message), self.output.batch()
        for partition in range(self.settings.topics.partitions):
            out.send(self.stitched.get_topic_name(), None, body, partition)
        await out.delivered()

    async def _caught_up(self, partitions: list[Any]) -> list[Any]:
        """Those touchpoints partitions whose every record was processed and its outputs delivered:
        here (`source_next_offset`), or, before this worker's first record of one since it got it,
        as far as the group committed (by whichever worker; an empty partition counts as read).
        Never the consumer's position: it counts records fetched but still waiting in the stream,
        and a partition announced idle with a backlog makes its events late everywhere."""
        if not partitions:
            return []
        try:
            ends = await self.app.consumer.highwaters(*partitions)
            committed: dict[int, int] = {}
            if any(tp.partition not in self.source_next_offset for tp in partitions):
                topics = [self.source.get_topic_name()]
                progress = await asyncio.to_thread(partition_progress, self.settings, self.settings.worker.app_id, topics)
                committed = {partition: resume for (_, partition), (resume, _) in progress.items()}
        except Exception as error:  # noqa: BLE001 - unknown: not idle, ask again next tick
            log.warning("could not read the touchpoints partitions' offsets: %s", error)
            return []
        caught_up = []
        for tp in partitions:
            read_to = self.source_next_offset.get(tp.partition, committed.get(tp.partition))
            if read_to is not None and read_to >= ends.get(tp, 0):
                caught_up.append(tp)
        return caught_up

    async def _measure_lag(self) -> None:
        """Consumer lag for /metrics (the PipelineStalled alert): what waits for the stages and for
        the sink, read from the broker (every worker reports the same groups' totals)."""
        try:
            lag = await asyncio.to_thread(pipeline_lag, self.settings)
        except Exception as error:  # noqa: BLE001 - a broker hiccup must not stop the worker
            log.warning("could not measure consumer lag: %s", error)
            return
        for consumer, records in lag.items():
            metrics.CONSUMER_LAG.labels(consumer).set(records)

    # -- web -----------------------------------------------------------------------------------
    def _register_views(self) -> None:
        app = self.app

        @app.page("/healthz/")
        async def healthz(web: Any, request: Any) -> Any:
            sink_failed = self.sink_thread is not None and self.sink_thread.failed is not None
            return web.json({"status": "sink failed" if sink_failed else "ok", "partitions": sorted(self.partitions),
                             "active_sessions": sum(p.open_sessions for p in self.partitions.values())},
                            status=503 if sink_failed else 200)  # fmt: skip

        @app.page("/metrics/")
        async def prometheus_metrics(web: Any, request: Any) -> Any:
            return web.bytes(generate_latest(), content_type=CONTENT_TYPE_LATEST.split(";")[0])

        @app.page("/report.json")
        async def report_json(web: Any, request: Any) -> Any:
            """The `journey report` sections, from this process's ClickHouse (`journey run` only:
            the embedded engine cannot be opened by a second process)."""
            if self.sink_thread is None:
                return web.json({"error": NO_REPORT}, status=404)
            try:
                start, end = _query_times(request, "since", "until")
            except ValueError as error:
                return web.json({"error": str(error)}, status=400)
            try:
                report = await asyncio.to_thread(self._report, start, end)
            except Exception as error:  # noqa: BLE001 - ClickHouse not ready yet, say so
                return web.json({"error": str(error).splitlines()[0]}, status=503)
            return web.json(report.as_json())

        @app.page("/report")
        async def report_page(web: Any, request: Any) -> Any:
            """report.html, live: the same page `journey report --html` writes (`journey run` only)."""
            if self.sink_thread is None:
                return web.text(NO_REPORT, status=404)
            try:
                start, end, mark_from, mark_to = _query_times(request, "since", "until", "mark_from", "mark_to")
            except ValueError as error:
                return web.text(str(error), status=400)
            # a shaded range, e.g. the demo's incident
            marks = [(mark_from, mark_to, request.query.get("mark_label", ""))] if mark_from and mark_to else []
            try:
                page = await asyncio.to_thread(self._report_page, start, end, marks)
            except Exception as error:  # noqa: BLE001 - ClickHouse not ready yet, say so
                return web.text(str(error).splitlines()[0], status=503)
            return web.html(page)

        @app.page("/journeys/{key}/")
        @app.table_route(table=self.journey_table, match_info="key")
        async def journey_view(web: Any, request: Any, key: str) -> Any:
            state = self._load_journey(key)
            if state is None:
                return web.json({"error": f"no journey {key!r}"}, status=404)
            return web.json(journey_summary(state))

    def _report(self, start: datetime | None, end: datetime | None):  # noqa: ANN202 - journey.report.Report
        from journey.report import build_report

        return build_report(self._report_connection(), self.settings, start, end)

    def _report_page(self, start: datetime | None, end: datetime | None, marks: list) -> str:
        from journey.report_page import build_page

        return build_page(self._report_connection(), self.settings, start, end, marks)

    def _report_connection(self):  # noqa: ANN202 - a clickhouse_connect Client
        from sinks.clickhouse_client import connect

        if self.report_client is None:  # its own connection: the sink thread uses the other
            self.report_client = connect(self.settings.clickhouse)
        return self.report_client

    def run(self, loglevel: str = "info") -> None:
        from faust.worker import Worker

        self._ensure_topics()
        Worker(self.app, loglevel=loglevel, quiet=True).execute_from_commandline()

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


NO_REPORT = "no report here: this worker runs without the sink"


def _query_times(request: Any, *names: str) -> list[datetime | None]:
    """ISO times from a request's query string (None where absent); ValueError naming the bad one."""
    times = []
    for name in names:
        value = request.query.get(name)
        try:
            times.append(None if value is None else datetime.fromisoformat(value))
        except ValueError as error:
            raise ValueError(f"{name}: {error}") from None
    return times


def journey_summary(state: Any) -> dict[str, Any]:
    """The live view of one journey (GET /journeys/{key}/)."""
    from streams.records import iso

    return {
        "journey_key": state.journey_key,
        "customer_id": state.customer_id,
        "account_id": state.account_id,
        "events": state.event_count,
        "first_seen": iso(state.first_seen_ms),
        "last_seen": iso(state.last_seen_ms),
        "current_stage": state.stages.current,
        "stages_reached": {stage: iso(at) for stage, at in state.stages.reached.items()},
        "time_to_first_value_ms": state.stages.time_to_first_value_ms,
        "open_sessions": [
            {"session_id": s.session_id, "started_at": iso(s.start_ms), "last_event_at": iso(s.end_ms),
             "events": s.event_count, "channels": s.channels, "path": [p[2] for p in s.path]}  # fmt: skip
            for s in state.sessions.open
        ],
        "late_events": state.sessions.late_events,
        "absorbed_into": state.absorbed_into,
        "absorbed_from": state.absorbed_from,
        "awaiting_handoff_from": sorted(state.pending_handoffs),
    }
