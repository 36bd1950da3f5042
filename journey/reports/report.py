"""`journey report`: the shared queries (schemas/queries.py) run against ClickHouse, printed as
rich tables or JSON. The same sections feed the worker's report page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from clickhouse_connect.driver.client import Client
from rich.console import Console
from rich.table import Table

from journey.config import Settings
from journey.schemas.queries import DATA_RANGE, Query, literal_time, report_queries


@dataclass(frozen=True)
class Section:
    name: str
    title: str
    columns: list[str]
    rows: list[tuple[Any, ...]]

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "title": self.title, "columns": self.columns,
                "rows": [[plain(v) for v in row] for row in self.rows]}  # fmt: skip

    def records(self) -> list[dict[str, Any]]:
        """The rows as column → value."""
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


@dataclass(frozen=True)
class Report:
    start: datetime
    end: datetime
    sections: list[Section]

    def as_json(self) -> dict[str, Any]:
        return {"from": self.start.isoformat(), "to": self.end.isoformat(),
                "sections": [s.as_json() for s in self.sections]}  # fmt: skip

    def section(self, name: str) -> Section:
        return next(s for s in self.sections if s.name == name)


def data_window(client: Client, database: str) -> tuple[datetime, datetime] | None:
    """The event time the rollups cover: first minute to one past the last; None when empty."""
    first, last = client.query(DATA_RANGE.render(database, "", "")).result_rows[0]
    if first is None or first.year < 1980:  # min() of an empty table is the epoch
        return None
    return first.replace(tzinfo=UTC), last.replace(tzinfo=UTC) + timedelta(minutes=1)


def build_report(
    client: Client, settings: Settings, start: datetime | None = None, end: datetime | None = None
) -> Report:
    """Every section over [start, end); a missing bound defaults to the data's own."""
    database = settings.clickhouse.database
    window = data_window(client, database)
    default_start, default_end = window or (datetime(1970, 1, 1, tzinfo=UTC), datetime(1970, 1, 1, tzinfo=UTC))
    start, end = start or default_start, end or default_end
    sections = [_run(client, query, database, start, end) for query in report_queries(settings)]
    return Report(start, end, sections)


def _run(client: Client, query: Query, database: str, start: datetime, end: datetime) -> Section:
    result = client.query(query.render(database, literal_time(start), literal_time(end)))
    return Section(query.name, query.title, list(result.column_names), [tuple(r) for r in result.result_rows])


def print_report(report: Report, console: Console) -> None:
    console.print(f"[bold]Journey report[/bold]  {report.start:%Y-%m-%d %H:%M} → {report.end:%Y-%m-%d %H:%M} UTC")
    for section in report.sections:
        console.print(rich_table(section))


def rich_table(section: Section, empty: str = "no data") -> Table:
    """A section as a terminal table: numbers to the right, "–" for nothing."""
    table = Table(title=section.title, title_justify="left", title_style="bold", min_width=len(section.title) + 4)
    for column in section.columns:
        table.add_column(column.replace("_", " "), justify="left" if _is_text(section, column) else "right")
    for row in section.rows:
        table.add_row(*("–" if v is None else str(plain(v)) for v in row))
    if not section.columns:
        table.add_column("")
    if not section.rows:
        table.add_row(*([empty] + [""] * (max(len(section.columns), 1) - 1)))
    return table


def _is_text(section: Section, column: str) -> bool:
    index = section.columns.index(column)
    return any(isinstance(row[index], str) for row in section.rows)


def plain(value: Any) -> Any:
    """JSON-ready: times as ISO text, NaN (avg of nothing) as None."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, float) and value != value:
        return None
    return value


def report_from_json(data: dict[str, Any]) -> Report:
    """A report served by a running `journey run` (GET /report.json)."""
    sections = [Section(s["name"], s["title"], s["columns"], [tuple(r) for r in s["rows"]]) for s in data["sections"]]
    return Report(datetime.fromisoformat(data["from"]), datetime.fromisoformat(data["to"]), sections)


def engine_in_use(dsn: str) -> bool:
    """Whether another process (a running `journey run`) has the embedded engine's directory open:
    ClickHouse holds an exclusive lock on its `status` file while it runs."""
    import fcntl

    from journey.sinks.clickhouse_client import embedded_path

    path = embedded_path(dsn)
    status = path / "status" if path is not None else None
    if status is None or not status.exists():
        return False
    with status.open("rb") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
    return False
