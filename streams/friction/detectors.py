"""All friction detectors of one journey, composed: observe an event, let event time pass, end a
session, merge an anonymous journey in. Pure; called by streams/journey.py."""

from __future__ import annotations

from dataclasses import dataclass, field

from journey.config import FrictionSettings, JourneySettings
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
from journey.streams.friction.signal import Observation, Signal

SESSION_PATH_KEPT = 20  # touchpoints of the current session kept as evidence for feedback


def properties_read(config: FrictionSettings) -> frozenset[str]:
    """The event properties any detector reads: all an observation needs to keep of them (an
    event waits for the watermark, grace and more, with what it keeps)."""
    return frozenset((*rage_click.PROPERTIES, *repeat_contact.PROPERTIES, config.renewal_date_property))


@dataclass(slots=True)
class FrictionState:
    abandonment: abandonment.AbandonmentState = field(default_factory=abandonment.AbandonmentState)
    repeat_contact: repeat_contact.RepeatContactState = field(default_factory=repeat_contact.RepeatContactState)
    rage_click: rage_click.RageClickState = field(default_factory=rage_click.RageClickState)
    error_loop: error_loop.ErrorLoopState = field(default_factory=error_loop.ErrorLoopState)
    self_service: self_service.SelfServiceState = field(default_factory=self_service.SelfServiceState)
    stalled_onboarding: stalled_onboarding.StalledOnboardingState = field(
        default_factory=stalled_onboarding.StalledOnboardingState
    )
    at_risk: at_risk.AtRiskState = field(default_factory=at_risk.AtRiskState)
    session_id: str | None = None
    session_path: list[str] = field(default_factory=list)


def observe(state: FrictionState, o: Observation, config: FrictionSettings, journeys: JourneySettings) -> list[Signal]:
    """One event, in event-time order: every detector's reaction."""
    if o.session_id != state.session_id:
        state.session_id, state.session_path = o.session_id, []
    signals = [
        *abandonment.on_event(state.abandonment, o, config),
        *repeat_contact.on_event(state.repeat_contact, o, config),
        *rage_click.on_event(state.rage_click, o, config),
        *error_loop.on_event(state.error_loop, o, config),
        *self_service.on_event(state.self_service, o, config),
        *negative_feedback.on_event(o, list(state.session_path), config),
        *at_risk.on_event(state.at_risk, o, config),
    ]
    stalled_onboarding.on_event(state.stalled_onboarding, o, config, journeys)
    state.session_path = [*state.session_path, o.touchpoint][-SESSION_PATH_KEPT:]
    return signals


def pass_time(state: FrictionState, now_ms: int, config: FrictionSettings) -> list[Signal]:
    """Event time reached `now_ms`: the timer-driven detectors."""
    return [
        *abandonment.on_time(state.abandonment, now_ms, config),
        *stalled_onboarding.on_time(state.stalled_onboarding, now_ms, config),
        *at_risk.on_time(state.at_risk, now_ms, config),
    ]


def session_closed(state: FrictionState, session_id: str, end_ms: int, config: FrictionSettings) -> list[Signal]:
    return abandonment.on_session_closed(state.abandonment, session_id, end_ms, config)


def next_deadline(state: FrictionState, config: FrictionSettings) -> int | None:
    """The earliest event time at which a timer-driven detector could fire."""
    deadlines = (
        abandonment.next_deadline(state.abandonment, config),
        stalled_onboarding.due_ms(state.stalled_onboarding, config),
        at_risk.next_deadline(state.at_risk, config),
    )
    return min((d for d in deadlines if d is not None), default=None)


def merge(into: FrictionState, anonymous: FrictionState) -> None:
    """Fold an anonymous journey's friction context into its customer's: open and abandoned flows
    the customer has not started itself, support contacts (the repeat-contact window spans both), onboarding,
    and activity (last seen, active, renewal date) for the silence detectors."""
    for name, flow in anonymous.abandonment.open.items():
        into.abandonment.open.setdefault(name, flow)
    for name, abandoned in anonymous.abandonment.abandoned.items():  # so a later completion is a recovery
        if name not in into.abandonment.open:
            into.abandonment.abandoned.setdefault(name, abandoned)
    contacts = {c[1]: c for c in into.repeat_contact.contacts + anonymous.repeat_contact.contacts}
    into.repeat_contact.contacts = sorted(contacts.values(), key=lambda c: (c[0], c[1]))
    if into.stalled_onboarding.started_ms is None:
        into.stalled_onboarding = anonymous.stalled_onboarding
    at_risk.merge(into.at_risk, anonymous.at_risk)
    # Windows in progress (a burst of clicks, a loop of errors, searches before a contact) go on
    # across the identify: the rest of them may reach the customer's journey.
    rage_click.merge(into.rage_click, anonymous.rage_click)
    if not into.error_loop.errors:
        into.error_loop = anonymous.error_loop
    if not into.self_service.attempts:
        into.self_service = anonymous.self_service
    if into.session_id is None:
        into.session_id, into.session_path = anonymous.session_id, anonymous.session_path
