"""The bad-input cases of tests/test_cli_errors.py that need a real broker or ClickHouse engine:
through the `journey` entry point, one line and the documented exit code, never a traceback."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from journey.cli.topic_reader import read_topic
from journey.cli.worker_process import broker_env
from journey.config import Settings
from journey.topics import TOUCHPOINTS, create_topics
from tests.test_cli_errors import JOURNEY, error_line, events, journey

pytestmark = pytest.mark.integration


def run(settings: Settings, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in broker_env(settings).items() if k.startswith("JOURNEY_")}
    return journey(cwd, *args, **env)


def test_publish_to_missing_topic_says_to_create_it(settings: Settings, tmp_path: Path) -> None:
    source = tmp_path / "events.jsonl"
    source.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events()))
    result = run(settings, tmp_path, "publish", str(source))
    assert result.returncode == 2
    line = error_line(result)
    assert f"topic '{settings.topics.name(TOUCHPOINTS)}' does not exist" in line and "journey topics create" in line


def test_publish_sends_the_valid_lines_around_a_far_future_one(settings: Settings, tmp_path: Path) -> None:
    create_topics(settings)
    good = events(4)
    future = good[0] | {"event_id": "7d1f0e1a-0000-4000-8000-000000000002",
                        "occurred_at": (datetime.now(UTC) + timedelta(days=3650)).isoformat()}  # fmt: skip
    lines = [orjson.dumps(good[0]), orjson.dumps(future), *(orjson.dumps(e) for e in good[1:])]
    source = tmp_path / "events.jsonl"
    source.write_bytes(b"\n".join(lines) + b"\n")
    result = run(settings, tmp_path, "publish", str(source), "--rejects", str(tmp_path / "r.jsonl"))
    assert result.returncode == 1
    assert "events.jsonl:2: time_out_of_range" in result.stderr.decode()
    assert f"{len(good)} published" in result.stderr.decode()
    assert [orjson.loads(x)["reason"] for x in (tmp_path / "r.jsonl").read_bytes().splitlines()] == [
        "time_out_of_range"
    ]
    messages = read_topic(settings, settings.topics.name(TOUCHPOINTS), expected=len(good))
    assert sorted(orjson.loads(m.value())["event_id"] for m in messages) == sorted(e["event_id"] for e in good)


def test_map_and_customer_on_an_empty_engine(tmp_path: Path) -> None:
    assert JOURNEY.exists()
    assert journey(tmp_path, "migrate").returncode == 0
    empty_map = journey(tmp_path, "map")
    assert empty_map.returncode == 1 and b"1970" not in empty_map.stdout + empty_map.stderr
    assert b"no touchpoints in ClickHouse" in empty_map.stderr
    nobody = journey(tmp_path, "customer", "nobody")
    assert nobody.returncode == 1 and nobody.stdout == b""  # no empty tables
    assert b"nothing is known of customer 'nobody'" in nobody.stderr
