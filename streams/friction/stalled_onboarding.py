"""`stalled_onboarding`: onboarding started and no activation within N days (timer-driven)."""

from __future__ import annotations

from dataclasses import dataclass

from journey.config import FrictionSettings, JourneySettings
from journey.streams.friction.signal import WARNING, Observation, Signal
from journey.streams.timeutil import DAY_MS


@dataclass(slots=True)
class StalledOnboardingState:
    started_ms: int | None = None
    start_event_id: str | None = None
    session_id: str | None = None
    activated: bool = False
    signalled: bool = False


def on_event(
    state: StalledOnboardingState, o: Observation, config: FrictionSettings, journeys: JourneySettings
) -> None:
    if o.touchpoint in config.onboarding_start and state.started_ms is None:
        state.started_ms, state.start_event_id, state.session_id = o.occurred_ms, o.event_id, o.session_id
    if o.touchpoint in journeys.activation_touchpoints:
        state.activated = True


def due_ms(state: StalledOnboardingState, config: FrictionSettings) -> int | None:
    if state.started_ms is None or state.activated or state.signalled:
        return None
    return state.started_ms + int(config.stalled_onboarding_days * DAY_MS)


def on_time(state: StalledOnboardingState, now_ms: int, config: FrictionSettings) -> list[Signal]:
    due = due_ms(state, config)
    if due is None or now_ms < due:
        return []
    state.signalled = True
    details = {"onboarding_started_ms": state.started_ms, "days_without_activation": config.stalled_onboarding_days}
    return [Signal("stalled_onboarding", WARNING, str(state.start_event_id), due, now_ms, state.session_id, 1, details,
                   flow="onboarding")]  # fmt: skip
