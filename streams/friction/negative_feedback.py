"""`negative_feedback`: a detractor NPS, a low CSAT or a low CES answer, with the touchpoints of
the session that led to it as evidence."""

from __future__ import annotations

from journey.config import FrictionSettings
from journey.streams.friction.signal import CRITICAL, WARNING, Observation, Signal


def verdict(o: Observation, config: FrictionSettings) -> str | None:
    """The severity of a negative answer, or None when the answer is not negative."""
    if o.score is None:
        return None
    limits = {"survey.nps": (config.nps_detractor_max, 3), "survey.csat": (config.csat_negative_max, 1),
              "survey.ces": (config.ces_negative_max, 1)}  # fmt: skip
    if o.touchpoint not in limits:
        return None
    negative_max, critical_max = limits[o.touchpoint]
    if o.score > negative_max:
        return None
    return CRITICAL if o.score <= critical_max else WARNING


def on_event(o: Observation, session_path: list[str], config: FrictionSettings) -> list[Signal]:
    severity = verdict(o, config)
    if severity is None:
        return []
    details = {"survey": o.touchpoint.removeprefix("survey."), "score": o.score, "session_path": session_path}
    return [
        Signal("negative_feedback", severity, o.event_id, o.occurred_ms, o.occurred_ms, o.session_id, 1, details, o)
    ]
