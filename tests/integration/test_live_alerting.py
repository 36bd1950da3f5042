"""Live: the local Prometheus scrapes a running `journey run`, evaluates the project's rules
(rendered from the test's settings: a 1-minute window, no waiting period), and a burst of rage
clicks sent through the real pipeline turns FrictionSpike pending/firing. The pipeline-health
board's queries run against the same Prometheus."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from journey.cli.dashboards.boards import PIPELINE_PANELS
from journey.cli.localstack.prometheus import LocalPrometheus
from journey.config import AlertSettings, Settings
from journey.publisher import TouchpointPublisher
from journey.topics import create_topics
from tests.conftest import free_port
from tests.integration.worker_helpers import advance_event_time, make_test_worker, wait_quiet, wait_until

pytestmark = pytest.mark.integration

BURSTS = 12


def rage_bursts(start: datetime) -> list[dict]:
    """BURSTS customers, each clicking a dead button five times within a second."""
    events = []
    for i in range(BURSTS):
        for click in range(5):
            events.append({"event_id": str(uuid.uuid4()), "occurred_at": (start + timedelta(milliseconds=200 * click)).isoformat(),
                           "customer_id": f"live-{i}", "channel": "web", "touchpoint": "ui.click",
                           "properties": {"element": "pay-button"}, "source": "web-app"})  # fmt: skip
    return events


def firing(prometheus: LocalPrometheus, kind: str) -> list[dict]:
    return [a for a in prometheus.alerts() if a["labels"].get("alertname") == "FrictionSpike"
            and a["labels"].get("kind") == kind and a["state"] in ("pending", "firing")]  # fmt: skip


def test_a_friction_spike_through_the_pipeline_turns_the_alert_on(settings: Settings, tmp_path: Path) -> None:
    settings = settings.model_copy(update={
        "alerts": AlertSettings(spike_window_minutes=1, for_minutes=0),
        "stack": settings.stack.model_copy(update={"prometheus_port": free_port(), "prometheus_data_dir": tmp_path / "prometheus"}),
    })  # fmt: skip
    create_topics(settings)
    worker = make_test_worker(settings, tmp_path, "run", JOURNEY_CLICKHOUSE__DSN=f"chdb://{tmp_path / 'clickhouse'}",
                              JOURNEY_WORKER__LAG_INTERVAL_S="1")  # fmt: skip
    worker.start()
    prometheus = LocalPrometheus(settings, {"journey-worker": [f"127.0.0.1:{worker.web_port}"]}, scrape_interval_s=1)
    prometheus.up()
    try:
        # The workers export every kind at 0 from start-up: once a window of that is recorded, the
        # baseline exists (0) and nothing fires on it.
        baseline = 'journey:friction_signals:per_minute:baseline{kind="rage_click"}'
        wait_until(
            lambda: prometheus.query(baseline) != [], 180, lambda: f"no baseline yet; alerts {prometheus.alerts()}"
        )
        assert firing(prometheus, "rage_click") == []

        now = datetime.now(UTC)
        with TouchpointPublisher(settings.publisher) as publisher:
            for event in rage_bursts(now):
                publisher.publish(event)
        # Detectors see a journey's events once event time has passed them by the grace period
        # (traffic moves it on; here the test clock does, after the bursts were read).
        wait_quiet(settings, stages_only=True)
        advance_event_time(settings, now + timedelta(minutes=settings.sessions.grace_minutes + 1))
        wait_until(lambda: firing(prometheus, "rage_click") != [], 60,
                   lambda: f"alerts {prometheus.alerts()}; rate {prometheus.query('journey:friction_signals:per_minute')}")  # fmt: skip
        [alert] = firing(prometheus, "rage_click")
        assert alert["labels"]["severity"] == "warning" and alert["labels"]["team"] == "cx"
        assert alert["annotations"]["dashboard"].endswith("/d/journey-friction?var-kind=rage_click")
        assert float(alert["value"]) > settings.alerts.spike_floor_per_minute["rage_click"]
        assert firing(prometheus, "abandonment") == []

        # The pipeline-health board against the same Prometheus: every query evaluates, and those
        # of series this process has (all but the sink's dead letters, none here) return data.
        for title, expr, _, _ in PIPELINE_PANELS:
            result = prometheus.query(expr.replace("$instance", ".*").replace("$__rate_interval", "1m"))
            assert result or "dead letters" in title, f"{title}: no data for {expr}"
    finally:
        prometheus.down()
        worker.stop()
