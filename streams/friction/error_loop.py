"""`error_loop`: N or more errors (`*.error`, `ui.error`, no-result searches) within a window in
one session; one signal per loop."""

from __future__ import annotations

from dataclasses import dataclass, field

from journey.config import FrictionSettings
from journey.streams.friction.signal import CRITICAL, WARNING, Observation, Signal
from journey.streams.timeutil import MINUTE_MS


@dataclass(slots=True)
class ErrorLoopState:
    session_id: str | None = None
    errors: list[list] = field(default_factory=list)  # [time, event_id, touchpoint]
    signalled: bool = False


def is_error(touchpoint: str, config: FrictionSettings) -> bool:
    return touchpoint in config.error_touchpoints or touchpoint.endswith(config.error_suffix)


def on_event(state: ErrorLoopState, o: Observation, config: FrictionSettings) -> list[Signal]:
    if not is_error(o.touchpoint, config):
        return []
    if o.session_id != state.session_id:
        state.session_id, state.errors, state.signalled = o.session_id, [], False
    window_ms = int(config.error_loop_window_minutes * MINUTE_MS)
    state.errors = [e for e in state.errors if e[0] > o.occurred_ms - window_ms]
    if not state.errors:
        state.signalled = False
    state.errors.append([o.occurred_ms, o.event_id, o.touchpoint])
    if len(state.errors) < config.error_loop_count or state.signalled:
        return []
    state.signalled = True
    severity = CRITICAL if len(state.errors) >= 2 * config.error_loop_count else WARNING
    details = {"errors": [{"event_id": e[1], "touchpoint": e[2], "at_ms": e[0]} for e in state.errors]}
    return [Signal("error_loop", severity, f"{o.session_id}/{state.errors[0][1]}", o.occurred_ms, o.occurred_ms,
                   o.session_id, len(state.errors), details, o, o.flow, o.step)]  # fmt: skip
