"""The pipeline on a broker that takes only SCRAM-SHA-512 over TLS (`journey stack up --secure`):
the SDK, `journey run`, `journey worker` and `journey sink` work with the right credentials and CA;
a wrong password or an untrusted CA stops each at once with a message naming the setting; the
password shows in no log, no `journey config show`, no /metrics."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import SecretStr

from journey.cli.localstack.kafka import LocalKafka
from journey.cli.localstack.tls import ensure_broker_tls
from journey.cli.samples import sample_journey
from journey.cli.worker_process import broker_env
from journey.config import Settings
from journey.kafka_access import KafkaAccessError
from journey.publisher import TouchpointPublisher
from journey.sdk_settings import KafkaSettings
from journey.topics import create_topics
from tests.conftest import broker_settings, local_stack_settings
from tests.integration.worker_helpers import engine_json, make_test_worker, wait_caught_up

pytestmark = pytest.mark.integration

START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
JOURNEY = [sample_journey(seed, START) for seed in range(6)]
FAIL_FAST_S = 30  # the access check's own limit is kafka.connect_timeout_s (10 s); a retry loop would never end
MISMATCH_TIMEOUT_S = 5  # kafka.connect_timeout_s of the protocol mismatch tests
COUNT = "import sys, orjson, clickhouse_connect\nc = clickhouse_connect.get_client(dsn=sys.argv[1])\n" \
        "print(orjson.dumps({'rows': c.query('SELECT uniqExact(event_id) FROM journey.touchpoints').result_rows[0][0]}).decode())"  # fmt: skip


@pytest.fixture(scope="module")
def secure_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalKafka]:
    stack = local_stack_settings(tmp_path_factory.mktemp("secure-kafka")).model_copy(update={"secure": True})
    broker = LocalKafka(stack)
    broker.up()
    yield broker
    broker.down()


@pytest.fixture
def secure(secure_broker: LocalKafka) -> Settings:
    plain = broker_settings(secure_broker)
    return plain.model_copy(update={"kafka": secure_broker.client_settings()})


def password(settings: Settings) -> str:
    return settings.kafka.sasl_password.get_secret_value()  # type: ignore[union-attr]


def journey(settings: Settings, command: str, *args: str, env: dict[str, str] | None = None,
            timeout: float = FAIL_FAST_S) -> subprocess.CompletedProcess:  # fmt: skip
    return subprocess.run([sys.executable, "-c", "from journey.cli.app import app; app()", command, *args],
                          env={**broker_env(settings), **(env or {})}, capture_output=True, text=True, timeout=timeout)  # fmt: skip


def test_sdk_run_worker_and_sink_over_scram_and_tls(secure: Settings, tmp_path: Path) -> None:
    create_topics(secure)
    dsn = f"chdb://{tmp_path / 'clickhouse'}"
    run = make_test_worker(secure, tmp_path / "run", "run", JOURNEY_CLICKHOUSE__DSN=dsn)
    run.start()
    try:
        with TouchpointPublisher(secure.publisher) as publisher:
            for event in [e for journey_events in JOURNEY[:3] for e in journey_events]:
                publisher.publish(event)
        wait_caught_up(secure, run, timeout_s=120)
        exposition = run.metrics_text()
    finally:
        assert run.stop() == 0, run.log_tail()

    worker = make_test_worker(secure, tmp_path / "worker")
    sink_log = (tmp_path / "sink.log").open("wb")
    sink = subprocess.Popen([sys.executable, "-c", "from journey.cli.app import app; app()", "sink"],
                            env={**broker_env(secure), "JOURNEY_CLICKHOUSE__DSN": dsn,
                                 "JOURNEY_WORKER__APP_ID": secure.worker.app_id},
                            stdout=sink_log, stderr=subprocess.STDOUT)  # fmt: skip
    worker.start()
    try:
        with TouchpointPublisher(secure.publisher) as publisher:
            for event in [e for journey_events in JOURNEY[3:] for e in journey_events]:
                publisher.publish(event)
        wait_caught_up(secure, worker, timeout_s=120)
    finally:
        assert worker.stop() == 0, worker.log_tail()
        sink.terminate()
        assert sink.wait(60) == 0, (tmp_path / "sink.log").read_text()[-3000:]

    assert engine_json(COUNT, dsn)["rows"] == sum(len(j) for j in JOURNEY)
    shown = journey(secure, "config", "show").stdout
    assert '"sasl_password": "**********"' in shown
    for name, text in (("run log", run.log_tail(10_000)), ("worker log", worker.log_tail(10_000)),
                       ("sink log", (tmp_path / "sink.log").read_text()), ("config show", shown),
                       ("/metrics", exposition)):  # fmt: skip
        assert password(secure) not in text, f"the password is in the {name}"


@pytest.mark.parametrize("command", ["worker", "sink", "topics"])
def test_a_wrong_password_stops_each_command_at_once_naming_the_setting(secure: Settings, command: str) -> None:
    wrong = "not-the-password-" + password(secure)[:4]
    args = ["create"] if command == "topics" else []
    started = time.monotonic()
    result = journey(secure, command, *args, env={"JOURNEY_KAFKA__SASL_PASSWORD": wrong})
    assert time.monotonic() - started < FAIL_FAST_S
    assert result.returncode == 2, result.stdout + result.stderr
    message = " ".join((result.stdout + result.stderr).split())
    assert "kafka.sasl_password (JOURNEY_KAFKA__SASL_PASSWORD)" in message
    assert wrong not in result.stdout + result.stderr and password(secure) not in result.stdout + result.stderr


def test_an_untrusted_ca_stops_the_run_at_once_naming_the_setting(secure: Settings, tmp_path: Path) -> None:
    other_ca = ensure_broker_tls(tmp_path / "other-ca", "127.0.0.1").ca_file
    result = journey(secure, "run", env={"JOURNEY_KAFKA__SSL_CA_LOCATION": str(other_ca),
                                          "JOURNEY_CLICKHOUSE__DSN": f"chdb://{tmp_path / 'ch'}"})  # fmt: skip
    assert result.returncode == 2, result.stdout + result.stderr
    message = " ".join((result.stdout + result.stderr).split())
    assert "not trusted by kafka.ssl_ca_location" in message and "(JOURNEY_KAFKA__SSL_CA_LOCATION)" in message


def test_the_sdk_raises_instead_of_retrying_a_refused_login(secure: Settings) -> None:
    wrong = secure.model_copy(
        update={"kafka": secure.kafka.model_copy(update={"sasl_password": SecretStr("nope-nope")})}
    )
    started = time.monotonic()
    with (
        pytest.raises(KafkaAccessError, match=r"kafka\.sasl_password") as raised,
        TouchpointPublisher(wrong.publisher) as publisher,
    ):
        publisher.publish(JOURNEY[0][0])
        publisher.flush(timeout_s=120)
    assert time.monotonic() - started < FAIL_FAST_S
    assert "nope-nope" not in str(raised.value)


def mismatched(secure: Settings, secure_broker: LocalKafka, client: str) -> Settings:
    """A plaintext client of the TLS listener, or a TLS client of a plaintext one (the controller's)."""
    if client == "plaintext":
        kafka = KafkaSettings(bootstrap_servers=secure.kafka.bootstrap_servers, connect_timeout_s=MISMATCH_TIMEOUT_S)
    else:
        controller = f"127.0.0.1:{secure_broker.settings.controller_port}"
        kafka = secure.kafka.model_copy(
            update={"bootstrap_servers": controller, "connect_timeout_s": MISMATCH_TIMEOUT_S}
        )
    return secure.model_copy(update={"kafka": kafka, "publisher": secure.publisher.model_copy(update={"kafka": kafka})})


@pytest.mark.parametrize("client", ["plaintext", "tls"])
def test_a_client_of_another_protocol_than_the_listener_stops_in_one_line_naming_it(
    secure: Settings, secure_broker: LocalKafka, client: str
) -> None:
    """Issue 29, finding 7: it hung for 30-40 s and printed hundreds of librdkafka lines."""
    settings = mismatched(secure, secure_broker, client)
    started = time.monotonic()
    result = journey(settings, "topics", "create", env={"JOURNEY_KAFKA__CONNECT_TIMEOUT_S": str(MISMATCH_TIMEOUT_S)})
    assert time.monotonic() - started < MISMATCH_TIMEOUT_S + 10  # the command's own start included
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "kafka.security_protocol" in " ".join(output.split())
    assert len(output) < 500 and "FAIL" not in output and "rdkafka" not in output, output  # one message, no more


@pytest.mark.parametrize("client", ["plaintext", "tls"])
def test_the_sdk_raises_naming_the_protocol_within_the_connect_timeout(
    secure: Settings, secure_broker: LocalKafka, capfd: pytest.CaptureFixture[str], client: str
) -> None:
    settings = mismatched(secure, secure_broker, client)
    started = time.monotonic()
    with (
        pytest.raises(KafkaAccessError, match=r"kafka\.security_protocol"),
        TouchpointPublisher(settings.publisher) as publisher,
    ):
        publisher.publish(JOURNEY[0][0])
        publisher.flush(timeout_s=60)
    assert time.monotonic() - started < MISMATCH_TIMEOUT_S + 1
    err = capfd.readouterr().err  # librdkafka's lines of it kept quiet
    assert "APIVERSION" not in err and "PLAINTEXT broker" not in err, err


def test_stack_up_secure_writes_the_client_settings(secure_broker: LocalKafka) -> None:
    env = secure_broker.client_env_file.read_text()
    assert "JOURNEY_KAFKA__SECURITY_PROTOCOL=SASL_SSL" in env and "JOURNEY_KAFKA__SASL_MECHANISM=SCRAM-SHA-512" in env
    for secret_file in (secure_broker.client_env_file, secure_broker.properties_file):
        assert oct(secret_file.stat().st_mode & 0o777) == "0o600", secret_file
    assert os.access(secure_broker.client_settings().ssl_ca_location, os.R_OK)  # type: ignore[arg-type]
