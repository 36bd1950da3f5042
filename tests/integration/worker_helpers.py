"""Run `journey worker` as a real process against the session broker, and drive event time."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from datetime import datetime
from pathlib import Path

import orjson
from aiokafka.partitioner import murmur2

from journey.config import Settings
from journey.publisher import TouchpointPublisher
from tests.conftest import free_port

READY_TIMEOUT_S = 90.0


class WorkerProcess:
    def __init__(self, settings: Settings, workdir: Path) -> None:
        self.settings = settings
        self.workdir = workdir
        self.web_port = free_port()
        self.log_file = workdir / "worker.log"
        self.process: subprocess.Popen | None = None
        self.env = {
            **os.environ,
            "JOURNEY_KAFKA__BOOTSTRAP_SERVERS": settings.kafka.bootstrap_servers,
            "JOURNEY_TOPICS__PREFIX": settings.topics.prefix,
            "JOURNEY_TOPICS__PARTITIONS": str(settings.topics.partitions),
            "JOURNEY_WORKER__APP_ID": f"test-{uuid.uuid4().hex[:8]}",
            "JOURNEY_WORKER__DATA_DIR": str(workdir / "worker-data"),
            "JOURNEY_WORKER__WEB_PORT": str(self.web_port),
            "JOURNEY_WORKER__TICK_INTERVAL_S": "0.5",
            "JOURNEY_WORKER__BATCH_WITHIN_S": "0.2",
            "JOURNEY_WORKER__SOURCE_IDLE_S": "2",
        }

    def start(self) -> None:
        log = self.log_file.open("ab")
        command = [sys.executable, "-c", "from journey.cli import app; app()", "worker", "--loglevel", "info"]
        self.process = subprocess.Popen(command, env=self.env, cwd=self.workdir, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited with {self.process.returncode}:\n{self.log_tail()}")
            if b"[^Worker]: Ready" in self.log_file.read_bytes():
                return
            time.sleep(0.3)
        raise RuntimeError(f"worker not ready within {READY_TIMEOUT_S}s:\n{self.log_tail()}")

    def stop(self, sig: int = signal.SIGTERM, timeout_s: float = 60) -> int:
        assert self.process is not None
        self.process.send_signal(sig)
        return self.process.wait(timeout=timeout_s)

    def get(self, path: str) -> dict:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.web_port}{path}", timeout=10) as response:
            return orjson.loads(response.read())

    def metrics_text(self) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.web_port}/metrics/", timeout=10) as response:
            return response.read().decode()

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])


def clock_keys(partitions: int) -> list[str]:
    """One customer id per stitched partition (Faust's producer partitions by murmur2 of the key)."""
    keys: dict[int, str] = {}
    n = 0
    while len(keys) < partitions:
        key = f"clock-{n}"
        keys.setdefault((murmur2(key.encode()) & 0x7FFFFFFF) % partitions, key)
        n += 1
    return [keys[p] for p in range(partitions)]


def advance_event_time(settings: Settings, to: datetime) -> None:
    """Publish one heartbeat event per partition at `to`: event time moves on everywhere, so every
    session that ended a gap before it closes (as real traffic would make it)."""
    with TouchpointPublisher(settings) as publisher:
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
