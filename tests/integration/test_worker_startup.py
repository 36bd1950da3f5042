"""A worker refuses to start on state it cannot use, instead of crashing agents later (Faust acks
the records of a topic no live agent reads: they would be skipped unprocessed)."""

from __future__ import annotations

from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient, NewTopic

from journey.config import Settings
from journey.topics import JOURNEY_STATE_TABLE, changelog_topic
from tests.integration.worker_helpers import make_test_worker

pytestmark = pytest.mark.integration


def test_a_state_changelog_with_other_partitions_than_its_input_is_refused(settings: Settings, tmp_path: Path) -> None:
    worker = make_test_worker(settings, tmp_path)
    changelog = changelog_topic(settings, JOURNEY_STATE_TABLE)
    admin = AdminClient(settings.kafka.confluent_config())
    admin.create_topics([NewTopic(changelog, 1, 1, config={"cleanup.policy": "compact"})])[changelog].result(30)
    with pytest.raises(RuntimeError) as failure:
        worker.start()
    assert "exited with 1" in str(failure.value)
    assert f"cannot start: {changelog} has 1 partitions, configured {settings.topics.partitions}" in str(failure.value)
