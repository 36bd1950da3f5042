"""What this machine and broker allow, on the pre-filled topic: confluent-kafka consuming raw
records and decoding them with orjson, and a bare Faust agent (no work per record)."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import orjson
from confluent_kafka import Consumer

from journey.config import Settings

BATCH = 1000


def confluent_consume(settings: Settings, topic: str, expected: int, decode: bool) -> float:
    """Records/s of one confluent-kafka consumer reading `expected` records (`consume(1000)`)."""
    consumer = Consumer({**settings.kafka.confluent_config(), "group.id": f"bench-limit-{uuid.uuid4().hex[:8]}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})  # fmt: skip
    consumer.subscribe([topic])
    seen, started = 0, None
    try:
        while seen < expected:
            messages = consumer.consume(BATCH, timeout=1)
            if messages and started is None:
                started = time.perf_counter()
            for message in messages:
                if message.error() is None:
                    seen += 1
                    if decode:
                        with contextlib.suppress(orjson.JSONDecodeError):
                            orjson.loads(message.value())
        return seen / (time.perf_counter() - (started or time.perf_counter()))
    finally:
        consumer.close()


def faust_bare_agent(settings: Settings, topic: str, expected: int) -> float:
    """Records/s of a bare Faust agent (raw values, no work), in a process of its own."""
    with tempfile.TemporaryDirectory() as workdir:
        out = Path(workdir) / "result.json"
        command = [
            sys.executable,
            "-m",
            "bench.faust_bare",
            settings.kafka.bootstrap_servers,
            topic,
            str(expected),
            str(out),
        ]
        result = subprocess.run(command, capture_output=True, text=True, timeout=1800)
        if result.returncode != 0 or not out.exists():
            raise RuntimeError(
                f"bench.faust_bare failed ({result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
            )
        return orjson.loads(out.read_bytes())["records_per_s"]
