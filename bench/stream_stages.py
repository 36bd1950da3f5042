"""Events/s through stages 1+2 on a real broker: `python -m bench.stream_stages`.

Starts its own Kafka (free loopback ports, temp dir) and a `journey worker` process, publishes
the workload with the SDK, and times until the worker's /metrics count every event out of
stage 2.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from bench.workload import journeys
from journey.config import KafkaSettings, LocalStackSettings, Settings, TopicSettings
from journey.localstack.kafka import LocalKafka
from journey.publisher import TouchpointPublisher
from journey.topics import create_topics

JAR_CACHE = Path(__file__).resolve().parent.parent / ".journey" / "cache" / "kafka-jars"
DONE = re.compile(r'^journey_events_total\{outcome="valid",stage="journeys"\} (\S+)$', re.M)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def processed(port: int) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics/", timeout=5) as response:
            match = DONE.search(response.read().decode())
    except OSError:
        return 0
    return int(float(match.group(1))) if match else 0


def run(customers: int, partitions: int, batch_size: int) -> dict[str, float]:
    workdir = Path(tempfile.mkdtemp(prefix="journey-bench-"))
    stack = LocalStackSettings(broker_port=free_port(), controller_port=free_port(), data_dir=workdir / "kafka", jar_cache_dir=JAR_CACHE)
    broker = LocalKafka(stack)
    broker.up()
    settings = Settings(kafka=KafkaSettings(bootstrap_servers=stack.bootstrap_servers), topics=TopicSettings(partitions=partitions))
    create_topics(settings)
    web_port = free_port()
    env = {**os.environ, "JOURNEY_KAFKA__BOOTSTRAP_SERVERS": stack.bootstrap_servers,
           "JOURNEY_TOPICS__PARTITIONS": str(partitions), "JOURNEY_WORKER__WEB_PORT": str(web_port),
           "JOURNEY_WORKER__DATA_DIR": str(workdir / "worker"), "JOURNEY_WORKER__BATCH_SIZE": str(batch_size)}  # fmt: skip
    log = (workdir / "worker.log").open("wb")
    worker = subprocess.Popen([sys.executable, "-c", "from journey.cli import app; app()", "worker", "--loglevel", "info"],
                              env=env, cwd=workdir, stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        while b"[^Worker]: Ready" not in (workdir / "worker.log").read_bytes():
            if worker.poll() is not None:
                raise SystemExit(f"worker died: see {workdir / 'worker.log'}")
            time.sleep(0.3)
        events = journeys(customers)
        started = time.perf_counter()
        with TouchpointPublisher(settings) as publisher:
            for event in events:
                publisher.publish(event)
        published = time.perf_counter() - started
        while processed(web_port) < len(events):
            time.sleep(0.2)
        elapsed = time.perf_counter() - started
        with urllib.request.urlopen(f"http://127.0.0.1:{web_port}/metrics/", timeout=5) as response:
            text = response.read().decode()
        batches = {stage: (float(re.search(rf'journey_batch_seconds_count{{stage="{stage}"}} (\S+)', text).group(1)),
                           float(re.search(rf'journey_batch_seconds_sum{{stage="{stage}"}} (\S+)', text).group(1)))
                   for stage in ("ingest", "journeys")}  # fmt: skip
    finally:
        worker.terminate()
        worker.wait(60)
        broker.down()
    return {"events": len(events), "publish_eps": len(events) / published, "stages_eps": len(events) / elapsed,
            "seconds": elapsed, "batches": batches}  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=3000)
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--batch-size", type=int, default=500)
    args = parser.parse_args()
    r = run(args.customers, args.partitions, args.batch_size)
    print(f"stages 1+2 on a real broker: {r['events']} events in {r['seconds']:.1f}s = {r['stages_eps']:,.0f} ev/s "
          f"(SDK publish alone {r['publish_eps']:,.0f} ev/s)")
    for stage, (count, seconds) in r["batches"].items():
        print(f"  {stage}: {count:.0f} batches, {seconds:.1f}s inside them, {r['events'] / max(count, 1):.0f} events/batch")
