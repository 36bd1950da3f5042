"""Events/s through stages 1+2 on a real broker: `python -m bench.stream_stages`.

Starts its own Kafka (free loopback ports, temp dir) and a `journey worker` process, publishes
the workload with the SDK, and times until the worker's /metrics count every event out of
stage 2.
"""

from __future__ import annotations

import argparse
import time

from bench.broker import bench_broker
from bench.workload import journeys
from journey.cli.localstack.kafka import free_loopback_port as free_port
from journey.cli.worker_process import WorkerProcess
from journey.publisher import TouchpointPublisher


def run(customers: int, partitions: int, batch_size: int) -> dict[str, float]:
    with bench_broker(partitions) as (settings, workdir):
        worker = WorkerProcess(settings, workdir, free_port(), JOURNEY_WORKER__DATA_DIR=str(workdir / "worker"),
                               JOURNEY_WORKER__BATCH_SIZE=str(batch_size))  # fmt: skip
        try:
            worker.start()
            events = journeys(customers)
            started = time.perf_counter()
            with TouchpointPublisher(settings.publisher) as publisher:
                for event in events:
                    publisher.publish(event)
            published = time.perf_counter() - started
            while worker.counter("journey_events_total", outcome="valid", stage="journeys") < len(events):
                time.sleep(0.2)
            elapsed = time.perf_counter() - started
            batches = {stage: (worker.counter("journey_batch_seconds_count", stage=stage),
                               worker.counter("journey_batch_seconds_sum", stage=stage))
                       for stage in ("ingest", "journeys")}  # fmt: skip
        finally:
            worker.stop()
    return {"events": len(events), "publish_eps": len(events) / published, "stages_eps": len(events) / elapsed,
            "seconds": elapsed, "batches": batches}  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=3000)
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--batch-size", type=int, default=500)
    args = parser.parse_args()
    r = run(args.customers, args.partitions, args.batch_size)
    print(
        f"stages 1+2 on a real broker: {r['events']} events in {r['seconds']:.1f}s = {r['stages_eps']:,.0f} ev/s "
        f"(SDK publish alone {r['publish_eps']:,.0f} ev/s)"
    )
    for stage, (count, seconds) in r["batches"].items():
        print(
            f"  {stage}: {count:.0f} batches, {seconds:.1f}s inside them, {r['events'] / max(count, 1):.0f} events/batch"
        )
