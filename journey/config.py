"""One typed configuration for every part of the pipeline.

Sources, later ones winning: defaults below < `journey.toml` (or the file named by
`JOURNEY_CONFIG`) < `JOURNEY_*` environment variables, nested with `__`
(e.g. `JOURNEY_KAFKA__BOOTSTRAP_SERVERS=broker:9092`).

A wrong setting fails at start with `ConfigError`, whose message names the setting both as
a TOML path (`kafka.bootstrap_servers`) and as its environment variable.
"""

from __future__ import annotations

import contextvars
import os
import re
import tomllib
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
    Field,
    SecretStr,
    ValidationError,
    field_serializer,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource
from pydantic_settings.exceptions import SettingsError

from journey.config_env import check_environment
from journey.schemas.stages import DEFAULT_DOMAIN_STAGES, DEFAULT_TOUCHPOINT_STAGES, Stage, StageCatalog
from journey.sdk_settings import (
    ENV_NESTED_DELIMITER,
    ENV_PREFIX,
    TOUCHPOINTS,
    ConfigError,
    ContractSettings,
    KafkaSettings,
    PublisherSettings,
    describe,
)
from journey.sdk_settings import Section as _Section

DEFAULT_CONFIG_FILE = "journey.toml"
# The folder relative paths resolve against while settings are read (the config file's).
_CONFIG_DIR: contextvars.ContextVar[Path | None] = contextvars.ContextVar("config_dir", default=None)


def anchored(path: Path) -> Path:
    """`path` against the config file's folder while settings are read (else as it is)."""
    base = _CONFIG_DIR.get()
    return path if base is None or path.is_absolute() else base / path


class TopicSettings(_Section):
    """Names, partitioning and retention of the pipeline's topics."""

    prefix: str = Field(default="", pattern=r"^[A-Za-z0-9._-]*$")
    changelog_prefix: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9._-]*$",
        description='prefix of the state changelog topics; default: `prefix`. "" keeps 0.2.0\'s unprefixed '
        "names (a prefixed deployment upgrading without moving its state)",
    )
    partitions: int = Field(default=6, ge=1, le=1024)
    replication_factor: int = Field(default=1, ge=1, le=16)
    retention_hours: int = Field(default=7 * 24, ge=1)
    dlq_retention_hours: int = Field(default=30 * 24, ge=1)
    dlq_max_message_bytes: int = Field(
        default=4 * 1024 * 1024,
        ge=64 * 1024,
        description="the dead-letter topics' max.message.bytes: room for the largest record the touchpoints topic "
        "takes (1 MiB by default) in base64 with its reason; a larger original is kept in part, with its size and "
        "SHA-256",
    )

    def name(self, base: str) -> str:
        return f"{self.prefix}{base}"


