"""Fixtures for tests that run `journey worker` against the session broker."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from journey.config import Settings
from journey.topics import create_topics
from journey.worker_process import WorkerProcess
from tests.integration.worker_helpers import make_test_worker


@pytest.fixture
def worker(settings: Settings, tmp_path: Path) -> Iterator[WorkerProcess]:
    """A running worker of this test's own (topics, group, state), stopped afterwards."""
    create_topics(settings)
    process = make_test_worker(settings, tmp_path)
    process.start()
    yield process
    process.stop()
