"""`journey sink`: journey.* topics → ClickHouse, following the contract in sinks/batching.py.

A thin shell: a confluent-kafka consumer (read_committed, manual commits), the pure SinkBuffer and
row converters, clickhouse-connect column inserts. ClickHouse failures are retried with backoff
and the same dedup token; while ClickHouse is down the consumer is paused (no unbounded memory).
A record that is not JSON goes to the sink's dead-letter topic with its reason.
"""

from __future__ import annotations

import logging
import signal
import time
from typing import Any

import orjson
from confluent_kafka import Consumer, KafkaError, Message, Producer, TopicPartition
from prometheus_client import Counter, Histogram

from journey.config import Settings
from journey.topics import SINK_DEAD_LETTER
from sinks.batching import Batch, SinkBackpressure, SinkBuffer
from sinks.clickhouse_client import connect
from sinks.rows import TABLES, to_columns

log = logging.getLogger("journey.sink")

RETRY_BACKOFF_S = (0.5, 1, 2, 5, 10)
SINK_ROWS = Counter("journey_sink_rows", "Rows inserted into ClickHouse, by table.", ["table"])
SINK_FAILURES = Counter("journey_sink_insert_failures", "Failed ClickHouse inserts (retried), by table.", ["table"])
SINK_BATCH_SECONDS = Histogram("journey_sink_batch_seconds", "Insert latency per batch, by table.", ["table"])
SINK_DEAD_LETTERS = Counter("journey_sink_dead_letters", "Records the sink could not read, by topic.", ["topic"])


class ClickHouseSink:
    def __init__(self, settings: Settings, max_rows: int = 5000, max_wait_s: float = 1.0) -> None:
        self.settings = settings
        self.client = connect(settings.clickhouse)
        self.database = settings.clickhouse.database
        self.topics = {settings.topics.name(base): spec for base, spec in TABLES.items()}
        self.buffer = SinkBuffer(max_rows=max_rows, max_wait_s=max_wait_s)
        self.consumer = Consumer({
            **settings.kafka.confluent_config(),
            "group.id": f"{settings.worker.app_id}-sink",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "isolation.level": "read_committed",
        })  # fmt: skip
        self.producer = Producer({**settings.kafka.confluent_config(), "enable.idempotence": True})
        self.paused = False
        self.stopping = False
        self.failures = 0

    # -- assignment: resume past what ClickHouse already holds --------------------------------
    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        for tp in partitions:
            table = self.topics[tp.topic].table
            rows = self.client.query(
                f"SELECT max(_kafka_offset), count() FROM {self.database}.{table} WHERE _kafka_partition = {tp.partition}"
            ).result_rows
            highest, count = rows[0]
            if count:
                tp.offset = int(highest) + 1
        consumer.assign(partitions)
        log.info("assigned %s", [(tp.topic, tp.partition, tp.offset) for tp in partitions])

    # -- the loop ------------------------------------------------------------------------------
    def run(self) -> None:
        signal.signal(signal.SIGTERM, lambda *_: setattr(self, "stopping", True))
        signal.signal(signal.SIGINT, lambda *_: setattr(self, "stopping", True))
        self.consumer.subscribe(list(self.topics), on_assign=self._on_assign)
        try:
            while not self.stopping:
                if not self.paused:
                    messages = self.consumer.consume(num_messages=1000, timeout=0.2)
                    for position, message in enumerate(messages):
                        if not self._take(message):
                            self._rewind(messages[position:])
                            break
                else:
                    time.sleep(0.2)
                self._flush(time.monotonic())
            self._flush(time.monotonic(), everything=True)
        finally:
            self.producer.flush(10)
            self.consumer.close()

    def _take(self, message: Message) -> bool:
        """Buffer one record; False when the buffer is full (the caller rewinds and pauses)."""
        if message.error():
            if message.error().code() != KafkaError._PARTITION_EOF:
                log.warning("consumer error: %s", message.error())
            return True
        try:
            record = orjson.loads(message.value())
        except orjson.JSONDecodeError as error:
            self._dead_letter(message, f"not JSON: {error}")
            return True
        try:
            self.buffer.add(message.topic(), message.partition(), message.offset(), record, time.monotonic())
        except SinkBackpressure as full:
            log.warning("%s; pausing consumption", full)
            return False
        return True

    def _rewind(self, untaken: list[Message]) -> None:
        """Pause, and make every partition start again at its first record not yet buffered."""
        self.consumer.pause(self.consumer.assignment())
        self.paused = True
        first: dict[tuple[str, int], int] = {}
        for message in untaken:
            if not message.error():
                first.setdefault((message.topic(), message.partition()), message.offset())
        for (topic, partition), offset in first.items():
            self.consumer.seek(TopicPartition(topic, partition, offset))

    def _flush(self, now: float, everything: bool = False) -> None:
        self.buffer.ready(now, everything=everything)  # due batches join those in flight
        for batch in self.buffer.retry():  # oldest (earlier failures) first
            if not self._insert(batch):
                return  # ClickHouse is failing: keep order, try again after the backoff
        if self.paused and not self.buffer.in_flight:
            self.consumer.resume(self.consumer.assignment())
            self.paused = False

    def _insert(self, batch: Batch) -> bool:
        spec = self.topics[batch.topic]
        started = time.monotonic()
        try:
            self.client.insert(
                f"{self.database}.{spec.table}", to_columns(spec, batch.records), column_names=spec.column_names,
                column_oriented=True,
                settings={"insert_deduplication_token": batch.token,
                          "deduplicate_blocks_in_dependent_materialized_views": 1},
            )  # fmt: skip
        except Exception as error:  # noqa: BLE001 - any ClickHouse failure: retry with backoff
            SINK_FAILURES.labels(spec.table).inc()
            delay = RETRY_BACKOFF_S[min(self.failures, len(RETRY_BACKOFF_S) - 1)]
            self.failures += 1
            log.error("insert of %s into %s failed (%s); retrying in %ss", batch.token, spec.table, error, delay)
            time.sleep(delay)
            return False
        self.failures = 0
        SINK_BATCH_SECONDS.labels(spec.table).observe(time.monotonic() - started)
        SINK_ROWS.labels(spec.table).inc(len(batch.records))
        offset = self.buffer.confirm(batch)
        self.consumer.commit(offsets=[TopicPartition(batch.topic, batch.partition, offset)], asynchronous=False)
        return True

    def _dead_letter(self, message: Message, reason: str) -> None:
        SINK_DEAD_LETTERS.labels(message.topic()).inc()
        envelope: dict[str, Any] = {"reason": reason, "topic": message.topic(), "partition": message.partition(),
                                    "offset": message.offset(), "original": (message.value() or b"").decode(errors="replace")}  # fmt: skip
        self.producer.produce(self.settings.topics.name(SINK_DEAD_LETTER), orjson.dumps(envelope), key=message.key())
        self.producer.poll(0)