class ClickHouseSettings(_Section):
    """Where results go: `chdb:///abs/or/relative/path` (in-process engine) or `http(s)://host:port`."""

    dsn: str = "chdb://.journey/clickhouse"
    database: str = Field(default="journey", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    raw_ttl_days: int = Field(default=180, ge=1)
    # Least privilege on a server (docs/operations.md, "Security"): `journey migrate`, run with the
    # DSN's admin user, creates these users; the sink then writes as the writer, reports and
    # Grafana read as the reader. The embedded engine has no users: there they are not used.
    writer_user: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    writer_password: SecretStr | None = None
    reader_user: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    reader_password: SecretStr | None = None
    reader_max_execution_s: int = Field(default=60, ge=1, description="the reader's queries stop after this long")
    reader_max_result_rows: int = Field(default=1_000_000, ge=1)
    reader_queries_per_hour: int = Field(default=10_000, ge=1, description="the reader's quota")

    @field_validator("dsn")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        if not value.startswith(("chdb://", "http://", "https://")):
            raise ValueError("expected chdb://PATH (embedded engine) or http(s)://HOST:PORT (server)")
        return value

    @model_validator(mode="after")
    def _users_with_passwords(self) -> ClickHouseSettings:
        for role in ("writer", "reader"):
            if (getattr(self, f"{role}_user") is None) != (getattr(self, f"{role}_password") is None):
                raise ValueError(f"{role}_user and {role}_password go together")
        return self

    @field_serializer("dsn")
    def _password_masked(self, value: str) -> str:
        """`journey config show` and messages: a password in the DSN shows as stars."""
        return masked_dsn(value)


MASK = "**********"
SECRET_NAME = re.compile(r"password|passwd|secret|key|token|credential", re.IGNORECASE)


def masked_dsn(dsn: str) -> str:
    """A URL with its password (up to the last `@` before the host: a password may hold `@`) and
    secret-named query parameters (`?password=`) as stars."""
    dsn = re.sub(r"^([a-z]+://[^:@/]*:).*@(?=[^@/?#]*(?:[/?#]|$))", rf"\g<1>{MASK}@", dsn)
    return re.sub(r"([?&;][^=&#]*=)([^&#]*)", lambda m: m[1] + (MASK if SECRET_NAME.search(m[1]) else m[2]), dsn)


class LocalStackSettings(_Section):
    """The single-node Kafka broker that `journey stack up` runs on loopback."""

    kafka_version: str = Field(default="4.3.1", pattern=r"^4\.\d+\.\d+$")
    host: str = "127.0.0.1"
    broker_port: int = Field(default=9092, gt=0, lt=65536)
    controller_port: int = Field(default=9093, gt=0, lt=65536)
    data_dir: Path = Path(".journey/kafka")
    jar_cache_dir: Path = Path(".journey/cache/kafka-jars")
    heap: str = Field(default="768m", pattern=r"^\d+[mg]$")
    start_timeout_s: float = Field(default=90.0, gt=0)
    prometheus_port: int = Field(default=9090, gt=0, lt=65536, description="`journey stack up --prometheus`")
    prometheus_data_dir: Path = Path(".journey/prometheus")
    secure: bool = Field(
        default=False,
        description="SASL_SSL (SCRAM-SHA-512 over TLS) instead of PLAINTEXT; `journey stack up --secure`. Fixed "
        "when the broker's storage is first formatted",
    )
    client_username: str = Field(default="journey", description="the SCRAM user a secure stack creates for clients")

    @model_validator(mode="after")
    def _distinct_ports(self) -> LocalStackSettings:
        if self.broker_port == self.controller_port:
            raise ValueError("broker_port and controller_port must differ")
        return self

    @property
    def bootstrap_servers(self) -> str:
        return f"{self.host}:{self.broker_port}"


class PrivacySettings(_Section):
    """Personal data stage 1 hashes (keyed HMAC) or drops before anything is written downstream
    (docs/operations.md, "Security")."""

    hash_properties: list[str] = Field(
        default_factory=list, description='dotted paths in `properties` to hash, e.g. "email", "contact.phone"'
    )
    drop_properties: list[str] = Field(default_factory=list, description="dotted paths in `properties` to remove")
    hash_customer_id: bool = Field(default=False, description="hash customer_id too (journeys are keyed by the hash)")
    hmac_keys: dict[str, SecretStr] = Field(
        default_factory=dict, description='key id -> secret; JOURNEY_PRIVACY__HMAC_KEYS=\'{"k1": "..."}\''
    )
    hmac_keys_file: Path | None = Field(default=None, description="a file of `id=secret` lines (a mounted secret)")
    current_key: str | None = Field(default=None, description="the key id new values are hashed with")

    @field_validator("hash_properties", "drop_properties")
    @classmethod
    def _dotted_paths(cls, paths: list[str]) -> list[str]:
        for path in paths:
            if not path or any(not part for part in path.split(".")):
                raise ValueError(f"{path!r} is not a dotted path of property names")
        return paths

    def keys(self) -> dict[str, str]:
        """Every configured key, inline and from the file; ValueError naming what is wrong."""
        keys = {key_id: secret.get_secret_value() for key_id, secret in self.hmac_keys.items()}
        if self.hmac_keys_file is not None:
            try:
                lines = anchored(self.hmac_keys_file).read_text().splitlines()
            except OSError as error:
                raise ValueError(
                    f"hmac_keys_file {str(self.hmac_keys_file)!r} cannot be read: {error.strerror}"
                ) from None
            for number, line in enumerate(lines, 1):
                if line.strip() and not line.lstrip().startswith("#"):
                    key_id, sep, secret = line.strip().partition("=")
                    if not sep:
                        raise ValueError(f"hmac_keys_file line {number} is not `id=secret`")
                    keys[key_id.strip()] = secret.strip()
        for key_id, secret in keys.items():
            if not re.fullmatch(r"[A-Za-z0-9_-]{1,16}", key_id):
                raise ValueError(f"hmac key id {key_id!r}: 1-16 letters, digits, _ or -")
            if len(secret) < 16:
                raise ValueError(f"hmac key {key_id!r} is shorter than 16 characters")
        return keys

    @model_validator(mode="after")
    def _a_key_when_hashing(self) -> PrivacySettings:
        keys = self.keys()
        if (self.hash_properties or self.hash_customer_id) and self.current_key is None:
            raise ValueError("hashing is configured but current_key is not set")
        if self.current_key is not None and self.current_key not in keys:
            raise ValueError(f"current_key {self.current_key!r} is not among the configured keys ({sorted(keys)})")
        return self


class IdentitySettings(_Section):
    """Stage 1: identity stitching and duplicate suppression."""

    lookback_days: float = Field(default=7, gt=0, description="older anonymous events are not re-attributed")
    dedupe_window_hours: float = Field(
        default=7 * 24, gt=0, description="event ids remembered this long (event time) per key"
    )
    dedupe_max_ids: int = Field(default=512, ge=16, le=100_000, description="and at most this many per key")
    max_held_events: int = Field(
        default=10_000,
        ge=1,
        description="a customer's events held while its anonymous journey's handoff is on its way; "
        "past this it stops waiting (only a broken deployment gets there)",
    )


class SessionSettings(_Section):
    """Stage 2: event-time sessions per journey."""

    gap_minutes: float = Field(default=30, gt=0, description="inactivity that ends a session")
    max_length_hours: float = Field(default=24, gt=0, description="a longer session is cut (as PostHog, Mixpanel)")
    grace_minutes: float = Field(default=5, ge=0, description="how late an event may be and still be placed")
    max_path: int = Field(default=50, ge=1, le=1000, description="touchpoints kept in a session's ordered path")

    @model_validator(mode="after")
    def _gap_fits_in_length(self) -> SessionSettings:
        if self.gap_minutes >= self.max_length_hours * 60:
            raise ValueError("gap_minutes must be shorter than max_length_hours")
        return self


class JourneySettings(_Section):
    """Stage 2: journey-level figures."""

    value_start_touchpoints: list[str] = Field(
        default_factory=lambda: ["signup.completed", "checkout.completed", "trial.started"],
        description="time to first value starts at the first of these",
    )
    activation_touchpoints: list[str] = Field(
        default_factory=lambda: ["activation.reached"], description="the first of these is the first value"
    )


class FlowSettings(_Section):
    """A flow whose start without completion is an abandonment."""

    start: list[str] = Field(min_length=1, description="touchpoints that start the flow")
    steps: list[str] = Field(default_factory=list, description="ordered step names (event `step`), for evidence")
    complete: list[str] = Field(min_length=1, description="touchpoints that complete it")
    timeout_minutes: float = Field(gt=0, description="not completed this long after the start: abandoned")
    ends_with_session: bool = Field(default=True, description="also abandoned when its session ends")

    @model_validator(mode="after")
    def _coherent(self) -> FlowSettings:
        overlap = set(self.start) & set(self.complete)
        if overlap:
            raise ValueError(f"{sorted(overlap)} both start and complete the flow")
        if len(set(self.steps)) != len(self.steps):
            raise ValueError("steps repeat a name")
        return self


def _default_flows() -> dict[str, FlowSettings]:
    return {
        "signup": FlowSettings(start=["signup.started"], steps=["account", "profile", "verify", "done"],
                               complete=["signup.completed"], timeout_minutes=30),
        "checkout": FlowSettings(start=["checkout.started"], steps=["cart", "shipping", "payment", "review"],
                                 complete=["checkout.completed"], timeout_minutes=60),
        "onboarding": FlowSettings(start=["onboarding.started"], steps=["welcome", "invite_team", "import", "first_project"],
                                   complete=["onboarding.completed"], timeout_minutes=3 * 24 * 60, ends_with_session=False),
        "trial_to_paid": FlowSettings(start=["trial.started"], complete=["trial.converted", "checkout.completed"],
                                      timeout_minutes=14 * 24 * 60, ends_with_session=False),
    }  # fmt: skip


class SeverityThresholds(_Section):
    warning: int = Field(ge=1)
    critical: int = Field(ge=1)

    @model_validator(mode="after")
    def _ordered(self) -> SeverityThresholds:
        if self.critical < self.warning:
            raise ValueError(f"critical ({self.critical}) must not be below warning ({self.warning})")
        return self


class FrictionSettings(_Section):
    """Friction detectors: what counts, thresholds, windows. Every number a detector uses is here."""

    flows: dict[str, FlowSettings] = Field(default_factory=_default_flows)
    contact_touchpoints: list[str] = Field(
        default_factory=lambda: [
            "support.ticket_opened",
            "support.chat_started",
            "support.call_received",
            "support.email_received",
        ]
    )
    repeat_contact_window_days: float = Field(default=7, gt=0)
    repeat_contact_severity: SeverityThresholds = SeverityThresholds(warning=3, critical=5)
    rage_click_touchpoint: str = "ui.click"
    rage_click_count: int = Field(default=4, ge=2)
    rage_click_window_s: float = Field(default=2, gt=0)
    error_touchpoints: list[str] = Field(default_factory=lambda: ["ui.error", "search.no_results"])
    error_suffix: str = Field(default=".error", description="any `<domain>.error` touchpoint counts too")
    error_loop_count: int = Field(default=3, ge=2)
    error_loop_window_minutes: float = Field(default=5, gt=0)
    self_service_touchpoints: list[str] = Field(
        default_factory=lambda: ["help.searched", "help.article_viewed", "search.no_results"]
    )
    self_service_attempts: int = Field(default=3, ge=1)
    nps_detractor_max: int = Field(default=6, ge=0, le=10)
    csat_negative_max: int = Field(default=2, ge=1, le=5)
    ces_negative_max: int = Field(default=3, ge=1, le=7)
    onboarding_start: list[str] = Field(default_factory=lambda: ["onboarding.started"])
    stalled_onboarding_days: float = Field(default=7, gt=0)
    at_risk_silence_days: float = Field(default=30, gt=0)
    renewal_date_property: str = "renewal_date"
    renewal_silence_days: float = Field(default=30, gt=0)
    weights: dict[str, float] = Field(
        default_factory=lambda: {"abandonment": 3.0, "repeat_contact": 4.0, "rage_click": 2.0, "error_loop": 2.0,
                                 "self_service_failure": 3.0, "negative_feedback": 5.0, "stalled_onboarding": 3.0,
                                 "at_risk": 4.0, "reactivated": 0.0},
        description="per-session friction score = sum of these over the session's signals",
    )  # fmt: skip

    @model_validator(mode="after")
    def _flows_do_not_collide(self) -> FrictionSettings:
        seen: dict[str, str] = {}
        for name, flow in self.flows.items():
            for touchpoint in flow.start:
                if touchpoint in seen:
                    raise ValueError(f"flow {name!r} and flow {seen[touchpoint]!r} both start on {touchpoint}")
                seen[touchpoint] = name
        unknown = set(self.weights) - set(SIGNAL_KINDS)
        if unknown:
            raise ValueError(f"weights name unknown signal kinds {sorted(unknown)}; known: {', '.join(SIGNAL_KINDS)}")
        return self


SIGNAL_KINDS = (
    "abandonment", "repeat_contact", "rage_click", "error_loop", "self_service_failure",
    "negative_feedback", "stalled_onboarding", "at_risk", "reactivated",
)  # fmt: skip


def _default_spike_floors() -> dict[str, float]:
    return {"abandonment": 2, "rage_click": 5, "error_loop": 2, "self_service_failure": 1, "negative_feedback": 1,
            "stalled_onboarding": 2, "at_risk": 2}  # fmt: skip


class AlertSettings(_Section):
    """Alert rules: `journey dashboards write` renders them into deploy/prometheus/rules/ (Prometheus)
    and grafana/provisioning/alerting/ (Grafana-managed, on the ClickHouse rollup)."""

    spike_window_minutes: int = Field(default=10, ge=1, description="friction rate measured over this window")
    spike_factor: float = Field(
        default=3.0, gt=1, description="a spike: rate above this many times the rate an hour and a day earlier"
    )
    spike_floor_per_minute: dict[str, float] = Field(
        default_factory=_default_spike_floors,
        description="per signal kind: below this rate (signals/min) nothing pages; kinds not listed never alert",
    )
    critical_kinds: list[str] = Field(
        default_factory=lambda: ["abandonment", "negative_feedback"],
        description="their spikes page (severity critical)",
    )
    repeat_contact_window_minutes: int = Field(default=30, ge=1)
    repeat_contact_floor: int = Field(default=10, ge=1, description="repeat-contact signals in the window, at least")
    dlq_share: float = Field(default=0.05, gt=0, le=1, description="share of input events dead-lettered")
    dlq_floor_per_minute: float = Field(default=1, ge=0)
    stalled_minutes: float = Field(default=10, gt=0, description="lag and no progress this long: stalled")
    for_minutes: float = Field(default=5, ge=0, description="a condition holds this long before it fires")
    grafana_url: str = Field(default="http://localhost:3000", description="links in alert annotations")

    @field_serializer("grafana_url")
    def _password_masked(self, value: str) -> str:
        return masked_dsn(value)

    @model_validator(mode="after")
    def _known_kinds(self) -> AlertSettings:
        unknown = (set(self.spike_floor_per_minute) | set(self.critical_kinds)) - set(SIGNAL_KINDS)
        if unknown:
            raise ValueError(f"unknown signal kinds {sorted(unknown)}; known: {', '.join(SIGNAL_KINDS)}")
        return self


class IncidentSettings(_Section):
    """A broken step, for the demo: for `duration_hours` of simulated time from `starts_at` (a share
    of the simulated span), the step fails (errors, rage clicks on its button, most give up there)."""

    enabled: bool = True
    flow: str = "checkout"
    step: str = "payment"
    starts_at: float = Field(
        default=0.6, ge=0, lt=1, description="the day it happens: a share of the span (0.5 = middle)"
    )
    hour_utc: int | None = Field(
        default=13, ge=0, le=23, description="and the hour it starts (busy hours show it best)"
    )
    duration_hours: float = Field(default=4, gt=0)
    failure_share: float = Field(default=0.8, ge=0, le=1, description="customers reaching the step who hit it")


class SimulationSettings(_Section):
    """`journey simulate` and the demo: who, how many, over how long, and what goes wrong."""

    customers: int = Field(default=2000, ge=1)
    accounts: int = Field(default=400, ge=1)
    days: float = Field(default=3, gt=0, description="simulated event time, ending at `end` (default: now)")
    end: datetime | None = Field(default=None, description="the simulated span ends here (UTC); default now")
    seed: int = 7
    speed: float = Field(default=0, ge=0, description="simulated seconds per wall second; 0 = as fast as possible")
    late_share: float = Field(default=0.02, ge=0, le=1, description="events sent minutes after later ones")
    duplicate_share: float = Field(default=0.01, ge=0, le=1, description="events sent twice")
    invalid_share: float = Field(default=0.005, ge=0, le=1, description="malformed events (to the dead-letter topic)")
    incident: IncidentSettings = IncidentSettings()


class WorkerSettings(_Section):
    """The stream worker process (`journey worker`, `journey run`)."""

    app_id: str = Field(default="journey-telemetry", pattern=r"^[A-Za-z0-9._-]+$")
    store: str = Field(default="rocksdb://", pattern=r"^(rocksdb|memory)://")
    rocksdb_memory_mb: int = Field(
        default=128, ge=16, description="memtables and block cache of all the process's RocksDB stores together"
    )
    data_dir: Path = Path(".journey/worker")
    batch_size: int = Field(
        default=2000, ge=1, le=100_000, description="records per agent batch (taken as soon as this many wait)"
    )
    batch_within_s: float = Field(
        default=0.2, gt=0, description="a batch is taken after this long however few records wait (latency)"
    )
    gc_threshold: int = Field(
        default=100_000,
        ge=0,
        description="allocations between young-generation garbage collections in worker, run and sink processes "
        "(Python's default 700 cost a third of the stages' time); 0 keeps Python's default",
    )
    max_bundle_bytes: int = Field(
        default=512 * 1024,
        ge=1024,
        le=8 * 1024 * 1024,
        description="stitched messages for one partition travel in records of at most this size (below the "
        "topic's max.message.bytes)",
    )
    cached_state_mb_per_partition: int = Field(
        default=16,
        ge=0,
        description="journey states kept decoded between batches, per stitched partition, by their encoded size "
        "(decoded they take ~4x that); 0 decodes every state from the table each batch",
    )
    tick_interval_s: float = Field(default=5.0, gt=0, description="how often idle partitions are checked")
    source_idle_s: float = Field(
        default=30.0,
        gt=0,
        description="a caught-up touchpoints partition silent this long moves on with the wall clock, a step each",
    )
    settle_after_s: float = Field(
        default=300.0,
        gt=0,
        description="every touchpoints partition caught up and silent this long: event time jumps to the newest "
        "(a backfill that ended closes); a shorter pause keeps each partition's own clock",
    )
    lag_interval_s: float = Field(default=15.0, gt=0, description="how often consumer lag is measured for /metrics")
    web_host: str = "127.0.0.1"
    web_port: int = Field(default=6066, gt=0, lt=65536)
    session_timeout_s: float = Field(
        default=30.0,
        ge=6,
        le=300,
        description="a worker or sink that died is replaced after this long (consumer group session timeout)",
    )
    max_poll_interval_s: float = Field(
        default=300.0,
        ge=10,
        description="a worker stuck this long in one batch or state restore leaves the group (its partitions move)",
    )


class SinkSettings(_Section):
    """The ClickHouse sink (`journey sink`)."""

    max_rows: int = Field(default=5000, ge=1, le=1_000_000, description="rows per insert, per topic-partition")
    max_wait_s: float = Field(
        default=0.4,
        gt=0,
        description="a batch waits at most this long (latency; a ClickHouse server may prefer fewer, larger inserts)",
    )
    metrics_host: str = Field(default="127.0.0.1", description="0.0.0.0 to let a Prometheus elsewhere scrape it")
    metrics_port: int = Field(default=9108, gt=0, lt=65536, description="Prometheus /metrics of the sink")
    audit_interval_s: float = Field(
        default=300, ge=0, description="`journey audit` this often in the sink's process, as metrics; 0: never"
    )
    max_buffered_rows: int = Field(
        default=100_000, ge=1, description="unconfirmed rows held while ClickHouse fails; then consumption pauses"
    )
    retry_backoff_s: tuple[float, ...] = Field(
        default=(0.5, 1, 2, 5, 10), min_length=1, description="waits between failed inserts (the last repeats)"
    )
    drain_timeout_s: float = Field(
        default=15.0, ge=0, description="on shutdown, keep writing until caught up with the topics, this long at most"
    )


class StageCatalogSettings(_Section):
    """Additions to / overrides of the built-in stage catalog (schemas/stages.py)."""

    touchpoints: dict[str, Stage] = Field(default_factory=dict, description="touchpoint name -> stage")
    domains: dict[str, Stage] = Field(default_factory=dict, description="touchpoint domain -> stage")

    def catalog(self) -> StageCatalog:
        return StageCatalog(
            touchpoints={**DEFAULT_TOUCHPOINT_STAGES, **self.touchpoints},
            domains={**DEFAULT_DOMAIN_STAGES, **self.domains},
        )


SEGMENT_SOURCE = re.compile(r"^(properties(\.[A-Za-z0-9_-]{1,64}){1,5}|first_channel|account)$")


class SegmentSettings(_Section):
    """How the journey map splits customers: name -> where a journey's segment comes from: a path
    in the events' `properties` (the first value the journey shows, e.g. `properties.plan`), the
    channel of its first touchpoint (`first_channel`) or its account (`account`)."""

    definitions: dict[str, str] = Field(
        default_factory=lambda: {
            "persona": "properties.persona",
            "plan": "properties.plan",
            "first_channel": "first_channel",
            "account": "account",
        }
    )
    default: str = "persona"

    @field_validator("definitions")
    @classmethod
    def _sources(cls, value: dict[str, str]) -> dict[str, str]:
        for name, source in value.items():
            if not re.fullmatch(r"[a-z][a-z0-9_]{0,31}", name):
                raise ValueError(f"segment name {name!r}: lower-case letters, digits and _")
            if not SEGMENT_SOURCE.match(source):
                raise ValueError(f"segment {name!r}: {source!r} is not properties.<path>, first_channel or account")
        return value

    @model_validator(mode="after")
    def _default_defined(self) -> SegmentSettings:
        if self.default not in self.definitions:
            raise ValueError(f"default segment {self.default!r} is not among the definitions")
        return self


class JourneyMapSettings(_Section):
    """The journey map's thresholds (`journey map`, report.html, /map)."""

    silent_days: float = Field(
        default=7, gt=0, description="no touchpoint this long before the window's end: dropped out"
    )
    top: int = Field(default=3, ge=1, le=20, description="touchpoints, channels and pain points shown per stage")
    min_customers: int = Field(
        default=5, ge=1, description="customers with a pain point before it can be an opportunity"
    )
    path_length: int = Field(default=4, ge=1, le=12, description="touchpoints in a path into friction (the last N)")
    paths_shown: int = Field(default=5, ge=1, le=50, description="most common paths shown per friction kind and place")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter=ENV_NESTED_DELIMITER,
        extra="forbid",
        frozen=True,
    )

    kafka: KafkaSettings = KafkaSettings()
    topics: TopicSettings = TopicSettings()
    clickhouse: ClickHouseSettings = ClickHouseSettings()
    stack: LocalStackSettings = LocalStackSettings()
    stages: StageCatalogSettings = StageCatalogSettings()
    contract: ContractSettings = ContractSettings()
    identity: IdentitySettings = IdentitySettings()
    privacy: PrivacySettings = PrivacySettings()
    sessions: SessionSettings = SessionSettings()
    journeys: JourneySettings = JourneySettings()
    friction: FrictionSettings = FrictionSettings()
    worker: WorkerSettings = WorkerSettings()
    sink: SinkSettings = SinkSettings()
    alerts: AlertSettings = AlertSettings()
    simulation: SimulationSettings = SimulationSettings()
    segments: SegmentSettings = SegmentSettings()
    journey_map: JourneyMapSettings = JourneyMapSettings()

    @property
    def publisher(self) -> PublisherSettings:
        """The SDK's settings of this deployment: its Kafka, touchpoints topic and contract."""
        return PublisherSettings(kafka=self.kafka, topic=self.topics.name(TOUCHPOINTS), contract=self.contract)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = Path(os.environ.get(f"{ENV_PREFIX}CONFIG", DEFAULT_CONFIG_FILE))
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls, toml_file=toml_file))


