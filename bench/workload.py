"""Benchmark workloads.

- `journeys`: scripted journeys interleaved in event time (the pure-core benchmark's input).
- `simulated_records`: the simulator's records (valid events, duplicates, late and malformed
  ones), seeded and with a fixed end, so every run and every peer reads the same topic.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from journey.cli.samples import sample_journey
from journey.cli.simulation.generate import Outgoing, simulate
from journey.config import Settings, SimulationSettings

START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
SIMULATION_END = datetime(2026, 11, 3, 0, 0, tzinfo=UTC)
EVENTS_PER_CUSTOMER = 12.4  # the simulator's average over its personas (measured: 24,000 → ~298k)


def journeys(customers: int, spread_minutes: int = 600) -> list[dict[str, Any]]:
    """`customers` journeys of 11 events, starts spread over `spread_minutes`, in event-time order."""
    events = [
        event
        for seed in range(customers)
        for event in sample_journey(seed, START + timedelta(minutes=(seed * 7919) % spread_minutes))
    ]
    return sorted(events, key=lambda e: e["occurred_at"])


def simulated_records(events: int, seed: int = 7, days: float = 3) -> list[Outgoing]:
    """About `events` records of the simulator (its customers are whole: the count is approximate)."""
    customers = max(1, round(events / EVENTS_PER_CUSTOMER))
    simulation = SimulationSettings(customers=customers, days=days, seed=seed, end=SIMULATION_END)
    return simulate(Settings(simulation=simulation)).records


def with_poison(records: list[Outgoing], count: int, huge: int = 10) -> list[Outgoing]:
    """`records` with `count` bad records of every kind (journey/cli/simulation/poison.py) spread
    evenly through them: the throughput cost of a publisher's bad deploy."""
    import orjson

    from journey.cli.simulation.poison import poison

    templates = [orjson.loads(r.value) for r in records[:5000] if r.kind == "event"]
    bad = poison(templates, count, published_at=datetime.now(UTC), huge=huge)
    every = max(len(records) // max(count, 1), 1)
    mixed: list[Outgoing] = []
    for n, record in enumerate(records):
        mixed.append(record)
        if n % every == 0 and (item := next(bad, None)) is not None:
            mixed.append(Outgoing(record.sent_at, item.key, item.value, "poison"))
    mixed.extend(Outgoing(records[-1].sent_at, item.key, item.value, "poison") for item in bad)
    return mixed
