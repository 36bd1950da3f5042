"""Friction on the real broker: scripted journeys through `journey worker` produce exactly the
expected signals on journey.friction, with evidence, scores on sessions, and metrics."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from journey.cli.worker_process import WorkerProcess
from journey.config import Settings
from journey.publisher import TouchpointPublisher
from journey.topics import JOURNEY_FRICTION, JOURNEY_SESSIONS, JOURNEY_TOUCHPOINTS
from tests.integration.test_stream_stages import records
from tests.integration.worker_helpers import advance_event_time

pytestmark = pytest.mark.integration

START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
NAMESPACE = uuid.UUID("0e5b2f7e-8c1a-4f3b-9d6e-2a7c4b1f9e30")


def scripted_friction(customer: str) -> list[dict]:
    """Abandoned checkout at payment, rage clicks on it, an error loop, three failed searches
    then a ticket, a detractor NPS, two more contacts over two days, onboarding never activated."""

    def event(minutes: float, touchpoint: str, n: str, channel: str = "web", **extra: object) -> dict:
        return {"event_id": str(uuid.uuid5(NAMESPACE, f"{customer}/{n}")), "customer_id": customer,
                "occurred_at": (START + timedelta(minutes=minutes)).isoformat(), "channel": channel,
                "touchpoint": touchpoint, "source": "test", **extra}  # fmt: skip

    return [
        event(0, "checkout.started", "k1", flow="checkout", step="cart"),
        event(1, "checkout.step_viewed", "k2", flow="checkout", step="payment"),
        *[event(2 + i / 600, "ui.click", f"r{i}", properties={"element": "pay"}) for i in range(4)],
        *[event(3 + i, "checkout.error", f"x{i}", flow="checkout", step="payment") for i in range(3)],
        *[event(7 + i, "help.searched", f"h{i}") for i in range(3)],
        event(12, "support.ticket_opened", "t1", channel="support"),
        event(13, "survey.nps", "n1", channel="survey", score=2),
        event(60 * 24, "support.chat_started", "t2", channel="chat"),
        event(60 * 48, "onboarding.started", "o1", channel="in_app"),
        event(60 * 49, "support.call_received", "t3", channel="phone"),
    ]


EXPECTED = Counter({("rage_click", "warning"): 1, ("error_loop", "warning"): 1, ("self_service_failure", "warning"): 1,
                    ("negative_feedback", "critical"): 1, ("abandonment", "warning"): 2, ("repeat_contact", "warning"): 1,
                    ("stalled_onboarding", "warning"): 1})  # fmt: skip


def test_scripted_journeys_produce_exactly_the_expected_signals(settings: Settings, worker: WorkerProcess) -> None:
    customers = ["fr-1", "fr-2"]
    events = [e for c in customers for e in scripted_friction(c)]
    with TouchpointPublisher(settings.publisher) as publisher:
        for event in events:
            publisher.publish(event)
    records(settings, JOURNEY_TOUCHPOINTS, len(events))
    advance_event_time(settings, START + timedelta(days=10))  # past every timer (onboarding 3 d, stall 7 d)

    expected_total = sum(EXPECTED.values()) * len(customers)
    signals = records(settings, JOURNEY_FRICTION, expected_total, where=lambda r: r["journey_key"] in customers)
    assert len(signals) == expected_total
    assert len({s["signal_id"] for s in signals}) == expected_total
    for customer in customers:
        mine = [s for s in signals if s["journey_key"] == customer]
        assert Counter((s["kind"], s["severity"]) for s in mine) == EXPECTED
        by_kind = {s["kind"]: s for s in mine}
        assert by_kind["rage_click"]["details"]["element"] == "pay" and by_kind["rage_click"]["count"] == 4
        assert by_kind["negative_feedback"]["details"]["score"] == 2
        assert by_kind["negative_feedback"]["details"]["session_path"][-2:] == [
            "help.searched",
            "support.ticket_opened",
        ]
        assert by_kind["self_service_failure"]["details"]["contact"]["channel"] == "support"
        assert by_kind["repeat_contact"]["details"]["channels"] == ["chat", "phone", "support"]
        flows = sorted((s["flow"], s["step"], s["details"]["reason"]) for s in mine if s["kind"] == "abandonment")
        assert flows == [("checkout", "payment", "session_ended"), ("onboarding", None, "timeout")]

    sessions = records(settings, JOURNEY_SESSIONS, 2 * len(customers), where=lambda r: r["journey_key"] in customers)
    first_sessions = {s["journey_key"]: s for s in sorted(sessions, key=lambda s: s["started_at"], reverse=True)}
    # abandonment 3 + rage click 2 + error loop 2 + self-service failure 3 + negative feedback 5
    assert {c: s["friction_score"] for c, s in first_sessions.items()} == {c: 15.0 for c in customers}

    assert worker.counter("journey_friction_signals_total", kind="rage_click", severity="warning") == len(customers)
    assert worker.counter("journey_abandonments_total", flow="checkout", step="payment") == len(customers)
