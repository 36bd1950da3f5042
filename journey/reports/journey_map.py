"""The living journey map: the map queries (schemas/map_queries.py) run against ClickHouse and
folded into one column per stage for each segment, printed in the terminal (`journey map`), served
as JSON (/map.json) and drawn in report.html.

Two maps side by side (`--compare`): two segments of one window, or one segment over two windows
(the incident's day against the day before).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from clickhouse_connect.driver.client import Client
from rich.console import Console
from rich.table import Table

from journey.config import Settings
from journey.reports.report import data_window
from journey.schemas.map_queries import NONE, STAGES, map_queries
from journey.schemas.queries import Query, literal_time


@dataclass
class StageColumn:
    stage: str
    reached: int = 0
    converted: int = 0
    conversion_pct: float | None = None
    churned: int = 0
    silent: int = 0
    drop_out_pct: float | None = None
    p50_hours: float | None = None
    p90_hours: float | None = None
    touchpoints: list[dict[str, Any]] = field(default_factory=list)  # touchpoint, events, customers
    channels: list[dict[str, Any]] = field(default_factory=list)  # channel, events, share_pct
    pain_points: list[dict[str, Any]] = field(default_factory=list)  # kind, place, signals, customers, per_100
    sentiment: dict[str, dict[str, Any]] = field(default_factory=dict)  # nps|csat|ces -> answers, value
    opportunity: dict[str, Any] | None = None


@dataclass
class JourneyMap:
    segment: str  # the `[segments]` definition used
    start: datetime
    end: datetime
    segments: dict[str, list[StageColumn]]  # segment value -> one column per stage, in order
    churn: dict[str, dict[str, Any]] = field(default_factory=dict)  # segment value -> the churn query's row

    def as_json(self) -> dict[str, Any]:
        return {"segment": self.segment, "from": self.start.isoformat(), "to": self.end.isoformat(),
                "segments": {value: [asdict(c) for c in columns] for value, columns in self.segments.items()},
                "churn": self.churn}  # fmt: skip


def map_from_json(data: dict[str, Any]) -> JourneyMap:
    """A map served by a running `journey run` (GET /map.json)."""
    segments = {value: [StageColumn(**c) for c in columns] for value, columns in data["segments"].items()}
    return JourneyMap(data["segment"], datetime.fromisoformat(data["from"]), datetime.fromisoformat(data["to"]), segments,
                      data.get("churn", {}))  # fmt: skip


def build_map(client: Client, settings: Settings, segment: str | None = None, start: datetime | None = None,
              end: datetime | None = None) -> JourneyMap:  # fmt: skip
    """The map over [start, end) (a missing bound: the data's own), every value of the segment."""
    database = settings.clickhouse.database
    window = data_window(client, database)
    default = window or (datetime(1970, 1, 1, tzinfo=UTC), datetime(1970, 1, 1, tzinfo=UTC))
    start, end = start or default[0], end or default[1]
    queries = map_queries(settings, segment)

    def rows(query: Query) -> list[dict[str, Any]]:
        result = client.query(query.render(database, literal_time(start), literal_time(end)))
        return [dict(zip(result.column_names, row, strict=True)) for row in result.result_rows]

    columns: dict[str, dict[str, StageColumn]] = defaultdict(lambda: {s: StageColumn(s) for s in STAGES})

    def column(row: dict[str, Any]) -> StageColumn | None:
        return None if row["stage"] == NONE else columns[row["segment"]][row["stage"]]

    for row in rows(queries.stages):
        stage_column = columns[row["segment"]][row["stage"]]
        for name in (
            "reached",
            "converted",
            "conversion_pct",
            "churned",
            "silent",
            "drop_out_pct",
            "p50_hours",
            "p90_hours",
        ):
            setattr(stage_column, name, row[name])
    for row in rows(queries.touchpoints):
        if (c := column(row)) is not None:
            c.touchpoints.append({k: row[k] for k in ("touchpoint", "events", "customers")})
    channel_rows = rows(queries.channels)
    totals: dict[tuple[str, str], int] = defaultdict(int)
    for row in channel_rows:
        totals[(row["segment"], row["stage"])] += row["events"]
    for row in channel_rows:
        if (c := column(row)) is not None:
            share = round(100 * row["events"] / totals[(row["segment"], row["stage"])], 1)
            c.channels.append({"channel": row["channel"], "events": row["events"], "share_pct": share})
    for row in rows(queries.pain_points):
        if (c := column(row)) is not None:
            per_100 = round(100 * row["customers"] / c.reached, 1) if c.reached else None
            c.pain_points.append({**{k: row[k] for k in ("kind", "place", "signals", "customers")},
                                  "customers_per_100": per_100})  # fmt: skip
    for row in rows(queries.sentiment):
        if (c := column(row)) is not None:
            c.sentiment[row["kind"]] = {"answers": row["answers"], "value": row["value"]}
    for row in rows(queries.opportunities):
        if (c := column(row)) is not None:
            c.opportunity = {k: v for k, v in row.items() if k not in ("segment", "stage")}
    churn = {row.pop("segment"): row for row in rows(queries.churn)}
    reached = {value: [c for c in by_stage.values()] for value, by_stage in sorted(columns.items())}
    return JourneyMap(queries.segment, start, end, {v: cs for v, cs in reached.items() if any(c.reached for c in cs)},
                      churn)  # fmt: skip


def churn_line(row: dict[str, Any] | None) -> str:
    """A segment's churn in one line: rate, and with against without critical friction."""
    if not row or not (row["customers_at_start"] + row["new_customers"]):
        return "churn: no customers in this window"
    customers = row["customers_at_start"] + row["new_customers"]
    text = f"churn {row['churn_rate_pct']:g} % ({row['churned']} of {customers} customers)"
    if row["with_critical_friction"] and row["without_critical_friction"]:
        lift = f", {row['churn_lift']:g}× the churn" if row["churn_lift"] is not None else ""
        text += (f"; after critical friction {row['churn_with_pct']:g} % ({row['churned_with']} of "
                 f"{row['with_critical_friction']}) vs {row['churn_without_pct']:g} % without{lift}")  # fmt: skip
    return text


# -- terminal ---------------------------------------------------------------------------------
ROWS = ("reached", "conversion", "time in stage", "drop-out", "top touchpoints", "channels", "pain points",
        "sentiment", "opportunity")  # fmt: skip


def cell(c: StageColumn, row: str) -> str:
    """One cell of the printed map (also the report page's text)."""
    if row == "reached":
        return f"{c.reached:,}"
    if row == "conversion":
        return "–" if c.conversion_pct is None or not c.reached else f"{c.conversion_pct:g} % ({c.converted:,})"
    if row == "time in stage":
        return "–" if not c.p50_hours else f"p50 {c.p50_hours:g} h · p90 {c.p90_hours:g} h"
    if row == "drop-out":
        return "–" if not c.reached else f"{c.drop_out_pct:g} % ({c.churned} churned, {c.silent} silent)"
    if row == "top touchpoints":
        return "\n".join(f"{t['touchpoint']} ({t['events']:,})" for t in c.touchpoints) or "–"
    if row == "channels":
        return "\n".join(f"{ch['channel']} {ch['share_pct']:g} %" for ch in c.channels[:4]) or "–"
    if row == "pain points":
        return "\n".join(f"{p['kind']} · {p['place'] or '?'}: {p['customers_per_100'] or 0:g}/100"
                         for p in c.pain_points) or "–"  # fmt: skip
    if row == "sentiment":
        names = {"nps": "NPS", "csat": "CSAT %", "ces": "CES"}
        return "\n".join(f"{names[k]} {v['value']:g} (n={v['answers']})" for k, v in sorted(c.sentiment.items())) or "–"
    o = c.opportunity
    if o is None:
        return "–"
    return (
        f"{o['kind']} · {o['place'] or '?'}: converts {o['conversion_with_pct']:g} % vs "
        f"{o['conversion_without_pct']:g} % ({o['with_pain']} vs {o['without_pain']} customers)"
    )


def print_map(journey_map: JourneyMap, console: Console, only: list[str] | None = None, label: str = "") -> None:
    console.print(f"[bold]Journey map by {journey_map.segment}[/bold]{label}  "
                  f"{journey_map.start:%Y-%m-%d %H:%M} → {journey_map.end:%Y-%m-%d %H:%M} UTC")  # fmt: skip
    values = [v for v in journey_map.segments if not only or v in only]
    if not values:
        console.print("no customers in this window" + (f" for {', '.join(only)}" if only else ""))
    for value in values:
        columns = [c for c in journey_map.segments[value] if c.reached]
        table = Table(
            title=f"{journey_map.segment} = {value}", title_justify="left", title_style="bold", show_lines=True
        )
        table.add_column("")
        for c in columns:
            table.add_column(c.stage)
        for row in ROWS:
            table.add_row(row, *(cell(c, row) for c in columns))
        console.print(table)
        console.print(churn_line(journey_map.churn.get(value)))
