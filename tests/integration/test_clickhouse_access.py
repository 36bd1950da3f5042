"""Least privilege in ClickHouse (sinks/access.py): every statement parses in the real engine, the
grants are the least the sink and the readers need, passwords never show, and a reader's
connection cannot write, on the embedded engine too (which has no users: `journey migrate` says
so instead of failing)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from clickhouse_connect.driver.client import Client
from pydantic import SecretStr

from journey.config import ClickHouseSettings
from journey.sinks.access import AccessNotSupported, access_statements, apply_access
from journey.sinks.clickhouse_client import connect
from journey.sinks.migrations import migrate

pytestmark = pytest.mark.integration

WRITER_SECRET, READER_SECRET = "writer-s3cret-'quoted", "reader-s3cret-0123"


def with_users(settings: ClickHouseSettings) -> ClickHouseSettings:
    return settings.model_copy(update={
        "writer_user": "journey_writer", "writer_password": SecretStr(WRITER_SECRET),
        "reader_user": "journey_reader", "reader_password": SecretStr(READER_SECRET),
    })  # fmt: skip


def test_every_statement_parses_in_the_engine_and_none_shows_a_password(
    clickhouse: tuple[Client, ClickHouseSettings],
) -> None:
    client, settings = clickhouse
    statements = access_statements(with_users(settings))
    for statement in statements:
        assert client.query(f"EXPLAIN AST {statement.sql}").result_rows, statement.shown  # the real parser
        assert WRITER_SECRET not in statement.shown and READER_SECRET not in statement.shown
    assert any("writer-s3cret-\\'quoted" in s.sql for s in statements)  # quoted, not cut short


def test_the_grants_are_the_least_each_role_needs(clickhouse: tuple[Client, ClickHouseSettings]) -> None:
    _, settings = clickhouse
    db = settings.database
    grants = [s.sql for s in access_statements(with_users(settings)) if s.sql.startswith("GRANT") and " ON " in s.sql]
    assert grants == [
        f"GRANT SELECT, INSERT, ALTER DELETE ON {db}.* TO {db}_writer",
        f"GRANT SELECT ON {db}.* TO {db}_reader",
    ]
    shown = "\n".join(s.shown for s in access_statements(with_users(settings)))
    assert re.search(rf"SETTINGS PROFILE .* readonly = 1, .* TO {db}_reader", shown)
    assert re.search(rf"QUOTA .* MAX queries = 10000 TO {db}_reader", shown)


def test_a_reader_connection_cannot_write_even_on_the_embedded_engine(
    clickhouse: tuple[Client, ClickHouseSettings],
) -> None:
    client, settings = clickhouse
    migrate(client, settings)
    reader, writer = connect(settings, "reader"), connect(settings, "writer")
    insert = f"INSERT INTO {settings.database}.sink_progress SELECT * FROM {settings.database}.sink_progress LIMIT 0"
    with pytest.raises(Exception, match="READONLY"):
        reader.command(insert)
    with pytest.raises(Exception, match="READONLY"):
        reader.command(f"DROP TABLE {settings.database}.sink_progress")
    assert reader.query(f"SELECT count() FROM {settings.database}.touchpoints").result_rows == [(0,)]
    writer.command(insert)  # the writer may


def test_users_are_not_applied_to_the_embedded_engine_and_migrate_says_so(
    clickhouse: tuple[Client, ClickHouseSettings], tmp_path: Path
) -> None:
    client, settings = clickhouse
    with pytest.raises(AccessNotSupported, match="embedded engine has no users"):
        apply_access(client, with_users(settings))
    env = {"JOURNEY_CLICKHOUSE__DSN": f"chdb://{tmp_path / 'ch'}", "JOURNEY_CLICKHOUSE__WRITER_USER": "w",
           "JOURNEY_CLICKHOUSE__WRITER_PASSWORD": WRITER_SECRET, "PATH": "/usr/bin:/bin"}  # fmt: skip
    result = subprocess.run([sys.executable, "-c", "from journey.cli.app import app; app()", "migrate"],
                            env=env, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "access: the embedded engine has no users or roles" in " ".join((result.stdout + result.stderr).split())
    assert WRITER_SECRET not in result.stdout + result.stderr
