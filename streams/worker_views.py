"""The worker's HTTP views: /healthz, /metrics, the live journey view and, under `journey run`,
the report (JSON and the report.html page) from this process's ClickHouse."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

import orjson
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

if TYPE_CHECKING:
    from journey.streams.worker import JourneyWorker

NO_REPORT = "no report here: this worker runs without the sink"
T = TypeVar("T")


def routes(worker: JourneyWorker) -> list[web.RouteDef]:
    async def healthz(request: web.Request) -> web.Response:
        sink_failed = worker.sink_thread is not None and worker.sink_thread.failed is not None
        body = {"status": "sink failed" if sink_failed else "ok", "partitions": worker.loop.assigned(worker.stitched_topic),
                "active_sessions": worker.active_sessions}  # fmt: skip
        return web.json_response(body, status=503 if sink_failed else 200)

    async def prometheus_metrics(request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(), content_type=CONTENT_TYPE_LATEST.split(";")[0])

    async def report_json(request: web.Request) -> web.Response:
        """The `journey report` sections (`journey run` only: the embedded engine cannot be opened
        by a second process)."""
        _needs_sink(worker, as_json=True)
        start, end = _query_times(request, True, "since", "until")
        report = await _read_clickhouse(True, _report, worker, start, end)
        return web.json_response(report.as_json())

    async def report_page(request: web.Request) -> web.Response:
        """report.html, live: the page `journey report --html` writes (`journey run` only)."""
        _needs_sink(worker, as_json=False)
        start, end, mark_from, mark_to = _query_times(request, False, "since", "until", "mark_from", "mark_to")
        # a shaded range, e.g. the demo's incident
        marks = [(mark_from, mark_to, request.query.get("mark_label", ""))] if mark_from and mark_to else []
        page = await _read_clickhouse(False, _report_page, worker, start, end, marks)
        return web.Response(text=page, content_type="text/html")

    async def journey_map(request: web.Request) -> web.Response:
        """The journey map (`journey map`): JSON at /map.json, the page at /map (`journey run` only)."""
        as_json = request.path.startswith("/map.json")
        _needs_sink(worker, as_json)
        start, end = _query_times(request, True, "since", "until")
        segment = request.query.get("segment") or None
        if segment is not None and segment not in worker.settings.segments.definitions:
            raise _refusal(web.HTTPBadRequest, f"unknown segment {segment!r}", as_json=True)
        built = await _read_clickhouse(True, _journey_map, worker, segment, start, end)
        if as_json:
            return web.json_response(built.as_json())
        from journey.reports.report_page import map_page

        return web.Response(text=map_page(built), content_type="text/html")

    async def customer_view(request: web.Request) -> web.Response:
        """One customer's journey (`journey customer ID`): /customers/{id} the page, /customers/{id}.json."""
        customer_id, as_json = request.match_info["customer_id"], False
        if customer_id.endswith(".json"):
            customer_id, as_json = customer_id.removesuffix(".json"), True
        _needs_sink(worker, as_json=True)
        key = worker.protection.journey_key_of(customer_id)
        state = (
            worker.load_journey(key)
            if worker.journey_partition(key) in worker.loop.assigned(worker.stitched_topic)
            else None
        )
        live = None if state is None else journey_summary(state)
        built = await _read_clickhouse(True, _customer, worker, customer_id, live)
        if as_json:
            return web.json_response(built.as_json(), dumps=_dumps)
        from journey.reports.customer_journey import customer_page

        return web.Response(text=customer_page(built), content_type="text/html", status=200 if built.found else 404)

    async def erasure_view(request: web.Request) -> web.Response:
        """What the sink deleted for one `journey erase` request (rows per table; `journey run` only)."""
        _needs_sink(worker, as_json=True)
        from journey.reports.erasures import audit_rows

        database, request_id = worker.settings.clickhouse.database, request.match_info["request_id"]
        rows = await _read_clickhouse(True, lambda: audit_rows(_report_connection(worker), database, request_id))
        return web.json_response({"removed": [{"table": t, "key_kind": k, "rows": n} for t, k, n in rows]})

    async def journey_view(request: web.Request) -> web.Response:
        # A support agent looks up the customer id they know; journeys are keyed by its pseudonym
        # when privacy.hash_customer_id is on.
        key = worker.protection.journey_key_of(request.match_info["key"])
        partition = worker.journey_partition(key)
        if partition not in worker.loop.assigned(worker.stitched_topic):
            return web.json_response(
                {"error": f"journey {key!r} is kept by the worker that has {worker.stitched_topic}[{partition}], "
                          "not by this one (see the consumer group's assignment)", "partition": partition},
                status=404,
            )  # fmt: skip
        try:
            state = worker.load_journey(key)
        except Exception as error:  # noqa: BLE001 - the partition moved away while reading
            return web.json_response({"error": f"journey {key!r} unavailable: {error}"}, status=503)
        if state is None:
            return web.json_response({"error": f"no journey {key!r}"}, status=404)
        return web.json_response(journey_summary(state))

    return [
        web.get(path, handler)
        for paths, handler in (
            (("/healthz", "/healthz/"), healthz),
            (("/metrics", "/metrics/"), prometheus_metrics),
            (("/report.json",), report_json),
            (("/report", "/report/"), report_page),
            (("/journeys/{key}", "/journeys/{key}/"), journey_view),
            (("/erasures/{request_id}", "/erasures/{request_id}/"), erasure_view),
            (("/map.json", "/map", "/map/"), journey_map),
            (("/customers/{customer_id}", "/customers/{customer_id}/"), customer_view),
        )
        for path in paths
    ]


