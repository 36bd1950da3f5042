"""The local stack script: start, reuse, stop, restart with data kept — on its own broker."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient, NewTopic

from journey.cli.localstack.kafka import LocalKafka, StackError
from tests.conftest import local_stack_settings

pytestmark = pytest.mark.integration


def test_session_broker_reports_running_and_answering(kafka_broker: LocalKafka) -> None:
    status = kafka_broker.status()
    assert status.running and status.answering
    assert f"on {kafka_broker.settings.bootstrap_servers}, answering" in status.describe()
    assert kafka_broker.up().pid == status.pid  # `up` on a running broker starts nothing new


def test_lifecycle_keeps_data_across_restart_and_reuses_jar_cache(
    kafka_broker: LocalKafka, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broker = LocalKafka(local_stack_settings(tmp_path / "kafka"))
    # The session broker filled the jar cache: no Maven needed any more.
    monkeypatch.setattr("shutil.which", lambda name: None if name == "mvn" else "/usr/bin/" + name)
    broker.up()
    try:
        admin = AdminClient({"bootstrap.servers": broker.settings.bootstrap_servers})
        admin.create_topics([NewTopic("kept", 2, 1)])["kept"].result(timeout=10)
        assert broker.down() is True  # stopped by SIGTERM within the timeout, not killed
        assert not broker.status().running
        assert "stopped" in broker.status().describe()
        assert "[BrokerServer id=1] shut down completed" in broker.log_file.read_text()  # log complete to the end

        broker.up()
        admin = AdminClient({"bootstrap.servers": broker.settings.bootstrap_servers})
        assert "kept" in admin.list_topics(timeout=10).topics
    finally:
        broker.down()


def test_taken_port_is_reported_with_the_setting_to_change(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        settings = local_stack_settings(tmp_path).model_copy(update={"broker_port": squatter.getsockname()[1]})
        with pytest.raises(StackError, match="JOURNEY_STACK__BROKER_PORT"):
            LocalKafka(settings).up()


def test_a_cluster_id_starting_with_a_dash_formats(kafka_broker, tmp_path, monkeypatch) -> None:
    from journey.cli.localstack import kafka
    from tests.conftest import local_stack_settings

    monkeypatch.setattr(kafka, "_kafka_cluster_id", lambda: "-" + "A" * 21)
    broker = kafka.LocalKafka(local_stack_settings(tmp_path))  # jars: fetched for the session broker
    broker.data_dir.mkdir(parents=True, exist_ok=True)
    broker._write_properties()
    broker._format_storage()
    assert "cluster.id=-AAAA" in (broker.log_dirs / "meta.properties").read_text()
