"""The settings the publisher SDK needs, and nothing more: the Kafka connection, the contract's
time limits and the topic. They read from the same `JOURNEY_*` environment variables as the
pipeline (`JOURNEY_KAFKA__BOOTSTRAP_SERVERS=broker:9092`), with pydantic alone, so a service that
only publishes does not install the pipeline's settings loader. The pipeline's `Settings`
(journey/config.py) is built from these same sections.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

import orjson
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_serializer,
    field_validator,
    model_validator,
)

ENV_PREFIX = "JOURNEY_"
ENV_NESTED_DELIMITER = "__"
TOUCHPOINTS = "touchpoints"  # the topic services publish to, before the deployment's prefix
# librdkafka's own log lines (`%3|…|FAIL|…` for every failed connect) stay quiet up to errors; the
# clients report what matters themselves. `librdkafka_overrides.log_level = 7` brings them back.
QUIET_LOG_LEVEL = 2
# librdkafka settings whose values are secrets (names of paths end in `.location`).
SECRET_OVERRIDE = re.compile(r"password|secret|key(?!\S*\.location$)|token|credential|sasl\.oauthbearer\.config")


class ConfigError(ValueError):
    """A setting is missing or wrong; the message names it and says what is expected."""


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class KafkaSettings(Section):
    """Connection and security of every Kafka client (SDK, admin, workers, sink)."""

    bootstrap_servers: str = "127.0.0.1:9092"
    client_id: str = "journey-telemetry"
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_ca_location: Path | None = None
    ssl_certificate_location: Path | None = None
    ssl_key_location: Path | None = None
    ssl_key_password: SecretStr | None = None
    # How long a client waits for a broker to answer before it calls it down (TCP, TLS and SASL
    # setup of one connection; the access check's wait); a listener of another protocol fails sooner.
    connect_timeout_s: float = Field(
        default=10.0, ge=1, le=300, description="seconds to set up a broker connection; a command gives up after it"
    )
    # Passed through verbatim to librdkafka (confluent-kafka clients), for tuning not modelled here.
    librdkafka_overrides: dict[str, str | int | float | bool] = Field(default_factory=dict)

    @field_serializer("librdkafka_overrides")
    def _secrets_masked(self, overrides: dict[str, str | int | float | bool]) -> dict[str, str | int | float | bool]:
        """`journey config show`: an override that is a password, key or secret shows as stars."""
        return {k: "**********" if SECRET_OVERRIDE.search(k.lower()) else v for k, v in overrides.items()}

    @field_validator("bootstrap_servers")
    @classmethod
    def _host_port_list(cls, value: str) -> str:
        servers = [s.strip() for s in value.split(",") if s.strip()]
        if not servers:
            raise ValueError("expected host:port[,host:port...]")
        for server in servers:
            host, sep, port = server.rpartition(":")
            if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError(f"{server!r} is not host:port")
        return ",".join(servers)

    @model_validator(mode="after")
    def _security_is_complete(self) -> KafkaSettings:
        uses_sasl = self.security_protocol.startswith("SASL")
        if uses_sasl and not (self.sasl_mechanism and self.sasl_username and self.sasl_password):
            raise ValueError(
                f"security_protocol {self.security_protocol} needs sasl_mechanism, sasl_username and sasl_password"
            )
        if not uses_sasl and self.sasl_mechanism:
            raise ValueError("sasl_mechanism is set but security_protocol does not use SASL")
        return self

    def confluent_config(self) -> dict[str, Any]:
        """librdkafka settings shared by every confluent-kafka client."""
        config: dict[str, Any] = {
            "bootstrap.servers": self.bootstrap_servers,
            "client.id": self.client_id,
            "security.protocol": self.security_protocol,
            "log_level": QUIET_LOG_LEVEL,
            "socket.connection.setup.timeout.ms": int(self.connect_timeout_s * 1000),
        }
        if self.sasl_mechanism:
            config["sasl.mechanism"] = self.sasl_mechanism
            config["sasl.username"] = self.sasl_username
            config["sasl.password"] = self.sasl_password.get_secret_value() if self.sasl_password else None
        for key, path in (
            ("ssl.ca.location", self.ssl_ca_location),
            ("ssl.certificate.location", self.ssl_certificate_location),
            ("ssl.key.location", self.ssl_key_location),
        ):
            if path is not None:
                config[key] = str(path)
        if self.ssl_key_password is not None:
            config["ssl.key.password"] = self.ssl_key_password.get_secret_value()
        config.update(self.librdkafka_overrides)
        return config


class ContractSettings(Section):
    """What stage 1 (and the SDK) accept beyond the event schema."""

    max_future_minutes: float = Field(
        default=60,
        gt=0,
        description="an event stamped further than this after its publish time (the Kafka record's timestamp) is "
        "dead-lettered (time_out_of_range): a clock ahead would make its journey's later events late",
    )
    max_age_days: float = Field(
        default=400,
        gt=0,
        description="an event stamped further than this before its publish time is dead-lettered; raise it to "
        "backfill older history",
    )

    @property
    def max_future(self) -> timedelta:
        return timedelta(minutes=self.max_future_minutes)

    @property
    def max_age(self) -> timedelta:
        return timedelta(days=self.max_age_days)


class PublisherSettings(Section):
    """What `TouchpointPublisher` needs: where the broker is, the topic, the contract's time limits."""

    kafka: KafkaSettings = KafkaSettings()
    topic: str = Field(default=TOUCHPOINTS, pattern=r"^[A-Za-z0-9._-]+$")
    contract: ContractSettings = ContractSettings()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> PublisherSettings:
        """Read `JOURNEY_KAFKA__*`, `JOURNEY_CONTRACT__*` and `JOURNEY_TOPICS__PREFIX` (the names
        the pipeline reads, so one deployment's variables serve both); raise ConfigError naming
        each wrong one. Values of dict settings are JSON."""
        environ = os.environ if environ is None else environ
        sections: dict[str, dict[str, Any]] = {"kafka": {}, "contract": {}}
        prefix = ""
        for name, value in environ.items():
            section, _, key = name.removeprefix(ENV_PREFIX).lower().partition(ENV_NESTED_DELIMITER)
            if not name.startswith(ENV_PREFIX) or not key:
                continue
            if section in sections:
                sections[section][key] = orjson.loads(value) if value.lstrip().startswith("{") else value
            elif (section, key) == ("topics", "prefix"):
                prefix = value
        try:  # one validation: every problem at once, each named from the top (kafka.bootstrap_servers)
            return cls.model_validate({**sections, "topic": f"{prefix}{TOUCHPOINTS}"})
        except ValidationError as error:
            raise ConfigError(describe(error)) from None


def describe(error: ValidationError) -> str:
    """A ValidationError in words, each setting named as a TOML path and its environment variable."""
    lines = [f"invalid configuration ({error.error_count()} problem(s)):"]
    for problem in error.errors():
        message = problem["msg"].removeprefix("Value error, ")
        if problem["type"] == "extra_forbidden":
            message = "unknown setting (check the spelling; `journey config show` lists all settings)"
        lines.append(f"  - {setting_name(problem['loc'])}: {message}")
    return "\n".join(lines)


def setting_name(location: tuple[int | str, ...]) -> str:
    parts = [str(p) for p in location if not isinstance(p, int)]
    dotted = ".".join(parts)
    env = ENV_PREFIX + ENV_NESTED_DELIMITER.join(p.upper() for p in parts)
    return f"{dotted} ({env})" if parts else "(top level)"
