"""This pipeline end to end on the pre-filled topic: `journey run` (stages and sink in one
process, embedded ClickHouse), or N `journey worker` processes with one `journey sink` process
(the sink is the one process holding the embedded engine). Timed from the moment the processes
report ready until the consumer groups of the stages and of the sink have committed everything:
every row is then queryable."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.process_stats import process_stats
from journey.cli.localstack.kafka import free_loopback_port as free_port
from journey.cli.worker_process import WorkerProcess, broker_env
from journey.config import Settings
from journey.streams.lag import pipeline_lag

POLL_S = 0.5


@dataclass(frozen=True)
class PipelineRun:
    seconds: float
    cpu_s: float  # every process of the pipeline
    peak_rss_mib: float  # the largest one

    def rate(self, records: int) -> float:
        return records / self.seconds


def wait_drained(remaining: Callable[[], int | None], timeout_s: float, problem: Callable[[], str | None]) -> None:
    """Poll until `remaining()` (records not yet committed; None: not known yet) is 0; fail on
    `problem()` (a process gone) or after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while (left := remaining()) != 0:
        if trouble := problem():
            raise RuntimeError(trouble)
        if time.monotonic() > deadline:
            raise RuntimeError(f"not drained after {timeout_s:.0f}s: {left} records left")
        time.sleep(POLL_S)


def _pipeline_left(settings: Settings) -> Callable[[], int]:
    return lambda: sum(pipeline_lag(settings).values())


def journey_run(settings: Settings, workdir: Path, timeout_s: float = 3600) -> PipelineRun:
    """`journey run` alone: stages and sink in one process."""
    process = WorkerProcess(settings, workdir, free_port(), "run", **_env(settings, workdir, "run"))
    process.start()
    started = time.perf_counter()
    try:
        wait_drained(_pipeline_left(settings), timeout_s, lambda: _gone(process))
        seconds = time.perf_counter() - started
        stats = process_stats(process.process.pid)
    finally:
        process.stop()
    return PipelineRun(seconds, stats.cpu_s, stats.peak_rss_mib)


def workers_and_sink(settings: Settings, workdir: Path, workers: int, timeout_s: float = 3600) -> PipelineRun:
    """`workers` × `journey worker` (each its own port and state) and one `journey sink`."""
    env = {**broker_env(settings), **_env(settings, workdir, "sink"), "JOURNEY_SINK__METRICS_PORT": str(free_port())}
    workdir.mkdir(parents=True, exist_ok=True)
    journey = [sys.executable, "-c", "from journey.cli.app import app; app()"]
    subprocess.run([*journey, "migrate"], env=env, check=True, capture_output=True)
    sink_log = (workdir / "sink.log").open("ab")
    sink = subprocess.Popen([*journey, "sink"], env=env, stdout=sink_log, stderr=subprocess.STDOUT)
    processes = [WorkerProcess(settings, workdir / f"worker-{n}", free_port(), "worker",
                               **_env(settings, workdir / f"worker-{n}", "worker")) for n in range(workers)]  # fmt: skip
    try:
        for process in processes:
            process.start()
        started = time.perf_counter()

        def problem() -> str | None:
            if sink.poll() is not None:
                return f"journey sink exited with {sink.returncode}"
            return next((p for p in map(_gone, processes) if p), None)

        wait_drained(_pipeline_left(settings), timeout_s, problem)
        seconds = time.perf_counter() - started
        stats = [process_stats(p.process.pid) for p in processes] + [process_stats(sink.pid)]
    finally:
        for process in processes:
            process.stop()
        sink.terminate()
        sink.wait(60)
        sink_log.close()
    return PipelineRun(seconds, sum(s.cpu_s for s in stats), max(s.peak_rss_mib for s in stats))


def _env(settings: Settings, workdir: Path, role: str) -> dict[str, str]:
    env = {"JOURNEY_WORKER__APP_ID": settings.worker.app_id, "JOURNEY_WORKER__DATA_DIR": str(workdir / "state")}
    if role in ("run", "sink"):
        env["JOURNEY_CLICKHOUSE__DSN"] = f"chdb://{workdir / 'clickhouse'}"
    return env


def _gone(process: WorkerProcess) -> str | None:
    if process.process is not None and process.process.poll() is None:
        return None
    return f"{process.command} exited:\n{process.log_tail(30)}"
