"""`journey report` sections: the shared SQL (schemas/queries.py) on the real engine, over what the
pure stages emit for sample journeys, against values computed here from those same outputs."""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from journey.cli.samples import sample_journey
from journey.config import Settings
from journey.reports.report import build_report
from journey.schemas.touchpoint import Touchpoint
from journey.sinks.migrations import migrate
from journey.sinks.rows import TABLES, to_columns
from journey.streams.in_memory import InMemoryPipeline
from journey.streams.journey import EnrichedTouchpoint, FrictionSignal, JourneyStageTransition, SessionRecord
from tests.integration.test_clickhouse_rows import ENCODERS
from tests.unit.builders import rules

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
JOURNEYS = 7


def seeded(clickhouse) -> tuple[Settings, list]:
    client, ch = clickhouse
    migrate(client, ch)
    events = [Touchpoint.model_validate(e) for seed in range(JOURNEYS) for e in sample_journey(seed, T0)]
    far_future = int((T0 + timedelta(days=30)).timestamp() * 1000)
    outputs = InMemoryPipeline(rules()).run(events, tick_ms=far_future)
    by_topic: dict[str, list] = {topic: [] for topic in TABLES}
    for offset, output in enumerate(outputs):
        if type(output) in ENCODERS:
            topic, encode = ENCODERS[type(output)]
            by_topic[topic].append((orjson.loads(encode(output)), 0, offset))
    for topic, records in by_topic.items():
        if records:
            spec = TABLES[topic]
            client.insert(f"{ch.database}.{spec.table}", to_columns(spec, records), column_names=spec.column_names,
                          column_oriented=True)  # fmt: skip
    return Settings(clickhouse=ch), outputs


def rows(report, name: str) -> list[dict]:
    return report.section(name).records()


def test_every_section_answers_with_what_the_stages_emitted(clickhouse) -> None:
    client, _ = clickhouse
    settings, outputs = seeded(clickhouse)
    report = build_report(client, settings)

    touchpoints = [o for o in outputs if isinstance(o, EnrichedTouchpoint)]
    by_channel = Counter(o.event.channel for o in touchpoints)
    assert {r["channel"]: r["touchpoints"] for r in rows(report, "volume_by_channel")} == dict(by_channel)
    by_stage = Counter(o.stage or "(none)" for o in touchpoints)
    assert {r["stage"]: r["touchpoints"] for r in rows(report, "volume_by_stage")} == dict(by_stage)

    sessions = [o.session for o in outputs if isinstance(o, SessionRecord)]
    [summary] = rows(report, "sessions")
    assert summary["sessions"] == len({s.session_id for s in sessions})
    assert summary["customers"] == JOURNEYS

    signals = [o.signal for o in outputs if isinstance(o, FrictionSignal)]
    assert {r["kind"]: r["total"] for r in rows(report, "friction_by_kind")} == dict(Counter(s.kind for s in signals))
    places = rows(report, "top_friction_places")
    assert sum(r["signals"] for r in places) == len(signals) and len(places) <= 10

    [csat] = [r for r in rows(report, "cx_scores") if r["kind"] == "csat"]
    answers = [o.event.score for o in touchpoints if o.event.touchpoint == "survey.csat"]
    assert csat["answers"] == len(answers) == JOURNEYS
    assert csat["value"] == round(100 * sum(a >= 4 for a in answers) / len(answers), 1)

    transitions = [o for o in outputs if isinstance(o, JourneyStageTransition)]
    assert sum(r["transitions"] for r in rows(report, "stage_transitions")) == len(transitions)
    onboarding = rows(report, "funnel_onboarding")
    assert [r["step"] for r in onboarding][:2] == ["started", "welcome"]
    started = len({o.journey_key for o in touchpoints if o.event.touchpoint == "onboarding.started"})
    assert onboarding[0]["journeys"] == started == JOURNEYS
    assert all(a["journeys"] >= b["journeys"] for a, b in itertools.pairwise(onboarding))  # a funnel narrows
    [churn] = rows(report, "churn")
    # every journey became a customer (onboarding) in the window, none churned
    assert (churn["customers_at_start"], churn["new_customers"], churn["churned"], churn["churn_rate_pct"]) == (
        0,
        JOURNEYS,
        0,
        0.0,
    )


def test_a_window_without_data_reports_zeros_not_errors(clickhouse) -> None:
    client, _ = clickhouse
    settings, _ = seeded(clickhouse)
    report = build_report(client, settings, T0 - timedelta(days=10), T0 - timedelta(days=9))
    assert rows(report, "volume_by_channel") == []
    assert rows(report, "sessions")[0]["sessions"] == 0
    assert rows(report, "funnel_signup") == []
