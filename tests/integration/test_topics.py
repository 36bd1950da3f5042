"""`journey topics create` against a real broker."""

from __future__ import annotations

import time

import pytest
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

from journey.config import Settings
from journey.topics import (
    DEAD_LETTER,
    JOURNEY_IDENTITIES,
    JOURNEY_STATE_TABLE,
    TOUCHPOINTS,
    changelog_topic,
    create_topics,
    topic_specs,
)

pytestmark = pytest.mark.integration


def describe(settings: Settings, name: str) -> tuple[int, str, str]:
    admin = AdminClient(settings.kafka.confluent_config())
    partitions = len(admin.list_topics(name, timeout=10).topics[name].partitions)
    resource = ConfigResource(ConfigResource.Type.TOPIC, name)
    config = admin.describe_configs([resource])[resource].result(timeout=10)
    return partitions, config["cleanup.policy"].value, config["retention.ms"].value


def test_topics_are_created_with_partitions_and_policies_then_left_alone(settings: Settings) -> None:
    first = create_topics(settings)
    expected = sorted(spec.name for spec in topic_specs(settings))
    assert sorted(first.created) == expected and first.existing == [] and first.warnings == []
    assert len(expected) == 11  # 9 pipeline topics, 2 state changelogs

    partitions, policy, retention = describe(settings, settings.topics.name(TOUCHPOINTS))
    assert (partitions, policy) == (settings.topics.partitions, "delete")
    assert int(retention) == settings.topics.retention_hours * 3_600_000
    assert describe(settings, settings.topics.name(JOURNEY_IDENTITIES))[1] == "compact"
    changelog = changelog_topic(settings, JOURNEY_STATE_TABLE)
    assert describe(settings, changelog)[:2] == (settings.topics.partitions, "compact")

    second = create_topics(settings)
    assert second.created == [] and sorted(second.existing) == expected and second.warnings == []


def test_existing_topic_with_other_partitions_is_reported_not_changed(settings: Settings) -> None:
    name = settings.topics.name(TOUCHPOINTS)
    admin = AdminClient(settings.kafka.confluent_config())
    admin.create_topics([NewTopic(name, 1, 1)])[name].result(timeout=10)
    deadline = time.monotonic() + 10
    while name not in admin.list_topics(timeout=10).topics:  # metadata catches up after a create
        assert time.monotonic() < deadline
        time.sleep(0.1)
    report = create_topics(settings)
    assert name in report.existing
    assert any(name in w and "1 partitions" in w for w in report.warnings)
    assert report.other_partitions == {name: 1}
    assert describe(settings, name)[0] == 1


def test_a_dead_letter_topic_too_small_for_a_large_event_is_reported(settings: Settings) -> None:
    """Created before dead letters carried originals of up to 1 MiB in base64: a warning with the
    command that fixes it (stage 1 would not be able to dead-letter such an event)."""
    name = settings.topics.name(DEAD_LETTER)
    admin = AdminClient(settings.kafka.confluent_config())
    admin.create_topics([NewTopic(name, settings.topics.partitions, 1)])[name].result(timeout=10)
    deadline = time.monotonic() + 10
    while name not in admin.list_topics(timeout=10).topics:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    warnings = [w for w in create_topics(settings).warnings if name in w]
    assert len(warnings) == 1 and f"max.message.bytes={settings.topics.dlq_max_message_bytes}" in warnings[0], warnings
