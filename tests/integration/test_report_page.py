"""report.html in a real browser: built from the shared queries over ClickHouse (sample journeys
through the pure stages into the real engine), opened from a file in headless Chromium. Every chart
is there, those with data drew their lines and bars, nothing went to the console or the network."""

from __future__ import annotations

from pathlib import Path

import pytest

from journey.reports.report_page import build_page
from tests.browser import render
from tests.integration.test_report import seeded

pytestmark = pytest.mark.integration


def test_report_html_renders_its_charts_offline_without_errors(clickhouse, tmp_path: Path) -> None:
    client, _ = clickhouse
    settings, _ = seeded(clickhouse)
    page = tmp_path / "report.html"
    page.write_text(build_page(client, settings))
    assert "<script" not in page.read_text() and "http://" not in page.read_text().replace(
        'xmlns="http://www.w3.org/2000/svg"', ""
    )

    rendered = render(page.as_uri(), tmp_path / "report.png")

    assert rendered.errors == [] and rendered.requests == []
    funnels = {f"funnel_{name}" for name in settings.friction.flows}
    emotion = {name for name in rendered.charts if name.startswith("emotion_")}  # the journey map's curves
    assert (
        emotion
        and emotion <= {"emotion_nps", "emotion_csat", "emotion_ces"}
        and all(rendered.charts[n] > 0 for n in emotion)
    )
    assert set(rendered.charts) - emotion == {"touchpoints_by_stage", "touchpoints_by_channel", "friction_by_kind",
                                              *funnels, "time_to_first_value", "top_friction_places", "cx_over_time",
                                              "stage_flow"}  # fmt: skip
    assert rendered.charts["stage_flow"] > 0
    assert 'class="journey-map"' in page.read_text()
    with_data = ["touchpoints_by_stage", "touchpoints_by_channel", "friction_by_kind", "funnel_signup",
                 "funnel_onboarding", "top_friction_places", "cx_over_time"]  # fmt: skip
    assert all(rendered.charts[name] > 0 for name in with_data), rendered.charts
    assert rendered.tables == [
        "sessions",
        "cx_scores",
        "friction_by_kind",
        "churn",
        "paths_into_friction",
        "paths_to_first_contact",
    ]
    assert (tmp_path / "report.png").stat().st_size > 50_000
