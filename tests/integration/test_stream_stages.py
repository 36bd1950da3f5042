"""Stages 1 and 2 on the real broker: a `journey worker` process, scripted journeys in, journey.*
topics out (sessions, stages, stitched keys, dead letters, duplicates, restarts)."""

from __future__ import annotations

import base64
import signal
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from journey.cli.samples import sample_journey
from journey.cli.topic_reader import read_topic
from journey.cli.worker_process import WorkerProcess
from journey.config import Settings
from journey.publisher import TouchpointPublisher
from journey.streams.sessions import new_session_id
from journey.topics import DEAD_LETTER, JOURNEY_IDENTITIES, JOURNEY_SESSIONS, JOURNEY_STAGES, JOURNEY_TOUCHPOINTS
from tests.integration.worker_helpers import advance_event_time, keys_by_partition, wait_until

pytestmark = pytest.mark.integration

START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
CUSTOMERS = 4


def records(
    settings: Settings, topic: str, expected: int, *, where=lambda r: True, timeout_s: float = 60
) -> list[dict]:
    """Poll `topic` until `expected` matching records arrived (or time ran out); return them all."""
    deadline = time.monotonic() + timeout_s
    found: list[dict] = []
    while time.monotonic() < deadline:
        found = [
            r
            for r in (
                orjson.loads(m.value())
                for m in read_topic(settings, settings.topics.name(topic), expected=10**9, timeout_s=2)
            )
            if where(r)
        ]
        if len(found) >= expected:
            break
    return found


def customer_sessions(r: dict) -> bool:
    return r["journey_key"].startswith("cust-")


def publish(settings: Settings, events: list[dict]) -> None:
    with TouchpointPublisher(settings.publisher) as publisher:
        for event in events:
            publisher.publish(event)


def test_scripted_journeys_become_stitched_sessions_and_stages(settings: Settings, worker: WorkerProcess) -> None:
    journeys = {seed: sample_journey(seed, START) for seed in range(CUSTOMERS)}
    everything = [e for events in journeys.values() for e in events]
    publish(settings, everything)
    # Event time moves on only after the journeys went through: a heartbeat overtaking them in
    # another source partition would (rightly) make them late.
    records(settings, JOURNEY_TOUCHPOINTS, len(everything))
    advance_event_time(settings, START + timedelta(days=3))

    sessions = records(settings, JOURNEY_SESSIONS, 2 * CUSTOMERS, where=customer_sessions)
    assert len(sessions) == 2 * CUSTOMERS
    for seed, events in journeys.items():
        mine = sorted((s for s in sessions if s["journey_key"] == f"cust-{seed:06d}"), key=lambda s: s["started_at"])
        # Day 1: anonymous ad click .. signup, stitched into the customer's journey by the handoff.
        assert [s["event_count"] for s in mine] == [6, 5]
        assert mine[0]["session_id"] == new_session_id(events[0]["event_id"])
        assert mine[0]["path"][:4] == ["ad.click", "web.landing_viewed", "web.pricing_viewed", "signup.started"]
        assert mine[0]["stages"] == ["awareness", "consideration", "decision"]
        assert mine[1]["channels"] == ["in_app", "support", "survey"]
        assert mine[1]["duration_ms"] == 25 * 60_000 and mine[1]["close_reason"] == "inactivity"

    touchpoints = records(settings, JOURNEY_TOUCHPOINTS, 11 * CUSTOMERS, where=lambda r: r["source"] != "test-clock")
    assert Counter(t["event_id"] for t in touchpoints) == Counter(e["event_id"] for j in journeys.values() for e in j)
    identified = [t for t in touchpoints if t["touchpoint"] == "identity.identified"]
    assert {t["journey_key"] for t in identified} == {f"cust-{s:06d}" for s in journeys}

    stages = records(settings, JOURNEY_STAGES, 4 * CUSTOMERS, where=lambda r: not r["journey_key"].startswith("clock"))
    for seed in journeys:
        moves = sorted(
            (s["at"], s["journey_key"], s["to_stage"]) for s in stages if s["journey_key"].endswith(f"{seed:06d}")
        )
        # One journey through the identify: which key records a transition within grace of the
        # link depends on how far the anonymous journey's watermark got (the identity link resolves
        # both); the order of the stages does not, and after the link it is the customer's.
        assert [stage for _, _, stage in moves] == ["awareness", "consideration", "decision", "onboarding"]
        assert {key for _, key, _ in moves} <= {f"anon:anon-{seed:06d}", f"cust-{seed:06d}"}
        assert moves[-1][1] == f"cust-{seed:06d}"

    links = records(settings, JOURNEY_IDENTITIES, CUSTOMERS)
    assert sorted((link["anonymous_id"], link["customer_id"]) for link in links) == [
        (f"anon-{s:06d}", f"cust-{s:06d}") for s in journeys
    ]

    live = worker.get("/journeys/cust-000000/")
    assert live["absorbed_from"] == ["anon:anon-000000"] and live["current_stage"] == "onboarding"
    assert live["stages_reached"]["awareness"] == "2026-11-02T09:00:00.000Z"


