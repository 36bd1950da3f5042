"""`abandonment`: a configured flow started and not completed before its timeout or, for
session-bound flows, before its session ended. A completion after that is reported as the same
signal, version 2, `recovered`."""

from __future__ import annotations

from dataclasses import dataclass, field

from journey.config import FrictionSettings
from journey.streams.friction.signal import CRITICAL, INFO, WARNING, Observation, Signal
from journey.streams.timeutil import MINUTE_MS

RECOVERY_REMEMBERED = 8  # abandoned flows remembered per journey, to report a later completion


@dataclass(slots=True)
class OpenFlow:
    started_ms: int
    start_event_id: str
    session_id: str | None
    steps_done: list[str] = field(default_factory=list)
    last_step: str | None = None
    last_ms: int = 0


@dataclass(slots=True)
class AbandonmentState:
    open: dict[str, OpenFlow] = field(default_factory=dict)
    abandoned: dict[str, list] = field(default_factory=dict)  # flow -> [abandoned_ms, start_event_id, last_step]


def on_event(state: AbandonmentState, o: Observation, config: FrictionSettings) -> list[Signal]:
    signals = []
    for name, flow in config.flows.items():
        if o.touchpoint in flow.complete:
            if state.open.pop(name, None) is None and name in state.abandoned:
                abandoned_ms, start_event_id, last_step = state.abandoned.pop(name)
                signals.append(Signal(
                    "abandonment", INFO, f"{name}/{start_event_id}", o.occurred_ms, o.occurred_ms, o.session_id, 1,
                    {"recovered": True, "recovered_after_ms": o.occurred_ms - abandoned_ms, "completed_by": o.event_id},
                    o, name, last_step, version=2,
                ))  # fmt: skip
        elif o.touchpoint in flow.start and name not in state.open:
            state.open[name] = OpenFlow(o.occurred_ms, o.event_id, o.session_id, last_ms=o.occurred_ms)
        current = state.open.get(name)
        if current is not None and o.flow == name and o.step:
            if o.step not in current.steps_done:
                current.steps_done.append(o.step)
            current.last_step, current.last_ms = o.step, o.occurred_ms
    return signals


def _abandon(state: AbandonmentState, name: str, at_ms: int, reason: str, config: FrictionSettings) -> Signal:
    flow = state.open.pop(name)
    steps = config.flows[name].steps
    # Stopping at the last step (payment, verify…) points at a blocker rather than a change of mind.
    severity = CRITICAL if steps and flow.last_step == steps[-1] else WARNING
    state.abandoned[name] = [at_ms, flow.start_event_id, flow.last_step]
    while len(state.abandoned) > RECOVERY_REMEMBERED:
        state.abandoned.pop(min(state.abandoned, key=lambda n: state.abandoned[n][0]))
    details = {"reason": reason, "steps_done": flow.steps_done, "last_step": flow.last_step,
               "time_in_flow_ms": flow.last_ms - flow.started_ms, "started_ms": flow.started_ms,
               "start_event_id": flow.start_event_id}  # fmt: skip
    return Signal("abandonment", severity, f"{name}/{flow.start_event_id}", flow.last_ms, at_ms, flow.session_id,
                  len(flow.steps_done), details, None, name, flow.last_step)  # fmt: skip


def on_time(state: AbandonmentState, now_ms: int, config: FrictionSettings) -> list[Signal]:
    due = [n for n, f in state.open.items() if f.started_ms + config.flows[n].timeout_minutes * MINUTE_MS <= now_ms]
    return [_abandon(state, n, now_ms, "timeout", config) for n in sorted(due)]


def on_session_closed(state: AbandonmentState, session_id: str, end_ms: int, config: FrictionSettings) -> list[Signal]:
    due = [n for n, f in state.open.items() if f.session_id == session_id and config.flows[n].ends_with_session]
    return [_abandon(state, n, end_ms, "session_ended", config) for n in sorted(due)]


def next_deadline(state: AbandonmentState, config: FrictionSettings) -> int | None:
    deadlines = [f.started_ms + int(config.flows[n].timeout_minutes * MINUTE_MS) for n, f in state.open.items()]
    return min(deadlines, default=None)
