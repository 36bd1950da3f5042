"""The sink inside the stream worker's process (`journey run`): the blocking ClickHouseSink loop
on a thread of its own; when the worker stops, it catches up with the topics (at most
`sink.drain_timeout_s`) and flushes before the process exits."""

from __future__ import annotations

import logging
import threading

from journey.config import Settings
from journey.sinks.sink import ClickHouseSink

log = logging.getLogger("journey.sink")


class SinkThread:
    def __init__(self, settings: Settings) -> None:
        self.sink = ClickHouseSink(settings, migrate_on_start=True)
        self.thread = threading.Thread(target=self._run, name="clickhouse-sink", daemon=True)
        self.failed: BaseException | None = None

    def _run(self) -> None:
        try:
            self.sink.run()
        except BaseException as error:  # a crashed sink must not go unnoticed: /healthz says so
            self.failed = error
            log.exception("the ClickHouse sink stopped on an error")

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.sink.stop(drain=True)
        self.thread.join()
        log.info("sink stopped")
