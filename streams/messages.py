"""Messages on `touchpoints.stitched` (key = journey_key) and their JSON encoding.

Besides stitched touchpoints the topic carries the control messages that must be ordered with
them in their journey's partition: `absorb` (an anonymous journey learns its customer),
`handoff` (its state arriving at the customer) and `tick` (sent to every partition so idle
partitions' watermarks still move and their sessions close).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from schemas.touchpoint import Touchpoint
from streams.codec import handoff_from_dict, handoff_to_dict
from streams.journey import Handoff


@dataclass(frozen=True, slots=True)
class TouchpointMessage:
    journey_key: str
    customer_id: str | None
    event: Touchpoint
    awaits_handoff: str | None = None


@dataclass(frozen=True, slots=True)
class AbsorbMessage:
    journey_key: str  # the anonymous journey
    customer_id: str
    linked_at_ms: int


@dataclass(frozen=True, slots=True)
class HandoffMessage:
    handoff: Handoff

    @property
    def journey_key(self) -> str:
        return self.handoff.to_journey_key


@dataclass(frozen=True, slots=True)
class TickMessage:
    watermark_ms: int  # no key: sent to one partition explicitly


StitchedMessage = TouchpointMessage | AbsorbMessage | HandoffMessage | TickMessage


def encode_message(message: StitchedMessage) -> bytes:
    body: dict[str, Any]
    match message:
        case TouchpointMessage(journey_key, customer_id, event, awaits_handoff):
            body = {"type": "touchpoint", "journey_key": journey_key, "customer_id": customer_id,
                    "event": event.model_dump(mode="json", exclude_none=True)}  # fmt: skip
            if awaits_handoff is not None:
                body["awaits_handoff"] = awaits_handoff
        case AbsorbMessage(journey_key, customer_id, linked_at_ms):
            body = {"type": "absorb", "journey_key": journey_key, "customer_id": customer_id, "linked_at_ms": linked_at_ms}
        case HandoffMessage(handoff):
            body = {"type": "handoff", **handoff_to_dict(handoff)}
        case TickMessage(watermark_ms):
            body = {"type": "tick", "watermark_ms": watermark_ms}
    return orjson.dumps(body)


def decode_message(raw: bytes) -> StitchedMessage:
    body = orjson.loads(raw)
    kind = body.pop("type")
    if kind == "touchpoint":
        event = Touchpoint.model_validate(body["event"])
        return TouchpointMessage(body["journey_key"], body["customer_id"], event, body.get("awaits_handoff"))
    if kind == "absorb":
        return AbsorbMessage(body["journey_key"], body["customer_id"], body["linked_at_ms"])
    if kind == "handoff":
        return HandoffMessage(handoff_from_dict(body))
    if kind == "tick":
        return TickMessage(body["watermark_ms"])
    raise ValueError(f"unknown stitched message type {kind!r}")
