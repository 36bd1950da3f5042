"""Least privilege on a ClickHouse server: a writer role for the sink (INSERT, and the SELECTs
it resumes by) and a reader role for Grafana and reports (SELECT only, read-only, with limits and
a quota), both on the journey database alone, and a user for each.

`journey migrate` applies these after the migrations, as the DSN's (admin) user, when
`clickhouse.writer_user` / `reader_user` are set. Idempotent: roles and users are created if
missing; passwords, profile and quota are set again on every run (rotation). The embedded engine
has no user management: there nothing is applied (`AccessNotSupported`).
"""

from __future__ import annotations

from dataclasses import dataclass

from clickhouse_connect.driver.client import Client

from journey.config import ClickHouseSettings
from journey.sinks.clickhouse_client import embedded_path

HIDDEN = "'**********'"


class AccessNotSupported(RuntimeError):
    """The engine has no users or roles (the embedded one)."""


@dataclass(frozen=True)
class Statement:
    sql: str
    shown: str  # the same without any password: what is printed and logged


def access_statements(settings: ClickHouseSettings) -> list[Statement]:
    db = settings.database
    writer_role, reader_role = f"{db}_writer", f"{db}_reader"
    plain = [
        f"CREATE ROLE IF NOT EXISTS {writer_role}",
        f"GRANT SELECT, INSERT, ALTER DELETE ON {db}.* TO {writer_role}",  # ALTER DELETE: erasures (DELETE FROM)
        f"CREATE ROLE IF NOT EXISTS {reader_role}",
        f"GRANT SELECT ON {db}.* TO {reader_role}",
        # Grafana's client sets max_execution_time per query: it stays changeable, up to the limit.
        f"CREATE SETTINGS PROFILE OR REPLACE {reader_role}_profile SETTINGS readonly = 1, "
        f"max_execution_time = {settings.reader_max_execution_s} MAX {settings.reader_max_execution_s} "
        f"CHANGEABLE_IN_READONLY, max_result_rows = {settings.reader_max_result_rows} TO {reader_role}",
        f"CREATE QUOTA OR REPLACE {reader_role}_quota FOR INTERVAL 1 hour "
        f"MAX queries = {settings.reader_queries_per_hour} TO {reader_role}",
    ]
    statements = [Statement(sql, sql) for sql in plain]
    for user, password, role in ((settings.writer_user, settings.writer_password, writer_role),
                                 (settings.reader_user, settings.reader_password, reader_role)):  # fmt: skip
        if user is None or password is None:
            continue
        secret = "'" + password.get_secret_value().replace("\\", "\\\\").replace("'", "\\'") + "'"
        identified = f"ALTER USER {user} IDENTIFIED WITH sha256_password BY "
        statements += [
            Statement(
                f"CREATE USER IF NOT EXISTS {user} IDENTIFIED WITH sha256_password BY {secret}",
                f"CREATE USER IF NOT EXISTS {user} IDENTIFIED WITH sha256_password BY {HIDDEN}",
            ),
            Statement(identified + secret, identified + HIDDEN),
            Statement(f"GRANT {role} TO {user}", f"GRANT {role} TO {user}"),
            Statement(f"ALTER USER {user} DEFAULT ROLE {role}", f"ALTER USER {user} DEFAULT ROLE {role}"),
        ]
    return statements


def configured(settings: ClickHouseSettings) -> bool:
    return settings.writer_user is not None or settings.reader_user is not None


def apply_access(client: Client, settings: ClickHouseSettings) -> list[str]:
    """Apply the statements; return them as shown (no passwords)."""
    if embedded_path(settings.dsn) is not None:
        raise AccessNotSupported(
            "the embedded engine has no users or roles: clickhouse.writer_user / reader_user apply to a "
            'ClickHouse server (docs/operations.md, "Security")'
        )
    for statement in access_statements(settings):
        client.command(statement.sql)
    return [statement.shown for statement in access_statements(settings)]
