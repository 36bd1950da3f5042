"""A throw-away Kafka broker for one benchmark: free loopback ports, a temp dir, the jar cache."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from journey.cli.localstack.kafka import LocalKafka
from journey.cli.localstack.kafka import free_loopback_port as free_port
from journey.config import KafkaSettings, LocalStackSettings, Settings, TopicSettings
from journey.topics import create_topics

JAR_CACHE = Path(__file__).resolve().parent.parent / ".journey" / "cache" / "kafka-jars"


@contextmanager
def bench_broker(partitions: int, prefix: str = "journey-bench-") -> Iterator[tuple[Settings, Path]]:
    """Start a broker, create the pipeline's topics; yield settings for it and a work dir."""
    workdir = Path(tempfile.mkdtemp(prefix=prefix))
    stack = LocalStackSettings(broker_port=free_port(), controller_port=free_port(), data_dir=workdir / "kafka",
                               jar_cache_dir=JAR_CACHE)  # fmt: skip
    broker = LocalKafka(stack)
    broker.up()
    try:
        settings = Settings(kafka=KafkaSettings(bootstrap_servers=stack.bootstrap_servers),
                            topics=TopicSettings(partitions=partitions))  # fmt: skip
        create_topics(settings)
        yield settings, workdir
    finally:
        broker.down()
        shutil.rmtree(workdir, ignore_errors=True)
