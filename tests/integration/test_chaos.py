"""The real worker against the in-memory model under varied timing (tests/integration/chaos.py):
each run draws its input, publishers, cluster and faults from a seed; ClickHouse must equal the
model fed one event at a time, row for row. `make test` runs CHAOS_RUNS=2 random seeds, `make
chaos` 30; CHAOS_SEED=<n>[,<n>…] replays runs."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from tests.integration.chaos import Shape, differences, run

pytestmark = pytest.mark.integration

SEEDS = (
    [int(seed) for seed in os.environ["CHAOS_SEED"].split(",")]
    if "CHAOS_SEED" in os.environ
    else [random.randrange(1 << 30) for _ in range(int(os.environ.get("CHAOS_RUNS", "2")))]
)


@pytest.mark.timeout(1200)  # batch size 1 with three workers beside a CPU hog takes minutes on 2 cores
@pytest.mark.parametrize("seed", SEEDS)
def test_the_worker_writes_what_the_model_decides(kafka_broker, tmp_path: Path, seed: int) -> None:
    shape = Shape.draw(seed)
    print(f"\nCHAOS_SEED={seed}: {shape}", flush=True)  # before: a run that fails says which it was
    want, got, happened = run(kafka_broker, tmp_path, shape)
    print(f"CHAOS_SEED={seed}: {shape} {happened}; " + ", ".join(f"{t} {len(rows)}" for t, rows in want.items()))
    assert sum(len(rows) for rows in want.values()) > 0
    wrong = differences(want, got)
    print("\n".join(wrong))  # at once: a long `make chaos` shows each failure as it happens
    assert not wrong, f"CHAOS_SEED={seed} ({shape}, {happened}):\n" + "\n".join(wrong)
