"""The differential oracle: the real worker against the in-memory model (issue 25).

A seed draws everything: the input (`generate`: the shapes that broke stitching — an anonymous
visit, the identify keyed by the anonymous id, the customer's events keyed by the customer id on
other partitions, a second device, days of backfill, disorder within grace, duplicates hours
later, near-miss and real friction), how it is published (the SDK's murmur2 placement,
librdkafka's CRC32 placement, or both), how much before the workers start, and the cluster
(`Shape`: 1-3 workers, batch size 1…5,000, batch wait, state cache, bundle size, a kill -9 at a
random moment, a CPU hog beside it). `expected` feeds the same records to the in-memory pipeline
one event at a time (`run_trickle`); `observed` reads what the sink wrote to ClickHouse. They must
be equal row for row on sessions, signals, stage transitions and touchpoints, with session ids
resolved through `merged_from` (a touchpoint carries the id its session had when it was sent).
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from confluent_kafka import Producer

from journey.config import Settings, TopicSettings, WorkerSettings
from journey.publisher import TouchpointPublisher
from journey.schemas.touchpoint import Touchpoint
from journey.streams.in_memory import InMemoryPipeline
from journey.streams.journey import (
    EnrichedTouchpoint,
    FrictionSignal,
    JourneyRules,
    JourneyStageTransition,
    SessionRecord,
)
from journey.streams.records import friction_record, session_record, stage_transition_record
from journey.topics import TOUCHPOINTS, create_topics
from tests.conftest import broker_settings
from tests.integration.worker_helpers import Cluster, assert_adds_up, clock_keys, engine_json, wait_quiet

CONTACTS = [("support.ticket_opened", "support"), ("support.chat_started", "chat"), ("support.call_received", "phone"),
            ("support.email_received", "email")]  # fmt: skip
CLOCK_AFTER = timedelta(days=40)  # past every detector's timer: everything due is decided


@dataclass(frozen=True)
class Shape:
    seed: int
    people: int
    days: float
    partitions: int
    publisher: str  # "sdk" (murmur2) | "plain" (librdkafka's CRC32) | "mixed"
    before_share: float  # of the records, published before any worker starts
    workers: int
    batch_size: int
    batch_within_s: float
    cached_state_mb: int
    max_bundle_bytes: int
    kill: bool
    hog: bool

    @classmethod
    def draw(cls, seed: int, people: tuple[int, int] = (25, 70)) -> Shape:
        rng = random.Random(seed)
        return cls(
            seed=seed, people=rng.randint(*people), days=rng.choice([1, 2, 4]), partitions=rng.randint(2, 6),
            publisher=rng.choice(["sdk", "plain", "mixed"]), before_share=rng.choice([1.0, 0.7, 0.3]),
            workers=rng.randint(1, 3), batch_size=rng.choice([1, 7, 60, 500, 2000, 5000]),
            batch_within_s=rng.choice([0.02, 0.2, 0.8]), cached_state_mb=rng.choice([0, 1, 16]),
            max_bundle_bytes=rng.choice([1024, 16384, 512 * 1024]), kill=rng.random() < 0.6, hog=rng.random() < 0.5,
        )  # fmt: skip

    def worker_env(self) -> dict[str, str]:
        return {"JOURNEY_WORKER__BATCH_SIZE": str(self.batch_size),
                "JOURNEY_WORKER__BATCH_WITHIN_S": str(self.batch_within_s),
                "JOURNEY_WORKER__CACHED_STATE_MB_PER_PARTITION": str(self.cached_state_mb),
                "JOURNEY_WORKER__MAX_BUNDLE_BYTES": str(self.max_bundle_bytes)}  # fmt: skip


# -- the input -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Published:
    body: dict[str, Any]
    plain: bool  # through a plain confluent-kafka producer (CRC32 placement), else the SDK


def generate(shape: Shape, end: datetime) -> list[Published]:
    """Every record in publishing order, duplicates included."""
    rng = random.Random(shape.seed)
    run = f"x{shape.seed}"
    start = end - timedelta(days=shape.days)
    events: list[tuple[datetime, dict[str, Any]]] = []

    def event(at: datetime, touchpoint: str, channel: str, customer: str | None = None, anonymous: str | None = None,
              **fields: Any) -> datetime:  # fmt: skip
        body = {"event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)), "occurred_at": at.isoformat(),
                "channel": channel, "touchpoint": touchpoint, "source": f"chaos-{channel}"}  # fmt: skip
        body |= {k: v for k, v in (("customer_id", customer), ("anonymous_id", anonymous)) if v is not None}
        events.append((at, body | fields))
        return at

    def minutes(low: float, high: float) -> timedelta:
        return timedelta(minutes=rng.uniform(low, high))

    for i in range(shape.people):
        customer, device = f"{run}-c{i}", f"{run}-a{i}"
        t = start + timedelta(days=rng.uniform(0, shape.days * 0.6))
        event(t, "ad.clicked", "ads", anonymous=device)
        t = event(t + minutes(0.5, 2), "web.pricing_viewed", "web", anonymous=device)
        t = event(t + minutes(0.5, 2), "signup.started", "web", anonymous=device, flow="signup", step="account")
        if rng.random() < 0.85:  # completes two minutes later, identified in the same breath
            t = event(t + minutes(1, 4), "signup.completed", "web", customer, device, flow="signup", step="done")
        else:  # abandoned; signs in the next day
            t = t + timedelta(days=1) + minutes(0, 120)
        t = event(t + timedelta(seconds=1), "identity.identified", "web", customer, device)
        onboarding = event(t + minutes(20, 40), "onboarding.started", "in_app", customer, flow="onboarding",
                           step="welcome")  # fmt: skip
        event(onboarding + minutes(1, 20), "onboarding.step_completed", "in_app", customer, flow="onboarding",
              step="invite_team")  # fmt: skip
        if rng.random() < 0.7:
            done = event(onboarding + minutes(60, 2 * 24 * 60), "onboarding.completed", "in_app", customer,
                         flow="onboarding", step="first_project")  # fmt: skip
            event(done + minutes(1, 600), "activation.reached", "in_app", customer)
        checkout = event(t + minutes(60, 24 * 60), "checkout.started", "web", customer, flow="checkout", step="cart")
        if rng.random() < 0.8:
            event(checkout + minutes(1, 10), "checkout.completed", "web", customer, flow="checkout", step="review")
        else:
            event(checkout + minutes(0.2, 2), "checkout.step_viewed", "web", customer, flow="checkout",
                  step="payment")  # fmt: skip
        at = t + minutes(30, 24 * 60)
        for _ in range(rng.choice([0, 1, 2, 3, 3, 4, 5])):  # repeat contacts across channels, near misses
            touchpoint, channel = rng.choice(CONTACTS)
            at = event(at + minutes(10, 36 * 60), touchpoint, channel, customer,
                       properties={"topic": rng.choice(["billing", "login"])})  # fmt: skip
        if rng.random() < 0.3:  # help that does not help, then a contact in the same session
            at = t + minutes(60, 3000)
            for touchpoint in ("help.searched", "search.no_results", "help.article_viewed"):
                at = event(at + minutes(0.2, 3), touchpoint, "web", customer)
            event(at + minutes(0.5, 5), "support.chat_started", "chat", customer)
        if rng.random() < 0.4:  # clicks on one element: 3 (no signal) to 5
            at = t + minutes(5, 3000)
            element = rng.choice(["pay", "save"])
            for _ in range(rng.randint(3, 5)):
                at = event(at + timedelta(milliseconds=rng.randint(50, 450)), "ui.click", "web", customer,
                           step=element, properties={"element": element})  # fmt: skip
        if rng.random() < 0.3:  # errors: 2 (no signal) or 3 in minutes
            at = t + minutes(5, 3000)
            for _ in range(rng.randint(2, 3)):
                at = event(at + minutes(0.3, 1.5), "ui.error", "web", customer)
        at = t + minutes(60, 4000)
        for touchpoint, low, high in (("survey.nps", 0, 10), ("survey.csat", 1, 5), ("survey.ces", 1, 7)):
            if rng.random() < 0.5:
                at = event(at + minutes(5, 600), touchpoint, "survey", customer, score=rng.randint(low, high))
        if rng.random() < 0.35:  # a second device, identified days later
            second = f"{run}-b{i}"
            at = event(t + timedelta(days=rng.uniform(0.5, 2)), "web.pricing_viewed", "web", anonymous=second)
            at = event(at + minutes(0.5, 5), "ui.click", "web", anonymous=second, properties={"element": "plans"})
            event(at + minutes(1, 20), "identity.identified", "mobile", customer, second)

    # Publishing order: event time, a quarter disordered within grace, some duplicates hours later.
    ordered = []
    for at, body in events:
        delay = minutes(0, 4) if rng.random() < 0.25 else timedelta(0)
        ordered.append((at + delay, body))
        if rng.random() < 0.03:
            ordered.append((at + timedelta(hours=rng.uniform(2, 6)), body))
    ordered.sort(key=lambda item: item[0])
    plain_channels = {"web", "ads", "mobile"} if shape.publisher == "mixed" else set()
    return [Published(body, shape.publisher == "plain" or body["channel"] in plain_channels) for _, body in ordered]


def clock_records(settings: Settings, at: datetime) -> list[Published]:
    """One event per partition far ahead: event time moves on everywhere, so everything due closes."""
    return [Published({"event_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"clock/{key}/{at}")), "occurred_at": at.isoformat(),
                       "customer_id": key, "channel": "web", "touchpoint": "web.heartbeat", "source": "test-clock"},
                      plain=False) for key in clock_keys(settings.topics.partitions)]  # fmt: skip


def publish(settings: Settings, records: list[Published]) -> None:
    """In order, each through its publisher (the SDK validates; the plain producer sends what it is
    given). Each producer batches on its own, so one is flushed before the other sends: else a
    chunk spanning hours of event time lands out of order on a partition both write to (the
    contract wants each partition in event-time order within grace; the oracle found it)."""
    topic = settings.topics.name(TOUCHPOINTS)
    plain = Producer({"bootstrap.servers": settings.kafka.bootstrap_servers, "enable.idempotence": True})
    with TouchpointPublisher(settings.publisher) as sdk:
        previous: bool | None = None
        for record in records:
            if previous is True and not record.plain:
                assert plain.flush(60) == 0
            elif previous is False and record.plain:
                sdk.flush(60)
            previous = record.plain
            if record.plain:
                key = (record.body.get("anonymous_id") or record.body["customer_id"]).encode()
                plain.produce(topic, orjson.dumps(record.body), key)
                plain.poll(0)
            else:
                sdk.publish(record.body)
    assert plain.flush(60) == 0


# -- the two sides -------------------------------------------------------------------------------
def _alias(sessions: list[dict[str, Any]]) -> dict[str, str]:
    return {old: s["session_id"] for s in sessions for old in [s["session_id"], *s["merged_from"]]}


def _tables(
    sessions: list[dict], signals: list[dict], transitions: list[dict], touchpoints: list[dict], people: dict[str, str]
) -> dict:
    """What both sides are compared on: one row per id, session ids resolved to the final session
    (`merged_from` lists the ids a session had when its rows were sent, which depends on arrival
    order: it is compared through what it resolves, not as a list)."""
    alias = _alias(sessions)
    resolve = lambda session_id: alias.get(session_id, session_id)  # noqa: E731
    person = lambda journey_key: people.get(journey_key, journey_key)  # noqa: E731
    return {
        "sessions": {
            s["session_id"]: (
                person(s["journey_key"]),
                s["started_at"],
                s["ended_at"],
                s["event_count"],
                s["close_reason"],
                tuple(s["channels"]),
                tuple(s["path"]),
                tuple(s["stages"]),
                round(s["friction_score"], 3),
            )
            for s in sessions
        },
        "signals": {
            s["signal_id"]: (
                s["kind"],
                s["severity"],
                s["version"],
                person(s["journey_key"]),
                resolve(s["session_id"]),
                s["occurred_at"],
                s["detected_at"],
                s["flow"],
                s["step"],
                s["count"],
                orjson.dumps(s["details"], option=orjson.OPT_SORT_KEYS).decode(),
            )
            for s in signals
        },
        "transitions": {
            (person(t["journey_key"]), t["event_id"], t["to_stage"]): (
                t["from_stage"],
                t["to_stage"],
                t["at"],
                t["time_in_previous_ms"],
                t["first_time"],
                t["time_to_first_value_ms"],
            )
            for t in transitions
        },
        "touchpoints": {
            t["event_id"]: (person(t["journey_key"]), resolve(t["session_id"]), t["stage"], t["late"])
            for t in touchpoints
        },
    }


def _latest(rows: list[dict], key: str) -> list[dict]:
    """What a ReplacingMergeTree(version) keeps: the highest version of each id."""
    kept: dict[str, dict] = {}
    for row in rows:
        if row[key] not in kept or row.get("version", 0) >= kept[row[key]].get("version", 0):
            kept[row[key]] = row
    return list(kept.values())


def people_of(records: list[Published]) -> dict[str, str]:
    """anon:<device> -> its customer, from the events that name both (the generator's identifies).
    Both sides are compared per person: an anonymous session that ended long before the identify
    is closed under `anon:<device>` or handed to the customer depending on whether a tick reached
    that journey before the absorb did (docs/architecture.md, "What still depends on arrival
    timing"); the identity link attributes it to the same person either way."""
    return {f"anon:{r.body['anonymous_id']}": r.body["customer_id"] for r in records
            if "anonymous_id" in r.body and "customer_id" in r.body}  # fmt: skip


def expected(settings: Settings, records: list[Published], clock_at: datetime) -> dict:
    """The in-memory pipeline, one event at a time, then a tick at the clock's watermark."""
    rules = JourneyRules.from_settings(settings)
    pipeline = InMemoryPipeline(rules, sources=settings.topics.partitions, partitions=settings.topics.partitions)
    events = [Touchpoint.model_validate(r.body) for r in records]
    outputs = pipeline.run_trickle(events, tick_ms=int(clock_at.timestamp() * 1000) - rules.limits.grace_ms)
    real = [o for o in outputs if not o.journey_key.startswith("clock-")]
    records_of = lambda kind, encode: [orjson.loads(encode(o)) for o in real if isinstance(o, kind)]  # noqa: E731
    touchpoints = [{"event_id": str(o.event.event_id), "journey_key": o.journey_key, "session_id": o.session_id,
                    "stage": o.stage, "late": o.late} for o in real if isinstance(o, EnrichedTouchpoint)]  # fmt: skip
    return _tables(
        _latest(records_of(SessionRecord, session_record), "session_id"),
        _latest(records_of(FrictionSignal, friction_record), "signal_id"),
        records_of(JourneyStageTransition, stage_transition_record),
        touchpoints,
        people_of(records),
    )


OBSERVED = """
import sys, orjson, clickhouse_connect
c = clickhouse_connect.get_client(dsn=sys.argv[1])
def rows(sql):
    result = c.query(sql)
    return [dict(zip(result.column_names, row)) for row in result.result_rows]
real = "journey_key NOT LIKE 'clock-%'"
ms = lambda column: f"substring(formatDateTime({column}, '%Y-%m-%dT%H:%i:%S.%f'), 1, 23) || 'Z' AS {column}"
print(orjson.dumps({
  "sessions": rows(f"SELECT toString(session_id) AS session_id, journey_key, {ms('started_at')}, {ms('ended_at')},"
                   f" event_count, close_reason, channels, path, stages, arrayMap(x -> toString(x), merged_from) AS merged_from,"
                   f" friction_score FROM journey.sessions FINAL WHERE {real}"),
  "signals": rows(f"SELECT toString(signal_id) AS signal_id, kind, severity, version, journey_key,"
                  f" toString(session_id) AS session_id, {ms('occurred_at')}, {ms('detected_at')}, flow, step, count, details"
                  f" FROM journey.friction_signals FINAL WHERE {real}"),
  "transitions": rows(f"SELECT toString(transition_id) AS transition_id, toString(event_id) AS event_id, journey_key, from_stage, to_stage, {ms('at')},"
                      f" time_in_previous_ms, first_time, time_to_first_value_ms FROM journey.stage_transitions FINAL WHERE {real}"),
  "touchpoints": rows(f"SELECT toString(event_id) AS event_id, journey_key, toString(session_id) AS session_id, stage, late"
                      f" FROM journey.touchpoints FINAL WHERE {real}"),
}).decode())
"""


def observed(dsn: str, people: dict[str, str]) -> dict:
    got = engine_json(OBSERVED, dsn)
    for signal_row in got["signals"]:
        signal_row["details"] = orjson.loads(signal_row["details"])
    for session in got["sessions"]:
        session["friction_score"] = float(session["friction_score"])
    for touchpoint in got["touchpoints"]:
        touchpoint["late"] = bool(touchpoint["late"])
    return _tables(got["sessions"], got["signals"], got["transitions"], got["touchpoints"], people)


def differences(want: dict, got: dict, most: int = 6) -> list[str]:
    lines = []
    for table in want:
        missing = sorted(set(want[table]) - set(got[table]))
        extra = sorted(set(got[table]) - set(want[table]))
        changed = sorted(k for k in set(want[table]) & set(got[table]) if want[table][k] != got[table][k])
        if missing or extra or changed:
            lines.append(f"{table}: {len(want[table])} expected, {len(got[table])} written; {len(missing)} missing, "
                         f"{len(extra)} extra, {len(changed)} different")  # fmt: skip
            lines += [f"  missing {k}: {want[table][k]}" for k in missing[:most]]
            lines += [f"  extra {k}: {got[table][k]}" for k in extra[:most]]
            lines += [
                f"  {k}: expected {want[table][k]}\n{' ' * (len(k) + 4)}written  {got[table][k]}"
                for k in changed[:most]
            ]
    return lines


# -- one run -------------------------------------------------------------------------------------
def run(kafka_broker, workdir: Path, shape: Shape, log=print) -> tuple[dict, dict, dict]:
    """Publish, run the cluster through the shape's faults, let everything close; returns what the
    model expects, what ClickHouse holds, and what happened (for the failure message)."""
    base = broker_settings(kafka_broker)
    settings = base.model_copy(update={
        "topics": TopicSettings(prefix=base.topics.prefix, partitions=shape.partitions),
        "worker": WorkerSettings(app_id=base.worker.app_id),
    })  # fmt: skip
    end = (datetime.now(UTC) - timedelta(days=45)).replace(minute=0, second=0, microsecond=0)
    records = generate(shape, end)
    clock_at = end + CLOCK_AFTER
    clock = clock_records(settings, clock_at)
    want = expected(settings, records + clock, clock_at)
    rng = random.Random(shape.seed * 7919)
    happened: dict[str, Any] = {"records": len(records)}
    create_topics(settings)
    split = int(len(records) * shape.before_share)
    publish(settings, records[:split])
    cluster = Cluster(settings, workdir, worker_env=shape.worker_env())
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if shape.hog else None
    try:
        cluster.start_sink()
        for _ in range(shape.workers):
            cluster.start_worker()
        kill_at = time.monotonic() + rng.uniform(0.5, 8) if shape.kill else None
        position = split
        while position < len(records) or kill_at is not None:  # the rest arrives while they run
            chunk = rng.randint(20, 200)
            publish(settings, records[position : position + chunk])
            position += chunk
            time.sleep(rng.uniform(0, 0.6))
            if kill_at is not None and time.monotonic() >= kill_at:
                victim = rng.randrange(len(cluster.workers))
                cluster.workers[victim].stop(signal.SIGKILL)
                time.sleep(rng.uniform(0, 3))
                cluster.workers[victim].start()
                happened["killed"] = f"worker-{victim} at {min(position, len(records))}/{len(records)} published"
                kill_at = None
        wait_quiet(settings, 600, alive=cluster.problem)
        publish(settings, clock)
        wait_quiet(settings, 600, alive=cluster.problem)
    finally:
        if hog is not None:
            hog.kill()
        cluster.stop()
    happened["audit"] = assert_adds_up(settings, cluster.dsn)
    return want, observed(cluster.dsn, people_of(records)), happened
