"""A benchmark workload: many scripted journeys interleaved in event time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from journey.samples import sample_journey

START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def journeys(customers: int, spread_minutes: int = 600) -> list[dict[str, Any]]:
    """`customers` journeys of 11 events, starts spread over `spread_minutes`, in event-time order."""
    events = [
        event
        for seed in range(customers)
        for event in sample_journey(seed, START + timedelta(minutes=(seed * 7919) % spread_minutes))
    ]
    return sorted(events, key=lambda e: e["occurred_at"])