def config_file() -> Path | None:
    """The config file in use: `JOURNEY_CONFIG`'s, else ./journey.toml if there is one."""
    named = os.environ.get(f"{ENV_PREFIX}CONFIG")
    if named and not Path(named).is_file():
        raise ConfigError(f"{ENV_PREFIX}CONFIG names {named!r}, which is not a file")
    path = Path(named or DEFAULT_CONFIG_FILE)
    return path.resolve() if path.is_file() else None


def load_settings(**overrides: Any) -> Settings:
    """Read the configuration; raise ConfigError naming each wrong setting (or the file and line).
    Relative paths resolve against the config file's folder, not the working directory."""
    path = config_file()
    check_environment(Settings, os.environ)
    base = None if path is None else path.parent
    token = _CONFIG_DIR.set(base)
    try:
        settings = Settings(**overrides)
    except ValidationError as error:
        raise ConfigError(describe(error)) from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML: {error}; fix that line") from None
    except SettingsError as error:  # a variable's value pydantic-settings cannot read
        raise ConfigError(f"{error}; check the {ENV_PREFIX}* variables of that section") from None
    finally:
        _CONFIG_DIR.reset(token)
    return settings if base is None else _anchor(settings, base)


def _anchor(model: BaseModel, base: Path) -> Any:
    """`model` with every relative path (and an embedded engine's relative DSN) made absolute
    against `base`, so a command behaves the same from any working directory."""
    update: dict[str, Any] = {}
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, Path) and not value.is_absolute():
            update[name] = base / value
        elif isinstance(value, BaseModel) and (moved := _anchor(value, base)) is not value:
            update[name] = moved
    if isinstance(model, ClickHouseSettings) and model.dsn.startswith("chdb://") and not model.dsn[7:].startswith("/"):
        update["dsn"] = f"chdb://{base / model.dsn[7:]}"
    return model.model_copy(update=update) if update else model
