"""Compact bytes for what stage 2 keeps and sends: journey state (table values, changelog) and
handoffs. Plain lists and ints through orjson: smaller and faster than pickled objects, and
readable when an operator dumps a changelog record."""

from __future__ import annotations

from typing import Any

import orjson

from schemas.touchpoint import Touchpoint
from streams.identity import IngestState
from streams.journey import Handoff, JourneyState
from streams.recent_ids import RecentIds
from streams.sessions import Session, SessionState
from streams.stage_tracker import StageState

STATE_FORMAT = 1


def session_to_list(s: Session) -> list[Any]:
    return [s.session_id, s.start_ms, s.end_ms, s.event_count, s.channels, s.path, s.stages, s.merged_from, s.version]


def session_from_list(v: list[Any]) -> Session:
    return Session(v[0], v[1], v[2], v[3], list(v[4]), [tuple(p) for p in v[5]], list(v[6]), list(v[7]), v[8])


def stages_to_list(s: StageState) -> list[Any]:
    return [s.reached, s.current, s.current_since_ms, s.value_started_ms, s.first_value_ms]


def stages_from_list(v: list[Any]) -> StageState:
    return StageState(dict(v[0]), v[1], v[2], v[3], v[4])


def encode_state(state: JourneyState) -> bytes:
    return orjson.dumps(
        [
            STATE_FORMAT,
            state.journey_key,
            state.customer_id,
            state.account_id,
            [session_to_list(s) for s in state.sessions.open],
            [list(c) for c in state.sessions.recently_closed],
            state.sessions.late_events,
            stages_to_list(state.stages),
            state.recent.seen,
            state.absorbed_into,
            state.absorbed_from,
            state.pending_handoffs,
            [[None if e is None else e.model_dump(mode="json", exclude_none=True), c, w] for e, c, w in state.held],
            state.watermark_ms,
            state.event_count,
            state.first_seen_ms,
            state.last_seen_ms,
        ]
    )


def decode_state(raw: bytes) -> JourneyState:
    v = orjson.loads(raw)
    if v[0] != STATE_FORMAT:
        raise ValueError(f"journey state format {v[0]} is not {STATE_FORMAT}")
    return JourneyState(
        journey_key=v[1],
        customer_id=v[2],
        account_id=v[3],
        sessions=SessionState([session_from_list(s) for s in v[4]], [tuple(c) for c in v[5]], v[6]),
        stages=stages_from_list(v[7]),
        recent=RecentIds(dict(v[8])),
        absorbed_into=v[9],
        absorbed_from=list(v[10]),
        pending_handoffs=dict(v[11]),
        held=[(None if e is None else Touchpoint.model_validate(e), c, w) for e, c, w in v[12]],
        watermark_ms=v[13],
        event_count=v[14],
        first_seen_ms=v[15],
        last_seen_ms=v[16],
    )


def handoff_to_dict(h: Handoff) -> dict[str, Any]:
    return {
        "to_journey_key": h.to_journey_key,
        "from_journey_key": h.from_journey_key,
        "open_sessions": [session_to_list(s) for s in h.open_sessions],
        "stages": stages_to_list(h.stages),
        "first_seen_ms": h.first_seen_ms,
    }


def handoff_from_dict(d: dict[str, Any]) -> Handoff:
    return Handoff(
        d["to_journey_key"],
        d["from_journey_key"],
        [session_from_list(s) for s in d["open_sessions"]],
        stages_from_list(d["stages"]),
        d["first_seen_ms"],
    )


def encode_ingest_state(state: IngestState) -> bytes:
    return orjson.dumps([STATE_FORMAT, state.customer_id, state.linked_at_ms, state.conflicts, state.recent.seen])


def decode_ingest_state(raw: bytes) -> IngestState:
    v = orjson.loads(raw)
    if v[0] != STATE_FORMAT:
        raise ValueError(f"ingest state format {v[0]} is not {STATE_FORMAT}")
    return IngestState(customer_id=v[1], linked_at_ms=v[2], conflicts=v[3], recent=RecentIds(dict(v[4])))
