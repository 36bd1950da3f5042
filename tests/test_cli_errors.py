"""Every bad input an operator met (issue 26) through the real `journey` entry point: one line
naming the setting or file, the documented exit code (README, "Exit codes"), never a traceback.
The cases that need no broker or engine; tests/integration/test_cli_errors.py has the others."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from journey.cli.samples import sample_journey
from journey.cli.times import utc_time
from journey.config import Settings, TopicSettings
from journey.topics import JOURNEY_STATE_TABLE, changelog_topic

JOURNEY = Path(sys.executable).with_name("journey")
DOCUMENTED = {0, 1, 2}
UNREACHABLE = {"JOURNEY_KAFKA__BOOTSTRAP_SERVERS": "127.0.0.1:1", "JOURNEY_KAFKA__CONNECT_TIMEOUT_S": "1"}


def journey(cwd: Path, *args: str, stdin: bytes | None = None, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("JOURNEY_")}
    result = subprocess.run([str(JOURNEY), *args], cwd=cwd, env={**clean, **env}, input=stdin,
                            capture_output=True, timeout=120)  # fmt: skip
    assert b"Traceback" not in result.stderr, result.stderr.decode()
    assert b"|FAIL|" not in result.stderr, "librdkafka's log lines are quiet by default"
    assert result.returncode in DOCUMENTED, (result.returncode, result.stderr.decode())
    return result


def error_line(result: subprocess.CompletedProcess) -> str:
    """The one line the boundary printed."""
    lines = [line for line in result.stderr.decode().splitlines() if line.startswith(("journey: ", "Error: "))]
    assert len(lines) == 1, result.stderr.decode()
    return lines[0]


def events(count: int = 3) -> list[dict]:
    return sample_journey(seed=5, start=datetime.now(UTC) - timedelta(days=2))[:count]


@pytest.mark.parametrize(
    "args",
    [
        ("topics", "create"),
        ("dlq", "inspect"),
        ("erase", "cust-000001", "--no-wait"),
        ("worker",),
        ("sink",),
        ("dlq", "replay", "--dry-run"),
    ],
    ids=" ".join,
)
def test_unreachable_broker_is_named(tmp_path: Path, args: tuple[str, ...]) -> None:
    result = journey(tmp_path, *args, **UNREACHABLE)
    assert result.returncode == 2
    line = error_line(result)
    assert "127.0.0.1:1 is unreachable" in line and "JOURNEY_KAFKA__BOOTSTRAP_SERVERS" in line


def test_clickhouse_server_down(tmp_path: Path) -> None:
    result = journey(tmp_path, "migrate", JOURNEY_CLICKHOUSE__DSN="http://admin:pw@127.0.0.1:1")
    assert result.returncode == 2
    line = error_line(result)
    assert "clickhouse.dsn" in line and "Connection refused" in line and "pw@" not in line


@pytest.mark.parametrize(
    ("toml", "named"),
    [
        ("[topics\nprefix = 'a.'\n", "line 1"),
        ("[topics]\nprefix = 'a.'\nprefix = 'b.'\n", "line 3"),
        ("[topic]\nprefix = 'a.'\n", "topic (JOURNEY_TOPIC): unknown setting"),
    ],
    ids=["missing bracket", "duplicate key", "unknown section"],
)
def test_broken_config_file(tmp_path: Path, toml: str, named: str) -> None:
    (tmp_path / "journey.toml").write_text(toml)
    result = journey(tmp_path, "config", "show")
    assert result.returncode == 2 and result.stdout == b""
    assert named in error_line(result)


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        ("JOURNEY_PRIVACY__HMAC_KEYS", '{"k1": ', "JOURNEY_PRIVACY__HMAC_KEYS (privacy.hmac_keys): not valid JSON"),
        ("JOURNEY_KAFKA_BOOTSTRAP_SERVERS", "b:9092", "did you mean JOURNEY_KAFKA__BOOTSTRAP_SERVERS?"),
        ("JOURNEY_TOPIC__PREFIX", "p.", "did you mean JOURNEY_TOPICS__PREFIX?"),
        ("JOURNEY_TOPICS__PARTITIONS", "0", "topics.partitions (JOURNEY_TOPICS__PARTITIONS)"),
    ],
)
def test_wrong_environment(tmp_path: Path, variable: str, value: str, named: str) -> None:
    result = journey(tmp_path, "config", "show", **{variable: value})
    assert result.returncode == 2
    assert named in error_line(result)


def test_settings_below_a_dict_are_not_unknown(tmp_path: Path) -> None:
    result = journey(tmp_path, "config", "show", JOURNEY_FRICTION__WEIGHTS__ABANDONMENT="2")
    assert result.returncode == 0, result.stderr
    assert orjson.loads(result.stdout)["friction"]["weights"]["abandonment"] == 2


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (("report", "--html", "/nonexistent/r.html"), "/nonexistent/r.html"),
        (("map", "--segment", "nobody"), "unknown segment 'nobody'"),
        (("map", "--since", "2026-12-02", "--until", "2026-12-01"), "is not before --until"),
        (("report", "--since", "2026-12-01T10:00+01:00", "--until", "2026-12-01T09:00Z"), "is not before --until"),
        (("map", "--since", "yesterday"), "not an ISO-8601 time"),
        (("customer", "nobody"), "no ClickHouse data at"),
        (("publish", "missing.jsonl"), "missing.jsonl: No such file"),
        (("no-such-command",), "No such command"),
    ],
    ids=lambda a: " ".join(a) if isinstance(a, tuple) else "",
)
def test_usage_and_file_errors(tmp_path: Path, args: tuple[str, ...], named: str) -> None:
    result = journey(tmp_path, *args)
    assert result.returncode == 2
    assert named in error_line(result)
    assert not (tmp_path / ".journey").exists(), "a reader creates no engine folder"


def test_publish_validates_everything_offline_first(tmp_path: Path) -> None:
    """Broker down: every bad line is still reported and written (a far-future occurred_at too,
    which used to raise a traceback and skip the rest), then the broker is named; --dry-run and
    stdin need no broker at all."""
    good = events()
    future = good[0] | {"event_id": "7d1f0e1a-0000-4000-8000-000000000001",
                        "occurred_at": (datetime.now(UTC) + timedelta(days=30)).isoformat()}  # fmt: skip
    lines = [orjson.dumps(good[0]), orjson.dumps(future), b"not json", orjson.dumps(good[1]), b"{}"]
    source = tmp_path / "events.jsonl"
    source.write_bytes(b"\n".join(lines) + b"\n")
    rejects = tmp_path / "rejects.jsonl"

    result = journey(tmp_path, "publish", str(source), "--rejects", str(rejects), **UNREACHABLE)
    assert result.returncode == 2
    assert "is unreachable" in error_line(result)
    written = [orjson.loads(line) for line in rejects.read_bytes().splitlines()]
    assert [(r["line"], r["reason"]) for r in written] == [(2, "time_out_of_range"), (3, "not_json"), (5, "schema")]

    dry = journey(tmp_path, "publish", "-", "--dry-run", stdin=source.read_bytes(), **UNREACHABLE)
    assert dry.returncode == 1
    stderr = dry.stderr.decode()
    assert "<stdin>:2: time_out_of_range: occurred_at:" in stderr and "<stdin>:5: schema" in stderr
    assert "2 valid (dry run: nothing sent), 3 invalid" in stderr

    clean = journey(tmp_path, "publish", "-", "--dry-run", stdin=orjson.dumps(good[0]) + b"\n")
    assert clean.returncode == 0


def test_version_help_and_debug(tmp_path: Path) -> None:
    assert journey(tmp_path, "--version").stdout.startswith(b"journey ")
    assert b"Exit codes" in journey(tmp_path, "-h").stdout
    assert b"--dry-run" in journey(tmp_path, "publish", "-h").stdout
    debug = subprocess.run([str(JOURNEY), "--debug", "topics", "create"], cwd=tmp_path, capture_output=True,
                           env={**os.environ, **UNREACHABLE}, timeout=60)  # fmt: skip
    assert b"Traceback" in debug.stderr and b"BrokerUnreachable" in debug.stderr


def test_config_option_and_paths_against_its_folder(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "settings.toml").write_text('[stack]\ndata_dir = "kafka-data"\n')
    result = journey(tmp_path, "--config", "project/settings.toml", "config", "show")
    shown = orjson.loads(result.stdout)
    assert shown["stack"]["data_dir"] == str(project / "kafka-data")
    assert shown["worker"]["data_dir"] == str(project / ".journey" / "worker")
    assert shown["clickhouse"]["dsn"] == f"chdb://{project / '.journey' / 'clickhouse'}"


def test_config_show_masks_every_secret(tmp_path: Path) -> None:
    secrets = [f"Secret{n}-value" for n in range(10)]
    overrides = {"ssl.keystore.password": secrets[0], "sasl.oauthbearer.client.secret": secrets[1],
                 "ssl.key.pem": secrets[2], "sasl.oauthbearer.config": f"clientSecret={secrets[3]}"}  # fmt: skip
    env = {
        "JOURNEY_KAFKA__SECURITY_PROTOCOL": "SASL_SSL",
        "JOURNEY_KAFKA__SASL_MECHANISM": "SCRAM-SHA-512",
        "JOURNEY_KAFKA__SASL_USERNAME": "journey",
        "JOURNEY_KAFKA__SASL_PASSWORD": secrets[4],
        "JOURNEY_KAFKA__SSL_KEY_PASSWORD": secrets[5],
        "JOURNEY_KAFKA__LIBRDKAFKA_OVERRIDES": orjson.dumps(overrides).decode(),
        "JOURNEY_CLICKHOUSE__DSN": f"https://admin:p@ss{secrets[6]}@ch.example:8443/?password={secrets[7]}&x=1",
        "JOURNEY_CLICKHOUSE__WRITER_USER": "w",
        "JOURNEY_CLICKHOUSE__WRITER_PASSWORD": secrets[8],
        "JOURNEY_CLICKHOUSE__READER_USER": "r",
        "JOURNEY_CLICKHOUSE__READER_PASSWORD": secrets[9],
        "JOURNEY_PRIVACY__HMAC_KEYS": orjson.dumps({"k1": "hmac-Secret-0123456789"}).decode(),
        "JOURNEY_ALERTS__GRAFANA_URL": "http://admin:grafana-Secret@grafana:3000",
    }
    result = journey(tmp_path, "config", "show", **env)
    assert result.returncode == 0, result.stderr
    out = result.stdout.decode()
    for secret in [*secrets, "hmac-Secret", "grafana-Secret", "p@ss"]:
        assert secret not in out.replace("**********", ""), secret
    assert '"ssl.keystore.location"' not in out  # (not given) and the masks are there:
    assert out.count("**********") >= 12


def test_times_with_offsets_are_converted_to_utc() -> None:
    assert utc_time("2026-12-01T10:00+01:00") == datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    assert utc_time("2026-12-01T10:00Z") == utc_time("2026-12-01 10:00") == datetime(2026, 12, 1, 10, tzinfo=UTC)


def test_prefix_reaches_the_changelogs() -> None:
    prefixed = Settings(topics=TopicSettings(prefix="prod."))
    assert changelog_topic(prefixed, JOURNEY_STATE_TABLE) == "prod.journey-telemetry-journey-state-changelog"
    kept = Settings(topics=TopicSettings(prefix="prod.", changelog_prefix=""))
    assert changelog_topic(kept, JOURNEY_STATE_TABLE) == "journey-telemetry-journey-state-changelog"