def _report(worker: JourneyWorker, start: datetime | None, end: datetime | None):
    from journey.reports.report import build_report

    return build_report(_report_connection(worker), worker.settings, start, end)


def _journey_map(worker: JourneyWorker, segment: str | None, start: datetime | None, end: datetime | None):
    from journey.reports.journey_map import build_map

    return build_map(_report_connection(worker), worker.settings, segment, start, end)


def _customer(worker: JourneyWorker, customer_id: str, live: dict | None):
    from journey.reports.customer_journey import build_customer

    return build_customer(_report_connection(worker), worker.settings, customer_id, live)


def _dumps(value: Any) -> str:
    """JSON with times and UUIDs as text (ClickHouse rows hold both)."""
    return orjson.dumps(value, default=str).decode()


def _report_page(worker: JourneyWorker, start: datetime | None, end: datetime | None, marks: list) -> str:
    from journey.reports.report_page import build_page

    return build_page(_report_connection(worker), worker.settings, start, end, marks)


def _report_connection(worker: JourneyWorker):
    from journey.sinks.clickhouse_client import connect

    if worker.report_client is None:  # its own connection: the sink thread uses the other
        worker.report_client = connect(worker.settings.clickhouse, "reader")
    return worker.report_client


def _query_times(request: web.Request, as_json: bool, *names: str) -> list[datetime | None]:
    """ISO times from a request's query string (None where absent); 400 naming the bad one."""
    times = []
    for name in names:
        value = request.query.get(name)
        try:
            times.append(None if value is None else datetime.fromisoformat(value))
        except ValueError as error:
            raise _refusal(web.HTTPBadRequest, f"{name}: {error}", as_json) from None
    return times


def _refusal(status: type[web.HTTPError], message: str, as_json: bool) -> web.HTTPError:
    """An error response to raise: `{"error": message}` for the JSON views, the text for pages."""
    if as_json:
        return status(text=orjson.dumps({"error": message}).decode(), content_type="application/json")
    return status(text=message)


def _needs_sink(worker: JourneyWorker, as_json: bool) -> None:
    """The read side is `journey run`'s: the embedded engine cannot be opened by a second process."""
    if worker.sink_thread is None:
        raise _refusal(web.HTTPNotFound, NO_REPORT, as_json)


async def _read_clickhouse(as_json: bool, read: Callable[..., T], *args: Any) -> T:
    """`read(*args)` on a thread (a slow query must not hold up the loop's other views); 503 while
    ClickHouse is not ready yet."""
    try:
        return await asyncio.to_thread(read, *args)
    except Exception as error:  # noqa: BLE001 - ClickHouse not ready yet, say so
        raise _refusal(web.HTTPServiceUnavailable, str(error).splitlines()[0], as_json) from None


def journey_summary(state: Any) -> dict[str, Any]:
    """The live view of one journey (GET /journeys/{key}/)."""
    from journey.streams.records import iso

    return {
        "journey_key": state.journey_key,
        "customer_id": state.customer_id,
        "account_id": state.account_id,
        "events": state.event_count,
        "first_seen": iso(state.first_seen_ms),
        "last_seen": iso(state.last_seen_ms),
        "current_stage": state.stages.current,
        "stages_reached": {stage: iso(at) for stage, at in state.stages.reached.items()},
        "time_to_first_value_ms": state.stages.time_to_first_value_ms,
        "open_sessions": [
            {
                "session_id": s.session_id,
                "started_at": iso(s.start_ms),
                "last_event_at": iso(s.end_ms),
                "events": s.event_count,
                "channels": s.channels,
                "path": [p[2] for p in s.path],
            }
            for s in state.sessions.open
        ],
        "late_events": state.sessions.late_events,
        "absorbed_into": state.absorbed_into,
        "absorbed_from": state.absorbed_from,
        "awaiting_handoff_from": sorted(state.pending_handoffs),
        "open_flows": {
            name: {
                "started_at": iso(flow.started_ms),
                "steps_done": flow.steps_done,
                "last_step": flow.last_step,
                "last_at": iso(flow.last_ms),
            }
            for name, flow in state.friction.abandonment.open.items()
        },
    }
