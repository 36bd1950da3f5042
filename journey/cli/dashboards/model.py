"""The few pieces of Grafana's dashboard JSON (schemaVersion 39+) the boards use, as plain dicts:
ClickHouse and Prometheus targets, panels laid out left to right, template variables."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from journey.schemas.queries import Query

CLICKHOUSE = {"type": "grafana-clickhouse-datasource", "uid": "journey-clickhouse"}
PROMETHEUS = {"type": "prometheus", "uid": "journey-prometheus"}
GRID_WIDTH = 24

# The ClickHouse plugin's result formats (its `format` field) and query types.
TIME_SERIES, TABLE = 0, 1
QUERY_TYPES = {TIME_SERIES: "timeSeries", TABLE: "table"}  # the plugin's QueryType values


def clickhouse_target(query: Query, database: str, format: int = TABLE, ref_id: str = "A") -> dict[str, Any]:
    return {"refId": ref_id, "datasource": CLICKHOUSE, "editorType": "sql", "format": format,
            "queryType": QUERY_TYPES[format], "rawSql": query.grafana(database).strip(), "meta": {"query": query.name}}  # fmt: skip


def prometheus_target(expr: str, legend: str, ref_id: str = "A") -> dict[str, Any]:
    return {"refId": ref_id, "datasource": PROMETHEUS, "expr": expr, "legendFormat": legend, "range": True}


@dataclass
class Panel:
    """One panel; `width` / `height` in grid units (24 across)."""

    title: str
    type: str  # timeseries, table, stat, barchart, bargauge, piechart
    targets: list[dict[str, Any]]
    width: int = 12
    height: int = 8
    description: str = ""
    unit: str = ""
    min_interval: str | None = None  # the smallest bucket (a rollup's grain)
    options: dict[str, Any] = field(default_factory=dict)
    display_name: str | None = None  # e.g. "${__field.labels.journey_stage}" for long-format series
    column_links: dict[str, tuple[str, str]] = field(default_factory=dict)  # column -> (title, url): data links

    def render(self, panel_id: int, x: int, y: int) -> dict[str, Any]:
        defaults: dict[str, Any] = {}
        if self.unit:
            defaults["unit"] = self.unit
        if self.display_name:
            defaults["displayName"] = self.display_name
        panel = {"id": panel_id, "type": self.type, "title": self.title, "description": self.description,
                 "gridPos": {"x": x, "y": y, "w": self.width, "h": self.height},
                 "datasource": self.targets[0]["datasource"], "targets": self.targets,
                 "fieldConfig": {"defaults": defaults, "overrides": self._link_overrides()}, "options": self.options}  # fmt: skip
        if self.min_interval:
            panel["interval"] = self.min_interval
        return panel

    def _link_overrides(self) -> list[dict[str, Any]]:
        return [{"matcher": {"id": "byName", "options": column},
                 "properties": [{"id": "links", "value": [{"title": title, "url": url}]}]}
                for column, (title, url) in self.column_links.items()]  # fmt: skip


def query_variable(name: str, label: str, query: Query, database: str) -> dict[str, Any]:
    """Options read from ClickHouse; several may be chosen, "All" by default."""
    return {"name": name, "label": label, "type": "query", "datasource": CLICKHOUSE,
            "query": query.render(database, "", "").strip(), "refresh": 2, "multi": True, "includeAll": True,
            "current": {"text": ["All"], "value": ["$__all"]}, "sort": 1}  # fmt: skip


def custom_variable(
    name: str, label: str, values: list[str], multi: bool = True, default: str | None = None
) -> dict[str, Any]:
    current = {"text": ["All"], "value": ["$__all"]} if default is None else {"text": default, "value": default}
    return {"name": name, "label": label, "type": "custom", "query": ",".join(values), "multi": multi,
            "includeAll": default is None, "current": current,
            "options": [{"text": v, "value": v, "selected": v == default} for v in values]}  # fmt: skip


def textbox_variable(name: str, label: str, default: str = "") -> dict[str, Any]:
    return {"name": name, "label": label, "type": "textbox", "query": default,
            "current": {"text": default, "value": default}}  # fmt: skip


def prometheus_variable(name: str, label: str, metric: str, label_name: str) -> dict[str, Any]:
    return {"name": name, "label": label, "type": "query", "datasource": PROMETHEUS,
            "query": {"query": f"label_values({metric}, {label_name})", "refId": "PrometheusVariableQueryEditor-VariableQuery"},
            "refresh": 2, "multi": True, "includeAll": True, "allValue": ".*",
            "current": {"text": ["All"], "value": ["$__all"]}, "sort": 1}  # fmt: skip


def dashboard(uid: str, title: str, description: str, panels: list[Panel], variables: list[dict[str, Any]],
              tags: list[str], time_from: str = "now-6h", refresh: str = "1m",
              links: list[dict[str, Any]] | None = None) -> dict[str, Any]:  # fmt: skip
    """Panels flow left to right and wrap at the grid's width."""
    rendered, x, y, row_height = [], 0, 0, 0
    for panel_id, panel in enumerate(panels, start=1):
        if x + panel.width > GRID_WIDTH:
            x, y, row_height = 0, y + row_height, 0
        rendered.append(panel.render(panel_id, x, y))
        x, row_height = x + panel.width, max(row_height, panel.height)
    return {"uid": uid, "title": title, "description": description, "tags": tags, "timezone": "utc",
            "editable": True, "graphTooltip": 1, "schemaVersion": 39, "version": 1, "refresh": refresh,
            "time": {"from": time_from, "to": "now"}, "templating": {"list": variables}, "panels": rendered,
            "links": links or [], "annotations": {"list": []}}  # fmt: skip
