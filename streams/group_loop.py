"""The worker's consumer loop: one confluent-kafka consumer in the group `worker.app_id`, reading
both stage inputs in batches, one batch at a time, on one thread.

Per batch, the order that makes replays harmless (at-least-once with idempotent outputs):
  1. the stage decides everything with the pure logic (no I/O);
  2. it sends every output and waits until Kafka acknowledged all of them;
  3. it sends each touched key's state to its changelog, waits for the acknowledgements, and
     writes the states to the local store (streams/state_table.py);
  4. the loop commits the batch's offsets, synchronously, before it reads on. A commit the group
     refuses because it is rebalancing is kept and retried after the rebalance, for the
     partitions this worker still has; the others are replayed by their new owner (on the state
     of step 3: duplicates, as below).
A crash before 3 completes replays the batch on the old state: identical outputs (deterministic
ids), which the sink drops as duplicates. A crash between 3 and 4 replays on the new state: the
events are known by then and count as duplicates, and their outputs were already delivered.

Rebalances happen only inside `consume()`, i.e. between batches, when every batch read so far
is processed and committed: a revoked partition has no work in flight, and librdkafka hands out
each partition's records in offset order from the committed offset (cooperative-sticky: only the
partitions that move are revoked). Faust, which ran the stages before, delivered records fetched
before a rebalance ahead of earlier ones and committed records it skipped (docs/decisions.md,
"Our own consumer loop instead of Faust's").
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from journey.config import Settings
from journey.streams.lag import COORDINATOR_BUSY, consumer_progress

log = logging.getLogger("journey.worker")

# Commit refusals that mean "not now, the group is rebalancing", not "this worker is broken".
REBALANCING = frozenset({KafkaError.REBALANCE_IN_PROGRESS, KafkaError.ILLEGAL_GENERATION, KafkaError.UNKNOWN_MEMBER_ID,
                         KafkaError._ASSIGNMENT_LOST, KafkaError._STATE})  # fmt: skip
# The broker or the group's coordinator away for now (a restart): retried after the next batch.
UNREACHABLE = COORDINATOR_BUSY | {KafkaError._TRANSPORT, KafkaError._TIMED_OUT, KafkaError._ALL_BROKERS_DOWN,
                                  KafkaError._WAIT_COORD, KafkaError.REQUEST_TIMED_OUT}  # fmt: skip


@dataclass(frozen=True)
class TopicHandler:
    """What the loop calls for one input topic."""

    topic: str
    process: Callable[[list[Message]], None]  # a batch of this topic's records, offset order per partition
    assigned: Callable[[int], None]  # may block: restores the partition's state
    revoked: Callable[[int], None]


@dataclass
class Timer:
    interval_s: float
    run: Callable[[], None]
    due: float = 0.0


class GroupLoop:
    def __init__(self, settings: Settings, handlers: Sequence[TopicHandler], timers: Sequence[Timer] = ()) -> None:
        w = settings.worker
        self.batch_size, self.batch_within_s = w.batch_size, w.batch_within_s
        self.handlers = {handler.topic: handler for handler in handlers}
        self.order = [handler.topic for handler in handlers]  # stage 1's input before stage 2's
        self.timers = list(timers)
        self.stopping = threading.Event()
        self.uncommitted: dict[tuple[str, int], int] = {}  # processed, not yet committed: next offsets
        self.assignment: frozenset[tuple[str, int]] = frozenset()  # replaced, never changed: other threads read it
        self.consumer = Consumer({
            **settings.kafka.confluent_config(),
            "group.id": w.app_id,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "partition.assignment.strategy": "cooperative-sticky",
            "session.timeout.ms": int(w.session_timeout_s * 1000),
            "heartbeat.interval.ms": int(w.session_timeout_s * 100),
            "max.poll.interval.ms": int(w.max_poll_interval_s * 1000),
        })  # fmt: skip

    def stop(self) -> None:
        """Finish the batch in hand, commit it, leave the group. Safe from any thread or signal."""
        self.stopping.set()

    def run(self, on_ready: Callable[[], None] = lambda: None) -> None:
        self.consumer.subscribe(list(self.order), on_assign=self._on_assign, on_revoke=self._on_revoke,
                                on_lost=self._on_revoke)  # fmt: skip
        on_ready()
        try:
            while not self.stopping.is_set():
                self._process(self.consumer.consume(self.batch_size, timeout=self.batch_within_s))
                if self.uncommitted:  # both stages' batches at once; a deferred commit, again
                    self._commit()
                self._run_due_timers()
        finally:
            self.consumer.close()  # leaves the group: the others take the partitions over at once

    def _process(self, messages: list[Message]) -> None:
        by_topic: dict[str, list[Message]] = {}
        for message in messages:
            error = message.error()
            if error is None:
                by_topic.setdefault(message.topic(), []).append(message)
            elif error.fatal():
                raise KafkaException(error)
            else:  # transient (the broker away, a partition moving): librdkafka retries by itself
                log.warning("consumer: %s", error)
        for topic in self.order:
            batch = by_topic.get(topic)
            if batch:
                self.handlers[topic].process(batch)
                for message in batch:
                    self.uncommitted[(topic, message.partition())] = message.offset() + 1

    def _commit(self) -> None:
        offsets = [TopicPartition(topic, p, offset) for (topic, p), offset in self.uncommitted.items()]
        try:
            self.consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as exception:
            error = exception.args[0]
            if error.code() in REBALANCING:
                log.info("commit deferred: the group is rebalancing (%s)", error.name())
            elif error.retriable() or error.code() in UNREACHABLE:
                log.warning("commit deferred: %s", error.str())
            else:
                raise
            return
        self.uncommitted.clear()

    def _run_due_timers(self) -> None:
        now = time.monotonic()
        for timer in self.timers:
            if now >= timer.due:
                timer.run()
                timer.due = time.monotonic() + timer.interval_s

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        for tp in partitions:
            self.handlers[tp.topic].assigned(tp.partition)
            self.assignment = self.assignment | {(tp.topic, tp.partition)}
        if partitions:
            log.info("assigned %s", _names(partitions))

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        if self.uncommitted:  # still allowed here: spare the next owner the replay
            self._commit()
        for tp in partitions:
            self.assignment = self.assignment - {(tp.topic, tp.partition)}
            self.uncommitted.pop((tp.topic, tp.partition), None)  # its new owner replays from the last commit
            self.handlers[tp.topic].revoked(tp.partition)
        if partitions:
            log.info("revoked %s", _names(partitions))

    def assigned(self, topic: str) -> list[int]:
        """This worker's partitions of `topic` (from any thread)."""
        return sorted(p for t, p in self.assignment if t == topic)

    def progress(self, topic: str, partitions: list[int]) -> dict[int, tuple[int, int]]:
        """For each partition: where the group resumes it and where it ends (journey.streams.lag's rule).
        Loop thread only."""
        progress = consumer_progress(self.consumer, [TopicPartition(topic, p) for p in partitions])
        return {p: resume_and_end for (_, p), resume_and_end in progress.items()}


def _names(partitions: list[TopicPartition]) -> str:
    return ", ".join(f"{tp.topic}[{tp.partition}]" for tp in partitions)
