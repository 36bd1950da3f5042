"""Compact bytes for what stage 2 keeps and sends: journey state (table values, changelog) and
handoffs. Plain lists and ints through orjson: smaller and faster than pickled objects, and
readable when an operator dumps a changelog record."""

from __future__ import annotations

from base64 import b64decode, b64encode
from typing import Any

import orjson

from journey.schemas.touchpoint import Touchpoint
from journey.streams.erasure import ErasureProgress
from journey.streams.friction import (
    abandonment,
    at_risk,
    error_loop,
    rage_click,
    repeat_contact,
    self_service,
    stalled_onboarding,
)
from journey.streams.friction.detectors import FrictionState
from journey.streams.friction.signal import Observation
from journey.streams.identity import IngestState
from journey.streams.journey import Handoff, JourneyState, PendingEvent
from journey.streams.recent_ids import RecentIds
from journey.streams.sessions import Session, SessionState
from journey.streams.stage_tracker import StageState

# Bump on any change of the encoded layout; decoders refuse other formats (StateFormatError).
# 3: friction state as positional lists (field names were half of a journey's bytes), awaited
# handoffs as a list of keys. 4: the duplicate memory as two base64 buffers (RecentIds.packed).
STATE_FORMAT = 4


class StateFormatError(ValueError):
    """A stored state was written in another layout (an older version of the worker)."""


def session_to_list(s: Session) -> list[Any]:
    return [
        s.start_ms,
        s.end_ms,
        s.event_count,
        s.channels,
        s.path,
        s.stages,
        s.merged_from,
        s.version,
        s.friction_score,
    ]


def session_from_list(v: list[Any]) -> Session:
    return Session(v[0], v[1], v[2], list(v[3]), [tuple(p) for p in v[4]], list(v[5]), list(v[6]), v[7], v[8])


def pending_to_list(p: PendingEvent) -> list[Any]:
    o = p.observation
    return [o.occurred_ms, o.event_id, o.touchpoint, o.channel, o.session_id, o.stage, o.flow, o.step, o.score,
            o.properties, p.late]  # fmt: skip


def pending_from_list(v: list[Any]) -> PendingEvent:
    return PendingEvent(Observation(*v[:10]), v[10])


def _fields(state: Any) -> list[Any]:
    """A detector state's fields, in declaration order (decoded positionally: a change of the
    order or of the fields is a new STATE_FORMAT)."""
    return [getattr(state, name) for name in state.__dataclass_fields__]


def friction_to_list(f: FrictionState) -> list[Any]:
    """The friction state as stored in the table: positional, without field names."""
    return [
        [{n: _fields(o) for n, o in f.abandonment.open.items()}, f.abandonment.abandoned],
        _fields(f.repeat_contact),
        _fields(f.rage_click),
        _fields(f.error_loop),
        _fields(f.self_service),
        _fields(f.stalled_onboarding),
        _fields(f.at_risk),
        f.session_id,
        f.session_path,
    ]


def friction_from_list(v: list[Any]) -> FrictionState:
    return FrictionState(
        abandonment=abandonment.AbandonmentState({n: abandonment.OpenFlow(*o) for n, o in v[0][0].items()}, v[0][1]),
        repeat_contact=repeat_contact.RepeatContactState(*v[1]),
        rage_click=rage_click.RageClickState(*v[2]),
        error_loop=error_loop.ErrorLoopState(*v[3]),
        self_service=self_service.SelfServiceState(*v[4]),
        stalled_onboarding=stalled_onboarding.StalledOnboardingState(*v[5]),
        at_risk=at_risk.AtRiskState(*v[6]),
        session_id=v[7],
        session_path=v[8],
    )


def friction_from_dict(d: dict[str, Any]) -> FrictionState:
    return FrictionState(
        abandonment=abandonment.AbandonmentState(
            {n: abandonment.OpenFlow(**o) for n, o in d["abandonment"]["open"].items()}, d["abandonment"]["abandoned"]
        ),
        repeat_contact=repeat_contact.RepeatContactState(**d["repeat_contact"]),
        rage_click=rage_click.RageClickState(**d["rage_click"]),
        error_loop=error_loop.ErrorLoopState(**d["error_loop"]),
        self_service=self_service.SelfServiceState(**d["self_service"]),
        stalled_onboarding=stalled_onboarding.StalledOnboardingState(**d["stalled_onboarding"]),
        at_risk=at_risk.AtRiskState(**d["at_risk"]),
        session_id=d["session_id"],
        session_path=d["session_path"],
    )


def recent_to_list(r: RecentIds) -> list[str]:
    return [b64encode(packed).decode("ascii") for packed in r.packed()]


