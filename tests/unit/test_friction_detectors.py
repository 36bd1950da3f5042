"""Each friction detector alone: positive, negative, exactly at thresholds, window edges."""

from __future__ import annotations

import pytest

from journey.config import ConfigError, FrictionSettings, JourneySettings, load_settings
from journey.streams.friction import (
    abandonment,
    at_risk,
    error_loop,
    negative_feedback,
    rage_click,
    repeat_contact,
    self_service,
    stalled_onboarding,
)
from journey.streams.friction.signal import Observation
from journey.streams.timeutil import DAY_MS, MINUTE_MS, SECOND_MS

CONFIG = FrictionSettings()
JOURNEYS = JourneySettings()


def ob(ms: int, touchpoint: str, n: str, session: str = "s1", **extra: object) -> Observation:
    channel = extra.pop("channel", "web")
    return Observation(ms, n, touchpoint, channel, session, **extra)  # type: ignore[arg-type]


# -- abandonment -----------------------------------------------------------------------------
def test_checkout_not_completed_is_abandoned_exactly_at_its_timeout() -> None:
    state = abandonment.AbandonmentState()
    abandonment.on_event(state, ob(0, "checkout.started", "e1", flow="checkout", step="cart"), CONFIG)
    abandonment.on_event(state, ob(MINUTE_MS, "checkout.step_viewed", "e2", flow="checkout", step="shipping"), CONFIG)
    timeout = 60 * MINUTE_MS
    assert abandonment.next_deadline(state, CONFIG) == timeout
    assert abandonment.on_time(state, timeout - 1, CONFIG) == []
    [signal] = abandonment.on_time(state, timeout, CONFIG)
    assert (signal.kind, signal.severity, signal.flow, signal.step) == (
        "abandonment",
        "warning",
        "checkout",
        "shipping",
    )
    assert signal.details["steps_done"] == ["cart", "shipping"] and signal.details["reason"] == "timeout"
    assert signal.details["time_in_flow_ms"] == MINUTE_MS
    assert abandonment.on_time(state, 2 * timeout, CONFIG) == []  # once


def test_completed_flow_is_not_abandoned_and_late_completion_is_a_recovery() -> None:
    state = abandonment.AbandonmentState()
    abandonment.on_event(state, ob(0, "signup.started", "e1"), CONFIG)
    assert abandonment.on_event(state, ob(MINUTE_MS, "signup.completed", "e2"), CONFIG) == []
    assert abandonment.on_time(state, DAY_MS, CONFIG) == []

    abandonment.on_event(state, ob(DAY_MS, "signup.started", "e3"), CONFIG)
    [abandoned] = abandonment.on_time(state, DAY_MS + 30 * MINUTE_MS, CONFIG)
    [recovered] = abandonment.on_event(state, ob(DAY_MS + 40 * MINUTE_MS, "signup.completed", "e4"), CONFIG)
    assert recovered.key == abandoned.key and recovered.version == 2 and recovered.severity == "info"
    assert recovered.details["recovered"] is True and recovered.details["recovered_after_ms"] == 10 * MINUTE_MS


def test_session_bound_flow_ends_with_its_session_and_last_step_is_critical() -> None:
    state = abandonment.AbandonmentState()
    abandonment.on_event(state, ob(0, "checkout.started", "e1", flow="checkout", step="cart"), CONFIG)
    abandonment.on_event(state, ob(SECOND_MS, "checkout.step_viewed", "e2", flow="checkout", step="review"), CONFIG)
    assert abandonment.on_session_closed(state, "other-session", SECOND_MS, CONFIG) == []
    [signal] = abandonment.on_session_closed(state, "s1", SECOND_MS, CONFIG)
    assert signal.severity == "critical" and signal.details["reason"] == "session_ended"


def test_onboarding_survives_its_session() -> None:
    state = abandonment.AbandonmentState()
    abandonment.on_event(state, ob(0, "onboarding.started", "e1"), CONFIG)
    assert abandonment.on_session_closed(state, "s1", MINUTE_MS, CONFIG) == []
    assert [s.flow for s in abandonment.on_time(state, 3 * DAY_MS, CONFIG)] == ["onboarding"]


# -- repeat contacts ---------------------------------------------------------------------------
def contact(state, day: float, n: str, channel: str = "support", topic: str | None = None):
    props = {"topic": topic} if topic else {}
    return repeat_contact.on_event(
        state, ob(int(day * DAY_MS), "support.ticket_opened", n, channel=channel, properties=props), CONFIG
    )


def test_third_contact_in_a_week_signals_once_and_fifth_escalates() -> None:
    state = repeat_contact.RepeatContactState()
    assert contact(state, 0, "c1") == [] and contact(state, 1, "c2", "chat") == []
    [warning] = contact(state, 2, "c3", "phone")
    assert (warning.severity, warning.count) == ("warning", 3)
    assert warning.details["channels"] == ["chat", "phone", "support"]
    assert contact(state, 3, "c4") == []
    [critical] = contact(state, 4, "c5")
    assert (critical.severity, critical.count) == ("critical", 5) and critical.key != warning.key


