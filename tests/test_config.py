"""One typed configuration: defaults, TOML, environment, and errors that name the setting."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from journey.config import ConfigError, load_settings
from journey.schemas.stages import Stage


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no journey.toml from the developer's checkout
    for name in list(__import__("os").environ):
        if name.startswith("JOURNEY_"):
            monkeypatch.delenv(name)


def test_defaults_are_the_embedded_local_setup() -> None:
    settings = load_settings()
    assert settings.kafka.bootstrap_servers == "127.0.0.1:9092"
    assert settings.clickhouse.dsn == "chdb://.journey/clickhouse"
    assert settings.topics.partitions == 6
    assert settings.topics.name("touchpoints") == "touchpoints"


def test_toml_file_then_environment_override(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "journey.toml").write_text(
        '[kafka]\nbootstrap_servers = "k1:9092,k2:9092"\n[topics]\nprefix = "prod."\npartitions = 12\n'
    )
    monkeypatch.setenv("JOURNEY_TOPICS__PARTITIONS", "24")
    settings = load_settings()
    assert settings.kafka.bootstrap_servers == "k1:9092,k2:9092"
    assert settings.topics.name("journey.sessions") == "prod.journey.sessions"
    assert settings.topics.partitions == 24


def test_config_file_named_by_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "elsewhere.toml"
    path.write_text('[clickhouse]\ndsn = "http://clickhouse:8123"\n')
    monkeypatch.setenv("JOURNEY_CONFIG", str(path))
    assert load_settings().clickhouse.dsn == "http://clickhouse:8123"


def test_missing_config_file_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOURNEY_CONFIG", "/nowhere/journey.toml")
    with pytest.raises(ConfigError, match=re.escape("JOURNEY_CONFIG names '/nowhere/journey.toml'")):
        load_settings()


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        ("JOURNEY_TOPICS__PARTITIONS", "0", "topics.partitions (JOURNEY_TOPICS__PARTITIONS)"),
        ("JOURNEY_KAFKA__BOOTSTRAP_SERVERS", "no-port", "kafka.bootstrap_servers (JOURNEY_KAFKA__BOOTSTRAP_SERVERS)"),
        ("JOURNEY_CLICKHOUSE__DSN", "mysql://x", "clickhouse.dsn (JOURNEY_CLICKHOUSE__DSN)"),
        ("JOURNEY_KAFKA__SECURITY_PROTOCOL", "SASL_SSL", "kafka (JOURNEY_KAFKA)"),
        ("JOURNEY_STAGES__TOUCHPOINTS", '{"web.visit": "nirvana"}', "stages.touchpoints.web.visit"),
    ],
)
def test_wrong_setting_fails_naming_it(monkeypatch: pytest.MonkeyPatch, variable: str, value: str, named: str) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as raised:
        load_settings()
    assert named in str(raised.value)


def test_unknown_setting_in_toml_is_named(tmp_path: Path) -> None:
    (tmp_path / "journey.toml").write_text("[kafka]\nbootstrap_server = 'typo:9092'\n")
    with pytest.raises(ConfigError, match=r"kafka\.bootstrap_server .*unknown setting"):
        load_settings()


def test_sasl_ssl_settings_reach_librdkafka(tmp_path: Path) -> None:
    (tmp_path / "journey.toml").write_text(
        "[kafka]\nsecurity_protocol = 'SASL_SSL'\nsasl_mechanism = 'SCRAM-SHA-512'\n"
        "sasl_username = 'journey'\nsasl_password = 's3cret'\nssl_ca_location = '/etc/ca.pem'\n"
        "librdkafka_overrides = { 'socket.keepalive.enable' = true }\n"
    )
    settings = load_settings()
    config = settings.kafka.confluent_config()
    assert config["security.protocol"] == "SASL_SSL"
    assert config["sasl.mechanism"] == "SCRAM-SHA-512"
    assert config["sasl.password"] == "s3cret"
    assert config["ssl.ca.location"] == "/etc/ca.pem"
    assert config["socket.keepalive.enable"] is True
    assert "s3cret" not in settings.model_dump_json()  # `journey config show` masks secrets


def test_secrets_of_every_section_are_masked_in_config_show(tmp_path: Path) -> None:
    (tmp_path / "journey.toml").write_text(
        "[clickhouse]\ndsn = 'http://writer:ch-s3cret@clickhouse:8123'\n"
        "[privacy]\nhash_properties = ['email']\ncurrent_key = 'k1'\nhmac_keys = { k1 = 'hmac-s3cret-0123456789' }\n"
    )
    settings = load_settings()
    shown = settings.model_dump_json()
    assert "ch-s3cret" not in shown and "hmac-s3cret" not in shown
    assert "http://writer:**********@clickhouse:8123" in shown
    assert settings.clickhouse.dsn == "http://writer:ch-s3cret@clickhouse:8123"  # what the client gets


def test_stage_catalog_overrides_merge_with_defaults(tmp_path: Path) -> None:
    (tmp_path / "journey.toml").write_text(
        "[stages.touchpoints]\n'web.pricing_viewed' = 'decision'\n'quote.sent' = 'decision'\n"
    )
    catalog = load_settings().stages.catalog()
    assert catalog.stage_of("web.pricing_viewed") is Stage.DECISION
    assert catalog.stage_of("quote.sent") is Stage.DECISION
    assert catalog.stage_of("ad.click") is Stage.AWARENESS  # built-in entries stay


def test_the_sdk_settings_name_every_wrong_variable_as_the_pipeline_does() -> None:
    from journey.sdk_settings import PublisherSettings

    env = {"JOURNEY_KAFKA__BOOTSTRAP_SERVERS": "nohost", "JOURNEY_CONTRACT__MAX_AGE_DAYS": "-1",
           "JOURNEY_TOPICS__PREFIX": "acme.", "JOURNEY_WORKER__APP_ID": "not the SDK's"}  # fmt: skip
    with pytest.raises(ConfigError) as raised:
        PublisherSettings.from_env(env)
    assert "kafka.bootstrap_servers (JOURNEY_KAFKA__BOOTSTRAP_SERVERS): 'nohost' is not host:port" in str(raised.value)
    assert "contract.max_age_days (JOURNEY_CONTRACT__MAX_AGE_DAYS)" in str(raised.value)
    settings = PublisherSettings.from_env({"JOURNEY_TOPICS__PREFIX": "acme.", "JOURNEY_CONTRACT__MAX_AGE_DAYS": "30"})
    assert (settings.topic, settings.contract.max_age_days) == ("acme.touchpoints", 30)
