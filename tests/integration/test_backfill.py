"""The same simulated records give the same ClickHouse figures however they reach `journey run`:
published in full before it starts (a backfill: large batches spanning a day of event time,
source partitions read at different paces), published paced while it runs (a trickle), and a
backfill killed with SIGKILL during its catch-up (BACKFILL_KILL_SEED=<n> replays the delay).

Records late beyond grace (the simulator's `late_share`) are left out: whether such a record
is late is judged against the partition's progress when it arrives, which does depend on arrival
(docs/architecture.md, "Arrival and determinism"). Duplicates and malformed records stay in.
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
from journey.topics import create_topics
from tests.conftest import broker_settings
from tests.integration.worker_helpers import (
    FIGURES,
    advance_event_time,
    assert_adds_up,
    engine_json,
    make_test_worker,
    report_json,
    wait_caught_up,
)

pytestmark = pytest.mark.integration

END = datetime(2026, 11, 3, 0, 0, tzinfo=UTC)
SIMULATION = SimulationSettings(customers=150, days=1, end=END, seed=12, late_share=0,
                                incident=IncidentSettings(hour_utc=13))  # fmt: skip
PACED_SECONDS = 25  # the simulated day, published over this much wall time


def report(process) -> list:
    """`journey report --json` over the simulated day: every section (funnels included)."""
    window = ["--since", (END - timedelta(days=2)).isoformat(), "--until", (END + timedelta(days=1)).isoformat()]
    return report_json(process.env, *window)["sections"]


def pipeline(settings: Settings, workdir: Path):
    create_topics(settings)
    return make_test_worker(settings, workdir, "run", JOURNEY_CLICKHOUSE__DSN=f"chdb://{workdir / 'clickhouse'}",
                            JOURNEY_SINK__MAX_WAIT_S="0.3")  # fmt: skip


def finish(settings: Settings, process, workdir: Path) -> tuple[dict, list]:
    """Let the catch-up end, move event time on by days (every session closes, every timer fires),
    stop, and read the figures from the engine's files."""
    wait_caught_up(settings, process, 300)
    advance_event_time(settings, END + timedelta(days=20))
    wait_caught_up(settings, process, 300)
    assert process.stop() == 0, process.log_tail()
    assert_adds_up(settings, f"chdb://{workdir / 'clickhouse'}")
    return engine_json(FIGURES, f"chdb://{workdir / 'clickhouse'}"), report(process)


def test_backfill_trickle_and_killed_catch_up_give_the_same_figures(kafka_broker, tmp_path: Path) -> None:
    kill_seed = int(os.environ.get("BACKFILL_KILL_SEED", random.randrange(1 << 30)))
    runs: dict[str, tuple[dict, list]] = {}

    # A backfill: everything published before the pipeline starts.
    settings = broker_settings(kafka_broker, simulation=SIMULATION)
    records = simulate(settings)
    process = pipeline(settings, tmp_path / "backfill")
    send(settings, records)
    process.start()
    runs["backfill"] = finish(settings, process, tmp_path / "backfill")

    # A trickle: the same records paced while the pipeline runs.
    paced = SIMULATION.model_copy(update={"speed": SIMULATION.days * 86_400 / PACED_SECONDS})
    settings = broker_settings(kafka_broker, simulation=paced)
    process = pipeline(settings, tmp_path / "trickle")
    process.start()
    send(settings, records)
    runs["trickle"] = finish(settings, process, tmp_path / "trickle")

    # A backfill killed during its catch-up, then restarted on its state and offsets.
    settings = broker_settings(kafka_broker, simulation=SIMULATION)
    process = pipeline(settings, tmp_path / "killed")
    send(settings, records)
    process.start()
    delay = random.Random(kill_seed).uniform(0.5, 5)
    time.sleep(delay)
    process.stop(signal.SIGKILL)
    process.start()
    runs["killed"] = finish(settings, process, tmp_path / "killed")

    backfill, trickle, killed = (runs[name] for name in ("backfill", "trickle", "killed"))
    assert backfill[0]["touchpoints"][0][0] > 1000 and backfill[0]["signals"], backfill[0]  # a real workload
    assert backfill[0]["touchpoints"][0][2] == 0  # nothing late: the property behind the others
    assert backfill[0] == trickle[0], {
        k: (backfill[0][k], trickle[0][k]) for k in backfill[0] if backfill[0][k] != trickle[0][k]
    }
    assert backfill[1] == trickle[1]
    assert killed[0] == backfill[0], f"BACKFILL_KILL_SEED={kill_seed}: " + repr(
        {k: (killed[0][k], backfill[0][k]) for k in killed[0] if killed[0][k] != backfill[0][k]}
    )
    assert killed[1] == backfill[1], f"BACKFILL_KILL_SEED={kill_seed}"
