"""`journey run` (stages and sink in one process, on the embedded engine) on the real broker:
killed with SIGKILL at random points (KILL_SEED=<n> replays a run's delays; `make kill-loop` repeats
the test) and restarted, it ends with exactly the input in ClickHouse, rollups included; started
against an unreachable ClickHouse, it loses nothing once pointed at the right one."""

from __future__ import annotations

import os
import random
import signal
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from journey.cli.localstack.kafka import free_loopback_port
from journey.cli.samples import sample_journey
from journey.cli.worker_process import WorkerProcess
from journey.config import Settings
from journey.publisher import TouchpointPublisher
from journey.streams.lag import pipeline_lag
from journey.topics import create_topics
from tests.integration.worker_helpers import (
    advance_event_time,
    assert_adds_up,
    engine_json,
    make_test_worker,
    report_json,
    wait_caught_up,
)

pytestmark = pytest.mark.integration

START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
SESSIONS_PER_JOURNEY = 2  # the sample journey: a visit, then onboarding and support days later
TRANSITIONS_PER_JOURNEY = 4

# Exact counts: raw tables after OPTIMIZE … FINAL (replacing engines collapse re-sent records),
# rollups through their uniqExact states.
COUNTS = """
import sys, orjson, clickhouse_connect
c = clickhouse_connect.get_client(dsn=sys.argv[1])
q = lambda sql: c.query(sql).result_rows[0][0]
for table in ("touchpoints", "sessions", "friction_signals", "stage_transitions", "identity_links", "survey_responses"):
    c.command(f"OPTIMIZE TABLE journey.{table} FINAL")
real = "journey_key LIKE 'cust-%'"
print(orjson.dumps({
  "touchpoints": q(f"SELECT count() FROM journey.touchpoints WHERE source != 'test-clock'"),
  "distinct_touchpoints": q("SELECT uniqExact(event_id) FROM journey.touchpoints WHERE source != 'test-clock'"),
  "sessions": q(f"SELECT count() FROM journey.sessions WHERE {real}"),
  "signals": q(f"SELECT count() FROM journey.friction_signals WHERE {real}"),
  "transitions": q("SELECT count() FROM journey.stage_transitions WHERE journey_key NOT LIKE 'clock-%'"),
  "links": q("SELECT count() FROM journey.identity_links"),
  "csat": q("SELECT count() FROM journey.survey_responses WHERE kind = 'csat'"),
  "rollup_touchpoints": q("SELECT uniqExactMerge(events) FROM journey.touchpoints_per_minute WHERE touchpoint != 'web.heartbeat'"),
  "rollup_signals": q("SELECT uniqExactMerge(signals) FROM journey.friction_per_minute"),
  "rollup_csat": q("SELECT uniqExactMerge(answers) FROM journey.cx_scores_per_hour WHERE kind = 'csat'"),
}).decode())
"""


def run_process(settings: Settings, workdir: Path, dsn: str) -> WorkerProcess:
    """`journey run` of the test's app (the same group and state on every start), small batches."""
    return make_test_worker(settings, workdir, "run", JOURNEY_CLICKHOUSE__DSN=dsn, JOURNEY_SINK__MAX_WAIT_S="0.3",
                            JOURNEY_SINK__MAX_ROWS="40", JOURNEY_SINK__RETRY_BACKOFF_S="[0.2, 0.5]")  # fmt: skip


def publish_journeys(settings: Settings, seeds: range) -> int:
    events = [e for seed in seeds for e in sample_journey(seed, START)]
    with TouchpointPublisher(settings.publisher) as publisher:
        for event in events:
            publisher.publish(event)
    return len(events)


def close_sessions(settings: Settings, process: WorkerProcess, stages_only: bool = False) -> None:
    """Once the journeys went through, move event time on by days (as later traffic would): every
    session closes and every timer fires. Earlier, the heartbeat could overtake the journeys and
    make their events late, which is another test (test_stream_stages)."""
    wait_caught_up(settings, process, stages_only=stages_only)
    advance_event_time(settings, START + timedelta(days=3))
    wait_caught_up(settings, process, stages_only=stages_only)


