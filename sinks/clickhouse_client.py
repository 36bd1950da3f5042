"""One way to reach ClickHouse: clickhouse-connect for both the embedded engine (chDB,
`chdb://path`) and a server (`http(s)://user:pass@host:port`)."""

from __future__ import annotations

from pathlib import Path

import clickhouse_connect
from clickhouse_connect.driver.client import Client

from journey.config import ClickHouseSettings

EMBEDDED_SCHEME = "chdb://"


def embedded_path(dsn: str) -> Path | None:
    """The embedded engine's data directory, absolute (the config's default is relative to the
    working directory); None for a server DSN."""
    if not dsn.startswith(EMBEDDED_SCHEME):
        return None
    path = Path(dsn.removeprefix(EMBEDDED_SCHEME))
    return (path if path.is_absolute() else Path.cwd() / path).resolve()


def absolute_dsn(dsn: str) -> str:
    """chDB needs an absolute path, and an existing directory."""
    path = embedded_path(dsn)
    if path is None:
        return dsn
    path.mkdir(parents=True, exist_ok=True)
    return f"{EMBEDDED_SCHEME}{path}"


def connect(settings: ClickHouseSettings) -> Client:
    """A client for the configured DSN. The embedded engine allows one data path per process: the
    process that writes owns it (DESIGN.md, measured)."""
    return clickhouse_connect.get_client(dsn=absolute_dsn(settings.dsn))
