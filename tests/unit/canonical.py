"""What consumers end up with, as a sorted list, to compare runs of the same input."""

from __future__ import annotations

import orjson

from journey.streams.journey import EnrichedTouchpoint, FrictionSignal, JourneyStageTransition, SessionRecord


def of(outputs: list, kind: type) -> list:
    return [o for o in outputs if isinstance(o, kind)]


def canonical(outputs: list, links: dict[str, str] | None = None, *, strict: bool = False) -> list:
    """Closed sessions by content; each touchpoint's session resolved through `merged_from` (a
    touchpoint emitted before its session merged with another carries the absorbed session's id,
    which the final session lists as an alias); journeys resolved through the identity links
    (`anon:<id>` -> customer) when given. `strict` adds what a board shows beyond the counts:
    every signal's evidence and every stage transition."""
    links = links or {}
    alias = {}
    for o in of(outputs, SessionRecord):
        for old in [o.session.session_id, *o.session.merged_from]:
            alias[old] = o.session.session_id
    rows = []
    for o in outputs:
        if isinstance(o, SessionRecord):
            s = o.session
            rows.append(("session", links.get(o.journey_key, o.journey_key), s.session_id, s.start_ms, s.end_ms,
                         s.event_count, o.close_reason, tuple(s.path), tuple(s.channels), tuple(s.stages),
                         s.friction_score))  # fmt: skip
        elif isinstance(o, EnrichedTouchpoint):
            key = links.get(o.journey_key, o.journey_key)
            rows.append(("touchpoint", key, alias.get(o.session_id, o.session_id), o.late, str(o.event.event_id)))
        elif isinstance(o, FrictionSignal):
            s = o.signal
            row = ("signal", s.signal_id, s.kind, s.severity, s.version, s.count, s.flow, s.step,
                   alias.get(s.session_id, s.session_id), s.occurred_ms)  # fmt: skip
            if strict:
                row += (s.detected_ms, orjson.dumps(s.details, option=orjson.OPT_SORT_KEYS))
            rows.append(row)
        elif isinstance(o, JourneyStageTransition) and strict:
            t = o.transition
            rows.append(("transition", links.get(o.journey_key, o.journey_key), t.from_stage, t.to_stage, t.at_ms,
                         t.time_in_previous_ms, t.first_time, t.event_id, o.time_to_first_value_ms))  # fmt: skip
    return sorted(rows, key=repr)


def links_of(pipeline) -> dict[str, str]:
    return {f"anon:{a}": s.customer_id for a, s in pipeline.ingest_states.items() if s.customer_id}
