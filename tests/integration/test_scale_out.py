"""Scale-out: several `journey worker` processes and one `journey sink` (the one process holding
the embedded engine; production shares a ClickHouse server) give the same ClickHouse figures as
one worker on the same input, also when a worker is killed with SIGKILL mid-run and its
partitions move to the others (state restored from the changelogs).

The input is a backfill published before any worker starts, as a new user would try it: the
workers start one after another, so the group rebalances while records are in flight.
SCALE_OUT_KILL_SEED=<n> replays a run's kill delay. Every worker must also have read each of its
partitions offset after offset (no "offset … read before …" in any log): under Faust, records
delivered out of order around rebalances made events late in some runs (docs/reliability.md).
"""

from __future__ import annotations

import os
import random
import signal
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from journey.cli.simulation.generate import simulate
from journey.cli.simulation.send import send
from journey.config import IncidentSettings, Settings, SimulationSettings
from journey.streams.lag import partition_progress
from journey.topics import STITCHED, TOUCHPOINTS, create_topics
from tests.conftest import broker_settings
from tests.integration.worker_helpers import (
    FIGURES,
    Cluster,
    advance_event_time,
    assert_adds_up,
    engine_json,
    wait_quiet,
)

pytestmark = pytest.mark.integration

END = datetime(2026, 11, 3, 0, 0, tzinfo=UTC)
SIMULATION = SimulationSettings(customers=2000, days=1, end=END, seed=21, late_share=0,
                                incident=IncidentSettings(hour_utc=13))  # fmt: skip


def stages_progress(settings: Settings) -> dict[tuple[str, int], tuple[int, int]]:
    """The stages' (resume offset, end) of every partition of their two input topics."""
    name = settings.topics.name
    return partition_progress(settings, settings.worker.app_id, [name(TOUCHPOINTS), name(STITCHED)])


def wait_resumed(settings: Settings, before: dict[tuple[str, int], tuple[int, int]], since: float) -> float:
    """Seconds from `since` until every partition that had records left in `before` has been
    committed past where it stood: the killed worker's partitions are consumed again elsewhere."""
    waiting = {tp for tp, (resume, end) in before.items() if resume < end}
    while waiting:
        assert time.monotonic() - since < 120, f"partitions not consumed two minutes after the kill: {sorted(waiting)}"
        now = stages_progress(settings)
        waiting = {tp for tp in waiting if now[tp][0] <= before[tp][0]}
        time.sleep(0.2)
    return time.monotonic() - since


def run_cluster(kafka_broker, workdir: Path, workers: int, kill_seed: int | None = None) -> tuple[dict, dict]:
    """The simulated backfill through `workers` workers (one killed with SIGKILL after a drawn delay
    when `kill_seed` is given); returns the figures and what was timed."""
    settings = broker_settings(kafka_broker, simulation=SIMULATION)
    create_topics(settings)
    send(settings, simulate(settings))
    cluster, timings = Cluster(settings, workdir), {}
    try:
        cluster.start_sink()
        for _ in range(workers):
            cluster.start_worker()
        killed = None
        if kill_seed is not None:
            time.sleep(random.Random(kill_seed).uniform(1, 6))
            killed = cluster.workers[0]
            held = stages_progress(settings)
            killed.stop(signal.SIGKILL)
            killed_at = time.monotonic()
            timings["kill_to_resumed_s"] = wait_resumed(settings, held, killed_at)
        wait_quiet(settings, 300, alive=lambda: cluster.problem(killed))
        advance_event_time(settings, END + timedelta(days=20))
        wait_quiet(settings, 300, alive=lambda: cluster.problem(killed))
    finally:
        cluster.stop()
    assert_adds_up(settings, cluster.dsn)
    return engine_json(FIGURES, cluster.dsn), timings


@pytest.mark.timeout(900)  # three pipelines on a 2,000-customer backfill, one with a kill
def test_three_workers_give_the_figures_of_one(kafka_broker, tmp_path: Path) -> None:
    one, _ = run_cluster(kafka_broker, tmp_path / "one", workers=1)
    three, _ = run_cluster(kafka_broker, tmp_path / "three", workers=3)
    assert one["touchpoints"][0][0] > 15_000 and one["signals"], one  # a real workload
    assert one["touchpoints"][0][2] == 0  # nothing late
    assert three == one, {k: (three[k], one[k]) for k in one if three[k] != one[k] and k != "signal_ids"}

    kill_seed = int(os.environ.get("SCALE_OUT_KILL_SEED", random.randrange(1 << 30)))
    killed, timings = run_cluster(kafka_broker, tmp_path / "killed", workers=3, kill_seed=kill_seed)
    print(
        f"kill -9 of one of three workers: every partition consumed again {timings['kill_to_resumed_s']:.1f}s after the kill"
    )
    assert killed == one, f"SCALE_OUT_KILL_SEED={kill_seed}: " + repr(
        {k: (killed[k], one[k]) for k in one if killed[k] != one[k] and k != "signal_ids"}
    )
