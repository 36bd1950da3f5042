"""ClickHouse schema as code, against the real engine in-process (chDB): migrations, materialized
views matching their targets, rollups equal to a direct GROUP BY (replays included), CX formulas."""

from __future__ import annotations

import re
import shutil
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from clickhouse_connect.driver.client import Client

from journey.config import ClickHouseSettings
from journey.sinks.migrations import MIGRATIONS_DIR, MigrationError, load_migrations, migrate

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def test_migrations_from_zero_then_rerun_is_a_no_op(clickhouse) -> None:
    client, settings = clickhouse
    applied = migrate(client, settings)
    assert applied == [f"{m.version:03d}_{m.name}" for m in load_migrations()]
    tables = {
        row[0]
        for row in client.query(f"SELECT name FROM system.tables WHERE database = '{settings.database}'").result_rows
    }
    assert {"touchpoints", "sessions", "friction_signals", "stage_transitions", "identity_links", "survey_responses",
            "touchpoints_per_minute", "friction_per_minute", "cx_scores_per_hour", "schema_migrations"} <= tables  # fmt: skip
    assert migrate(client, settings) == []
    assert client.query(f"SELECT count() FROM {settings.database}.schema_migrations").result_rows == [(len(applied),)]


def test_a_changed_applied_migration_is_refused(clickhouse, tmp_path: Path) -> None:
    client, settings = clickhouse
    directory = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, directory)
    migrate(client, settings, directory)
    first = sorted(directory.glob("*.sql"))[0]
    first.write_text(first.read_text() + "\n-- edited after release\n")
    with pytest.raises(MigrationError, match=f"{first.name} changed after it was applied"):
        migrate(client, settings, directory)


def test_every_materialized_view_selects_exactly_its_target_columns(clickhouse) -> None:
    client, settings = clickhouse
    migrate(client, settings)
    views = client.query(
        f"SELECT name, as_select, arrayElement(dependencies_table, 1) FROM system.tables "
        f"WHERE database = '{settings.database}' AND engine = 'MaterializedView'"
    ).result_rows
    assert len(views) == 4
    for name, select, _ in views:
        target = (
            client.query(
                f"SELECT create_table_query FROM system.tables WHERE database = '{settings.database}' AND name = '{name}'"
            )
            .result_rows[0][0]
            .split(" TO ")[1]
            .split(" ")[0]
        )
        produced = client.query(f"DESCRIBE ({select})").result_rows
        expected = client.query(f"DESCRIBE {target}").result_rows
        # Same names in the same order, same types but for LowCardinality (a storage encoding
        # ClickHouse applies on insert); nullability, widths and aggregate states must match.
        assert [(r[0], storage_free(r[1])) for r in produced] == [
            (r[0], storage_free(r[1])) for r in expected if not r[0].startswith("_")
        ], name


def storage_free(column_type: str) -> str:
    return re.sub(r"LowCardinality\((.*)\)", r"\1", column_type)


COLUMNS = ["event_id", "occurred_at", "journey_key", "customer_id", "session_id", "stage", "late", "channel",
           "touchpoint", "score", "properties", "source", "_kafka_partition", "_kafka_offset"]  # fmt: skip


def touchpoint_rows(n: int, start: int = 0) -> list[list]:
    """Column-oriented rows: a mix of stages, channels, minutes, customers and survey answers."""
    rows = []
    for i in range(start, start + n):
        survey = ["survey.nps", "survey.csat", "survey.ces"][i % 3] if i % 4 == 0 else None
        score = (
            {"survey.nps": i % 11, "survey.csat": 1 + i % 5, "survey.ces": 1 + i % 7}.get(survey) if survey else None
        )
        rows.append([uuid.uuid5(uuid.NAMESPACE_OID, str(i)), T0 + timedelta(seconds=17 * i), f"cust-{i % 23}",
                     f"cust-{i % 23}", None, [None, "awareness", "active"][i % 3], False,
                     ["web", "mobile", "support"][i % 3], survey or ["feature.used", "ui.click"][i % 2], score, "{}", "test", 0, i])  # fmt: skip
    return [list(column) for column in zip(*rows, strict=True)]


