"""What the stream stages publish: JSON records for the journey.* topics and the dead-letter
envelope. Pure encoders; every record carries a deterministic id so downstream can dedupe."""

from __future__ import annotations

import base64
import hashlib
import uuid
from datetime import UTC, datetime
from typing import Any

import orjson

from journey.streams.identity import Conflict, Linked
from journey.streams.journey import EnrichedTouchpoint, FrictionSignal, JourneyStageTransition, SessionRecord
from journey.streams.timeutil import from_ms, to_ms

RECORD_NAMESPACE = uuid.UUID("8a0f3f0a-7d0e-4a67-b7f3-5d1f1e2b9c44")


def iso(ms: int | None) -> str | None:
    return None if ms is None else from_ms(ms).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _dumps(record: dict[str, Any]) -> bytes:
    return orjson.dumps(record)


def touchpoint_record(o: EnrichedTouchpoint) -> bytes:
    e = o.event
    return _dumps(
        {
            "event_id": str(e.event_id),
            "occurred_at": iso(to_ms(e.occurred_at)),
            "journey_key": o.journey_key,
            "customer_id": o.customer_id,
            "anonymous_id": e.anonymous_id,
            "account_id": e.account_id,
            "session_id": o.session_id,
            "stage": o.stage,
            "late": o.late,
            "channel": e.channel.value,
            "touchpoint": e.touchpoint,
            "flow": e.flow,
            "step": e.step,
            "score": e.score,
            "properties": e.properties,
            "source": e.source,
        }
    )


def session_record(o: SessionRecord) -> bytes:
    s = o.session
    return _dumps(
        {
            "session_id": s.session_id,
            "journey_key": o.journey_key,
            "customer_id": o.customer_id,
            "account_id": o.account_id,
            "started_at": iso(s.start_ms),
            "ended_at": iso(s.end_ms),
            "duration_ms": s.duration_ms,
            "event_count": s.event_count,
            "channels": s.channels,
            "path": [touchpoint for _, _, touchpoint in s.path],
            "stages": s.stages,
            "merged_from": s.merged_from,
            "close_reason": o.close_reason,
            "friction_score": s.friction_score,
            "version": s.version,
        }
    )


def friction_record(o: FrictionSignal) -> bytes:
    s = o.signal
    trigger = s.trigger
    return _dumps(
        {
            "signal_id": s.signal_id,
            "kind": s.kind,
            "severity": s.severity,
            "journey_key": o.journey_key,
            "customer_id": o.customer_id,
            "account_id": o.account_id,
            "session_id": s.session_id,
            "detected_at": iso(s.detected_ms),
            "occurred_at": iso(s.occurred_ms),
            "channel": trigger.channel if trigger else None,
            "touchpoint": trigger.touchpoint if trigger else None,
            "flow": s.flow,
            "step": s.step,
            "count": s.count,
            "details": s.details,
            "version": s.version,
        }
    )


def stage_transition_record(o: JourneyStageTransition) -> bytes:
    t = o.transition
    return _dumps(
        {
            "transition_id": str(uuid.uuid5(RECORD_NAMESPACE, f"{o.journey_key}/{t.event_id}/{t.to_stage}")),
            "journey_key": o.journey_key,
            "customer_id": o.customer_id,
            "from_stage": t.from_stage,
            "to_stage": t.to_stage,
            "at": iso(t.at_ms),
            "time_in_previous_ms": t.time_in_previous_ms,
            "first_time": t.first_time,
            "event_id": t.event_id,
            "time_to_first_value_ms": o.time_to_first_value_ms,
        }
    )


def identity_record(o: Linked | Conflict) -> bytes:
    if isinstance(o, Linked):
        body = {"kind": "link", "anonymous_id": o.anonymous_id, "customer_id": o.customer_id,
                "linked_at": iso(o.linked_at_ms), "event_id": o.event_id}  # fmt: skip
    else:
        body = {"kind": "conflict", "anonymous_id": o.anonymous_id, "customer_id": o.kept_customer_id,
                "claimed_customer_id": o.claimed_customer_id, "event_id": o.event_id}  # fmt: skip
    return _dumps(body)


MAX_EXPLANATION_CHARS = 2000
MAX_ERRORS = 50


def dead_letter_record(
    *,
    reason: str,
    message: str,
    errors: list[dict[str, str]],
    topic: str,
    partition: int,
    offset: int,
    key: bytes | None,
    original: bytes,
    max_bytes: int,
    received_at: datetime | None = None,
    redacted: bool = False,
) -> bytes:
    """Everything needed to understand and replay a rejected event: reason and the exact bytes.
    An original too large for `max_bytes` (the dead-letter topic's limit) in base64 is kept in
    part, with `original_bytes` and `original_sha256` of the whole."""
    envelope: dict[str, Any] = {
        "reason": reason,
        "message": message[:MAX_EXPLANATION_CHARS],  # an error may quote the offending value, whatever its size
        "errors": [{k: v[:MAX_EXPLANATION_CHARS] for k, v in e.items()} for e in errors[:MAX_ERRORS]],
        "topic": topic,
        "partition": partition,
        "offset": offset,
        "key": None if key is None else base64.b64encode(key).decode(),
        "original": base64.b64encode(original).decode(),
        "received_at": iso(to_ms(received_at or datetime.now(UTC))),
    }
    if redacted:  # personal data hashed or dropped as in accepted events (privacy settings)
        envelope["redacted"] = True
    record = _dumps(envelope)
    if len(record) > max_bytes:
        room = max_bytes - (len(record) - len(envelope["original"])) - 256  # the added fields
        envelope |= {"original": base64.b64encode(original[: max(room, 0) * 3 // 4]).decode(),
                     "original_truncated": True, "original_bytes": len(original),
                     "original_sha256": hashlib.sha256(original).hexdigest()}  # fmt: skip
        record = _dumps(envelope)
    return record
