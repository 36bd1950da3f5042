"""Run `journey worker` as a real process against the session broker, and drive event time."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import orjson

from journey.cli.worker_process import WorkerProcess, broker_env
from journey.config import Settings
from journey.publisher import TouchpointPublisher
from journey.sinks.rows import TABLES
from journey.streams.lag import group_lag, partition_progress, pipeline_lag
from journey.streams.murmur2 import key_partition
from journey.topics import STITCHED, TOUCHPOINTS
from tests.conftest import free_port

OFFSET_GAP = "out of order, or committed without being processed"  # streams.worker._check_contiguous


def make_test_worker(settings: Settings, workdir: Path, command: str = "worker", **env: str) -> WorkerProcess:
    """`journey worker` (or `journey run`) with the test's app id (its own group and state), quick
    ticks and quick group recovery; `env`: more JOURNEY_* settings (or other values of these)."""
    defaults = {
        "JOURNEY_WORKER__APP_ID": settings.worker.app_id,
        "JOURNEY_WORKER__DATA_DIR": str(workdir / "worker-data"),
        "JOURNEY_WORKER__TICK_INTERVAL_S": str(TICK_S),
        "JOURNEY_WORKER__BATCH_WITHIN_S": "0.2",
        "JOURNEY_WORKER__SOURCE_IDLE_S": str(SOURCE_IDLE_S),
        "JOURNEY_WORKER__SESSION_TIMEOUT_S": "6",  # a killed worker's partitions move on quickly
    }
    return WorkerProcess(settings, workdir, free_port(), command, **(defaults | env))


@dataclass
class Cluster:
    """N workers and one sink on one test's topics; the sink owns the engine at `dsn`.
    `worker_env`: more JOURNEY_* settings for every worker."""

    settings: Settings
    workdir: Path
    worker_env: dict[str, str] = field(default_factory=dict)
    workers: list[WorkerProcess] = field(default_factory=list)
    sink: subprocess.Popen | None = None

    @property
    def dsn(self) -> str:
        return f"chdb://{self.workdir / 'clickhouse'}"

    def start_sink(self) -> None:
        env = {**broker_env(self.settings), "JOURNEY_WORKER__APP_ID": self.settings.worker.app_id,
               "JOURNEY_CLICKHOUSE__DSN": self.dsn, "JOURNEY_SINK__METRICS_PORT": str(free_port()),
               "JOURNEY_SINK__MAX_WAIT_S": "0.3"}  # fmt: skip
        journey = [sys.executable, "-c", "from journey.cli.app import app; app()"]
        subprocess.run([*journey, "migrate"], env=env, check=True, capture_output=True, timeout=120)
        self.workdir.mkdir(parents=True, exist_ok=True)
        with (self.workdir / "sink.log").open("ab") as log:
            self.sink = subprocess.Popen([*journey, "sink"], env=env, stdout=log, stderr=subprocess.STDOUT)

    def start_worker(self) -> WorkerProcess:
        worker = make_test_worker(self.settings, self.workdir / f"worker-{len(self.workers)}", **self.worker_env)
        self.workers.append(worker)
        worker.start()
        return worker

    def problem(self, killed: WorkerProcess | None = None) -> str | None:
        """Why a process that should run is gone, if one is."""
        if self.sink is None or self.sink.poll() is not None:
            return f"journey sink gone:\n{(self.workdir / 'sink.log').read_text()[-3000:]}"
        for worker in self.workers:
            if worker is not killed and worker.process.poll() is not None:
                return f"{worker.workdir.name} gone:\n{worker.log_tail()}"
        return None

    def stop(self) -> None:
        for worker in self.workers:
            assert worker.stop() in (0, -signal.SIGKILL), worker.log_tail()
            gaps = [line for line in worker.log_file.read_text(errors="replace").splitlines() if OFFSET_GAP in line]
            assert not gaps, f"{worker.workdir.name} read offsets out of order: {gaps[:5]}"
        if self.sink is not None and self.sink.poll() is None:
            self.sink.terminate()
            assert self.sink.wait(60) == 0, (self.workdir / "sink.log").read_text()[-3000:]


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
    worker's timers take (lag 0 alone can come before the timers' last outputs); on the stitched
    topic a round of silent sources' progress heartbeats is not work left, once it is read.
    `alive` returns why the process is gone, if it is."""
    quiet_since: list[float] = []

    heartbeats = settings.topics.partitions**2  # a round of silent sources' progress (streams/ticks.py)

    stage_inputs = [settings.topics.name(TOUCHPOINTS), settings.topics.name(STITCHED)]
    outputs = [settings.topics.name(table) for table in TABLES]

    def quiet() -> bool:
        gone = alive()
        assert gone is None, gone
        left: Counter[str] = Counter()  # one reading of both stage inputs: records after the group's commits
        for (topic, _), (resume, end) in partition_progress(settings, settings.worker.app_id, stage_inputs).items():
            left[topic] += end - resume
        touchpoints, stitched = left[stage_inputs[0]], left[stage_inputs[1]]
        sink = 0 if stages_only else group_lag(settings, f"{settings.worker.app_id}-sink", outputs)
        if touchpoints or stitched > heartbeats or sink:
            quiet_since.clear()
            return False
        quiet_since[:] = quiet_since or [time.monotonic()]
        return time.monotonic() - quiet_since[0] >= QUIET_S and stitched == 0

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


def assert_adds_up(settings: Settings, dsn: str) -> dict:
    """`journey audit --json` on the pipeline's ClickHouse and live state (the engine free): every
    conservation invariant holds (journey/reports/audit.py). Returns the audit."""
    env = {**broker_env(settings), "JOURNEY_WORKER__APP_ID": settings.worker.app_id, "JOURNEY_CLICKHOUSE__DSN": dsn}
    command = [sys.executable, "-c", "from journey.cli.app import app; app()", "audit", "--json"]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode in (0, 1), result.stderr[-3000:]
    audit = orjson.loads(result.stdout)
    assert audit["adds_up"] and result.returncode == 0, f"the numbers do not add up: {audit}"
    return audit


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
