"""ClickHouse schema as code: numbered SQL files in schemas/clickhouse/ applied in order.

`journey migrate` applies what is missing and records each file (version, name, checksum) in
`<database>.schema_migrations`. It is idempotent, and it refuses to continue when a file that was
already applied has changed since (write a new numbered file instead).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from clickhouse_connect.driver.client import Client

import journey.schemas
from journey.config import ClickHouseSettings

MIGRATIONS_DIR = Path(journey.schemas.__file__).resolve().parent / "clickhouse"
FILE_PATTERN = re.compile(r"^(\d{3})_([a-z0-9_]+)\.sql$")


class MigrationError(RuntimeError):
    """The schema cannot be brought up to date safely; the message says why and what to do."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()

    def statements(self, settings: ClickHouseSettings) -> list[str]:
        text = "\n".join(line for line in self.sql.splitlines() if not line.lstrip().startswith("--"))
        text = text.replace("{database}", settings.database).replace("{raw_ttl_days}", str(settings.raw_ttl_days))
        return [statement.strip() for statement in text.split(";") if statement.strip()]


def load_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    migrations = []
    for path in sorted(directory.glob("*.sql")):
        match = FILE_PATTERN.match(path.name)
        if match is None:
            raise MigrationError(f"{path.name}: migration files are named NNN_name.sql")
        migrations.append(Migration(int(match.group(1)), match.group(2), path.read_text()))
    versions = [m.version for m in migrations]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"two migration files share a number in {directory}")
    return migrations


def applied(client: Client, settings: ClickHouseSettings) -> dict[int, tuple[str, str]]:
    rows = client.query(f"SELECT version, name, checksum FROM {settings.database}.schema_migrations").result_rows
    return {version: (name, checksum) for version, name, checksum in rows}


def migrate(client: Client, settings: ClickHouseSettings, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Apply every missing migration in order; return the names applied."""
    database = settings.database
    client.command(f"CREATE DATABASE IF NOT EXISTS {database}")
    client.command(
        f"CREATE TABLE IF NOT EXISTS {database}.schema_migrations "
        "(version UInt32, name String, checksum String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3)) "
        "ENGINE = MergeTree ORDER BY version"
    )
    done = applied(client, settings)
    newly_applied = []
    for migration in load_migrations(directory):
        if migration.version in done:
            name, checksum = done[migration.version]
            if checksum != migration.checksum:
                raise MigrationError(
                    f"migration {migration.version:03d}_{migration.name}.sql changed after it was applied "
                    f"(as {name}); leave applied files as they are and add a new numbered file"
                )
            continue
        for statement in migration.statements(settings):
            client.command(statement)
        client.insert(
            f"{database}.schema_migrations",
            [[migration.version, migration.name, migration.checksum]],
            column_names=["version", "name", "checksum"],
        )
        newly_applied.append(f"{migration.version:03d}_{migration.name}")
    return newly_applied
