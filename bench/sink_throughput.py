"""Rows/s of the ClickHouse sink: `python -m bench.sink_throughput`.

Starts its own Kafka (free loopback ports, temp dir), fills journey.touchpoints with real records
(the workload through the pure stages, repeated `copies` times under new event ids, so the batches
are full and the last partial batch's wait is a small share), then times one ClickHouseSink (in
this process, embedded engine in a temp dir) from its first poll until ClickHouse holds every row.
"""

from __future__ import annotations

import argparse
import threading
import time
import uuid

import orjson
from confluent_kafka import Producer

from bench.broker import bench_broker
from bench.workload import journeys
from journey.config import ClickHouseSettings, SinkSettings
from journey.schemas.touchpoint import Touchpoint
from journey.sinks.clickhouse_client import connect
from journey.sinks.migrations import migrate
from journey.sinks.sink import ClickHouseSink
from journey.streams.in_memory import InMemoryPipeline
from journey.streams.journey import EnrichedTouchpoint, JourneyRules
from journey.streams.records import touchpoint_record
from journey.topics import JOURNEY_TOUCHPOINTS


def run(customers: int, partitions: int, max_rows: int, copies: int = 1) -> dict[str, float]:
    with bench_broker(partitions, prefix="journey-bench-sink-") as (broker_settings, workdir):
        settings = broker_settings.model_copy(update={
            "clickhouse": ClickHouseSettings(dsn=f"chdb://{workdir / 'clickhouse'}"),
            "sink": SinkSettings(max_rows=max_rows),
        })  # fmt: skip
        events = [Touchpoint.model_validate(e) for e in journeys(customers)]
        outputs = InMemoryPipeline(JourneyRules.from_settings(settings)).run(events)
        records = [touchpoint_record(o) for o in outputs if isinstance(o, EnrichedTouchpoint)]
        records += [_with_new_id(r, copy) for copy in range(1, copies) for r in records]
        producer = Producer({**settings.kafka.confluent_config(), "linger.ms": 20})
        for n, record in enumerate(records):
            while True:
                try:
                    producer.produce(settings.topics.name(JOURNEY_TOUCHPOINTS), record, partition=n % partitions)
                    break
                except BufferError:  # more records than the local queue holds: let some go
                    producer.poll(0.1)
            producer.poll(0)
        producer.flush(60)
        client = connect(settings.clickhouse)
        migrate(client, settings.clickhouse)
        sink = ClickHouseSink(settings)
        thread = threading.Thread(target=sink.run, daemon=True)
        started = time.perf_counter()
        thread.start()
        table = f"{settings.clickhouse.database}.touchpoints"
        while client.query(f"SELECT count() FROM {table}").result_rows[0][0] < len(records):
            time.sleep(0.05)
        elapsed = time.perf_counter() - started
        sink.stop(drain=False)
        thread.join(30)
    return {"rows": len(records), "seconds": elapsed, "rows_per_s": len(records) / elapsed}


def _with_new_id(record: bytes, copy: int) -> bytes:
    body = orjson.loads(record)
    body["event_id"] = str(uuid.uuid5(uuid.UUID(body["event_id"]), str(copy)))
    return orjson.dumps(body)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=3000)
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--max-rows", type=int, default=5000)
    parser.add_argument("--copies", type=int, default=8)
    args = parser.parse_args()
    r = run(args.customers, args.partitions, args.max_rows, args.copies)
    print(f"sink: {r['rows']} touchpoint rows in {r['seconds']:.1f}s = {r['rows_per_s']:,.0f} rows/s")
