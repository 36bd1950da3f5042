"""`journey sink`: journey.* topics → ClickHouse, following the contract in sinks/batching.py.

A thin shell: a confluent-kafka consumer (read_committed, manual commits), the pure SinkBuffer and
row converters, clickhouse-connect column inserts. While ClickHouse is unreachable or failing, the
batch is retried with backoff and the same dedup token and, once `max_buffered_rows` wait, the
consumer pauses (no unbounded memory). Rows ClickHouse rejects for their data, and records that are
not JSON, go to the sink's dead-letter topic with the reason; the rest of the batch goes on.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from typing import Any

import orjson
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import DatabaseError, DataError, OperationalError
from confluent_kafka import OFFSET_INVALID, Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition
from prometheus_client import Counter, Gauge, Histogram

from journey.config import Settings
from journey.sinks.batching import (
    Batch,
    ErasureMarker,
    Row,
    RowsRejected,
    SinkBackpressure,
    SinkBuffer,
    dedup_token,
    insert_splitting,
)
from journey.sinks.clickhouse_client import connect
from journey.sinks.erasure import IDENTITY_PLANS, PLANS, erase
from journey.sinks.migrations import migrate
from journey.sinks.rows import TABLES, JsonRowCheck, TableSpec, json_each_row, to_columns
from journey.streams.erasure import MARKER_HEADER, SUBJECT_HEADER
from journey.topics import SINK_DEAD_LETTER

log = logging.getLogger("journey.sink")
# clickhouse-connect logs a traceback for every value it cannot serialize; while the sink splits a
# batch that is one per attempt. The sink logs each rejected row itself, once.
logging.getLogger("clickhouse_connect.driver.transform").setLevel(logging.CRITICAL)

SINK_ROWS = Counter("journey_sink_rows", "Rows inserted into ClickHouse, by table.", ["table"])
SINK_FAILURES = Counter("journey_sink_insert_failures", "Failed ClickHouse inserts (retried), by table.", ["table"])
SINK_BATCH_SECONDS = Histogram("journey_sink_batch_seconds", "Insert latency per batch, by table.", ["table"])
SINK_DEAD_LETTERS = Counter("journey_sink_dead_letters", "Records the sink could not write, by topic.", ["topic"])
SINK_BUFFERED = Gauge("journey_sink_buffered_rows", "Rows consumed and not yet confirmed in ClickHouse.")
SINK_ERASED = Counter("journey_sink_erased_rows", "Rows deleted by right-to-erasure requests, by table.", ["table"])
SINK_UP = Gauge("journey_sink_clickhouse_up", "1 while the last ClickHouse call succeeded, else 0.")

# Server error codes that mean "this data cannot go in", as opposed to "ClickHouse is not able now".
# https://github.com/ClickHouse/ClickHouse/blob/master/src/Common/ErrorCodes.cpp
DATA_ERROR_CODES = frozenset({
    6,    # CANNOT_PARSE_TEXT
    25,   # CANNOT_PARSE_ESCAPE_SEQUENCE
    26,   # CANNOT_PARSE_QUOTED_STRING
    27,   # CANNOT_PARSE_INPUT_ASSERTION_FAILED
    38,   # CANNOT_PARSE_DATE
    41,   # CANNOT_PARSE_DATETIME
    53,   # TYPE_MISMATCH
    69,   # ARGUMENT_OUT_OF_BOUND
    70,   # CANNOT_CONVERT_TYPE
    72,   # CANNOT_PARSE_NUMBER
    117,  # INCORRECT_DATA
    130,  # CANNOT_READ_ARRAY_FROM_TEXT
    321,  # VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE
    349,  # CANNOT_INSERT_NULL_IN_ORDINARY_COLUMN
    376,  # CANNOT_PARSE_UUID
    467,  # CANNOT_PARSE_BOOL
    469,  # VIOLATED_CONSTRAINT
})  # fmt: skip
ERROR_CODE = re.compile(r"Code: (\d+)\.")
# How ClickHouse reads the stages' JSON records: ISO-8601 times with their offset, JSON objects
# (properties, details) into String columns as their text, record fields without a column ignored.
JSON_INPUT = {
    "date_time_input_format": "best_effort",
    "input_format_json_read_objects_as_strings": 1,
    "input_format_skip_unknown_fields": 1,
}


def is_data_error(error: Exception) -> bool:
    """True when ClickHouse (or the client, serializing) refuses the rows themselves."""
    if isinstance(error, OperationalError):
        return False  # could not reach ClickHouse
    if isinstance(error, DataError | ValueError | TypeError | KeyError | OverflowError):
        return True  # the client could not serialize a value (e.g. 40000 into Int16)
    if isinstance(error, DatabaseError):
        code = ERROR_CODE.search(str(error))
        return code is not None and int(code.group(1)) in DATA_ERROR_CODES
    return False


class ClickHouseSink:
    """Consumes the journey.* topics and writes them to ClickHouse until `stop()`.

    `migrate_on_start` applies the schema once ClickHouse answers (`journey run`); the standalone
    sink expects `journey migrate` to have run, and says so while tables are missing.
    """

    def __init__(self, settings: Settings, *, migrate_on_start: bool = False) -> None:
        self.settings = settings
        self.config = settings.sink
        self.database = settings.clickhouse.database
        self.migrate_on_start = migrate_on_start
        self.client: Client | None = None
        self.topics = {settings.topics.name(base): spec for base, spec in TABLES.items()}
        self.json_checks: dict[str, JsonRowCheck] = {}  # table -> from its column types, on first insert
        self.buffer = SinkBuffer(self.config.max_rows, self.config.max_wait_s, self.config.max_buffered_rows)
        self.consumer = Consumer({
            **settings.kafka.confluent_config(),
            "group.id": f"{settings.worker.app_id}-sink",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "isolation.level": "read_committed",
            "enable.partition.eof": True,  # tells when a drain has caught up
            "session.timeout.ms": int(settings.worker.session_timeout_s * 1000),
        })  # fmt: skip
        self.producer = Producer({**settings.kafka.confluent_config(), "enable.idempotence": True})
        self.paused = False
        self.failures = 0
        self.stop_requested = threading.Event()
        self.at_end: set[tuple[str, int]] = set()  # partitions consumed to their end (so far)
        self.stop_deadline = 0.0

    # -- ClickHouse connection -----------------------------------------------------------------
    def _clickhouse(self) -> Client:
        """The client, connecting (and migrating, when asked) first; raises while unreachable."""
        if self.client is None:
            client = connect(self.settings.clickhouse, "writer")
            if self.migrate_on_start:  # DDL: as the DSN's own (admin) user
                applied = migrate(connect(self.settings.clickhouse), self.settings.clickhouse)
                if applied:
                    log.info("schema: applied %s", ", ".join(applied))
            self.client = client
            log.info("connected to ClickHouse (database %s)", self.database)
        return self.client

    def _wait_for_clickhouse(self) -> bool:
        """Connect, retrying with backoff until it works or a stop is requested."""
        while not self.stop_requested.is_set():
            try:
                self._clickhouse()
            except Exception as error:  # noqa: BLE001 - unreachable, auth, schema: say it and retry
                self._back_off("ClickHouse not ready", error)
                continue
            self._succeeded()
            return True
        return False

    def _back_off(self, what: str, error: Exception) -> None:
        """A ClickHouse call failed: say so and wait the next step of `retry_backoff_s` (a stop
        request cuts the wait short)."""
        SINK_UP.set(0)
        steps = self.config.retry_backoff_s
        delay = steps[min(self.failures, len(steps) - 1)]
        self.failures += 1
        hint = " (run `journey migrate`?)" if "UNKNOWN_TABLE" in str(error) else ""
        log.error("%s: %s%s; retrying in %ss", what, _short(error), hint, delay)
        self.stop_requested.wait(delay)

    def _succeeded(self) -> None:
        SINK_UP.set(1)
        self.failures = 0

    # -- assignment: resume past what ClickHouse already holds --------------------------------
    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        progress = self._progress([tp.topic for tp in partitions])
        committed = {(tp.topic, tp.partition): tp.offset for tp in consumer.committed(partitions, timeout=30)}
        for tp in partitions:
            key = (tp.topic, tp.partition)
            held, kafka = progress.get(key, OFFSET_INVALID), committed.get(key, OFFSET_INVALID)
            tp.offset = max(held, kafka) if max(held, kafka) >= 0 else OFFSET_INVALID
        consumer.assign(partitions)
        log.info("assigned %s", [(tp.topic, tp.partition, tp.offset) for tp in partitions])

    def _progress(self, topics: list[str]) -> dict[tuple[str, int], int]:
        """Next offsets recorded in sink_progress (called before any consumption: ClickHouse is up)."""
        names = ", ".join(f"'{topic}'" for topic in sorted(set(topics)))
        rows = (
            self._clickhouse()
            .query(
                f"SELECT topic, partition, max(next_offset) FROM {self.database}.sink_progress "
                f"WHERE topic IN ({names}) GROUP BY topic, partition"
            )
            .result_rows
        )
        return {(topic, int(partition)): int(offset) for topic, partition, offset in rows}

    # -- the loop ------------------------------------------------------------------------------
    def stop(self, drain: bool = True) -> None:
        """Ask the loop to finish: with `drain`, first catch up with the topics' current ends
        (at most `drain_timeout_s`); then flush what is buffered. Safe from any thread."""
        self.stop_deadline = time.monotonic() + (self.config.drain_timeout_s if drain else 0)
        self.stop_requested.set()

    def run(self) -> None:
        if not self._wait_for_clickhouse():
            self._close()
            return
        self.consumer.subscribe(list(self.topics), on_assign=self._on_assign)
        try:
            while not self._finished():
                if not self.paused:
                    messages = self.consumer.consume(num_messages=1000, timeout=0.2)
                    for position, message in enumerate(messages):
                        if not self._take(message):
                            self._rewind(messages[position:])
                            break
                    SINK_BUFFERED.set(self.buffer.buffered_rows)
                else:
                    self.stop_requested.wait(0.2)
                self._flush(time.monotonic())
            self._flush(time.monotonic(), everything=True)
            if self.buffer.in_flight:
                rows = self.buffer.buffered_rows
                log.error("stopping with %d rows not in ClickHouse; they are written on the next start", rows)
        finally:
            self._close()

    def _close(self) -> None:
        self.producer.flush(10)
        self.consumer.close()

    def _finished(self) -> bool:
        if not self.stop_requested.is_set():
            return False
        if time.monotonic() >= self.stop_deadline or self.failures:
            return True  # drain time is over, or ClickHouse fails: do not wait for it
        assigned = {(tp.topic, tp.partition) for tp in self.consumer.assignment()}
        caught_up = assigned <= self.at_end
        return caught_up and not self.paused

    def _take(self, message: Message) -> bool:
        """Buffer one record; False when the buffer is full (the caller rewinds and pauses)."""
        if message.error():
            if message.error().code() == KafkaError._PARTITION_EOF:
                self.at_end.add((message.topic(), message.partition()))
            else:
                log.warning("consumer error: %s", message.error())
            return True
        self.at_end.discard((message.topic(), message.partition()))
        if message.value() is None:
            return self._take_erasure(message)
        try:
            record = orjson.loads(message.value())
        except orjson.JSONDecodeError as error:
            self._dead_letter(message.topic(), message.partition(), message.offset(), message.key(),
                              message.value() or b"", f"not JSON: {error}")  # fmt: skip
            return True
        if not isinstance(record, dict):
            self._dead_letter(message.topic(), message.partition(), message.offset(), message.key(),
                              message.value() or b"", "not a JSON object")  # fmt: skip
            return True
        try:
            self.buffer.add(message.topic(), message.partition(), message.offset(), record, time.monotonic())
        except SinkBackpressure as full:
            log.warning("%s; pausing consumption", full)
            return False
        return True

    def _take_erasure(self, message: Message) -> bool:
        """A tombstone: an erasure marker when it carries the request id, else nothing to write."""
        headers = dict(message.headers() or [])
        if MARKER_HEADER not in headers or message.key() is None:
            log.warning(
                "%s offset %d: a record without a value or an erasure marker; skipped",
                message.topic(),
                message.offset(),
            )
            return True
        subject = headers.get(SUBJECT_HEADER)
        marker = ErasureMarker(message.key().decode(), headers[MARKER_HEADER].decode(),
                               None if subject is None else subject.decode(), message.offset())  # fmt: skip
        self.buffer.add_erasure(message.topic(), message.partition(), marker, time.monotonic())
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
            self.at_end.discard((topic, partition))

    def _flush(self, now: float, everything: bool = False) -> None:
        self.buffer.ready(now, everything=everything)  # due batches join those in flight
        for batch in self.buffer.retry():  # oldest (earlier failures) first
            if not self._write(batch):
                return  # ClickHouse is failing: keep order, try again after the backoff
        SINK_BUFFERED.set(self.buffer.buffered_rows)
        if self.paused and not self.buffer.in_flight:
            self.consumer.resume(self.consumer.assignment())
            self.paused = False

    def _write(self, batch: Batch) -> bool:
        """Insert one batch (splitting out rejected rows), record progress, commit. False when
        ClickHouse is unavailable: the batch stays in flight for a retry after the backoff."""
        spec = self.topics[batch.topic]
        if batch.erasure is not None:
            return self._erase(batch, spec)
        started = time.monotonic()
        try:
            client = self._clickhouse()
            rejected = insert_splitting(batch.records, lambda rows: self._insert(client, batch.topic, spec, rows))
            self._record_progress(client, batch)
        except Exception as error:  # noqa: BLE001 - unavailable or failing: retry with backoff
            SINK_FAILURES.labels(spec.table).inc()
            self._back_off(f"insert of {batch.token} into {spec.table} failed", error)
            return False
        self._succeeded()
        for (record, partition, offset), reason in rejected:
            log.warning(
                "%s offset %d rejected by ClickHouse (%s): to %s", batch.topic, offset, reason, SINK_DEAD_LETTER
            )
            value = orjson.dumps(record)
            self._dead_letter(batch.topic, partition, offset, None, value, f"rejected by ClickHouse: {reason}")
        SINK_BATCH_SECONDS.labels(spec.table).observe(time.monotonic() - started)
        SINK_ROWS.labels(spec.table).inc(len(batch.records) - len(rejected))
        self._confirm(batch)
        return True

    def _record_progress(self, client: Client, batch: Batch) -> None:
        client.insert(f"{self.database}.sink_progress", [[batch.topic, batch.partition, batch.commit_offset]],
                      column_names=["topic", "partition", "next_offset"])  # fmt: skip

    def _confirm(self, batch: Batch) -> None:
        """The batch is in ClickHouse (and in sink_progress): forget it and commit its offset."""
        offset = self.buffer.confirm(batch)
        try:
            self.consumer.commit(offsets=[TopicPartition(batch.topic, batch.partition, offset)], asynchronous=False)
        except KafkaException as error:  # the broker away, a rebalance: sink_progress has it, a later commit covers it
            log.warning(
                "commit of %s[%d] at %d deferred: %s", batch.topic, batch.partition, offset, error.args[0].str()
            )

    def _erase(self, batch: Batch, spec: TableSpec) -> bool:
        """Delete the marker's key from the topic's table (and what derives from it), record the
        audit rows and progress, commit. Replayed after a crash, it deletes what is left."""
        marker = batch.erasure
        assert marker is not None
        plan = IDENTITY_PLANS.get(marker.subject or "") if spec.table == "identity_links" else PLANS.get(spec.table)
        if plan is None:
            log.error("%s offset %d: an erasure marker for %s, which has no erasure plan; skipped",
                      batch.topic, marker.offset, spec.table)  # fmt: skip
        kind = marker.subject or ("anonymous" if marker.key.startswith("anon:") else "customer")
        try:
            client = self._clickhouse()
            removed = {} if plan is None else erase(client, self.database, plan, marker.key)
            if removed:
                client.insert(f"{self.database}.erasures", [[marker.request_id, t, kind, n] for t, n in removed.items()],
                              column_names=["request_id", "table", "key_kind", "rows"])  # fmt: skip
            self._record_progress(client, batch)
        except Exception as error:  # noqa: BLE001 - unavailable or failing: retry with backoff
            SINK_FAILURES.labels(spec.table).inc()
            self._back_off(f"erasure {marker.request_id} in {spec.table} failed", error)
            return False
        self._succeeded()
        for table, rows in removed.items():
            SINK_ERASED.labels(table).inc(rows)
        log.info("erasure %s: %s", marker.request_id, ", ".join(f"{t} {n}" for t, n in removed.items()) or "nothing")
        self._confirm(batch)
        return True

    def _insert(self, client: Client, topic: str, spec: TableSpec, rows: list[Row]) -> None:
        """Rows ClickHouse's JSON input takes as the typed path would go as JSONEachRow: parsed
        in C++, ~3× the rows per second of converting each value in Python (docs/decisions.md);
        the others (and their batch) through clickhouse-connect's typed columns."""
        table = f"{self.database}.{spec.table}"
        settings = {"insert_deduplication_token": dedup_token(topic, rows),
                    "deduplicate_blocks_in_dependent_materialized_views": 1}  # fmt: skip
        check = self._json_check(client, spec)  # outside the try: a failed lookup is not the rows' fault
        try:
            if all(check.accepts(record) for record, _, _ in rows):
                client.raw_insert(table, spec.column_names, json_each_row(rows), fmt="JSONEachRow",
                                  settings={**settings, **JSON_INPUT})  # fmt: skip
            else:
                columns = to_columns(spec, rows)
                client.insert(table, columns, column_names=spec.column_names, column_oriented=True, settings=settings)
        except Exception as error:
            if is_data_error(error):
                raise RowsRejected(_short(error)) from error
            raise

    def _json_check(self, client: Client, spec: TableSpec) -> JsonRowCheck:
        """From the table's column types, once. A missing table or column raises (the batch is
        retried after the backoff, as any failed insert), never rejects the rows."""
        check = self.json_checks.get(spec.table)
        if check is None:
            columns = client.query(
                "SELECT name, type FROM system.columns WHERE database = {db:String} AND table = {t:String}",
                parameters={"db": self.database, "t": spec.table},
            ).result_rows
            types: dict[str, str] = {name: type_ for name, type_ in columns}
            if not types:
                raise RuntimeError(f"UNKNOWN_TABLE: {self.database}.{spec.table} does not exist")
            missing = [name for name, _ in spec.columns if name not in types]
            if missing:
                raise RuntimeError(
                    f"{self.database}.{spec.table} has no column {', '.join(missing)} (an older schema?)"
                )
            check = self.json_checks[spec.table] = JsonRowCheck.from_types(spec, types)
        return check

    def _dead_letter(
        self, topic: str, partition: int, offset: int, key: bytes | None, value: bytes, reason: str
    ) -> None:
        SINK_DEAD_LETTERS.labels(topic).inc()
        envelope: dict[str, Any] = {"reason": reason, "topic": topic, "partition": partition, "offset": offset,
                                    "original": value.decode(errors="replace")}  # fmt: skip
        self.producer.produce(self.settings.topics.name(SINK_DEAD_LETTER), orjson.dumps(envelope), key=key)
        self.producer.poll(0)


def _short(error: BaseException) -> str:
    """The first line of an error and of its cause (clickhouse-connect appends tracebacks and
    version trailers; a serialization error's cause says which value did not fit)."""
    lines = str(error).strip().splitlines()
    text = lines[0][:500] if lines else type(error).__name__
    if error.__cause__ is not None:
        text += f" ({_short(error.__cause__)})"
    return text
