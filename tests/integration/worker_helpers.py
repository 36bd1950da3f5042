"""Run `journey worker` as a real process against the session broker, and drive event time."""

from __future__ import annotations

import uuid
from datetime import datetime
from pathlib import Path

from aiokafka.partitioner import murmur2

from journey.config import Settings
from journey.publisher import TouchpointPublisher
from journey.worker_process import WorkerProcess
from tests.conftest import free_port


def make_test_worker(settings: Settings, workdir: Path) -> WorkerProcess:
    """A worker with a group of its own and quick ticks, for one test."""
    return WorkerProcess(
        settings, workdir, free_port(),
        JOURNEY_WORKER__APP_ID=f"test-{uuid.uuid4().hex[:8]}",
        JOURNEY_WORKER__DATA_DIR=str(workdir / "worker-data"),
        JOURNEY_WORKER__TICK_INTERVAL_S="0.5",
        JOURNEY_WORKER__BATCH_WITHIN_S="0.2",
        JOURNEY_WORKER__SOURCE_IDLE_S="2",
        JOURNEY_WORKER__SESSION_TIMEOUT_S="6",  # a killed worker's partitions move on quickly
    )  # fmt: skip


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
