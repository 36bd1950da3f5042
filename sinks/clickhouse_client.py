"""One way to reach ClickHouse: clickhouse-connect for both the embedded engine (chDB,
`chdb://path`) and a server (`http(s)://user:pass@host:port`)."""

from __future__ import annotations

from pathlib import Path

import clickhouse_connect
from clickhouse_connect.driver.client import Client

from journey.config import ClickHouseSettings

EMBEDDED_SCHEME = "chdb://"


def absolute_dsn(dsn: str) -> str:
    """chDB needs an absolute path; the config's default is relative to the working directory."""
    if not dsn.startswith(EMBEDDED_SCHEME):
        return dsn
    path = Path(dsn.removeprefix(EMBEDDED_SCHEME))
    path = path if path.is_absolute() else Path.cwd() / path
    path.mkdir(parents=True, exist_ok=True)
    return f"{EMBEDDED_SCHEME}{path.resolve()}"


def connect(settings: ClickHouseSettings) -> Client:
    """A client for the configured DSN. The embedded engine allows one data path per process: the
    process that writes owns it (DESIGN.md, measured)."""
    return clickhouse_connect.get_client(dsn=absolute_dsn(settings.dsn))