def test_invalid_events_go_to_the_dead_letter_topic_and_duplicates_are_dropped(
    settings: Settings, worker: WorkerProcess
) -> None:
    good = sample_journey(seed=90, start=START)
    bad = [b"{not json", b"\xff\xfe", orjson.dumps(good[0] | {"occurred_at": "2026-11-02T09:00:00"}), b"[]"]
    with TouchpointPublisher(settings.publisher) as publisher:
        for event in good + good[-5:]:  # five duplicates: a publisher retrying its last sends
            publisher.publish(event)
        for payload in bad:
            publisher.publish_raw(payload, b"anon-000090")

    dead = records(settings, DEAD_LETTER, len(bad))
    assert sorted(d["reason"] for d in dead) == ["not_an_object", "not_json", "not_utf8", "schema"]
    assert sorted(base64.b64decode(d["original"]) for d in dead) == sorted(bad)
    assert all(d["topic"] == settings.topics.name("touchpoints") and d["offset"] >= 0 for d in dead)
    assert "no UTC offset" in next(d for d in dead if d["reason"] == "schema")["message"]

    touchpoints = records(settings, JOURNEY_TOUCHPOINTS, len(good))
    assert sorted(t["event_id"] for t in touchpoints) == sorted(e["event_id"] for e in good)  # once each

    consumed = len(good) + 5 + len(bad)
    counts = {
        o: worker.counter("journey_events_total", outcome=o, stage="ingest") for o in ("valid", "duplicate", "invalid")
    }
    assert counts == {"valid": len(good), "duplicate": 5, "invalid": len(bad)}
    assert sum(counts.values()) == consumed  # consumed = valid + duplicate + dead-lettered


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGKILL], ids=["graceful", "kill-9"])
def test_restart_mid_stream_resumes_from_the_changelog(
    settings: Settings, worker: WorkerProcess, stop_signal: int
) -> None:
    journeys = [sample_journey(seed, START) for seed in range(20, 20 + CUSTOMERS)]
    day_one = [e for j in journeys for e in j[:6]]
    day_two = [e for j in journeys for e in j[6:]]
    publish(settings, day_one)
    records(settings, JOURNEY_TOUCHPOINTS, len(day_one))  # processed: day-1 sessions are open in state

    worker.stop(stop_signal)
    worker.start()
    publish(settings, day_two)
    records(settings, JOURNEY_TOUCHPOINTS, len(day_one) + len(day_two), where=lambda r: r["source"] != "test-clock")
    advance_event_time(settings, START + timedelta(days=3))

    sessions = records(settings, JOURNEY_SESSIONS, 2 * CUSTOMERS, where=customer_sessions)
    by_id: dict[str, list[dict]] = {}
    for s in sessions:
        by_id.setdefault(s["session_id"], []).append(s)
    assert len(by_id) == 2 * CUSTOMERS  # no session lost, none split by the restart
    for copies in by_id.values():
        assert all(c == copies[0] for c in copies)  # a replay after kill -9 re-sends identical records
    assert sorted(c[0]["event_count"] for c in by_id.values()) == [5] * CUSTOMERS + [6] * CUSTOMERS, [
        (c[0]["journey_key"], c[0]["event_count"], c[0]["path"]) for c in by_id.values() if c[0]["event_count"] > 6
    ]


