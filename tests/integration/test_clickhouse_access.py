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

from journey.config import ClickHouseSettings, Settings
from journey.reports.customer_journey import build_customer
from journey.reports.journey_map import build_map
from journey.reports.report import build_report
from journey.reports.report_page import build_page
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


def test_the_embedded_reader_cannot_reach_the_filesystem_or_the_network(
    clickhouse: tuple[Client, ClickHouseSettings], tmp_path: Path
) -> None:
    """Issue 29, finding 4: each way out of the data directory, through the project's reader."""
    client, settings = clickhouse
    migrate(client, settings)
    reader = connect(settings, "reader")
    secret = tmp_path / "server.properties"
    secret.write_text("sasl.password=outside-the-data-dir\n")
    written = [tmp_path / name for name in ("x.csv", "y.csv", "z.csv", "w.csv")]
    attacks = [
        f"INSERT INTO FUNCTION file('{written[0]}', 'CSV', 'a UInt8') VALUES (1)",
        f"SELECT 1 INTO OUTFILE '{written[1]}'",
        f"SELECT * FROM file('{secret}', 'LineAsString')",
        f"SELECT file('{secret}')",  # the scalar function
        "SELECT * FROM url('http://127.0.0.1:9/', 'LineAsString')",
        "SELECT * FROM s3('http://127.0.0.1:9/bucket/x.csv', 'LineAsString')",
        "SELECT * FROM remote('127.0.0.1:9', system.one)",
        f"SELECT 1; SELECT 2 INTO OUTFILE '{written[2]}'",  # chDB runs every statement of a query
        f"DESCRIBE system.one INTO OUTFILE '{written[3]}'",
        "SELECT 1 SETTINGS readonly = 0",
    ]
    for attack in attacks:
        with pytest.raises(Exception, match=r"READONLY|reader refuses") as refused:
            reader.command(attack) if attack.startswith("INSERT") else reader.query(attack)
        assert "outside-the-data-dir" not in str(refused.value), attack
    assert not [path for path in written if path.exists()]
    # the read side's own queries still run
    full = Settings(clickhouse=settings)
    assert build_report(reader, full).sections
    assert build_map(reader, full) is not None
    assert "<html" in build_page(reader, full).lower()
    assert build_customer(reader, full, "cust-1", None).sections
    assert reader.query("SELECT {n:UInt8} + 1", parameters={"n": 1}).result_rows == [(2,)]
    assert reader.query(f"SELECT 'a;b', ' Literal x' FROM {settings.database}.touchpoints").result_rows == []