def test_contacts_exactly_a_window_apart_do_not_count_together() -> None:
    state = repeat_contact.RepeatContactState()
    contact(state, 0, "c1")
    contact(state, 3, "c2")
    assert contact(state, 7, "c3") == []  # c1 left the window at day 7
    assert [s.count for s in contact(state, 8, "c4")] == [3]


def test_same_topic_raises_severity() -> None:
    state = repeat_contact.RepeatContactState()
    contact(state, 0, "c1", topic="billing")
    contact(state, 1, "c2", topic="billing")
    [signal] = contact(state, 2, "c3", topic="login")
    assert signal.severity == "critical" and signal.details["same_topic"] is True


# -- rage clicks ---------------------------------------------------------------------------------
def click(state, ms: int, n: str, element: str = "pay-button"):
    return rage_click.on_event(state, ob(ms, "ui.click", n, properties={"element": element}), CONFIG)


def test_four_clicks_on_one_element_within_two_seconds_is_one_rage_click() -> None:
    state = rage_click.RageClickState()
    for i, ms in enumerate([0, 400, 800]):
        assert click(state, ms, f"k{i}") == []
    [signal] = click(state, 1_999, "k3")
    assert signal.details["element"] == "pay-button" and signal.count == 4
    assert click(state, 2_100, "k4") == []  # the same burst
    for i, ms in enumerate([9_000, 9_100, 9_200, 9_300]):
        result = click(state, ms, f"b{i}")
    assert len(result) == 1  # a new burst after a quiet spell


def test_slow_clicks_or_different_elements_are_not_rage() -> None:
    state = rage_click.RageClickState()
    assert [click(state, ms, f"k{ms}") for ms in (0, 700, 1_400, 2_100)] == [[]] * 4  # 4 clicks span 2.1 s
    assert [click(state, 5_000 + i, f"x{i}", element=f"e{i}") for i in range(4)] == [[]] * 4


# -- error loops ---------------------------------------------------------------------------------
def test_three_errors_within_five_minutes_in_one_session() -> None:
    state = error_loop.ErrorLoopState()
    assert error_loop.on_event(state, ob(0, "checkout.error", "x1"), CONFIG) == []
    assert error_loop.on_event(state, ob(MINUTE_MS, "search.no_results", "x2"), CONFIG) == []
    [signal] = error_loop.on_event(state, ob(4 * MINUTE_MS, "ui.error", "x3"), CONFIG)
    assert signal.count == 3 and [e["touchpoint"] for e in signal.details["errors"]] == [
        "checkout.error",
        "search.no_results",
        "ui.error",
    ]


def test_errors_spread_over_sessions_or_time_are_no_loop() -> None:
    state = error_loop.ErrorLoopState()
    error_loop.on_event(state, ob(0, "ui.error", "x1", session="a"), CONFIG)
    error_loop.on_event(state, ob(1, "ui.error", "x2", session="a"), CONFIG)
    assert error_loop.on_event(state, ob(2, "ui.error", "x3", session="b"), CONFIG) == []
    state = error_loop.ErrorLoopState()
    for i, minute in enumerate([0, 3, 5]):  # the first left the 5-minute window
        result = error_loop.on_event(state, ob(minute * MINUTE_MS, "ui.error", f"y{i}"), CONFIG)
    assert result == []


# -- self-service failure ----------------------------------------------------------------------------
def test_three_failed_searches_then_a_contact_in_the_same_session() -> None:
    state = self_service.SelfServiceState()
    for i, tp in enumerate(["help.searched", "help.article_viewed", "search.no_results"]):
        assert self_service.on_event(state, ob(i, tp, f"h{i}"), CONFIG) == []
    [signal] = self_service.on_event(state, ob(10, "support.chat_started", "c1", channel="chat"), CONFIG)
    assert signal.count == 3 and signal.details["contact"]["channel"] == "chat"


def test_two_searches_or_a_contact_in_another_session_are_not_enough() -> None:
    state = self_service.SelfServiceState()
    self_service.on_event(state, ob(0, "help.searched", "h1"), CONFIG)
    self_service.on_event(state, ob(1, "help.searched", "h2"), CONFIG)
    assert self_service.on_event(state, ob(2, "support.ticket_opened", "c1"), CONFIG) == []
    for i in range(3):
        self_service.on_event(state, ob(10 + i, "help.searched", f"k{i}", session="s1"), CONFIG)
    assert self_service.on_event(state, ob(20, "support.ticket_opened", "c2", session="s2"), CONFIG) == []


