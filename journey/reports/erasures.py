"""What the sink deleted for one `journey erase` request: rows per table and kind of key, from its
audit table (`erasures`, schemas/clickhouse/011_erasures.sql). Read by `journey erase` and the
worker's /erasures/{id} view."""

from __future__ import annotations

from clickhouse_connect.driver.client import Client


def audit_rows(client: Client, database: str, request_id: str) -> list[tuple[str, str, int]]:
    """(table, key kind, rows deleted), in that order."""
    result = client.query(
        f"SELECT table, key_kind, sum(rows) FROM {database}.erasures WHERE request_id = {{r:String}} "
        "GROUP BY table, key_kind ORDER BY table, key_kind",
        parameters={"r": request_id},
    )
    return [(table, kind, int(rows)) for table, kind, rows in result.result_rows]
