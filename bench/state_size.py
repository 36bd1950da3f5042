"""Bytes of state per journey, as stored in the tables (the changelogs): `python -m bench.state_size`.

The scripted journeys through the pure stages (every detector), then the encoded value of every
journey key (customers and anonymous visitors) and of every stage-1 key, as the worker writes them.
"""

from __future__ import annotations

import argparse
import statistics

from bench.workload import journeys
from journey.config import Settings
from journey.schemas.touchpoint import Touchpoint
from journey.streams.codec import encode_ingest_state
from journey.streams.in_memory import InMemoryPipeline
from journey.streams.journey import JourneyRules


def run(customers: int) -> dict[str, float]:
    events = [Touchpoint.model_validate(e) for e in journeys(customers)]
    pipeline = InMemoryPipeline(JourneyRules.from_settings(Settings()))
    pipeline.run(events, batch_sizes=[5000] * (len(events) // 5000 + 1))
    journey_bytes = sorted(len(value) for value in pipeline.table.values())
    ingest_bytes = [len(encode_ingest_state(state)) for state in pipeline.ingest_states.values()]
    return {
        "customers": customers,
        "journeys": len(journey_bytes),
        "mean": statistics.fmean(journey_bytes),
        "p99": journey_bytes[int(len(journey_bytes) * 0.99)],
        "ingest_mean": statistics.fmean(ingest_bytes),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, nargs="+", default=[10_000, 100_000])
    for count in parser.parse_args().customers:
        r = run(count)
        print(f"{r['journeys']:,} journeys: {r['mean']:,.0f} bytes each (p99 {r['p99']:,}), stage 1 "
              f"{r['ingest_mean']:,.0f} bytes per key")  # fmt: skip
