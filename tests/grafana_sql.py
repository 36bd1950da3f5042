"""What Grafana and the ClickHouse plugin do to a panel's SQL before it reaches ClickHouse, for
the tests that run every panel: dashboard variables first (Grafana's frontend: `${name:format}`,
`${name}`, `$name`; "All" = every option), then the plugin's macros (pkg/macros of
grafana/clickhouse-datasource: seconds-precision `toDateTime(<unix>)` bounds,
`toStartOfInterval(toDateTime(col), INTERVAL <n> second)` buckets)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any

VARIABLE = re.compile(r"\$\{(\w+)(?::(\w+))?\}|\$(?!__)(\w+)")
MACRO_WITH_ARGS = re.compile(r"\$__(timeFilter|timeFilter_ms|dateFilter|timeInterval|timeInterval_ms)\(([^()]*)\)")


def format_values(values: list[str], format: str | None) -> str:
    if format == "singlequote":
        return ",".join("'" + v.replace("'", "\\'") + "'" for v in values)
    if format == "sqlstring":
        return ",".join("'" + v.replace("'", "''") + "'" for v in values)
    if format in (None, "csv", "raw"):
        return ",".join(values)
    raise ValueError(f"variable format {format!r} not handled here")


def interpolate_variables(sql: str, values: dict[str, list[str]]) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match[1] or match[3]
        if name not in values:
            raise KeyError(f"the SQL uses ${name}, which is no variable of the board ({sorted(values)})")
        return format_values(values[name], match[2])

    return VARIABLE.sub(replace, sql)


def expand_macros(sql: str, start: datetime, end: datetime, interval_s: int) -> str:
    frm, to = int(start.timestamp()), int(end.timestamp())
    frm_ms, to_ms = int(start.timestamp() * 1000), int(end.timestamp() * 1000)
    interval_s = max(interval_s, 1)

    def with_args(match: re.Match[str]) -> str:
        name, column = match[1], match[2].strip()
        if name == "timeFilter":
            return f"{column} >= toDateTime({frm}) AND {column} <= toDateTime({to})"
        if name == "timeFilter_ms":
            return f"{column} >= fromUnixTimestamp64Milli({frm_ms}) AND {column} <= fromUnixTimestamp64Milli({to_ms})"
        if name == "dateFilter":
            return f"{column} >= toDate('{start:%Y-%m-%d}') AND {column} <= toDate('{end:%Y-%m-%d}')"
        if name == "timeInterval":
            return f"toStartOfInterval(toDateTime({column}), INTERVAL {interval_s} second)"
        return f"toStartOfInterval(toDateTime64({column}, 3), INTERVAL {interval_s * 1000} millisecond)"

    sql = MACRO_WITH_ARGS.sub(with_args, sql)
    for macro, value in (("$__fromTime_ms", f"fromUnixTimestamp64Milli({frm_ms})"),
                         ("$__toTime_ms", f"fromUnixTimestamp64Milli({to_ms})"),
                         ("$__fromTime", f"toDateTime({frm})"), ("$__toTime", f"toDateTime({to})"),
                         ("$__interval_s", str(interval_s))):  # fmt: skip
        sql = sql.replace(macro, value)
    leftover = re.search(r"\$__\w+", sql)
    if leftover:
        raise ValueError(f"macro {leftover[0]} is not expanded here")
    return sql


def panel_interval_s(panel: dict[str, Any], start: datetime, end: datetime, max_data_points: int = 1000) -> int:
    """Grafana's $__interval: the range over the panel's data points, at least the panel's min interval."""
    minimum = parse_duration_s(panel.get("interval") or "1s")
    return max(minimum, int((end - start).total_seconds() // max_data_points))


def parse_duration_s(text: str) -> int:
    number, unit = int(text[:-1]), text[-1]
    return number * {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit]


def clickhouse_targets(board: dict[str, Any]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(panel, target) of every ClickHouse query on the board."""
    for panel in board["panels"]:
        for target in panel.get("targets", []):
            if target["datasource"]["type"] == "grafana-clickhouse-datasource":
                yield panel, target
