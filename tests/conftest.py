"""Shared fixtures: one real Kafka broker per test session, on free loopback ports."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from journey.cli.localstack.kafka import LocalKafka
from journey.cli.localstack.kafka import free_loopback_port as free_port
from journey.config import KafkaSettings, LocalStackSettings, Settings, TopicSettings, WorkerSettings

REPO_ROOT = Path(__file__).resolve().parent.parent
JAR_CACHE = REPO_ROOT / ".journey" / "cache" / "kafka-jars"
TEST_PARTITIONS = 3


def local_stack_settings(data_dir: Path) -> LocalStackSettings:
    return LocalStackSettings(
        broker_port=free_port(), controller_port=free_port(), data_dir=data_dir, jar_cache_dir=JAR_CACHE, heap="512m"
    )


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalKafka]:
    """A real Apache Kafka broker (KRaft) for the whole session; stopped at the end."""
    broker = LocalKafka(local_stack_settings(tmp_path_factory.mktemp("kafka")))
    broker.up()
    yield broker
    broker.down()


def broker_settings(kafka_broker: LocalKafka, **sections: Any) -> Settings:
    """Settings pointing at the session broker, with a topic prefix and app id of their own (their
    own group and changelogs); `sections`: more settings sections."""
    return Settings(
        kafka=KafkaSettings(bootstrap_servers=kafka_broker.settings.bootstrap_servers),
        topics=TopicSettings(prefix=f"t{uuid.uuid4().hex[:10]}.", partitions=TEST_PARTITIONS),
        worker=WorkerSettings(app_id=f"test-{uuid.uuid4().hex[:8]}"),
        stack=kafka_broker.settings,
        **sections,
    )


@pytest.fixture
def settings(kafka_broker: LocalKafka) -> Settings:
    """Settings of this test's own on the session broker."""
    return broker_settings(kafka_broker)