# -- negative feedback -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("survey", "score", "severity"),
    [("survey.nps", 6, "warning"), ("survey.nps", 7, None), ("survey.nps", 3, "critical"), ("survey.nps", 0, "critical"),
     ("survey.csat", 2, "warning"), ("survey.csat", 3, None), ("survey.csat", 1, "critical"),
     ("survey.ces", 3, "warning"), ("survey.ces", 4, None), ("survey.ces", 1, "critical")],
)  # fmt: skip
def test_negative_answers_by_survey_kind(survey: str, score: int, severity: str | None) -> None:
    signals = negative_feedback.on_event(
        ob(0, survey, "f1", score=score), ["help.searched", "support.ticket_opened"], CONFIG
    )
    assert [s.severity for s in signals] == ([severity] if severity else [])
    if signals:
        assert signals[0].details["session_path"] == ["help.searched", "support.ticket_opened"]


# -- stalled onboarding ---------------------------------------------------------------------------
def test_onboarding_without_activation_stalls_after_seven_days() -> None:
    state = stalled_onboarding.StalledOnboardingState()
    stalled_onboarding.on_event(state, ob(0, "onboarding.started", "o1"), CONFIG, JOURNEYS)
    assert stalled_onboarding.on_time(state, 7 * DAY_MS - 1, CONFIG) == []
    [signal] = stalled_onboarding.on_time(state, 7 * DAY_MS, CONFIG)
    assert signal.kind == "stalled_onboarding" and signal.occurred_ms == 7 * DAY_MS
    assert stalled_onboarding.on_time(state, 8 * DAY_MS, CONFIG) == []


def test_activation_prevents_the_stall() -> None:
    state = stalled_onboarding.StalledOnboardingState()
    stalled_onboarding.on_event(state, ob(0, "onboarding.started", "o1"), CONFIG, JOURNEYS)
    stalled_onboarding.on_event(state, ob(DAY_MS, "activation.reached", "a1"), CONFIG, JOURNEYS)
    assert stalled_onboarding.due_ms(state, CONFIG) is None


# -- at risk / reactivated -------------------------------------------------------------------------
def test_active_customer_silent_thirty_days_is_at_risk_once_then_reactivated() -> None:
    state = at_risk.AtRiskState()
    at_risk.on_event(state, ob(0, "feature.used", "u1", stage="active"), CONFIG)
    assert at_risk.on_time(state, 30 * DAY_MS - 1, CONFIG) == []
    [risk] = at_risk.on_time(state, 30 * DAY_MS, CONFIG)
    assert (risk.kind, risk.severity, risk.details["reason"]) == ("at_risk", "warning", "silence")
    assert at_risk.on_time(state, 40 * DAY_MS, CONFIG) == []
    [back] = at_risk.on_event(state, ob(45 * DAY_MS, "feature.used", "u2"), CONFIG)
    assert (back.kind, back.severity, back.details["away_days"]) == ("reactivated", "info", 45.0)


def test_silence_before_a_renewal_date_is_critical() -> None:
    state = at_risk.AtRiskState()
    at_risk.on_event(state, ob(0, "billing.renewal_notice", "r1", properties={"renewal_date": "1970-03-02"}), CONFIG)
    renewal = 60 * DAY_MS
    assert at_risk.next_deadline(state, CONFIG) == renewal
    [signal] = at_risk.on_time(state, renewal, CONFIG)
    assert (signal.severity, signal.details["reason"]) == ("critical", "silent_before_renewal")


def test_seen_within_the_renewal_window_is_not_at_risk() -> None:
    state = at_risk.AtRiskState()
    at_risk.on_event(state, ob(0, "billing.renewal_notice", "r1", properties={"renewal_date": "1970-03-02"}), CONFIG)
    at_risk.on_event(state, ob(45 * DAY_MS, "feature.used", "u1"), CONFIG)
    assert at_risk.on_time(state, 60 * DAY_MS, CONFIG) == []


# -- configuration ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        ("JOURNEY_FRICTION__FLOWS", '{"x": {"start": ["a.b"], "complete": ["a.b"], "timeout_minutes": 5}}', "friction.flows.x"),
        ("JOURNEY_FRICTION__FLOWS", '{"x": {"start": ["a.b"], "complete": ["a.c"], "timeout_minutes": 0}}', "friction.flows.x.timeout_minutes"),
        ("JOURNEY_FRICTION__REPEAT_CONTACT_SEVERITY", '{"warning": 5, "critical": 3}', "friction.repeat_contact_severity"),
        ("JOURNEY_FRICTION__RAGE_CLICK_COUNT", "1", "friction.rage_click_count"),
        ("JOURNEY_FRICTION__WEIGHTS", '{"rage": 1}', "friction"),
    ],
)  # fmt: skip
def test_misconfigured_detector_is_rejected_naming_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path, variable: str, value: str, named: str
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as raised:
        load_settings()
    assert named in str(raised.value)
