"""Run `journey worker` as a real process against the session broker, and drive event time."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import orjson

from journey.cli.worker_process import WorkerProcess
from journey.config import Settings
from journey.publisher import TouchpointPublisher
from journey.streams.lag import pipeline_lag
from journey.streams.murmur2 import key_partition
from tests.conftest import free_port


def make_test_worker(settings: Settings, workdir: Path, command: str = "worker", **env: str) -> WorkerProcess:
    """`journey worker` (or `journey run`) with the test's app id (its own group and state), quick
    ticks and quick group recovery; `env`: more JOURNEY_* settings."""
    return WorkerProcess(
        settings, workdir, free_port(), command,
        JOURNEY_WORKER__APP_ID=settings.worker.app_id,
        JOURNEY_WORKER__DATA_DIR=str(workdir / "worker-data"),
        JOURNEY_WORKER__TICK_INTERVAL_S=str(TICK_S),
        JOURNEY_WORKER__BATCH_WITHIN_S="0.2",
        JOURNEY_WORKER__SOURCE_IDLE_S=str(SOURCE_IDLE_S),
        JOURNEY_WORKER__SESSION_TIMEOUT_S="6",  # a killed worker's partitions move on quickly
        **env,
    )  # fmt: skip


def wait_until(condition: Callable[[], bool], timeout_s: float = 60, explain: Callable[[], str] = str) -> None:
    """Poll `condition` until it holds; fail the test after `timeout_s`, saying `explain()`."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {timeout_s:.0f}s {explain()}"
        time.sleep(0.2)


# The test worker's timers: a silent touchpoints partition is announced idle after SOURCE_IDLE_S,
# checked every TICK_S. Until then a stitched partition may hold finished work (its watermark waits
# for the other sources), with no consumer lag to show for it.
SOURCE_IDLE_S, TICK_S = 2, 0.5
QUIET_S = SOURCE_IDLE_S + 4 * TICK_S


def wait_quiet(settings: Settings, timeout_s: float = 120, stages_only: bool = False,
               alive: Callable[[], str | None] = lambda: None) -> None:  # fmt: skip
    """Wait until the pipeline has nothing left to do: no consumer lag, for longer than the
    worker's idle announcements take (lag 0 alone can come before the timers' last outputs).
    `alive` returns why the process is gone, if it is."""
    quiet_since: list[float] = []

    def quiet() -> bool:
        gone = alive()
        assert gone is None, gone
        lag = pipeline_lag(settings)
        if lag["stages"] or (not stages_only and lag["sink"]):
            quiet_since.clear()
            return False
        quiet_since[:] = quiet_since or [time.monotonic()]
        return time.monotonic() - quiet_since[0] >= QUIET_S

    wait_until(quiet, timeout_s, lambda: f"lag {pipeline_lag(settings)}")


def wait_caught_up(
    settings: Settings, process: WorkerProcess, timeout_s: float = 120, stages_only: bool = False
) -> None:
    """`wait_quiet`, failing at once (with its log) if the process died."""

    def gone() -> str | None:
        return None if process.process and process.process.poll() is None else process.log_tail()

    wait_quiet(settings, timeout_s, stages_only, alive=gone)


# What the backfill and scale-out tests compare: figures of everything but the test clock's
# heartbeats, after the replacing engines collapsed re-sent records (OPTIMIZE … FINAL).
FIGURES = """
import sys, orjson, clickhouse_connect
c = clickhouse_connect.get_client(dsn=sys.argv[1])
for table in ("touchpoints", "sessions", "friction_signals", "stage_transitions", "identity_links", "survey_responses"):
    c.command(f"OPTIMIZE TABLE journey.{table} FINAL")
rows = lambda sql: [list(r) for r in c.query(sql).result_rows]
real = "journey_key NOT LIKE 'clock-%'"
print(orjson.dumps({
  "touchpoints": rows(f"SELECT count(), uniqExact(event_id), countIf(late) FROM journey.touchpoints WHERE source != 'test-clock'"),
  "sessions": rows(f"SELECT count(), sum(event_count), sum(toUnixTimestamp64Milli(ended_at) - toUnixTimestamp64Milli(started_at)),"
                   f" countIf(length(merged_from) > 0) FROM journey.sessions WHERE {real}"),
  "sessions_by_reason": rows(f"SELECT close_reason, count() FROM journey.sessions WHERE {real} GROUP BY 1 ORDER BY 1"),
  "transitions": rows(f"SELECT from_stage, to_stage, count() FROM journey.stage_transitions WHERE {real} GROUP BY 1, 2 ORDER BY 1, 2"),
  "signals": rows("SELECT kind, flow, severity, version, count() FROM journey.friction_signals GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4"),
  "signal_ids": rows("SELECT groupArray(signal_id) FROM (SELECT signal_id FROM journey.friction_signals ORDER BY signal_id)"),
  "nps": rows("SELECT count(), round(100 * (countIf(score >= 9) - countIf(score <= 6)) / count(), 2) FROM journey.survey_responses WHERE kind = 'nps'"),
}).decode())
"""


def engine_json(script: str, dsn: str) -> dict:
    """Run `script` (argv[1] = the ClickHouse DSN, JSON on stdout) in a process of its own: the
    embedded engine's files are read once `journey run` has let go of them."""
    result = subprocess.run([sys.executable, "-c", script, dsn], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    return orjson.loads(result.stdout)


def report_json(env: dict[str, str], *options: str) -> dict:
    """`journey report --json [options]` with a worker's environment (its ClickHouse)."""
    command = [sys.executable, "-c", "from journey.cli.app import app; app()", "report", "--json", *options]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    return orjson.loads(result.stdout)


def keys_by_partition(partitions: int, prefix: str) -> list[str]:
    """One key per partition, `<prefix>-<n>`, the i-th placed on partition i (murmur2, as the
    SDK places a key and stage 1 expects it)."""
    keys: dict[int, str] = {}
    n = 0
    while len(keys) < partitions:
        key = f"{prefix}-{n}"
        keys.setdefault(key_partition(key, partitions), key)
        n += 1
    return [keys[p] for p in range(partitions)]


def clock_keys(partitions: int) -> list[str]:
    """One customer id per partition: stitched partitions are journeys' murmur2 too."""
    return keys_by_partition(partitions, "clock")


def advance_event_time(settings: Settings, to: datetime) -> None:
    """Publish one heartbeat event per partition at `to`: event time moves on everywhere, so every
    session that ended a gap before it closes (as real traffic would make it)."""
    with TouchpointPublisher(settings.publisher) as publisher:
        for key in clock_keys(settings.topics.partitions):
            publisher.publish(
                {
                    "event_id": str(uuid.uuid4()),
                    "occurred_at": to.isoformat(),
                    "customer_id": key,
                    "channel": "web",
                    "touchpoint": "web.heartbeat",
                    "source": "test-clock",
                }
            )