def insert(client: Client, settings: ClickHouseSettings, columns: list[list], token: str) -> None:
    client.insert(f"{settings.database}.touchpoints", columns, column_names=COLUMNS, column_oriented=True,
                  settings={"insert_deduplication_token": token, "deduplicate_blocks_in_dependent_materialized_views": 1})  # fmt: skip


def test_rollups_equal_a_direct_group_by_even_when_a_block_is_retried(clickhouse) -> None:
    client, settings = clickhouse
    migrate(client, settings)
    db = settings.database
    insert(client, settings, touchpoint_rows(500), "touchpoints/0/0-499")
    insert(client, settings, touchpoint_rows(500), "touchpoints/0/0-499")  # a retried batch: same token
    insert(client, settings, touchpoint_rows(300, start=500), "touchpoints/0/500-799")
    rollup = client.query(
        f"SELECT minute, stage, channel, touchpoint, uniqExactMerge(events), uniqMerge(customers) FROM {db}.touchpoints_per_minute "
        "GROUP BY minute, stage, channel, touchpoint ORDER BY minute, stage, channel, touchpoint"
    ).result_rows
    direct = client.query(
        f"SELECT toStartOfMinute(occurred_at) AS minute, ifNull(stage, '') AS stage, channel, touchpoint, "
        f"uniqExact(event_id), uniq(journey_key) FROM {db}.touchpoints FINAL "
        "GROUP BY minute, stage, channel, touchpoint ORDER BY minute, stage, channel, touchpoint"
    ).result_rows
    assert rollup == direct
    assert sum(r[4] for r in rollup) == 800
    assert client.query(f"SELECT count() FROM {db}.touchpoints").result_rows == [(800,)]  # the retry was dropped


def test_nps_csat_ces_from_the_rollup_equal_hand_computed_values(clickhouse) -> None:
    client, settings = clickhouse
    migrate(client, settings)
    db = settings.database
    columns = touchpoint_rows(1200)
    insert(client, settings, columns, "touchpoints/0/0-1199")
    answers = [(tp, s) for tp, s in zip(columns[8], columns[9], strict=True) if s is not None]
    nps = [s for tp, s in answers if tp == "survey.nps"]
    csat = [s for tp, s in answers if tp == "survey.csat"]
    ces = [s for tp, s in answers if tp == "survey.ces"]
    expected_nps = round(100 * (sum(s >= 9 for s in nps) - sum(s <= 6 for s in nps)) / len(nps), 6)
    expected_csat = round(100 * sum(s >= 4 for s in csat) / len(csat), 6)
    expected_ces = round(sum(ces) / len(ces), 6)

    def per_score(kind: str) -> dict[int, int]:
        rows = client.query(
            f"SELECT score, uniqExactMerge(answers) FROM {db}.cx_scores_per_hour WHERE kind = '{kind}' GROUP BY score"
        ).result_rows
        return dict(rows)

    n = per_score("nps")
    assert (
        round(
            100 * (sum(c for s, c in n.items() if s >= 9) - sum(c for s, c in n.items() if s <= 6)) / sum(n.values()), 6
        )
        == expected_nps
    )
    c = per_score("csat")
    assert round(100 * sum(v for s, v in c.items() if s >= 4) / sum(c.values()), 6) == expected_csat
    e = per_score("ces")
    assert round(sum(s * v for s, v in e.items()) / sum(e.values()), 6) == expected_ces
    assert -100 <= expected_nps <= 100
    categories = dict(
        client.query(
            f"SELECT category, count() FROM {db}.survey_responses WHERE kind = 'nps' GROUP BY category"
        ).result_rows
    )
    assert categories == {
        "promoter": sum(s >= 9 for s in nps),
        "passive": sum(7 <= s <= 8 for s in nps),
        "detractor": sum(s <= 6 for s in nps),
    }
