"""10,000 bad records of every kind a broken publisher sends (journey/cli/simulation/poison.py: not
JSON, invalid UTF-8, wrong types, NaN/Infinity, nesting past the parser's limit, ~1 MB payloads,
far-future and far-past timestamps, unknown fields, missing ids, empty records, wrong keys) mixed
into good traffic through one `journey worker`: every bad record lands in touchpoints.dlq with
its reason and its original bytes, the good events (and the re-keyed ones) come out exactly
once, and the worker stays up throughout."""

from __future__ import annotations

import base64
import hashlib
import signal
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from journey.cli.samples import sample_journey
from journey.cli.simulation.poison import KINDS, poison
from journey.cli.topic_reader import read_to_end
from journey.cli.worker_process import WorkerProcess
from journey.config import Settings
from journey.publisher import TouchpointPublisher
from journey.topics import DEAD_LETTER, JOURNEY_TOUCHPOINTS, create_topics
from tests.integration.worker_helpers import make_test_worker, wait_caught_up

pytestmark = pytest.mark.integration

START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
POISON = 10_000
HUGE = 10  # ~1 MB each


def digest(value: bytes) -> str:
    return hashlib.sha256(value).hexdigest()


def test_ten_thousand_bad_records_all_dead_lettered_and_the_good_exact(settings: Settings, tmp_path: Path) -> None:
    create_topics(settings)
    worker = make_test_worker(settings, tmp_path)
    worker.start()
    try:
        check_poison(settings, worker)
    finally:
        worker.stop(signal.SIGKILL)


def check_poison(settings: Settings, worker: WorkerProcess) -> None:
    good = [event for seed in range(40) for event in sample_journey(seed, START)]
    bad = list(poison(good, POISON, published_at=datetime.now(UTC), huge=HUGE))
    assert {record.kind for record in bad} == set(KINDS)
    every = POISON // len(good)
    with TouchpointPublisher(settings.publisher) as publisher:
        for n, record in enumerate(bad):
            publisher.publish_raw(record.value, record.key)
            if n % every == 0 and n // every < len(good):
                publisher.publish(good[n // every])
    wait_caught_up(settings, worker, timeout_s=300, stages_only=True)
    assert worker.process.poll() is None, worker.log_tail()

    dead = [orjson.loads(m.value()) for m in read_to_end(settings, settings.topics.name(DEAD_LETTER))]
    expected = [record for record in bad if record.reason is not None]
    assert Counter(d["reason"] for d in dead) == Counter(record.reason for record in expected)
    assert Counter(digest(base64.b64decode(d["original"])) for d in dead) == Counter(digest(r.value) for r in expected)
    assert all(d["message"] for d in dead)

    rekeyed = [orjson.loads(record.value) for record in bad if record.kind == "wrong_key"]
    out = [
        orjson.loads(m.value())["event_id"] for m in read_to_end(settings, settings.topics.name(JOURNEY_TOUCHPOINTS))
    ]
    assert Counter(out) == Counter(str(event["event_id"]) for event in good + rekeyed)
    assert worker.counter("journey_events_total", stage="ingest", outcome="invalid") == len(expected)
    assert worker.counter("journey_events_total", stage="ingest", outcome="misrouted") == len(rekeyed)
    assert worker.stop() == 0, worker.log_tail()  # a clean stop; the SIGKILL after it finds nothing to stop