def test_events_placed_by_another_partitioner_are_moved_to_their_keys_partition(
    settings: Settings, worker: WorkerProcess
) -> None:
    """A device's identity link lives in stage 1's state on its key's partition (murmur2, as the SDK
    places it). A publisher with another partitioner (librdkafka's default, CRC32) puts the same
    key elsewhere: stage 1 moves those records to the key's partition, so the device's later
    events still join the customer it was linked to, each once."""
    import zlib

    from confluent_kafka import Producer

    from journey.streams.murmur2 import key_partition

    partitions = settings.topics.partitions
    device = next(f"anon-moved-{n}" for n in range(1000)
                  if zlib.crc32(f"anon-moved-{n}".encode()) % partitions != key_partition(f"anon-moved-{n}", partitions))  # fmt: skip

    def event(at: datetime, **ids: str) -> dict:
        return {"event_id": str(uuid.uuid4()), "occurred_at": at.isoformat(), "channel": "web",
                "touchpoint": "page.viewed", "source": "web", "anonymous_id": device, **ids}  # fmt: skip

    linked = [event(START), event(START + timedelta(minutes=1), customer_id="cust-moved")]
    publish(settings, linked)  # the SDK: on the key's partition, where the link is made
    later = [event(START + timedelta(minutes=m)) for m in (2, 3, 4)]
    producer = Producer(settings.kafka.confluent_config())  # librdkafka's own placement
    for body in later:
        producer.produce(settings.topics.name("touchpoints"), orjson.dumps(body), device.encode())
    assert producer.flush(30) == 0

    ids = {e["event_id"] for e in linked + later}
    out = records(settings, JOURNEY_TOUCHPOINTS, len(ids), where=lambda r: r["event_id"] in ids)
    time.sleep(2)  # and nothing more comes
    out = records(settings, JOURNEY_TOUCHPOINTS, len(ids), where=lambda r: r["event_id"] in ids)
    assert Counter(r["event_id"] for r in out) == Counter(ids)
    assert {r["journey_key"] for r in out if r["event_id"] in {e["event_id"] for e in later}} == {"cust-moved"}
    assert worker.counter("journey_events_total", stage="ingest", outcome="misrouted") == len(later)


def test_a_source_partition_ending_in_a_dead_letter_still_moves_on(settings: Settings, worker: WorkerProcess) -> None:
    """Progress is where stage 1 has read to, whatever the record was: a partition whose last
    record was dead-lettered is caught up, so once silent its progress moves on with the wall
    clock (streams/ticks.py) instead of holding every watermark at its last event."""
    from confluent_kafka import Producer

    def event(customer: str, at: datetime) -> bytes:
        return orjson.dumps({"event_id": str(uuid.uuid4()), "occurred_at": at.isoformat(), "customer_id": customer,
                             "channel": "web", "touchpoint": "page.viewed", "source": "web"})  # fmt: skip

    topic = settings.topics.name("touchpoints")
    customers = keys_by_partition(settings.topics.partitions, "cust-idle")  # customers[p] belongs on partition p
    producer = Producer(settings.kafka.confluent_config())
    for partition, customer in enumerate(customers):  # each partition: an event, then a record to dead-letter
        producer.produce(topic, event(customer, START), customer.encode(), partition=partition)
        producer.produce(topic, b"{not json", None, partition=partition)
    assert producer.flush(30) == 0
    assert len(records(settings, DEAD_LETTER, settings.topics.partitions)) == settings.topics.partitions

    stuck = (START - timedelta(minutes=settings.sessions.grace_minutes)).timestamp()  # the last events' watermark

    def moved_on_by(seconds: float) -> bool:
        return all(worker.counter("journey_watermark_seconds", partition=str(p)) > stuck + seconds
                   for p in range(settings.topics.partitions))  # fmt: skip

    wait_until(lambda: moved_on_by(2), 60, lambda: worker.metrics_text()[-2000:])
    first = [worker.counter("journey_watermark_seconds", partition=str(p)) for p in range(settings.topics.partitions)]
    time.sleep(3)
    wait_until(lambda: moved_on_by(max(first) - stuck + 1), 30, lambda: f"watermarks stayed at {first}")


