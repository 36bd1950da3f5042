"""The pipeline's topics (names, partitioning, retention) and their idempotent creation."""

from __future__ import annotations

from dataclasses import dataclass, field

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

from journey.config import Settings
from journey.sdk_settings import TOUCHPOINTS as SDK_TOPIC

TOUCHPOINTS = SDK_TOPIC  # the SDK publishes there (journey/sdk_settings.py)
DEAD_LETTER = "touchpoints.dlq"
STITCHED = "touchpoints.stitched"
JOURNEY_TOUCHPOINTS = "journey.touchpoints"
JOURNEY_SESSIONS = "journey.sessions"
JOURNEY_FRICTION = "journey.friction"
JOURNEY_STAGES = "journey.stages"
JOURNEY_IDENTITIES = "journey.identities"
SINK_DEAD_LETTER = "journey.sink.dlq"
# The workers' state tables; each is kept in a compacted `<prefix><app_id>-<table>-changelog` topic.
INGEST_STATE_TABLE = "ingest-state"
JOURNEY_STATE_TABLE = "journey-state"
STATE_TABLES = (INGEST_STATE_TABLE, JOURNEY_STATE_TABLE)

HOUR_MS = 3_600_000


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    config: dict[str, str] = field(default_factory=dict)


def topic_specs(settings: Settings) -> list[TopicSpec]:
    """Every topic the pipeline needs, fully named and configured."""
    t = settings.topics
    retained = {"cleanup.policy": "delete", "retention.ms": str(t.retention_hours * HOUR_MS)}
    dead_letters = {"cleanup.policy": "delete", "retention.ms": str(t.dlq_retention_hours * HOUR_MS),
                    "max.message.bytes": str(t.dlq_max_message_bytes)}  # fmt: skip
    # Identity links are facts keyed by anonymous_id: keep the latest per key forever.
    compacted = {"cleanup.policy": "compact", "min.compaction.lag.ms": str(HOUR_MS)}
    specs = {
        TOUCHPOINTS: retained,
        DEAD_LETTER: dead_letters,
        STITCHED: retained,
        JOURNEY_TOUCHPOINTS: retained,
        JOURNEY_SESSIONS: retained,
        JOURNEY_FRICTION: retained,
        JOURNEY_STAGES: retained,
        JOURNEY_IDENTITIES: compacted,
        SINK_DEAD_LETTER: dead_letters,
    }
    pipeline = [TopicSpec(t.name(base), t.partitions, config) for base, config in specs.items()]
    # Created with the others, before any worker looks them up (a worker that created them itself
    # once found the broker's metadata without them, under Faust).
    changelogs = [TopicSpec(changelog_topic(settings, table), t.partitions, {"cleanup.policy": "compact"})
                  for table in STATE_TABLES]  # fmt: skip
    return pipeline + changelogs


def changelog_topic(settings: Settings, table: str) -> str:
    """`<prefix><app_id>-<table>-changelog`: the prefix keeps two deployments on one broker apart
    (topics.changelog_prefix = "" keeps 0.2.0's names, without it)."""
    t = settings.topics
    prefix = t.prefix if t.changelog_prefix is None else t.changelog_prefix
    return f"{prefix}{settings.worker.app_id}-{table}-changelog"


@dataclass(frozen=True)
class TopicReport:
    created: list[str]
    existing: list[str]
    warnings: list[str]
    other_partitions: dict[str, int] = field(default_factory=dict)  # existing topic -> its partition count


def create_topics(settings: Settings, timeout_s: float = 30.0) -> TopicReport:
    """Create missing topics; leave existing ones, warning where they differ from the spec.

    Partition counts are never changed on an existing topic: keys would move to other
    partitions and break per-key order and co-partitioned state.
    """
    admin = AdminClient(settings.kafka.confluent_config())
    specs = topic_specs(settings)
    existing = admin.list_topics(timeout=timeout_s).topics
    missing = [s for s in specs if s.name not in existing]
    created: list[str] = []
    if missing:
        futures = admin.create_topics(
            [NewTopic(s.name, s.partitions, settings.topics.replication_factor, config=s.config) for s in missing],
            operation_timeout=timeout_s,
        )
        for name, future in futures.items():
            try:
                future.result(timeout=timeout_s)
                created.append(name)
            except KafkaException as error:
                if error.args[0].name() != "TOPIC_ALREADY_EXISTS":  # raced with another creator
                    raise
    warnings = []
    other_partitions: dict[str, int] = {}
    present = [s for s in specs if s.name in existing]
    for spec in present:
        actual = len(existing[spec.name].partitions)
        if actual != spec.partitions:
            other_partitions[spec.name] = actual
            warnings.append(
                f"{spec.name} has {actual} partitions, configured {spec.partitions}; left as is "
                "(changing it would re-key the journeys)"
            )
    if present:
        resources = [ConfigResource(ConfigResource.Type.TOPIC, s.name) for s in present]
        for resource, future in admin.describe_configs(resources).items():
            actual_config = future.result(timeout=timeout_s)
            spec = next(s for s in present if s.name == resource.name)
            policy = actual_config["cleanup.policy"].value
            if policy != spec.config["cleanup.policy"]:
                warnings.append(f"{spec.name} has cleanup.policy={policy}, expected {spec.config['cleanup.policy']}")
            wanted = spec.config.get("max.message.bytes")
            if wanted is not None and int(actual_config["max.message.bytes"].value) < int(wanted):
                warnings.append(f"{spec.name} takes records of {actual_config['max.message.bytes'].value} bytes at "
                                f"most, expected {wanted} (a dead letter of a large event would not fit): "
                                f"kafka-configs --alter --add-config max.message.bytes={wanted}")  # fmt: skip
    return TopicReport(
        created=created, existing=[s.name for s in present], warnings=warnings, other_partitions=other_partitions
    )
