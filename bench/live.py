"""Live traffic at a fixed rate through `journey run`: latency from `occurred_at` to queryable,
and memory and lag over time.

`journey run` (embedded ClickHouse) starts on an empty topic of its own; a paced publisher (the
SDK) sends the simulated records with `occurred_at` rewritten to the moment of sending, as a live
service would, `rate` events/s for `seconds`. The process's RSS, its state (`journey_state_bytes`,
and the RocksDB directories on disk) and the pipeline's lag are sampled every `sample_s`. Then the process drains and stops, and this process opens the embedded engine:
a row's latency is ClickHouse's `_inserted_at` (set by the insert that made it queryable) minus
its `occurred_at`.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import orjson

from bench.pipeline import _env, _gone, _pipeline_left, wait_drained
from journey.cli.localstack.kafka import free_loopback_port as free_port
from journey.cli.simulation.generate import Outgoing
from journey.cli.worker_process import WorkerProcess, metric_sample
from journey.config import ClickHouseSettings, Settings
from journey.publisher import TouchpointPublisher
from journey.sinks.clickhouse_client import connect
from journey.streams.lag import pipeline_lag
from journey.topics import STATE_TABLES

PACE_S = 0.01
REPEAT_NAMESPACE = uuid.UUID("5b0e8f53-3c57-4d8e-9a51-0c2d6f1e7a90")


@dataclass
class LiveRun:
    rate: float
    seconds: float
    rows: int = 0
    latency_ms: dict[str, float] = field(default_factory=dict)  # p50, p95, p99, max
    rss_mib: list[tuple[float, float]] = field(default_factory=list)  # (seconds since start, RSS)
    state_mib: list[tuple[float, float]] = field(default_factory=list)  # (seconds since start, state: live estimate)
    disk_mib: list[tuple[float, float]] = field(default_factory=list)  # (seconds since start, state on disk)
    lag: list[tuple[float, dict[str, int]]] = field(default_factory=list)  # (seconds since start, {consumer: records})

    def rss_note(self) -> str:
        """RSS after the first minute (warm-up: tables, caches) against the end."""
        settled = [mib for at, mib in self.rss_mib if at >= min(60, self.seconds / 2)] or [m for _, m in self.rss_mib]
        return f"RSS {settled[0]:,.0f} → {settled[-1]:,.0f} MiB (max {max(settled):,.0f})"

    def lag_note(self) -> str:
        """The largest backlog each consumer had (stages: touchpoints and stitched; sink: journey.*)."""
        consumers = sorted({name for _, lag in self.lag for name in lag})
        peaks = {name: max(lag.get(name, 0) for _, lag in self.lag) for name in consumers}
        return "lag at most " + ", ".join(f"{peak:,} records ({name})" for name, peak in peaks.items())


def live_run(settings: Settings, records: list[Outgoing], rate: float, seconds: float, workdir: Path,
             sample_s: float = 5, extra_env: dict[str, str] | None = None) -> LiveRun:  # fmt: skip
    """`extra_env`: more JOURNEY_* settings for the `journey run` process."""
    env = {**_env(settings, workdir, "run"), **(extra_env or {})}
    process = WorkerProcess(settings, workdir, free_port(), "run", **env)
    process.start()
    result = LiveRun(rate, seconds)
    started = time.monotonic()
    next_sample = started
    sent = 0
    try:
        with TouchpointPublisher(settings.publisher) as publisher:
            while (elapsed := time.monotonic() - started) < seconds:
                due = int(elapsed * rate)  # the input repeats, under new event ids
                while sent < due:
                    record = records[sent % len(records)]
                    publisher.publish_raw(_sent_now(record.value, sent // len(records)), record.key)
                    sent += 1
                if time.monotonic() >= next_sample:
                    if trouble := _gone(process):
                        raise RuntimeError(trouble)
                    result.rss_mib.append((elapsed, _rss_mib(process.process.pid)))
                    result.disk_mib.append((elapsed, _tree_mib(Path(env["JOURNEY_WORKER__DATA_DIR"]))))
                    metrics = process.metrics_text()
                    state = sum(metric_sample(metrics, "journey_state_bytes", table=t) for t in STATE_TABLES)
                    result.state_mib.append((elapsed, state / 2**20))
                    result.lag.append((elapsed, pipeline_lag(settings)))
                    next_sample += sample_s
                time.sleep(PACE_S)
        wait_drained(_pipeline_left(settings), 600, lambda: _gone(process))
    finally:
        process.stop()
    client = connect(ClickHouseSettings(dsn=env["JOURNEY_CLICKHOUSE__DSN"], database=settings.clickhouse.database))
    rows, p50, p95, p99, worst = client.query(
        "SELECT count(), quantilesExact(0.5, 0.95, 0.99)(ms)[1], quantilesExact(0.5, 0.95, 0.99)(ms)[2], "
        "quantilesExact(0.5, 0.95, 0.99)(ms)[3], max(ms) FROM (SELECT dateDiff('millisecond', occurred_at, "
        f"_inserted_at) AS ms FROM {settings.clickhouse.database}.touchpoints)"
    ).result_rows[0]  # fmt: skip
    result.rows = rows
    result.latency_ms = {"p50": p50, "p95": p95, "p99": p99, "max": worst}
    return result


def _sent_now(value: bytes, repeat: int) -> bytes:
    """The record as sent now: `occurred_at` is the moment of sending; on the input's `repeat`-th
    round, a new event id (else every event would be a duplicate). Malformed ones unchanged."""
    try:
        body = orjson.loads(value)
    except orjson.JSONDecodeError:
        return value
    if not isinstance(body, dict) or not isinstance(body.get("occurred_at"), str):
        return value
    body["occurred_at"] = datetime.now(UTC).isoformat(timespec="milliseconds")
    if repeat and isinstance(body.get("event_id"), str):
        body["event_id"] = str(uuid.uuid5(REPEAT_NAMESPACE, f"{body['event_id']}/{repeat}"))
    return orjson.dumps(body)


def _tree_mib(directory: Path) -> float:
    return sum(f.stat().st_size for f in directory.rglob("*") if f.is_file()) / 2**20 if directory.exists() else 0.0


def _rss_mib(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text().splitlines()
    return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:")) / 1024
