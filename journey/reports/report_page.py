"""report.html: the report as one self-contained page (inline CSS and SVG charts, no scripts, no
network), from the same query definitions as `journey report` and the Grafana boards. Written by
`journey report --html` and the demo, served live by `journey run` at /report."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from html import escape
from typing import Any

from clickhouse_connect.driver.client import Client

from journey.config import Settings
from journey.reports import charts
from journey.reports.journey_map import ROWS, JourneyMap, build_map, cell, churn_line
from journey.reports.report import Report, Section, build_report
from journey.schemas import board_queries as bq
from journey.schemas import queries as rq
from journey.schemas.map_queries import STAGES
from journey.schemas.path_queries import STAGE_FLOW, paths_into_friction, paths_to_first_contact

POINTS = 120  # buckets across the window in the time charts


def bucket_seconds(start: datetime, end: datetime) -> int:
    """About POINTS buckets over the window, whole minutes (the rollups' grain)."""
    return max(60, round((end - start).total_seconds() / POINTS / 60) * 60)


def build_page(client: Client, settings: Settings, start: datetime | None = None, end: datetime | None = None,
               marks: Sequence[tuple[datetime, datetime, str]] = ()) -> str:  # fmt: skip
    report = build_report(client, settings, start, end)
    db, bucket = settings.clickhouse.database, bucket_seconds(report.start, report.end)

    def rows(query: rq.Query) -> list[dict[str, Any]]:
        sql = query.render(db, rq.literal_time(report.start), rq.literal_time(report.end), bucket)
        result = client.query(sql)
        return [dict(zip(result.column_names, row, strict=True)) for row in result.result_rows]

    def over_time(query: rq.Query, label: str, value: str = "per_minute") -> dict[str, list[tuple[datetime, float]]]:
        """Series by label; a rate series gets 0 for the buckets without rows (the rollups have no
        rows for quiet minutes), so its line drops instead of bridging the gap."""
        series: dict[str, dict[datetime, float]] = defaultdict(dict)
        for row in rows(query):
            series[str(row[label])][row["time"].replace(tzinfo=UTC)] = float(row[value] or 0)
        if value == "per_minute":
            series = {name: {t: points.get(t, 0.0) for t in buckets} for name, points in series.items()}
        return {name: sorted(points.items()) for name, points in series.items()}

    buckets = _buckets(report.start, report.end, bucket)

    figures = [
        ("Touchpoints per minute by stage", charts.line_chart(
            "touchpoints_by_stage", over_time(bq.TOUCHPOINTS_BY_STAGE_OVER_TIME, "journey_stage"), marks=marks)),
        ("Touchpoints per minute by channel", charts.line_chart(
            "touchpoints_by_channel", over_time(bq.TOUCHPOINTS_BY_CHANNEL_OVER_TIME, "touchpoint_channel"), marks=marks)),
        ("Friction signals per minute by kind", charts.line_chart(
            "friction_by_kind", over_time(bq.SIGNALS_BY_KIND_OVER_TIME, "signal_kind"), marks=marks)),
        *((f"Funnel: {name}", charts.bar_chart(  # the report ran the funnels already: its sections
            f"funnel_{name}", [(f"{r['step']} ({r['of_started_pct'] or 0:g}%)", r["journeys"])
                               for r in report.section(f"funnel_{name}").records()], horizontal=True))
          for name in settings.friction.flows),
        ("Time to first value (customers by days)", charts.bar_chart(
            "time_to_first_value", [(f"{r['days']}d", r["customers"]) for r in rows(bq.TIME_TO_FIRST_VALUE_DISTRIBUTION)])),
        ("Where friction happens (signals)", charts.bar_chart(
            "top_friction_places", [(f"{r['kind']}: {r['place']}"[:40], r["signals"])
                                    for r in report.section("top_friction_places").records()], horizontal=True)),
        ("NPS, CSAT % and CES over time", charts.line_chart(
            "cx_over_time", over_time(bq.CX_OVER_TIME, "measure", "value"), marks=marks)),
    ]  # fmt: skip
    journey_map = build_map(client, settings, None, report.start, report.end)
    flow = [(r["from_stage"], r["to_stage"], r["customers"]) for r in rows(STAGE_FLOW)]
    figures.insert(
        0, ("Stage flow (customers moving between stages)", charts.sankey("stage_flow", flow, ["(new)", *STAGES]))
    )
    paths = [Section(q.name, q.title, list(r[0].keys()) if (r := rows(q)) else [], [tuple(x.values()) for x in r])
             for q in (paths_into_friction(settings), paths_to_first_contact(settings))]  # fmt: skip
    return _page(report, figures, [report.section(n) for n in ("sessions", "cx_scores", "friction_by_kind", "churn")],
                 journey_map, paths)  # fmt: skip


SENTIMENT = (("nps", "NPS", (-100.0, 100.0)), ("csat", "CSAT %", (0.0, 100.0)), ("ces", "CES", (1.0, 7.0)))
MAP_SEGMENTS = 6  # the largest segments drawn on the page (by customers reached)


def map_section(journey_map: JourneyMap) -> str:
    """The journey map: per segment a table (stages as columns), and the emotion curves of every
    segment across the stages, one chart per measure."""
    ranked = sorted(journey_map.segments.items(), key=lambda item: -max(c.reached for c in item[1]))[:MAP_SEGMENTS]
    if not ranked:
        return '<section class="map"><h2>Journey map</h2><p>no customers in this window</p></section>'
    stages = [c.stage for c in ranked[0][1]]
    shown = [i for i, stage in enumerate(stages) if any(columns[i].reached for _, columns in ranked)]
    tables = []
    for value, columns in ranked:
        head = "".join(f"<th>{escape(columns[i].stage)}</th>" for i in shown)
        body = "".join(f"<tr><th>{escape(row)}</th>" + "".join(
            f"<td>{escape(cell(columns[i], row)).replace(chr(10), '<br>')}</td>" for i in shown) + "</tr>" for row in ROWS)  # fmt: skip
        tables.append(f'<table class="journey-map" data-segment="{escape(value)}"><caption>{escape(journey_map.segment)} '
                      f"= {escape(value)}</caption><tr><th></th>{head}</tr>{body}</table>"
                      f'<p class="churn">{escape(churn_line(journey_map.churn.get(value)))}</p>')  # fmt: skip
    curves = []
    for kind, title, bounds in SENTIMENT:
        series = {value: [columns[i].sentiment.get(kind, {}).get("value") for i in shown] for value, columns in ranked}
        if any(v is not None for line in series.values() for v in line):
            curves.append(f"<figure><figcaption>Emotion curve: {title} by stage</figcaption>"
                          f"{charts.stage_curve(f'emotion_{kind}', [stages[i] for i in shown], series, bounds=bounds)}</figure>")  # fmt: skip
    return (
        f'<section class="map"><h2>Journey map by {escape(journey_map.segment)}</h2>{"".join(tables)}'
        f'<div class="charts">{"".join(curves)}</div></section>'
    )


def _buckets(start: datetime, end: datetime, bucket_s: int) -> list[datetime]:
    """The bucket starts ClickHouse's toStartOfInterval gives over [start, end)."""
    first = int(start.timestamp()) // bucket_s * bucket_s
    return [datetime.fromtimestamp(t, UTC) for t in range(first, math.ceil(end.timestamp()), bucket_s)]


def html_table(section: Section) -> str:
    head = "".join(f"<th>{escape(c.replace('_', ' '))}</th>" for c in section.columns)
    body = "".join("<tr>" + "".join(f"<td>{'–' if v is None else escape(str(v))}</td>" for v in row) + "</tr>"
                   for row in section.rows) or f'<tr><td colspan="{len(section.columns) or 1}">no data</td></tr>'  # fmt: skip
    return f'<table data-section="{escape(section.name)}"><caption>{escape(section.title)}</caption><tr>{head}</tr>{body}</table>'


def html_document(title: str, subtitle: str, body: str) -> str:
    """A self-contained page: the shared style, a header, the body (already HTML); `title` and
    `subtitle` are HTML too."""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>{STYLE}</style></head>
<body><header><h1>{title}</h1>
<p>{subtitle}</p></header>
{body}
</body></html>
"""


def map_page(journey_map: JourneyMap) -> str:
    """The journey map alone (the worker's /map)."""
    return html_document("Journey map", f"Event time {journey_map.start:%Y-%m-%d %H:%M} → {journey_map.end:%Y-%m-%d %H:%M} "
                         "UTC · ?segment=NAME&amp;since=…&amp;until=…", map_section(journey_map))  # fmt: skip


def _page(report: Report, figures: list[tuple[str, str]], tables: list[Section], journey_map: JourneyMap,
          paths: list[Section]) -> str:  # fmt: skip
    cards = "".join(f"<figure><figcaption>{escape(title)}</figcaption>{svg}</figure>" for title, svg in figures)
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return html_document("Journey Telemetry report", f"Event time {report.start:%Y-%m-%d %H:%M} → "
                         f"{report.end:%Y-%m-%d %H:%M} UTC · generated {generated}", f"""
<section class="tables">{"".join(html_table(s) for s in tables)}</section>
{map_section(journey_map)}
<section class="charts">{cards}</section>
<section class="paths"><h2>Paths into friction</h2>{"".join(html_table(s) for s in paths)}</section>
<footer>Queries: docs/queries.md (the same definitions as `journey report` and the Grafana boards).</footer>""")  # fmt: skip


STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #222; background: #f6f7f9; }
header h1 { margin: 0 0 4px; font-size: 22px; } header p { margin: 0 0 16px; color: #666; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(560px, 1fr)); gap: 16px; }
figure { margin: 0; background: #fff; border: 1px solid #e3e5e8; border-radius: 6px; padding: 8px; }
figcaption { font-weight: 600; margin: 0 0 6px 4px; } svg.chart { width: 100%; height: auto; }
.tables { display: flex; flex-wrap: wrap; gap: 16px; margin-bottom: 16px; }
table { border-collapse: collapse; background: #fff; border: 1px solid #e3e5e8; }
caption { text-align: left; font-weight: 600; padding: 4px 0; }
th, td { padding: 4px 10px; border-bottom: 1px solid #eee; text-align: right; } th { background: #fafafa; }
td:first-child, th:first-child { text-align: left; }
.tick, .legend, .value, .label { font-size: 11px; fill: #555; } footer { margin-top: 16px; color: #888; }
.map h2 { font-size: 18px; margin: 24px 0 8px; } table.journey-map { margin-bottom: 16px; width: 100%; }
table.journey-map td, table.journey-map th { text-align: left; vertical-align: top; font-size: 13px; }
.paths table { margin-bottom: 16px; } .paths td { text-align: left; } .paths h2 { font-size: 18px; margin: 24px 0 8px; }
.customer table { width: 100%; margin-bottom: 16px; } .customer td { text-align: left; }
"""
