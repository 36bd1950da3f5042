"""docker-compose.yml cannot start here (no Docker engine): check its structure instead."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
LONG_RUNNING = [name for name, spec in SERVICES.items() if spec.get("restart") != "no"]
PINNED_TAG = re.compile(r"^[\w./-]+:v?\d+(\.\d+)+$")


def test_the_production_stack_has_every_part() -> None:
    expected = {"kafka", "clickhouse", "grafana", "prometheus", "alertmanager", "worker", "sink", "setup"}
    assert expected <= set(SERVICES)


@pytest.mark.parametrize("name", [n for n, s in SERVICES.items() if "image" in s])
def test_images_are_pinned_to_versions(name: str) -> None:
    image = SERVICES[name]["image"]
    assert PINNED_TAG.match(image), f"{name}: {image} is not pinned to a version"


@pytest.mark.parametrize("name", LONG_RUNNING)
def test_long_running_services_have_healthchecks(name: str) -> None:
    check = SERVICES[name].get("healthcheck", {})
    assert check.get("test"), f"{name} has no healthcheck"
    assert check.get("retries", 0) >= 3


def test_dependencies_wait_for_health_or_completion() -> None:
    for name, spec in SERVICES.items():
        for dependency, condition in spec.get("depends_on", {}).items():
            assert dependency in SERVICES, f"{name} depends on unknown {dependency}"
            wanted = (
                "service_completed_successfully" if SERVICES[dependency].get("restart") == "no" else "service_healthy"
            )
            assert condition == {"condition": wanted}, f"{name} -> {dependency}"
    assert SERVICES["setup"]["depends_on"].keys() == {"kafka", "clickhouse"}


def test_pipeline_processes_point_at_the_stack_services() -> None:
    for name in ("setup", "worker", "sink"):
        env = SERVICES[name]["environment"]
        assert env["JOURNEY_KAFKA__BOOTSTRAP_SERVERS"] == "kafka:9092"
        assert env["JOURNEY_CLICKHOUSE__DSN"].startswith("http://") and env["JOURNEY_CLICKHOUSE__DSN"].endswith(
            "clickhouse:8123"
        )
        assert SERVICES[name]["build"] == "."
    assert (REPO_ROOT / "Dockerfile").is_file()


def test_only_setup_holds_the_clickhouse_admin_and_grafana_reads_as_the_reader() -> None:
    assert "@clickhouse" in SERVICES["setup"]["environment"]["JOURNEY_CLICKHOUSE__DSN"]  # the admin user, for DDL
    assert "journey migrate" in " ".join(SERVICES["setup"]["command"])
    for name in ("worker", "sink"):
        env = SERVICES[name]["environment"]
        assert "@" not in env["JOURNEY_CLICKHOUSE__DSN"], f"{name} must not hold the admin user"
        assert env["JOURNEY_CLICKHOUSE__WRITER_USER"] == "journey_writer"
    assert (
        SERVICES["grafana"]["environment"]["CLICKHOUSE_USER"]
        == SERVICES["sink"]["environment"]["JOURNEY_CLICKHOUSE__READER_USER"]
    )
    assert SERVICES["grafana"]["depends_on"]["setup"] == {"condition": "service_completed_successfully"}


def test_mounted_config_files_exist_and_parse() -> None:
    for name, spec in SERVICES.items():
        for volume in spec.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (REPO_ROOT / source).exists(), f"{name} mounts missing {source}"
    prometheus = yaml.safe_load((REPO_ROOT / "deploy/prometheus/prometheus.yml").read_text())
    assert {job["job_name"] for job in prometheus["scrape_configs"]} == {"journey-worker", "journey-sink"}
    datasources = yaml.safe_load((REPO_ROOT / "grafana/provisioning/datasources/datasources.yaml").read_text())
    assert {d["uid"] for d in datasources["datasources"]} == {"journey-clickhouse", "journey-prometheus"}
