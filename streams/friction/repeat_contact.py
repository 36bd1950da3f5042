"""`repeat_contact`: N or more support contacts by one customer within a rolling window, across
sessions and channels. One signal per severity level crossed, not one per contact; contacts
about the same topic (properties.topic) raise the severity one level."""

from __future__ import annotations

from dataclasses import dataclass, field

from journey.config import FrictionSettings
from journey.streams.friction.signal import CRITICAL, WARNING, Observation, Signal
from journey.streams.timeutil import DAY_MS

LEVELS = ("", WARNING, CRITICAL)  # level 0: no run of contacts, no signal


@dataclass(slots=True)
class RepeatContactState:
    contacts: list[list] = field(default_factory=list)  # [time, event_id, channel, topic], time order
    level: int = 0  # severity level already signalled in the current run of contacts


PROPERTIES = ("topic",)  # what this detector reads of an event's properties


def on_event(state: RepeatContactState, o: Observation, config: FrictionSettings) -> list[Signal]:
    if o.touchpoint not in config.contact_touchpoints:
        return []
    window_ms = int(config.repeat_contact_window_days * DAY_MS)
    topic = o.properties.get("topic")
    state.contacts = [c for c in state.contacts if c[0] > o.occurred_ms - window_ms]
    state.contacts.append([o.occurred_ms, o.event_id, o.channel, topic if isinstance(topic, str) else None])
    thresholds = config.repeat_contact_severity
    count = len(state.contacts)
    level = 2 if count >= thresholds.critical else 1 if count >= thresholds.warning else 0
    topics = [c[3] for c in state.contacts if c[3] is not None]
    same_topic = max((topics.count(t) for t in set(topics)), default=0) >= 2
    if level and same_topic:
        level = min(level + 1, 2)
    if level == 0:
        state.level = 0  # the run is over: a new crossing later is a new signal
        return []
    if level <= state.level:
        return []
    state.level = level
    details = {"contacts": [{"event_id": c[1], "channel": c[2], "topic": c[3], "at_ms": c[0]} for c in state.contacts],
               "channels": sorted({c[2] for c in state.contacts}), "same_topic": same_topic,
               "window_days": config.repeat_contact_window_days}  # fmt: skip
    key = f"{state.contacts[0][1]}/{LEVELS[level]}"
    return [Signal("repeat_contact", LEVELS[level], key, o.occurred_ms, o.occurred_ms, o.session_id, count, details, o)]
