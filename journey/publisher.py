"""Publisher SDK: how services send touchpoints to the pipeline.

    with TouchpointPublisher(PublisherSettings.from_env()) as publisher:
        publisher.publish({"event_id": ..., "occurred_at": ..., ...})

Events are validated before they leave the service (an invalid one raises InvalidTouchpoint
at once, naming the field), keyed by anonymous_id when present (else customer_id) so one
person's events keep their order, and produced by an idempotent producer (acks=all, lz4).
Delivery failures are collected and raised as PublishError by flush()/close(); a broker that
refuses the login or the TLS, or whose listener speaks another protocol than
kafka.security_protocol, raises KafkaAccessError (naming the setting) at the next publish or flush
instead of being retried forever. librdkafka's own log lines go to the `journey.kafka` logger.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from confluent_kafka import KafkaError, Message, Producer

from journey.kafka_access import WATCHED_LOG_LEVEL, KafkaAccessError, ProtocolWatch, access_problem
from journey.schemas.touchpoint import Touchpoint, check_event_time, validate_touchpoint
from journey.sdk_settings import PublisherSettings

PRODUCER_DEFAULTS: dict[str, Any] = {
    "enable.idempotence": True,  # implies acks=all and ordered retries without duplicates
    "acks": "all",
    "compression.type": "lz4",
    # Where Kafka's Java client, kafkajs and kafka-go's Murmur2Balancer put a key: one person's events
    # share a partition whichever language published them (librdkafka's default hashes with CRC32).
    "partitioner": "murmur2_random",
    "linger.ms": 20,
    "delivery.timeout.ms": 120_000,
}
QUEUE_FULL_POLL_S = 0.1
FLUSH_STEP_S = 0.5


@dataclass(frozen=True)
class DeliveryFailure:
    key: bytes | None
    error: str


class PublishError(RuntimeError):
    """Some events were not delivered; `failures` says which keys and why."""

    def __init__(self, failures: list[DeliveryFailure], undelivered: int = 0) -> None:
        self.failures = failures
        self.undelivered = undelivered
        parts = []
        if failures:
            parts.append(f"{len(failures)} event(s) failed delivery, first: {failures[0].error}")
        if undelivered:
            parts.append(f"{undelivered} event(s) still queued when flush timed out")
        super().__init__("; ".join(parts))


DeliveryCallback = Callable[[KafkaError | None, Message], None]


class TouchpointPublisher:
    def __init__(
        self,
        settings: PublisherSettings | None = None,
        *,
        topic: str | None = None,
        producer_config: Mapping[str, Any] | None = None,
        on_delivery: DeliveryCallback | None = None,
    ) -> None:
        settings = settings or PublisherSettings.from_env()
        self.topic = topic or settings.topic
        self._kafka = settings.kafka
        self._access_problem: str | None = None
        self._watch = ProtocolWatch(settings.kafka)  # a `logger` in producer_config replaces it
        config = {**settings.kafka.confluent_config(), **PRODUCER_DEFAULTS, "logger": self._watch,
                  "log_level": WATCHED_LOG_LEVEL, **(producer_config or {}), "error_cb": self._on_error}  # fmt: skip
        self._producer: Producer | None = Producer(config)
        self._on_delivery = on_delivery
        self._failures: list[DeliveryFailure] = []
        self._time_limits = (settings.contract.max_future, settings.contract.max_age)
        self.delivered = 0

    def publish(self, event: Touchpoint | Mapping[str, Any]) -> None:
        """Validate and enqueue one event (raises InvalidTouchpoint before sending anything,
        as stage 1 would reject it: the schema, and occurred_at within the contract's limits of
        now, the record's timestamp)."""
        touchpoint = event if isinstance(event, Touchpoint) else validate_touchpoint(dict(event))
        check_event_time(touchpoint, datetime.now(UTC), *self._time_limits)
        self.publish_raw(touchpoint.to_json_bytes(), touchpoint.partition_key.encode())

    def publish_raw(
        self, value: bytes, key: bytes | None, headers: Sequence[tuple[str, str | bytes | None]] | None = None
    ) -> None:
        """Enqueue bytes as they are (no validation): replays, erasure requests and tests of the
        dead-letter path."""
        producer = self._client()
        while True:
            try:
                producer.produce(
                    self.topic,
                    value=value,
                    key=key,
                    headers=None if headers is None else list(headers),
                    on_delivery=self._delivered,
                )
                break
            except BufferError:
                # Local queue full: serve delivery reports until there is room (backpressure).
                producer.poll(QUEUE_FULL_POLL_S)
        producer.poll(0)

    def _on_error(self, error: KafkaError) -> None:
        """A refused login or untrusted certificate would be retried forever: remember it, so
        the next publish or flush raises it (other errors are the producer's to retry)."""
        self._access_problem = self._access_problem or access_problem(error, self._kafka)

    def _client(self) -> Producer:
        """The producer; KafkaAccessError once the broker refused it, and then the client is let
        go: librdkafka would otherwise reconnect, and log each refusal, for as long as it lives."""
        self._access_problem = self._access_problem or self._watch.problem()
        if self._access_problem is not None:
            self._producer = None
            raise KafkaAccessError(self._access_problem)
        assert self._producer is not None  # only an access problem drops it
        return self._producer

    def _delivered(self, error: KafkaError | None, message: Message) -> None:
        if error is None:
            self.delivered += 1
            self._watch.answered = True
        else:
            self._failures.append(DeliveryFailure(message.key(), str(error)))
        if self._on_delivery is not None:
            self._on_delivery(error, message)

    def flush(self, timeout_s: float = 60.0) -> None:
        """Wait for every queued event; raise PublishError if any failed or did not finish,
        KafkaAccessError at once if the broker refuses this client."""
        deadline = time.monotonic() + timeout_s
        while True:  # in steps, to stop as soon as the broker refuses the login
            remaining = self._client().flush(min(FLUSH_STEP_S, max(deadline - time.monotonic(), 0)))
            self._client()  # raises if the broker refused this client meanwhile
            if not remaining or time.monotonic() >= deadline:
                break
        if self._failures or remaining:
            failures, self._failures = self._failures, []
            raise PublishError(failures, remaining)

    def close(self, timeout_s: float = 60.0) -> None:
        self.flush(timeout_s)

    def __enter__(self) -> TouchpointPublisher:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()
