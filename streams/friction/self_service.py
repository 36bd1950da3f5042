"""`self_service_failure`: N or more help searches / articles / no-result searches, then a
support contact, in the same session ("could not find it three times, then called")."""

from __future__ import annotations

from dataclasses import dataclass, field

from journey.config import FrictionSettings
from journey.streams.friction.signal import WARNING, Observation, Signal


@dataclass(slots=True)
class SelfServiceState:
    session_id: str | None = None
    attempts: list[list] = field(default_factory=list)  # [time, event_id, touchpoint]


MAX_ATTEMPTS_KEPT = 20


def on_event(state: SelfServiceState, o: Observation, config: FrictionSettings) -> list[Signal]:
    if o.session_id != state.session_id:
        state.session_id, state.attempts = o.session_id, []
    if o.touchpoint in config.self_service_touchpoints:
        state.attempts = [*state.attempts, [o.occurred_ms, o.event_id, o.touchpoint]][-MAX_ATTEMPTS_KEPT:]
        return []
    if o.touchpoint not in config.contact_touchpoints or len(state.attempts) < config.self_service_attempts:
        return []
    attempts, state.attempts = state.attempts, []
    details = {"attempts": [{"event_id": a[1], "touchpoint": a[2], "at_ms": a[0]} for a in attempts],
               "contact": {"event_id": o.event_id, "touchpoint": o.touchpoint, "channel": o.channel}}  # fmt: skip
    return [Signal("self_service_failure", WARNING, o.event_id, o.occurred_ms, o.occurred_ms, o.session_id,
                   len(attempts), details, o)]  # fmt: skip