def recent_from_list(v: list[str]) -> RecentIds:
    times, ids = (b64decode(packed, validate=True) for packed in v)
    return RecentIds.unpacked(times, ids)


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
            recent_to_list(state.recent),
            state.absorbed_into,
            state.absorbed_from,
            state.pending_handoffs,
            [[None if e is None else e.model_dump(mode="json", exclude_none=True), c, w] for e, c, w in state.held],
            state.watermark_ms,
            friction_to_list(state.friction),
            [pending_to_list(o) for o in state.pending],
            state.event_count,
            state.first_seen_ms,
            state.last_seen_ms,
            *_erasure_to_list(state.erasure),
        ]
    )


def _erasure_to_list(erasure: ErasureProgress | None) -> list[list[Any]]:
    """Appended only while an erasure is in progress: other states keep their bytes."""
    e = erasure
    return [] if e is None else [[e.request_id, e.markers, e.seen, e.sources_past, e.senders]]


def decode_state(raw: bytes) -> JourneyState:
    v = _versioned(raw, "journey")
    try:
        return JourneyState(
            journey_key=v[1],
            customer_id=v[2],
            account_id=v[3],
            sessions=SessionState([session_from_list(s) for s in v[4]], [tuple(c) for c in v[5]], v[6]),
            stages=stages_from_list(v[7]),
            recent=recent_from_list(v[8]),
            absorbed_into=v[9],
            absorbed_from=list(v[10]),
            pending_handoffs=list(v[11]),
            held=[(None if e is None else Touchpoint.model_validate(e), c, w) for e, c, w in v[12]],
            watermark_ms=v[13],
            friction=friction_from_list(v[14]),
            pending=[pending_from_list(o) for o in v[15]],
            event_count=v[16],
            first_seen_ms=v[17],
            last_seen_ms=v[18],
            erasure=ErasureProgress(
                v[19][0],
                int(v[19][1]),
                [int(i) for i in v[19][2]],
                [int(p) for p in v[19][3]],
                [str(k) for k in v[19][4]],
            )
            if len(v) > 19
            else None,
        )
    except (IndexError, KeyError, TypeError, ValueError) as error:
        raise StateFormatError(
            f"journey state of format {STATE_FORMAT} is malformed: {type(error).__name__}: {error}"
        ) from None


def handoff_to_dict(h: Handoff) -> dict[str, Any]:
    return {
        "to_journey_key": h.to_journey_key,
        "from_journey_key": h.from_journey_key,
        "open_sessions": [session_to_list(s) for s in h.open_sessions],
        "stages": stages_to_list(h.stages),
        "first_seen_ms": h.first_seen_ms,
        # orjson writes the dataclasses as objects of their fields, in C: the bytes `asdict` gave
        # (it deep-copied), read back by friction_from_dict
        "friction": h.friction,
        "pending": [pending_to_list(o) for o in h.pending],
        "erasure": h.erasure,
    }


def handoff_from_dict(d: dict[str, Any]) -> Handoff:
    return Handoff(
        d["to_journey_key"],
        d["from_journey_key"],
        [session_from_list(s) for s in d["open_sessions"]],
        stages_from_list(d["stages"]),
        d["first_seen_ms"],
        friction_from_dict(d["friction"]),
        [pending_from_list(o) for o in d["pending"]],
        d.get("erasure"),
    )


def encode_ingest_state(state: IngestState) -> bytes:
    return orjson.dumps(
        [STATE_FORMAT, state.customer_id, state.linked_at_ms, state.conflicts, recent_to_list(state.recent)]
    )


def decode_ingest_state(raw: bytes) -> IngestState:
    v = _versioned(raw, "ingest")
    try:
        return IngestState(customer_id=v[1], linked_at_ms=v[2], conflicts=v[3], recent=recent_from_list(v[4]))
    except (IndexError, KeyError, TypeError, ValueError) as error:
        raise StateFormatError(
            f"ingest state of format {STATE_FORMAT} is malformed: {type(error).__name__}: {error}"
        ) from None


def _versioned(raw: bytes, kind: str) -> list[Any]:
    """The stored list, when it is one of this format; StateFormatError otherwise (a worker then
    starts the key afresh and counts it, rather than stopping on one bad value)."""
    try:
        v = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise StateFormatError(f"{kind} state is not JSON: {error}") from None
    if not isinstance(v, list) or not v or v[0] != STATE_FORMAT:
        raise StateFormatError(
            f"{kind} state format {v[0] if isinstance(v, list) and v else '?'} is not {STATE_FORMAT}"
        )
    return v
