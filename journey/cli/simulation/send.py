"""The simulator's shell: send a simulation's records through the SDK (valid events with
`publish`, the malformed ones raw, as a buggy service would), paced by a speed factor, and/or
write them as JSON Lines for `journey publish`."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import orjson

from journey.cli.simulation.generate import Simulation
from journey.config import Settings
from journey.publisher import TouchpointPublisher

PROGRESS_EVERY = 500


def write_jsonl(simulation: Simulation, path: Path) -> int:
    """One record per line, in sending order (malformed ones included: `journey publish` reports them)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as out:
        for record in simulation.records:
            out.write(record.value.replace(b"\n", b" ") + b"\n")
    return len(simulation.records)


def send(settings: Settings, simulation: Simulation, progress: Callable[[int, int], None] = lambda sent, total: None,
         stop: Callable[[], bool] = lambda: False) -> int:  # fmt: skip
    """Publish every record; with `settings.simulation.speed` > 0, that many simulated seconds per
    wall second. Returns how many were sent (fewer when `stop()` turned true)."""
    records, speed = simulation.records, settings.simulation.speed
    if not records:
        return 0
    first, wall_start = records[0].sent_at, time.monotonic()
    sent = 0
    with TouchpointPublisher(settings.publisher) as publisher:
        for record in records:
            while speed > 0 and not stop():
                ahead = (record.sent_at - first).total_seconds() / speed - (time.monotonic() - wall_start)
                if ahead <= 0:
                    break
                time.sleep(min(ahead, 0.5))
            if stop():
                break
            if record.kind == "invalid":
                publisher.publish_raw(record.value, record.key)  # as a service without the SDK would
            else:
                publisher.publish(orjson.loads(record.value))  # validated by the SDK, as services do
            sent += 1
            if sent % PROGRESS_EVERY == 0:
                progress(sent, len(records))
    progress(sent, len(records))
    return sent
