"""Kafka errors no retry will fix — a refused login, a broker certificate not trusted, a client
whose `security_protocol` is not the listener's — turned into one clear message naming the setting
to change, so clients stop instead of retrying forever.

`check_access` is what every `journey` command that talks to Kafka does first; the SDK's
publisher watches for the same errors while it runs (journey/publisher.py).

A protocol mismatch reaches no error callback in one direction: a plaintext client on a TLS
listener only sees the broker close the connection at its first request, in librdkafka's log. So
the clients take librdkafka's log lines (`ProtocolWatch`, its `logger`): the signs of a mismatch
are counted and kept quiet, every other line goes on to the `journey.kafka` logger.
"""

from __future__ import annotations

import contextlib
import logging
import time
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Producer

from journey.sdk_settings import KafkaSettings

LOG = logging.getLogger("journey.kafka")  # librdkafka's own lines, but for the signs of a mismatch
WATCHED_LOG_LEVEL = 6  # librdkafka's default (syslog info): the level its connection lines come at
MISMATCH_SIGNS = 2  # connection attempts that show it (one second apart): one could be a broker going down
TLS_CLIENT_ON_PLAINTEXT = "connecting to a PLAINTEXT broker listener?"  # librdkafka's own diagnosis
PLAINTEXT_CLIENT_ON_TLS = "in state APIVERSION_QUERY"  # closed at the first request: it wanted a TLS handshake


class KafkaAccessError(RuntimeError):
    """The broker refused this client for good: the message names the setting."""


class BrokerUnreachable(KafkaAccessError):
    """No broker answered within kafka.connect_timeout_s."""

    def __init__(self, kafka: KafkaSettings, waited_s: float) -> None:
        super().__init__(
            f"the Kafka broker at {kafka.bootstrap_servers} is unreachable (no answer within {waited_s:g}s): start it "
            "(`journey stack up` for the local one) or point kafka.bootstrap_servers "
            "(JOURNEY_KAFKA__BOOTSTRAP_SERVERS) at a running broker; kafka.connect_timeout_s sets the wait"
        )


def access_problem(error: KafkaError, kafka: KafkaSettings) -> str | None:
    """The message for an error that settings, not time, must fix; None for any other."""
    detail = error.str()
    if error.code() == KafkaError._AUTHENTICATION:
        return (
            f"Kafka refused the login of kafka.sasl_username {kafka.sasl_username!r} ({kafka.sasl_mechanism}): "
            "check kafka.sasl_password (JOURNEY_KAFKA__SASL_PASSWORD) and that the user exists on the broker "
            f"[{detail}]"
        )
    if error.code() == KafkaError._SSL:
        if "certificate verify failed" in detail:
            trusted = f"kafka.ssl_ca_location {str(kafka.ssl_ca_location)!r}" if kafka.ssl_ca_location else \
                "the system's CA certificates (kafka.ssl_ca_location is not set)"  # fmt: skip
            return (
                f"the broker's TLS certificate is not trusted by {trusted}: point kafka.ssl_ca_location "
                f"(JOURNEY_KAFKA__SSL_CA_LOCATION) at the CA that signed it [{detail}]"
            )
        return (
            f"TLS with the broker failed: check kafka.security_protocol ({kafka.security_protocol}) against the "
            f"broker's listener and the kafka.ssl_* settings [{detail}]"
        )
    return None


def protocol_mismatch(line: str, kafka: KafkaSettings) -> str | None:
    """The message for a librdkafka log line that shows the listener speaks another protocol."""
    tls = kafka.security_protocol.endswith("SSL")
    setting = f"kafka.security_protocol ({kafka.security_protocol}; JOURNEY_KAFKA__SECURITY_PROTOCOL)"
    if tls and TLS_CLIENT_ON_PLAINTEXT in line:
        return (f"the Kafka listener at {kafka.bootstrap_servers} does not speak TLS: check {setting} "
                "against the broker's listener (PLAINTEXT or SASL_PLAINTEXT there)")  # fmt: skip
    if not tls and PLAINTEXT_CLIENT_ON_TLS in line and "Disconnected" in line:
        return (f"the Kafka listener at {kafka.bootstrap_servers} closed the connection at the first request, "
                f"as a TLS listener does: check {setting} against the broker's listener (SSL or SASL_SSL there, "
                "with kafka.ssl_ca_location)")  # fmt: skip
    return None


class ProtocolWatch:
    """A confluent-kafka `logger`: counts the signs of a protocol mismatch (and keeps them quiet)
    until the broker has answered once; every other line goes to `journey.kafka`."""

    def __init__(self, kafka: KafkaSettings, forward: bool = True):
        self.kafka = kafka
        self.forward = forward
        self.started = time.monotonic()
        self.signs = 0
        self.message: str | None = None
        self.answered = False  # after a broker answered, a closed connection is not the settings

    def log(self, level: int, fmt: str, *args: Any) -> None:
        line = fmt % args if args else fmt
        if not self.answered and (message := protocol_mismatch(line, self.kafka)) is not None:
            self.signs, self.message = self.signs + 1, message
        elif self.forward:
            LOG.log(level, line)

    def problem(self) -> str | None:
        """The mismatch, once shown on MISMATCH_SIGNS attempts, or on one by the connect timeout."""
        if self.answered or self.message is None:
            return None
        late = time.monotonic() - self.started >= self.kafka.connect_timeout_s
        return self.message if self.signs >= MISMATCH_SIGNS or late else None


def check_access(kafka: KafkaSettings, timeout_s: float | None = None) -> None:
    """Raise KafkaAccessError if the broker refuses this client's login or TLS, or its listener
    speaks another protocol; return once it answers, or after `timeout_s` (kafka.connect_timeout_s)
    of silence, BrokerUnreachable after that (naming kafka.bootstrap_servers). librdkafka's lines stay quiet."""
    problems: list[str] = []

    def on_error(error: KafkaError) -> None:
        if (problem := access_problem(error, kafka)) is not None:
            problems.append(problem)

    timeout_s = kafka.connect_timeout_s if timeout_s is None else timeout_s
    watch = ProtocolWatch(kafka, forward=False)
    # librdkafka's lines go to the watch (which keeps them quiet): at its usual level, not the
    # quiet one of confluent_config(), or the signs of a mismatch would never be logged.
    probe = Producer(
        {**kafka.confluent_config(), "error_cb": on_error, "logger": watch, "log_level": WATCHED_LOG_LEVEL}
    )
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            probe.poll(0.1)
            problem = problems[0] if problems else watch.problem()
            if problem is not None:
                raise KafkaAccessError(problem)
            with contextlib.suppress(KafkaException):  # not answering yet: errors come through on_error
                if probe.list_topics(timeout=0.5).brokers:
                    return
        if watch.message is not None:  # seen once, and no answer in the whole connect timeout
            raise KafkaAccessError(watch.message)
        raise BrokerUnreachable(kafka, timeout_s)
    finally:
        probe.flush(0)
