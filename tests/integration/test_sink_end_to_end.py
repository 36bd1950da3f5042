"""Publish → `journey worker` → `journey sink` → ClickHouse (embedded engine, owned by the sink
process): exact row counts, and a restarted sink inserts nothing twice."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from journey.cli.localstack.kafka import free_loopback_port
from journey.cli.samples import sample_journey
from journey.cli.worker_process import WorkerProcess, metric_sample
from journey.config import Settings
from journey.publisher import TouchpointPublisher
from tests.integration.test_stream_stages import records
from tests.integration.worker_helpers import advance_event_time, wait_until

pytestmark = pytest.mark.integration

START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
QUERY = """
import sys, orjson, clickhouse_connect
c = clickhouse_connect.get_client(dsn=sys.argv[1])
q = lambda sql: c.query(sql).result_rows
print(orjson.dumps({
  "touchpoints": q("SELECT count() FROM journey.touchpoints WHERE source != 'test-clock'")[0][0],
  "distinct_touchpoints": q("SELECT uniqExact(event_id) FROM journey.touchpoints WHERE source != 'test-clock'")[0][0],
  "sessions": q("SELECT count() FROM journey.sessions FINAL WHERE journey_key LIKE 'cust-%'")[0][0],
  "session_rows": q("SELECT count() FROM journey.sessions WHERE journey_key LIKE 'cust-%'")[0][0],
  "signals": q("SELECT count() FROM journey.friction_signals WHERE journey_key LIKE 'cust-%'")[0][0],
  "links": q("SELECT count() FROM journey.identity_links")[0][0],
  "csat": q("SELECT count() FROM journey.survey_responses WHERE kind = 'csat'")[0][0],
}).decode())
"""


def cli(*args: str, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "from journey.cli.app import app; app()", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip


def sink_rows(port: int, table: str) -> float:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            text = response.read().decode()
    except OSError:
        return 0.0
    return metric_sample(text, "journey_sink_rows_total", table=table)


def test_sink_writes_exact_counts_and_a_restart_inserts_nothing_twice(
    settings: Settings, worker: WorkerProcess, tmp_path: Path
) -> None:
    dsn = f"chdb://{tmp_path / 'clickhouse'}"
    port = free_loopback_port()
    env = {**worker.env, "JOURNEY_CLICKHOUSE__DSN": dsn, "JOURNEY_SINK__METRICS_PORT": str(port),
           "JOURNEY_SINK__MAX_WAIT_S": "0.3"}  # fmt: skip
    assert cli("migrate", env=env).wait(60) == 0
    sink = cli("sink", env=env)
    try:
        journeys = [sample_journey(seed, START) for seed in range(60, 64)]
        with TouchpointPublisher(settings.publisher) as publisher:
            for event in (e for j in journeys for e in j):
                publisher.publish(event)
        events = sum(len(j) for j in journeys)
        records(settings, "journey.touchpoints", events)
        advance_event_time(settings, START + timedelta(days=3))
        wait_until(
            lambda: sink_rows(port, "sessions") >= 2 * len(journeys) and sink_rows(port, "touchpoints") >= events, 90
        )
        assert sink.poll() is None, sink.stdout.read().decode()[-3000:] if sink.stdout else ""
    finally:
        sink.send_signal(signal.SIGTERM)
        output = sink.communicate(timeout=60)[0].decode()
    assert sink.returncode == 0, output[-3000:]

    # A restarted sink resumes past what ClickHouse holds: it must insert nothing again.
    sink = cli("sink", env=env)
    time.sleep(8)
    sink.send_signal(signal.SIGTERM)
    sink.communicate(timeout=60)

    result = subprocess.run([sys.executable, "-c", QUERY, dsn], capture_output=True,
                            text=True, env=env, timeout=60)  # fmt: skip
    assert result.returncode == 0, result.stderr
    counts = orjson.loads(result.stdout)
    assert counts["touchpoints"] == counts["distinct_touchpoints"] == events
    assert counts["sessions"] == counts["session_rows"] == 2 * len(journeys)
    assert counts["signals"] == len(journeys)  # each sample journey: one negative CSAT answer
    assert counts["links"] == len(journeys)
    assert counts["csat"] == len(journeys)
