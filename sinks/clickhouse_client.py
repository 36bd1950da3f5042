"""One way to reach ClickHouse: clickhouse-connect for both the embedded engine (chDB,
`chdb://path`) and a server (`http(s)://user:pass@host:port`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import clickhouse_connect
from clickhouse_connect.driver.client import Client

from journey.config import ClickHouseSettings
from journey.sinks import read_guard

EMBEDDED_SCHEME = "chdb://"
READ_ONLY_SETTINGS_ALLOWED = "2"  # ClickHouse's readonly=2: no writes or DDL; the client may still set settings
# readonly=1 also refuses table functions (file, url, s3, remote, ...): readonly=2 lets them run.
# The embedded reader sets none per query, and on a server the reader user's profile applies.
READ_ONLY_EMBEDDED = "1"


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


Role = Literal["admin", "writer", "reader"]


def connect(settings: ClickHouseSettings, role: Role = "admin") -> Client:
    """A client for the configured DSN. The embedded engine allows one data path per process: the
    process that writes owns it (DESIGN.md, measured).

    `role`: on a server, the writer and reader connect as `clickhouse.writer_user` /
    `reader_user` when set (else as the DSN's user). A reader is read-only in any case: by its
    server profile, or else by the session's `readonly` setting; on the embedded engine also
    without table functions, and behind `read_guard` for what `readonly` leaves open there."""
    kwargs: dict[str, Any] = {}
    user, password = {"writer": (settings.writer_user, settings.writer_password),
                      "reader": (settings.reader_user, settings.reader_password)}.get(role, (None, None))  # fmt: skip
    server = embedded_path(settings.dsn) is None
    if server and user is not None and password is not None:
        kwargs |= {"username": user, "password": password.get_secret_value()}
    if role == "reader" and not (server and user is not None):
        kwargs["settings"] = {"readonly": READ_ONLY_SETTINGS_ALLOWED if server else READ_ONLY_EMBEDDED}
    client = clickhouse_connect.get_client(dsn=absolute_dsn(settings.dsn), **kwargs)
    if role == "reader" and not server:
        read_guard.guard(client)
    return client
