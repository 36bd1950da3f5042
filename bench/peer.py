"""The Quix Streams peer (bench/peers/quix/job.py) on the same pre-filled topic, in its own
virtualenv (created on first use from bench/peers/quix/requirements.txt). Timed like this
pipeline: from start until its consumer group has committed everything it reads (the source
topic and its repartition topic)."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from pathlib import Path

from confluent_kafka import Consumer

from bench.pipeline import PipelineRun, wait_drained
from bench.process_stats import process_stats
from journey.config import Settings
from journey.streams.lag import group_lag

PEER_DIR = Path(__file__).resolve().parent / "peers" / "quix"
PEER_PYTHON = PEER_DIR / ".venv" / "bin" / "python"


def ensure_environment() -> Path:
    if not PEER_PYTHON.exists():
        print("bench: creating the Quix Streams peer's virtualenv (bench/peers/quix/.venv)", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(PEER_DIR / ".venv")], check=True)
        subprocess.run(
            [str(PEER_PYTHON), "-m", "pip", "install", "-q", "-r", str(PEER_DIR / "requirements.txt")], check=True
        )
    return PEER_PYTHON


def _topics_of(settings: Settings, source: str, group: str) -> list[str]:
    consumer = Consumer({**settings.kafka.confluent_config(), "group.id": group})
    try:
        names = consumer.list_topics(timeout=10).topics
    finally:
        consumer.close()
    return [source] + [t for t in names if t.startswith("repartition__") and group in t]


def quix_job(settings: Settings, source: str, workdir: Path, timeout_s: float = 3600) -> PipelineRun:
    python = ensure_environment()
    group = f"peer-{uuid.uuid4().hex[:8]}"
    workdir.mkdir(parents=True, exist_ok=True)
    command = [str(python), str(PEER_DIR / "job.py"), settings.kafka.bootstrap_servers, source, group,
               str(workdir / "state"), f"chdb://{workdir / 'clickhouse'}"]  # fmt: skip
    with (workdir / "peer.log").open("ab") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    started = time.perf_counter()

    def left() -> int | None:
        topics = _topics_of(settings, source, group)
        return group_lag(settings, group, topics) if len(topics) > 1 else None  # before its repartition topic exists

    def problem() -> str | None:
        return (
            None if process.poll() is None else f"the peer exited with {process.returncode}: see {workdir / 'peer.log'}"
        )

    try:
        wait_drained(left, timeout_s, problem)
        seconds = time.perf_counter() - started
        stats = process_stats(process.pid)
    finally:
        process.terminate()
        process.wait(60)
    return PipelineRun(seconds, stats.cpu_s, stats.peak_rss_mib)
