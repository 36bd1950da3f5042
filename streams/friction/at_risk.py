"""`at_risk`: an active customer silent for N days (warning), or silent throughout the N days
before a renewal date given as an event property (critical, due at the renewal date);
`reactivated` (info) when a customer returns after N days away."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from journey.config import FrictionSettings
from journey.streams.friction.signal import CRITICAL, INFO, WARNING, Observation, Signal
from journey.streams.timeutil import DAY_MS, to_ms


@dataclass(slots=True)
class AtRiskState:
    last_seen_ms: int | None = None
    last_event_id: str | None = None
    active: bool = False
    renewal_ms: int | None = None
    silence_signalled: bool = False
    renewal_signalled: bool = False


def _renewal_ms(value: object) -> int | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:  # a plain date (or naive time): midnight UTC of that day
        moment = datetime.combine(date.fromisoformat(value[:10]), datetime.min.time(), tzinfo=UTC)
    return to_ms(moment)


def on_event(state: AtRiskState, o: Observation, config: FrictionSettings) -> list[Signal]:
    signals = []
    silence_ms = int(config.at_risk_silence_days * DAY_MS)
    if state.last_seen_ms is not None and o.occurred_ms - state.last_seen_ms >= silence_ms:
        away_days = (o.occurred_ms - state.last_seen_ms) / DAY_MS
        signals.append(Signal("reactivated", INFO, o.event_id, o.occurred_ms, o.occurred_ms, o.session_id, 1,
                              {"away_days": round(away_days, 1), "previous_event_id": state.last_event_id}, o))  # fmt: skip
    if state.last_seen_ms is None or o.occurred_ms >= state.last_seen_ms:
        state.last_seen_ms, state.last_event_id = o.occurred_ms, o.event_id
        state.silence_signalled = False
    if o.stage == "active":
        state.active = True
    renewal = _renewal_ms(o.properties.get(config.renewal_date_property))
    if renewal is not None and renewal != state.renewal_ms:
        state.renewal_ms, state.renewal_signalled = renewal, False
    return signals


def _silence_due(state: AtRiskState, config: FrictionSettings) -> int | None:
    if not state.active or state.silence_signalled or state.last_seen_ms is None:
        return None
    return state.last_seen_ms + int(config.at_risk_silence_days * DAY_MS)


def _renewal_due(state: AtRiskState, config: FrictionSettings) -> int | None:
    if state.renewal_ms is None or state.renewal_signalled or state.last_seen_ms is None:
        return None
    window_start = state.renewal_ms - int(config.renewal_silence_days * DAY_MS)
    return state.renewal_ms if state.last_seen_ms < window_start else None


def on_time(state: AtRiskState, now_ms: int, config: FrictionSettings) -> list[Signal]:
    signals = []
    due = _silence_due(state, config)
    if due is not None and now_ms >= due:
        state.silence_signalled = True
        signals.append(Signal("at_risk", WARNING, f"silence/{state.last_event_id}", due, now_ms, None, 1,
                              {"reason": "silence", "silent_days": config.at_risk_silence_days,
                               "last_seen_ms": state.last_seen_ms}))  # fmt: skip
    due = _renewal_due(state, config)
    if due is not None and now_ms >= due:
        state.renewal_signalled = True
        signals.append(Signal("at_risk", CRITICAL, f"renewal/{state.renewal_ms}/{state.last_event_id}", due, now_ms, None, 1,
                              {"reason": "silent_before_renewal", "renewal_ms": state.renewal_ms,
                               "last_seen_ms": state.last_seen_ms}))  # fmt: skip
    return signals


def next_deadline(state: AtRiskState, config: FrictionSettings) -> int | None:
    return min((d for d in (_silence_due(state, config), _renewal_due(state, config)) if d is not None), default=None)


def merge(into: AtRiskState, other: AtRiskState) -> None:
    """One customer seen on two journeys: the newest sighting and any activity count."""
    if other.last_seen_ms is not None and (into.last_seen_ms is None or (other.last_seen_ms, other.last_event_id or "")
                                           > (into.last_seen_ms, into.last_event_id or "")):  # fmt: skip
        into.last_seen_ms, into.last_event_id = other.last_seen_ms, other.last_event_id
        into.silence_signalled = into.silence_signalled and other.silence_signalled
    into.active = into.active or other.active
    if into.renewal_ms is None:
        into.renewal_ms, into.renewal_signalled = other.renewal_ms, other.renewal_signalled
