"""The sink inside the stream worker's process (`journey run`): a mode.Service that runs the
blocking ClickHouseSink loop on a thread of its own and, when the worker stops, lets it catch up
with the topics (at most `sink.drain_timeout_s`) and flush before the process exits."""

from __future__ import annotations

import asyncio
import logging
import threading

from mode import Service

from journey.config import Settings
from sinks.sink import ClickHouseSink

log = logging.getLogger("journey.sink")


class SinkThread(Service):
    def __init__(self, settings: Settings, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.sink = ClickHouseSink(settings, migrate_on_start=True)
        self.thread = threading.Thread(target=self._run, name="clickhouse-sink", daemon=True)
        self.failed: BaseException | None = None

    def _run(self) -> None:
        try:
            self.sink.run()
        except BaseException as error:  # a crashed sink must not go unnoticed: log, then stop the worker
            self.failed = error
            log.exception("the ClickHouse sink stopped on an error")

    async def on_start(self) -> None:
        self.thread.start()

    async def on_stop(self) -> None:
        self.sink.stop(drain=True)
        await asyncio.to_thread(self.thread.join)
        log.info("sink stopped")