def test_records_committed_without_being_processed_are_counted_and_logged(
    settings: Settings, worker: WorkerProcess
) -> None:
    """Faust can commit past records it skipped during a rebalance. Stage 1 remembers where it
    read each partition to, so a gap when it resumes is counted and logged, never silent."""
    from confluent_kafka import Consumer, Producer, TopicPartition

    from journey.streams.lag import partition_progress
    from tests.integration.worker_helpers import wait_caught_up

    topic = settings.topics.name("touchpoints")

    customer = keys_by_partition(settings.topics.partitions, "cust-gap")[0]  # belongs on partition 0

    def send(count: int) -> None:
        producer = Producer(settings.kafka.confluent_config())
        for _ in range(count):
            body = {"event_id": str(uuid.uuid4()), "occurred_at": START.isoformat(), "customer_id": customer,
                    "channel": "web", "touchpoint": "page.viewed", "source": "web"}  # fmt: skip
            producer.produce(topic, orjson.dumps(body), customer.encode(), partition=0)
        assert producer.flush(30) == 0

    send(1)
    wait_caught_up(settings, worker, stages_only=True)
    worker.stop()
    send(3)  # then committed as if processed: what Faust's skip does
    end = partition_progress(settings, settings.worker.app_id, [topic])[(topic, 0)][1]
    group = Consumer(
        {**settings.kafka.confluent_config(), "group.id": settings.worker.app_id, "enable.auto.commit": False}
    )
    group.commit(offsets=[TopicPartition(topic, 0, end)], asynchronous=False)
    group.close()
    send(1)
    worker.start()
    wait_caught_up(settings, worker, stages_only=True)

    assert worker.counter("journey_offset_gaps_total", topic="touchpoints") == 3
    assert (
        f"{topic}[0]: offset 4 read before 1 to 3 (out of order, or committed without being processed)"
        in worker.log_tail(400)
    )


