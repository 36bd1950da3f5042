"""Fill the touchpoints topic before anything reads it: the records as the SDK would key them,
malformed ones included (raw, as a service without the SDK sends them)."""

from __future__ import annotations

import time

from journey.cli.simulation.generate import Outgoing
from journey.config import Settings
from journey.publisher import TouchpointPublisher


def prefill(settings: Settings, records: list[Outgoing]) -> float:
    """Publish every record and wait for the broker's acks; returns records/s."""
    started = time.perf_counter()
    with TouchpointPublisher(settings.publisher) as publisher:
        for record in records:
            publisher.publish_raw(record.value, record.key)
    return len(records) / (time.perf_counter() - started)
