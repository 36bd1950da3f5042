"""`rage_click`: N or more clicks on the same element within a short window; one signal per burst."""

from __future__ import annotations

from dataclasses import dataclass, field

from journey.config import FrictionSettings
from journey.streams.friction.signal import WARNING, Observation, Signal
from journey.streams.timeutil import SECOND_MS


@dataclass(slots=True)
class RageClickState:
    bursts: dict[str, list] = field(default_factory=dict)  # element -> [[time, event_id]...], emitted flag last
    signalled: list[str] = field(default_factory=list)  # elements whose current burst was signalled


PROPERTIES = ("element", "target")  # what this detector reads of an event's properties


def element_of(o: Observation) -> str:
    element = o.properties.get("element") or o.properties.get("target") or o.step
    return str(element) if element else "(unknown)"


def on_event(state: RageClickState, o: Observation, config: FrictionSettings) -> list[Signal]:
    if o.touchpoint != config.rage_click_touchpoint:
        return []
    window_ms = int(config.rage_click_window_s * SECOND_MS)
    element = element_of(o)
    clicks = [c for c in state.bursts.get(element, []) if c[0] > o.occurred_ms - window_ms]
    if not clicks and element in state.signalled:
        state.signalled.remove(element)  # a quiet spell ended the burst
    clicks.append([o.occurred_ms, o.event_id])
    state.bursts[element] = clicks
    # Forget elements nobody clicked within the window: the state stays small.
    state.bursts = {e: c for e, c in state.bursts.items() if c and c[-1][0] > o.occurred_ms - window_ms}
    state.signalled = [e for e in state.signalled if e in state.bursts]
    if len(clicks) < config.rage_click_count or element in state.signalled:
        return []
    state.signalled.append(element)
    details = {"element": element, "clicks": [c[1] for c in clicks], "span_ms": clicks[-1][0] - clicks[0][0]}
    return [Signal("rage_click", WARNING, f"{element}/{clicks[0][1]}", o.occurred_ms, o.occurred_ms, o.session_id,
                   len(clicks), details, o, o.flow, o.step)]  # fmt: skip


def merge(into: RageClickState, other: RageClickState) -> None:
    """Clicks of an anonymous journey join the customer's, per element, in time order."""
    for element, clicks in other.bursts.items():
        into.bursts[element] = sorted({(c[0], c[1]): c for c in into.bursts.get(element, []) + clicks}.values())
    into.signalled = sorted(set(into.signalled) | set(other.signalled))
