"""Consumer lag: how far a consumer group's committed offsets trail the ends of its topics (the
demo's progress, the tests' "caught up", an operator's check)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

from journey.config import Settings

log = logging.getLogger(__name__)


def partition_progress(
    settings: Settings, group: str, topics: list[str], timeout_s: float = 10
) -> dict[tuple[str, int], tuple[int, int]]:
    """For each partition of `topics`: where `group` resumes it (its committed offset, or the start
    of the log where it has none: the stages read from the earliest offset), and where it ends."""
    consumer = Consumer({**settings.kafka.confluent_config(), "group.id": group, "enable.auto.commit": False})
    try:
        metadata = consumer.list_topics(timeout=timeout_s).topics
        partitions = [TopicPartition(t, p) for t in topics if t in metadata for p in metadata[t].partitions]
        return consumer_progress(consumer, partitions, timeout_s)
    finally:
        consumer.close()


def consumer_progress(
    consumer: Consumer, partitions: list[TopicPartition], timeout_s: float = 10
) -> dict[tuple[str, int], tuple[int, int]]:
    """`partition_progress` with a consumer of the group at hand (the worker's own, in its loop)."""
    progress = {}
    for tp in _committed(consumer, partitions, timeout_s):
        low, high = consumer.get_watermark_offsets(tp, timeout=timeout_s, cached=False)
        progress[(tp.topic, tp.partition)] = (tp.offset if tp.offset >= 0 else low, high)
    return progress


def group_lag(settings: Settings, group: str, topics: list[str], timeout_s: float = 10) -> int:
    """Records in `topics` after the group's committed offsets (from the start where it has none)."""
    return sum(end - resume for resume, end in partition_progress(settings, group, topics, timeout_s).values())


def pipeline_lag(settings: Settings) -> dict[str, int]:
    """Lag of the stream stages (their input topics) and of the sink (the journey.* topics)."""
    from journey.sinks.rows import TABLES
    from journey.topics import STITCHED, TOUCHPOINTS

    app_id, name = settings.worker.app_id, settings.topics.name
    return {
        "stages": group_lag(settings, app_id, [name(TOUCHPOINTS), name(STITCHED)]),
        "sink": group_lag(settings, f"{app_id}-sink", [name(topic) for topic in TABLES]),
    }


# The group's coordinator moving or loading (a broker start, a restart): ask again shortly.
COORDINATOR_BUSY = frozenset({KafkaError.NOT_COORDINATOR, KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
                              KafkaError.COORDINATOR_NOT_AVAILABLE})  # fmt: skip


def _committed(consumer: Consumer, partitions: list[TopicPartition], timeout_s: float) -> list[TopicPartition]:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return consumer.committed(partitions, timeout=max(deadline - time.monotonic(), 0.1))
        except KafkaException as error:
            if error.args[0].code() not in COORDINATOR_BUSY or time.monotonic() >= deadline:
                raise
            time.sleep(0.2)


class LagReporter:
    """Consumer lag for /metrics (the PipelineStalled alert): what waits for the stages and for the
    sink, read from the broker every `interval_s` (every worker reports the same groups' totals).
    On a thread of its own: a slow broker answer must not hold up the stages."""

    def __init__(self, settings: Settings, interval_s: float, report: Callable[[dict[str, int]], None]) -> None:
        self._settings, self._interval_s, self._report = settings, interval_s, report
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lag", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            try:
                lag = pipeline_lag(self._settings)
            except Exception as error:  # noqa: BLE001 - a broker hiccup must not stop the worker
                log.warning("could not measure consumer lag: %s", error)
                continue
            self._report(lag)
