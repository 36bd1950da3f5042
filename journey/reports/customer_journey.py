"""One customer's journey (`journey customer ID`, the worker's /customers/{id}): their linked
anonymous ids, stage changes, sessions with path and channels, friction signals with their
evidence, survey answers and the timeline, from ClickHouse; and, from the worker's live state,
what is open right now (sessions, flows begun and not finished)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from typing import Any

from clickhouse_connect.driver.client import Client
from rich.console import Console

from journey.config import Settings
from journey.reports.report import Section, rich_table
from journey.schemas.customer_queries import CUSTOMER_QUERIES, for_customer
from journey.streams.privacy import Protection


@dataclass
class CustomerJourney:
    customer_id: str  # as asked for
    journey_key: str  # as stored (the pseudonym when customer ids are hashed)
    sections: list[Section]
    live: dict[str, Any] | None  # the worker's view of the journey now; None when not reachable

    def as_json(self) -> dict[str, Any]:
        return {"customer_id": self.customer_id, "journey_key": self.journey_key, "live": self.live,
                "sections": [s.as_json() for s in self.sections]}  # fmt: skip

    def section(self, name: str) -> Section:
        return next(s for s in self.sections if s.name == name)

    @property
    def found(self) -> bool:
        return any(s.rows for s in self.sections) or bool(self.live)


def customer_from_json(data: dict[str, Any]) -> CustomerJourney:
    sections = [Section(s["name"], s["title"], s["columns"], [tuple(r) for r in s["rows"]]) for s in data["sections"]]
    return CustomerJourney(data["customer_id"], data["journey_key"], sections, data["live"])


def journey_key_for(settings: Settings, customer_id: str) -> str:
    return Protection.from_settings(settings.privacy).journey_key_of(customer_id)


def build_customer(
    client: Client, settings: Settings, customer_id: str, live: dict[str, Any] | None
) -> CustomerJourney:
    key = journey_key_for(settings, customer_id)
    database = settings.clickhouse.database
    sections = []
    for query in CUSTOMER_QUERIES:
        result = client.query(for_customer(query.render(database, "", ""), key))
        sections.append(
            Section(query.name, query.title, list(result.column_names), [tuple(r) for r in result.result_rows])
        )
    return CustomerJourney(customer_id, key, sections, live)


def open_now(live: dict[str, Any] | None) -> list[str]:
    """What is open right now, from the live state, one line each."""
    if not live:
        return ["live state: not available (no worker answered for this journey)"]
    lines = [f"stage now: {live.get('current_stage') or '–'} · {live.get('events', 0)} events · last seen "
             f"{live.get('last_seen') or '–'}"]  # fmt: skip
    for session in live.get("open_sessions", []):
        lines.append(f"open session since {session['started_at']}: {' → '.join(session['path'][-8:])} "
                     f"({', '.join(session['channels'])})")  # fmt: skip
    for name, flow in sorted(live.get("open_flows", {}).items()):
        steps = ", ".join(flow["steps_done"]) or "no step yet"
        lines.append(f"open flow {name} since {flow['started_at']}: {steps} (last {flow['last_at']})")
    if len(lines) == 1:
        lines.append("nothing open")
    return lines


def print_customer(journey: CustomerJourney, console: Console) -> None:
    console.print(f"[bold]Customer {journey.customer_id}[/bold]"
                  + (f" (stored as {journey.journey_key})" if journey.journey_key != journey.customer_id else ""))  # fmt: skip
    for line in open_now(journey.live):
        console.print(f"  {line}")
    for section in journey.sections:
        console.print(rich_table(section, empty="none"))


def customer_page(journey: CustomerJourney) -> str:
    """The support agent's page: what is open now, then every section as a table."""
    from journey.reports.report_page import html_document, html_table

    now = "".join(f"<li>{escape(line)}</li>" for line in open_now(journey.live))
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return html_document(
        f"Customer {escape(journey.customer_id)}",
        f"generated {generated}",
        f"""
<section class="now"><h2>Right now</h2><ul>{now}</ul></section>
<section class="customer">{"".join(html_table(s) for s in journey.sections)}</section>""",
    )