def counts(dsn: str) -> dict[str, int]:
    return engine_json(COUNTS, dsn)


def expected(journeys: int, events: int) -> dict[str, int]:
    return {"touchpoints": events, "distinct_touchpoints": events, "sessions": SESSIONS_PER_JOURNEY * journeys,
            "signals": journeys, "transitions": TRANSITIONS_PER_JOURNEY * journeys, "links": journeys,
            "csat": journeys, "rollup_touchpoints": events, "rollup_signals": journeys, "rollup_csat": journeys}  # fmt: skip


def test_kill_9_at_random_points_then_restart_gives_exactly_the_input(settings: Settings, tmp_path: Path) -> None:
    seed = int(os.environ.get("KILL_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    create_topics(settings)
    dsn = f"chdb://{tmp_path / 'clickhouse'}"
    process = run_process(settings, tmp_path, dsn)
    journeys, events, kills = 0, 0, []
    for _ in range(4):
        process.start()
        events += publish_journeys(settings, range(journeys, journeys + 12))
        journeys += 12
        delay = rng.uniform(0.2, 4.0)
        time.sleep(delay)
        kills.append(round(delay, 2))
        process.stop(signal.SIGKILL)
    process.start()  # the last start: let it finish, then stop it cleanly
    close_sessions(settings, process)
    assert process.stop() == 0, process.log_tail()
    got = counts(dsn)
    assert got == expected(journeys, events), f"KILL_SEED={seed}, killed {kills} s after publishing"
    assert_adds_up(settings, dsn)


def test_kill_9_once_caught_up_then_more_traffic_gives_exactly_the_input(settings: Settings, tmp_path: Path) -> None:
    create_topics(settings)
    dsn = f"chdb://{tmp_path / 'clickhouse'}"
    process = run_process(settings, tmp_path, dsn)
    process.start()
    events = publish_journeys(settings, range(0, 12))
    wait_caught_up(settings, process)
    process.stop(signal.SIGKILL)  # stages and sink both caught up: a restart must re-insert nothing
    process.start()
    events += publish_journeys(settings, range(12, 24))
    close_sessions(settings, process)
    beside = report_json(process.env)  # the engine is open in `journey run`: served by its /report.json
    assert process.stop() == 0, process.log_tail()
    assert counts(dsn) == expected(24, events)
    assert_adds_up(settings, dsn)
    direct = report_json(process.env)  # now read from the files
    assert beside == direct, [(a, b) for a, b in zip(beside["sections"], direct["sections"], strict=False) if a != b]
    by_channel = next(s for s in direct["sections"] if s["name"] == "volume_by_channel")
    heartbeats = settings.topics.partitions
    assert sum(row[1] for row in by_channel["rows"]) == events + heartbeats


def test_an_unreachable_clickhouse_then_the_right_one_loses_nothing(settings: Settings, tmp_path: Path) -> None:
    create_topics(settings)
    nowhere = f"http://127.0.0.1:{free_loopback_port()}"  # nothing listens there
    process = run_process(settings, tmp_path, nowhere)
    process.start()
    events = publish_journeys(settings, range(10))
    close_sessions(settings, process, stages_only=True)  # the stages go on without ClickHouse
    assert process.counter("journey_sink_clickhouse_up") == 0
    assert pipeline_lag(settings)["sink"] > 0  # nothing written, nothing committed
    assert process.stop() == 0, process.log_tail()  # stops cleanly although ClickHouse never answered
    assert "ClickHouse not ready" in process.log_tail(400)

    dsn = f"chdb://{tmp_path / 'clickhouse'}"
    process = run_process(settings, tmp_path, dsn)  # the same app id: its state and offsets
    process.start()
    wait_caught_up(settings, process)
    assert process.stop() == 0, process.log_tail()
    assert counts(dsn) == expected(10, events)
    assert_adds_up(settings, dsn)
