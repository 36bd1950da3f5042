"""`journey publish FILE`: valid lines published, invalid ones reported by number and reason."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from journey.cli.samples import sample_journey
from journey.cli.topic_reader import read_topic
from journey.cli.worker_process import broker_env
from journey.config import Settings
from journey.topics import TOUCHPOINTS, create_topics

pytestmark = pytest.mark.integration


def run_journey(settings: Settings, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = broker_env(settings)
    command = [sys.executable, "-c", "from journey.cli.app import app; app()", *args]
    return subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=120)


def test_publish_file_with_bad_lines(settings: Settings, tmp_path: Path) -> None:
    create_topics(settings)
    good = sample_journey(seed=11)
    lines = [orjson.dumps(e) for e in good[:3]]
    lines += [b"not json at all", orjson.dumps(good[3] | {"occurred_at": "2026-11-02T09:00:00"}), b""]
    lines += [orjson.dumps(e) for e in good[3:]]
    source = tmp_path / "events.jsonl"
    source.write_bytes(b"\n".join(lines) + b"\n")
    rejects = tmp_path / "rejects.jsonl"

    result = run_journey(settings, "publish", str(source), "--rejects", str(rejects), cwd=tmp_path)

    assert result.returncode == 1, result.stderr
    assert "events.jsonl:4: not_json" in result.stderr
    assert "events.jsonl:5: schema" in result.stderr and "no UTC offset" in result.stderr
    assert f"{len(good)} published" in result.stderr and "2 invalid" in result.stderr
    rejected = [orjson.loads(line) for line in rejects.read_bytes().splitlines()]
    assert [(r["line"], r["reason"]) for r in rejected] == [(4, "not_json"), (5, "schema")]
    assert rejected[0]["original"] == "not json at all"

    messages = read_topic(settings, settings.topics.name(TOUCHPOINTS), expected=len(good))
    assert sorted(orjson.loads(m.value())["event_id"] for m in messages) == sorted(e["event_id"] for e in good)


def test_publish_clean_file_exits_zero(settings: Settings, tmp_path: Path) -> None:
    create_topics(settings)
    source = tmp_path / "clean.jsonl"
    source.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in sample_journey(seed=12)))
    result = run_journey(settings, "publish", str(source), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "0 invalid" in result.stderr


def test_wrong_setting_stops_the_command_naming_it(settings: Settings, tmp_path: Path) -> None:
    source = tmp_path / "x.jsonl"
    source.write_bytes(b"")
    env_settings = settings.model_copy(update={"topics": settings.topics.model_copy(update={"partitions": 0})})
    result = run_journey(env_settings, "publish", str(source), cwd=tmp_path)
    assert result.returncode == 2
    assert "topics.partitions (JOURNEY_TOPICS__PARTITIONS)" in result.stderr
