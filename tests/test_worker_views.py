"""The worker's read-side views refuse as an operator needs: 404 where the worker runs without the
sink (the embedded engine is `journey run`'s), 400 naming a bad query parameter, 503 with the
first line of ClickHouse's error while it is not ready — JSON for the JSON views, text for the
pages. Served by aiohttp over a real socket; the worker is a stand-in with the fields they read."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from journey.config import Settings
from journey.streams.worker_views import NO_REPORT, routes


class NotReady:
    def query(self, *args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("Code: 210. Connection refused (localhost:8123)\nstack trace ...")


@dataclass
class StandIn:
    settings: Settings = field(default_factory=Settings)
    sink_thread: object | None = None
    report_client: object | None = None


def fetch(worker: StandIn, path: str) -> tuple[int, str, str]:
    async def go() -> tuple[int, str, str]:
        app = web.Application()
        app.add_routes(routes(worker))  # type: ignore[arg-type]
        async with TestClient(TestServer(app)) as client:
            response = await client.get(path)
            return response.status, response.content_type, await response.text()

    return asyncio.run(go())


@pytest.mark.parametrize(
    ("path", "as_json"), [("/report.json", True), ("/report", False), ("/map.json", True), ("/map", False),
                          ("/customers/cust-1.json", True), ("/erasures/r-1", True)],
)  # fmt: skip
def test_without_the_sink_the_read_side_is_not_here(path: str, as_json: bool) -> None:
    status, content_type, body = fetch(StandIn(), path)
    assert status == 404
    assert (
        (orjson.loads(body) == {"error": NO_REPORT})
        if as_json
        else (body == NO_REPORT and content_type == "text/plain")
    )


@pytest.mark.parametrize(("path", "as_json"), [("/report.json?since=yesterday", True), ("/report?until=soon", False),
                                               ("/map?since=x", True), ("/map.json?segment=nope", True)])  # fmt: skip
def test_a_bad_parameter_is_named(path: str, as_json: bool) -> None:
    status, content_type, body = fetch(StandIn(sink_thread=object()), path)
    assert status == 400
    message = orjson.loads(body)["error"] if as_json else body
    assert message.split(":")[0] in ("since", "until") or message == "unknown segment 'nope'", message
    assert content_type == ("application/json" if as_json else "text/plain")


@pytest.mark.parametrize(("path", "as_json"), [("/report.json", True), ("/report", False), ("/map.json", True),
                                               ("/erasures/r-1", True)])  # fmt: skip
def test_clickhouse_not_ready_is_a_503_with_its_first_line(path: str, as_json: bool) -> None:
    status, _, body = fetch(StandIn(sink_thread=object(), report_client=NotReady()), path)
    assert status == 503
    message = orjson.loads(body)["error"] if as_json else body
    assert message == "Code: 210. Connection refused (localhost:8123)"
