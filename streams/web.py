"""The worker's HTTP server (aiohttp) on a thread of its own, so a slow view (a report from
ClickHouse) never holds up the consumer loop, and the loop never holds up /metrics or /healthz."""

from __future__ import annotations

import asyncio
import logging
import threading

from aiohttp import web

log = logging.getLogger("journey.worker")

START_TIMEOUT_S = 30.0


class WebServer:
    def __init__(self, host: str, port: int, routes: list[web.RouteDef]) -> None:
        self.host, self.port = host, port
        self.app = web.Application()
        self.app.add_routes(routes)
        self._loop = asyncio.new_event_loop()
        self._runner = web.AppRunner(self.app, access_log=None)
        self._thread = threading.Thread(target=self._serve, name="web", daemon=True)
        self._started = threading.Event()
        self._error: BaseException | None = None

    def start(self) -> None:
        """Listen, or raise SystemExit saying why not (e.g. the port is taken)."""
        self._thread.start()
        self._started.wait(START_TIMEOUT_S)
        if self._error is not None:
            raise SystemExit(f"cannot serve on {self.host}:{self.port} (worker.web_host/web_port): {self._error}")

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._runner.setup())
            self._loop.run_until_complete(web.TCPSite(self._runner, self.host, self.port).start())
        except BaseException as error:  # noqa: BLE001 - reported by start()
            self._error = error
            self._started.set()
            return
        self._started.set()
        self._loop.run_forever()

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
