"""Fixtures for tests that run `journey worker` against the session broker."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from clickhouse_connect.driver.client import Client

from journey.cli.worker_process import WorkerProcess
from journey.config import ClickHouseSettings, Settings
from journey.sinks.clickhouse_client import connect
from journey.topics import create_topics
from tests.integration.worker_helpers import make_test_worker


@pytest.fixture
def worker(settings: Settings, tmp_path: Path) -> Iterator[WorkerProcess]:
    """A running worker of this test's own (topics, group, state), stopped afterwards."""
    create_topics(settings)
    process = make_test_worker(settings, tmp_path)
    process.start()
    yield process
    process.stop()


@pytest.fixture(scope="session")
def chdb_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One embedded ClickHouse engine per process, on one path (chDB refuses a second path):
    every test shares it, each in a database of its own."""
    return tmp_path_factory.mktemp("clickhouse")


@pytest.fixture
def clickhouse(chdb_path: Path) -> Iterator[tuple[Client, ClickHouseSettings]]:
    settings = ClickHouseSettings(dsn=f"chdb://{chdb_path}", database=f"t_{uuid.uuid4().hex[:10]}")
    client = connect(settings)
    yield client, settings
    client.command(f"DROP DATABASE IF EXISTS {settings.database} SYNC")
