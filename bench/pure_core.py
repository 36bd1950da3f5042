"""Events/s of the pure stream logic (stage 1 + stage 2, no Kafka): `python -m bench.pure_core`."""

from __future__ import annotations

import argparse
import time

from bench.workload import journeys
from journey.cli.gc_tuning import tune_garbage_collector
from journey.config import Settings
from journey.schemas.touchpoint import Touchpoint, parse_touchpoint
from journey.streams.in_memory import InMemoryPipeline
from journey.streams.journey import JourneyRules


def run(customers: int, batch: int) -> dict[str, float]:
    """With the worker's garbage-collector setting, as `journey worker` runs the same code."""
    settings = Settings()
    tune_garbage_collector(settings.worker.gc_threshold)
    rules = JourneyRules.from_settings(settings)
    raw = [Touchpoint.model_validate(e).to_json_bytes() for e in journeys(customers)]
    pipeline = InMemoryPipeline(rules, cached_state_bytes=settings.worker.cached_state_mb_per_partition << 20)

    started = time.perf_counter()
    stitched = [m for payload in raw for m in pipeline.stage1(parse_touchpoint(payload))]
    stage1 = time.perf_counter() - started

    # Stage 2 includes the wire format (each message encoded and decoded) and the state codec.
    started = time.perf_counter()
    for position in range(0, len(stitched), batch):
        pipeline.stage2(stitched[position : position + batch])
    stage2 = time.perf_counter() - started
    events = len(raw)
    return {"events": events, "stage1_eps": events / stage1, "stage2_eps": events / stage2,
            "both_eps": events / (stage1 + stage2), "outputs": len(pipeline.outputs)}  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=5000)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()
    r = run(args.customers, args.batch)
    print(
        f"pure core: {r['events']} events; stage 1 {r['stage1_eps']:,.0f} ev/s, stage 2 {r['stage2_eps']:,.0f} ev/s, "
        f"both {r['both_eps']:,.0f} ev/s ({r['outputs']} outputs)"
    )
