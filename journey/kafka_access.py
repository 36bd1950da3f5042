"""Kafka errors no retry will fix — a refused login, a broker certificate not trusted — turned
into one clear message naming the setting to change, so clients stop instead of retrying forever.

`check_access` is what every `journey` command that talks to Kafka does first; the SDK's
publisher watches for the same errors while it runs (journey/publisher.py).
"""

from __future__ import annotations

import contextlib
import time

from confluent_kafka import KafkaError, KafkaException, Producer

from journey.sdk_settings import KafkaSettings


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


def check_access(kafka: KafkaSettings, timeout_s: float | None = None) -> None:
    """Raise KafkaAccessError if the broker refuses this client's login or TLS, BrokerUnreachable
    after `timeout_s` (kafka.connect_timeout_s) of silence; return once it answers."""
    timeout_s = kafka.connect_timeout_s if timeout_s is None else timeout_s
    problems: list[str] = []

    def on_error(error: KafkaError) -> None:
        if (problem := access_problem(error, kafka)) is not None:
            problems.append(problem)

    probe = Producer({**kafka.confluent_config(), "error_cb": on_error, "log_level": 0})
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            probe.poll(0.1)
            if problems:
                raise KafkaAccessError(problems[0])
            with contextlib.suppress(KafkaException):  # not answering yet: errors come through on_error
                if probe.list_topics(timeout=0.5).brokers:
                    return
        raise BrokerUnreachable(kafka, timeout_s)
    finally:
        probe.flush(0)
