"""Do the numbers add up? Conservation checks on what the pipeline wrote (`journey audit`).

Each check counts rows that break an invariant the design promises; every count must be 0:
- `unsessioned`: a touchpoint on time (not `late`) whose session is neither closed in ClickHouse
  nor open in the live journey state (session ids resolve through `merged_from`);
- `session_events_off`: the events counted in sessions (closed and open) differ from the on-time
  touchpoints stored: each must be in exactly one session;
- `false_abandonments`: an abandonment (not recovered) of a flow whose completing event that
  journey, or its customer, sent within the flow's window after the start;
- `negative_recoveries`: a recovered abandonment completed before it was abandoned;
- `repeated_first_reach`: a journey that reached the same stage "for the first time" twice
  (stage reach per person would be counted twice);
- `rollup_off`: rollup buckets whose distinct counts differ from the raw rows they summarise
  (touchpoints per minute; friction per minute, abandonments aside: a recovery replaces the raw row).
`late` is reported, not judged: events published later than grace are late by design.

Exact once the pipeline is caught up (the stages and the sink have no lag): a session closing
between the reads would count as missing. The live state is read from the journey-state
changelog, so no worker needs to be stopped.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass, field, fields

from clickhouse_connect.driver.client import Client
from confluent_kafka import Consumer, TopicPartition
from prometheus_client import Gauge

from journey.config import Settings
from journey.streams.codec import StateFormatError, decode_state
from journey.topics import JOURNEY_STATE_TABLE, changelog_topic

METADATA_PREFIX = b"\x00"  # a partition's progress in the state table, not a journey
log = logging.getLogger("journey.audit")

VIOLATIONS = Gauge(
    "journey_audit_violations",
    "Rows breaking a conservation invariant (journey audit), in two audits running: must be 0",
    ["check"],
)
LATE = Gauge("journey_audit_late_touchpoints", "Touchpoints stored late (beyond grace), at the last audit")
AUDITED = Gauge("journey_audit_last_success_timestamp_seconds", "When the last audit finished")


@dataclass(frozen=True)
class OpenSessions:
    """What the live journey state holds open: session ids (and the ids they absorbed), events."""

    ids: frozenset[str]
    events: int


@dataclass(frozen=True)
class Audit:
    touchpoints: int
    late: int
    in_closed_sessions: int
    in_open_sessions: int
    unsessioned: int
    session_events_off: int
    false_abandonments: int
    negative_recoveries: int
    repeated_first_reach: int
    rollup_off: int
    # which rows: the periodic audit counts only those two audits running both found
    unsessioned_ids: frozenset[str] = field(default=frozenset(), repr=False)
    false_abandonment_ids: frozenset[str] = field(default=frozenset(), repr=False)

    def violations(self) -> dict[str, int]:
        checks = ("unsessioned", "session_events_off", "false_abandonments", "negative_recoveries",
                  "repeated_first_reach", "rollup_off")  # fmt: skip
        return {name: getattr(self, name) for name in checks}

    @property
    def adds_up(self) -> bool:
        return not any(self.violations().values())

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self) if not f.name.endswith("_ids")}


def open_sessions(settings: Settings, timeout_s: float = 60.0) -> OpenSessions:
    """The open sessions of every journey, from the journey-state changelog read to its end."""
    topic = changelog_topic(settings, JOURNEY_STATE_TABLE)
    consumer = Consumer({**settings.kafka.confluent_config(), "group.id": f"journey-audit-{uuid.uuid4()}",
                         "enable.auto.commit": False})  # fmt: skip
    try:
        metadata = consumer.list_topics(topic, timeout=10).topics.get(topic)
        if metadata is None or metadata.error is not None:
            return OpenSessions(frozenset(), 0)  # no worker ever ran: nothing open
        ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in metadata.partitions}
        consumer.assign([TopicPartition(topic, p, 0) for p, end in ends.items() if end > 0])
        latest: dict[bytes, bytes | None] = {}
        remaining = {p for p, end in ends.items() if end > 0}
        deadline = time.monotonic() + timeout_s
        while remaining:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{topic} not read to its end within {timeout_s:.0f}s")
            for message in consumer.consume(1000, timeout=1.0):
                if message.error() is not None:
                    continue
                latest[message.key()] = message.value()
                if message.offset() + 1 >= ends[message.partition()]:
                    remaining.discard(message.partition())
    finally:
        consumer.close()
    ids: set[str] = set()
    events = 0
    for key, value in latest.items():
        if value is None or key.startswith(METADATA_PREFIX):
            continue
        try:
            state = decode_state(value)
        except StateFormatError:
            continue  # the worker starts such a state afresh too
        for session in state.sessions.open:
            ids.update([session.session_id, *session.merged_from])
            events += session.event_count
    return OpenSessions(frozenset(ids), events)


def audit(client: Client, settings: Settings, live: OpenSessions) -> Audit:
    db = settings.clickhouse.database
    one = lambda sql, **parameters: client.query(sql, parameters=parameters).result_rows[0][0]  # noqa: E731
    touchpoints, late = client.query(f"SELECT count(), countIf(late) FROM {db}.touchpoints FINAL").result_rows[0]
    in_closed = one(f"SELECT sum(event_count) FROM {db}.sessions FINAL")
    # On-time touchpoints per session id that no closed session answers to; the open ones may.
    unresolved = client.query(
        f"SELECT toString(session_id), count() FROM {db}.touchpoints FINAL WHERE NOT late AND (session_id IS NULL OR"
        f" session_id NOT IN (SELECT session_id FROM {db}.sessions UNION ALL"
        f" SELECT arrayJoin(merged_from) FROM {db}.sessions)) GROUP BY 1"
    ).result_rows
    unsessioned_rows = {session_id: count for session_id, count in unresolved if session_id not in live.ids}
    false_abandonments = [
        signal_id
        for name, flow in settings.friction.flows.items()
        for (signal_id,) in client.query(
            f"SELECT toString(signal_id) FROM {db}.friction_signals AS s FINAL WHERE kind = 'abandonment' AND version = 1"
            f" AND flow = {{flow:String}} AND EXISTS (SELECT 1 FROM {db}.touchpoints AS t WHERE"
            f" t.touchpoint IN {{complete:Array(String)}} AND (t.journey_key = s.journey_key OR"
            f" (s.customer_id IS NOT NULL AND t.customer_id = s.customer_id)) AND"
            f" toUnixTimestamp64Milli(t.occurred_at) BETWEEN JSONExtractInt(s.details, 'started_ms')"
            f" AND JSONExtractInt(s.details, 'started_ms') + {{window_ms:Int64}})",
            parameters={"flow": name, "complete": flow.complete, "window_ms": int(flow.timeout_minutes * 60_000)},
        ).result_rows
    ]
    negative = one(
        f"SELECT count() FROM {db}.friction_signals FINAL WHERE kind = 'abandonment' AND version = 2"
        f" AND JSONExtractInt(details, 'recovered_after_ms') < 0"
    )
    repeated = one(
        f"SELECT count() FROM (SELECT journey_key, to_stage FROM {db}.stage_transitions FINAL WHERE first_time"
        f" GROUP BY journey_key, to_stage HAVING count() > 1)"
    )
    return Audit(
        touchpoints=touchpoints, late=late, in_closed_sessions=in_closed, in_open_sessions=live.events,
        unsessioned=sum(unsessioned_rows.values()), session_events_off=abs(touchpoints - late - in_closed - live.events),
        false_abandonments=len(false_abandonments), negative_recoveries=negative, repeated_first_reach=repeated,
        rollup_off=sum(one(sql.format(db=db)) for sql in ROLLUP_CHECKS),
        unsessioned_ids=frozenset(unsessioned_rows), false_abandonment_ids=frozenset(false_abandonments),
    )  # fmt: skip


# Buckets where the rollup's distinct count differs from the raw rows (a FULL JOIN: a bucket on one
# side only counts as well).
ROLLUP_CHECKS = (
    """SELECT count() FROM (
         SELECT minute, stage, channel, touchpoint, uniqExactMerge(events) AS n FROM {db}.touchpoints_per_minute
         GROUP BY ALL) AS r FULL JOIN (
         SELECT toStartOfMinute(occurred_at) AS minute, ifNull(stage, '') AS stage, channel, touchpoint,
                uniqExact(event_id) AS n FROM {db}.touchpoints GROUP BY ALL) AS t
       USING (minute, stage, channel, touchpoint) WHERE r.n != t.n""",
    # Abandonments aside: a recovered one's version 2 replaces the row the rollup counted, at the
    # completion's time, so the raw side cannot say which minute the rollup holds it in.
    """SELECT count() FROM (
         SELECT minute, kind, uniqExactMerge(signals) AS n FROM {db}.friction_per_minute
         WHERE kind != 'abandonment' GROUP BY ALL) AS r
       FULL JOIN (
         SELECT toStartOfMinute(occurred_at) AS minute, kind, uniqExact(signal_id) AS n FROM {db}.friction_signals
         WHERE version = 1 AND kind != 'abandonment' GROUP BY ALL) AS t USING (minute, kind) WHERE r.n != t.n""",
)


class PeriodicAudit:
    """The audit every `sink.audit_interval_s` on a thread of the sink's process, as gauges.
    Under traffic the reads race the pipeline (a session closed in the changelog, not yet in
    ClickHouse; a completion stored before its recovery signal): a session or signal counts only
    when two audits running both find it, the other checks as the lower count of the two. The
    total-based `session_events_off` is exact only on a quiet pipeline: `journey audit` has it."""

    LIVE_CHECKS = ("unsessioned", "false_abandonments", "negative_recoveries", "repeated_first_reach", "rollup_off")

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.stopping = threading.Event()
        self.previous: Audit | None = None
        self.thread = threading.Thread(target=self._run, name="audit", daemon=True)

    def start(self) -> None:
        if self.settings.sink.audit_interval_s > 0:
            self.thread.start()

    def stop(self) -> None:
        self.stopping.set()

    def _run(self) -> None:
        from journey.sinks.clickhouse_client import connect

        client: Client | None = None
        while not self.stopping.wait(self.settings.sink.audit_interval_s):
            try:
                client = client or connect(self.settings.clickhouse, "reader")
                self.export(audit(client, self.settings, open_sessions(self.settings)))
            except Exception as error:  # noqa: BLE001 - tables not there yet, ClickHouse or Kafka away: next time
                log.warning("audit skipped: %s", str(error).splitlines()[0] if str(error) else type(error).__name__)

    def export(self, result: Audit) -> None:
        previous = self.previous or result
        both = {
            "unsessioned": len(result.unsessioned_ids & previous.unsessioned_ids),
            "false_abandonments": len(result.false_abandonment_ids & previous.false_abandonment_ids),
        }
        current, before = result.violations(), previous.violations()
        for check in self.LIVE_CHECKS:
            VIOLATIONS.labels(check).set(both.get(check, min(current[check], before[check])))
        self.previous = result
        LATE.set(result.late)
        AUDITED.set(time.time())