def test_dlq_inspect_counts_dead_letters_by_reason_source_and_hour(settings: Settings, worker: WorkerProcess) -> None:
    """An operator's first look after a bad deploy: `journey dlq inspect --json` on what stage 1
    dead-lettered, with the originals in the samples."""
    import subprocess
    import sys

    from confluent_kafka import Producer

    topic = settings.topics.name("touchpoints")
    good = {"event_id": str(uuid.uuid4()), "occurred_at": START.isoformat(), "customer_id": "cust-dlq",
            "channel": "web", "touchpoint": "page.viewed", "source": "web"}  # fmt: skip
    no_time = {k: v for k, v in good.items() if k != "occurred_at"} | {"source": "billing-service"}
    bad = [b"{not json", b"\xff\xfe not utf-8"] + [
        orjson.dumps(no_time | {"event_id": str(uuid.uuid4())}) for _ in range(3)
    ]
    producer = Producer(settings.kafka.confluent_config())
    for value in bad:
        producer.produce(topic, value, b"cust-dlq")
    producer.produce(topic, orjson.dumps(good), b"cust-dlq")
    assert producer.flush(30) == 0
    assert len(records(settings, DEAD_LETTER, len(bad))) == len(bad)

    command = [
        sys.executable,
        "-c",
        "from journey.cli.app import app; app()",
        "dlq",
        "inspect",
        "--json",
        "--samples",
        "2",
    ]
    result = subprocess.run(command, env=worker.env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    stage, sink = orjson.loads(result.stdout)["topics"]
    assert stage["topic"] == settings.topics.name(DEAD_LETTER) and stage["total"] == 5
    assert stage["by_reason"] == {"schema (occurred_at)": 3, "not_json": 1, "not_utf8": 1}
    assert stage["by_source"] == {"billing-service": 3, "(no source: not a JSON object)": 2}
    assert sum(stage["by_hour"].values()) == 5
    assert len(stage["samples"]["schema (occurred_at)"]) == 2  # at most --samples per reason
    assert stage["samples"]["not_json"][0]["original"] == "{not json"
    assert sink["total"] == 0  # no sink ran

    tables = subprocess.run(
        command[:-3], env={**worker.env, "COLUMNS": "160"}, capture_output=True, text=True, timeout=120
    )
    assert tables.returncode == 0, tables.stderr
    assert (
        "5 records" in tables.stdout and "schema (occurred_at)" in tables.stdout and "billing-service" in tables.stdout
    )


def test_dlq_replay_corrects_and_republishes_dead_letters_once(
    settings: Settings, worker: WorkerProcess, tmp_path
) -> None:
    """After a bad deploy of billing (a channel the contract does not know) is fixed: a dry run
    says what a fix-up would let through and publishes nothing; the replay publishes it; a second
    replay is dropped by stage 1 as duplicates. Dead letters a fix cannot reach are exported,
    corrected by hand and replayed from the file."""
    import subprocess
    import sys

    from confluent_kafka import Producer

    topic = settings.topics.name("touchpoints")
    base = {"occurred_at": (START + timedelta(hours=5)).isoformat(), "customer_id": "cust-replay",
            "touchpoint": "billing.invoice_sent", "source": "billing-replay"}  # fmt: skip
    fax = [base | {"event_id": str(uuid.uuid4()), "channel": "fax"} for _ in range(6)]
    garbled = [b"{'event_id': 'x', channel: email", b"billing says hello"]
    producer = Producer(settings.kafka.confluent_config())
    for value in [orjson.dumps(e) for e in fax] + garbled:
        producer.produce(topic, value, b"cust-replay")
    assert producer.flush(30) == 0
    records(
        settings,
        DEAD_LETTER,
        len(fax) + len(garbled),
        where=lambda r: b"cust-replay" in base64.b64decode(r["original"]) or r["reason"] == "not_json",
    )
    ids = {e["event_id"] for e in fax}
    replayed = lambda r: r["event_id"] in ids  # noqa: E731

    journey = [sys.executable, "-c", "from journey.cli.app import app; app()", "dlq", "replay"]
    fix = ["--reason", "schema", "--source", "billing-replay", "--fix", '{**event, "channel": "email"}']
    env = {**worker.env, "COLUMNS": "200"}
    dry = subprocess.run([*journey, *fix, "--dry-run"], env=env, capture_output=True, text=True, timeout=120)
    assert dry.returncode == 0, dry.stderr
    assert "6 candidates" in dry.stdout and "6 would pass now" in dry.stdout, dry.stdout
    unfixed = subprocess.run([*journey, "--reason", "schema", "--source", "billing-replay", "--dry-run"], env=env,
                             capture_output=True, text=True, timeout=120)  # fmt: skip
    assert "0 would pass now" in unfixed.stdout and "schema (channel)" in unfixed.stdout, unfixed.stdout
    assert records(settings, JOURNEY_TOUCHPOINTS, 1, where=replayed, timeout_s=5) == []  # a dry run sends nothing

    duplicates_before = worker.counter("journey_events_total", stage="ingest", outcome="duplicate")
    for _attempt in range(2):
        run = subprocess.run([*journey, *fix], env=env, capture_output=True, text=True, timeout=120)
        assert run.returncode == 0 and "replayed 6 events" in run.stdout, run.stdout + run.stderr
        out = records(settings, JOURNEY_TOUCHPOINTS, len(fax), where=replayed)
        assert sorted(r["event_id"] for r in out) == sorted(ids) and {r["channel"] for r in out} == {"email"}
    deadline = time.monotonic() + 30
    while worker.counter("journey_events_total", stage="ingest", outcome="duplicate") < duplicates_before + 6:
        assert time.monotonic() < deadline, "the second replay was not dropped as duplicates"
        time.sleep(0.5)
    assert len(records(settings, JOURNEY_TOUCHPOINTS, 7, where=replayed, timeout_s=5)) == 6  # each once

    exported = tmp_path / "garbled.jsonl"
    run = subprocess.run([*journey, "--reason", "not_json", "--export", str(exported)], env=env, capture_output=True,
                         text=True, timeout=120)  # fmt: skip
    assert run.returncode == 0, run.stderr
    lines = exported.read_bytes().splitlines()
    assert set(garbled) <= set(lines)
    corrected = tmp_path / "corrected.jsonl"
    corrected.write_bytes(b"\n".join(orjson.dumps(base | {"event_id": str(uuid.uuid4()), "channel": "email"})
                                     for _ in garbled))  # fmt: skip
    run = subprocess.run([*journey, "--from-file", str(corrected), "--dry-run"], env=env, capture_output=True, text=True,
                         timeout=120)  # fmt: skip
    assert "2 candidates" in run.stdout and "2 would pass now" in run.stdout, run.stdout
