"""The broker goes away for 30 s while services publish and `journey run` works: the SDK's
publishes are delivered once it is back (or raise PublishError to the caller: counted, none
expected within the SDK's delivery timeout), the stages and the sink resume by themselves, and
ClickHouse ends with exactly the input. This test stops and starts a broker of its own."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from journey.cli.localstack.kafka import LocalKafka
from journey.cli.samples import sample_journey
from journey.cli.worker_process import WorkerProcess
from journey.config import Settings
from journey.publisher import PublishError, TouchpointPublisher
from journey.topics import create_topics
from tests.conftest import broker_settings, local_stack_settings
from tests.integration.test_run_end_to_end import START, close_sessions, counts, expected, run_process
from tests.integration.worker_helpers import assert_adds_up

pytestmark = pytest.mark.integration

OUTAGE_S = 30.0
JOURNEYS = 60
PUBLISH_S = 50.0  # the journeys spread over this long; the outage starts 10 s in


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[LocalKafka]:
    broker = LocalKafka(local_stack_settings(tmp_path / "kafka"))
    broker.up()
    yield broker
    broker.down()


class Publishing(threading.Thread):
    """A service publishing sample journeys at a steady pace through the SDK, counting what the
    SDK confirmed and what it raised."""

    def __init__(self, publisher: TouchpointPublisher) -> None:
        super().__init__(daemon=True)
        self.publisher = publisher
        self.published = 0
        self.failed = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            for seed in range(JOURNEYS):
                for event in sample_journey(seed, START):
                    self.publisher.publish(event)  # queued locally while the broker is away
                    self.published += 1
                time.sleep(PUBLISH_S / JOURNEYS)
            self.publisher.flush(timeout_s=120)
        except PublishError as error:
            self.failed = len(error.failures) + error.undelivered
            self.error = error
        except BaseException as error:  # noqa: BLE001 - reported by the test
            self.error = error


def test_broker_stopped_for_30s_mid_run_loses_nothing(own_broker: LocalKafka, tmp_path: Path) -> None:
    settings = broker_settings(own_broker)
    create_topics(settings)
    dsn = f"chdb://{tmp_path / 'clickhouse'}"
    process = run_process(settings, tmp_path / "run", dsn)
    process.start()
    try:
        check_outage(settings, own_broker, process, dsn)
    finally:
        process.stop(signal.SIGKILL)  # after a failure; a clean stop happened otherwise


def check_outage(settings: Settings, own_broker: LocalKafka, process: WorkerProcess, dsn: str) -> None:
    publishing = Publishing(TouchpointPublisher(settings.publisher))
    publishing.start()
    time.sleep(10)
    own_broker.down()
    stopped_at = time.monotonic()
    published_before = publishing.published
    time.sleep(OUTAGE_S)
    own_broker.up()
    outage = time.monotonic() - stopped_at
    publishing.join(timeout=240)
    assert not publishing.is_alive(), "the publisher never finished"
    assert publishing.error is None, f"{publishing.failed} publishes failed: {publishing.error}"
    assert publishing.published > published_before, "nothing was published during the outage"
    assert publishing.publisher.delivered == publishing.published
    assert process.process.poll() is None, f"journey run died during the outage:\n{process.log_tail()}"

    close_sessions(settings, process)
    assert process.stop() == 0, process.log_tail()
    print(f"broker away {outage:.0f}s; {publishing.published} events published, "
          f"{publishing.published - published_before} of them after it stopped")  # fmt: skip
    assert counts(dsn) == expected(JOURNEYS, publishing.published)
    assert_adds_up(settings, dsn)
