"""Messages on `touchpoints.stitched` (key = journey_key) and their JSON encoding.

Besides stitched touchpoints the topic carries the control messages that must be ordered with
them in their journey's partition: `absorb` (an anonymous journey learns its customer),
`handoff` (its state arriving at the customer), `tick` (sent to one partition so an idle
partition's watermark still moves and its sessions close), `source_progress` (stage 1 telling
every stitched partition how far a source partition got, so a partition none of that source's
keys reach still follows it), `source_idle` (stage 1 saying a
source partition went quiet, so it no longer holds watermarks back) and `erase` (a journey's state
deleted on a right-to-erasure request, in order with its events).

Messages from stage 1 carry a `SourceStamp`: the `touchpoints` partition they came from and the
newest event time seen there so far. A stitched partition mixes journeys from every source
partition, each at its own pace; its watermark is the slowest active source's progress, so a
lagging source's events are not late just because another source ran ahead (as Flink does).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from journey.schemas.touchpoint import Touchpoint
from journey.streams.codec import handoff_from_dict, handoff_to_dict
from journey.streams.journey import Handoff


@dataclass(frozen=True, slots=True)
class SourceStamp:
    partition: int
    watermark_ms: int  # newest event time seen in that source partition up to this message


@dataclass(frozen=True, slots=True)
class TouchpointMessage:
    journey_key: str
    customer_id: str | None
    event: Touchpoint
    awaits_handoff: str | None = None
    source: SourceStamp | None = None  # None when stage 2 forwards it
    forwarded_from: str | None = None  # the absorbed anonymous journey that forwarded it
    erasure: str | None = None  # the request that erased that journey before it forwarded this


@dataclass(frozen=True, slots=True)
class AbsorbMessage:
    journey_key: str  # the anonymous journey
    customer_id: str
    linked_at_ms: int
    source: SourceStamp | None = None


@dataclass(frozen=True, slots=True)
class SourceIdleMessage:
    source_partition: int


@dataclass(frozen=True, slots=True)
class SourceProgressMessage:
    source: SourceStamp
    silent_ms: int | None = None  # a heartbeat of a caught-up source silent this long (streams/ticks.py)


@dataclass(frozen=True, slots=True)
class HandoffMessage:
    handoff: Handoff

    @property
    def journey_key(self) -> str:
        return self.handoff.to_journey_key


@dataclass(frozen=True, slots=True)
class EraseMessage:
    """A journey's state is deleted, in order with the events of the source partition it came
    from (streams/erasure.py)."""

    journey_key: str
    request_id: str
    markers: int  # how many EraseMessages of this erasure the journey gets in all
    index: int  # which request of the erasure sent this one
    source_partition: int  # where the request was read
    senders: tuple[str, ...] = ()  # the person's anonymous journeys


@dataclass(frozen=True, slots=True)
class TickMessage:
    watermark_ms: int  # no key: sent to one partition explicitly


StitchedMessage = (
    TouchpointMessage
    | AbsorbMessage
    | HandoffMessage
    | TickMessage
    | SourceIdleMessage
    | SourceProgressMessage
    | EraseMessage
)


def _stamp(source: SourceStamp | None) -> list[int] | None:
    return None if source is None else [source.partition, source.watermark_ms]


def _unstamp(value: list[int] | None) -> SourceStamp | None:
    return None if value is None else SourceStamp(value[0], value[1])


def encode_message(message: StitchedMessage) -> bytes:
    body: dict[str, Any]
    match message:
        case TouchpointMessage(journey_key, customer_id, event, awaits_handoff, source, forwarded_from, erasure):
            body = {"type": "touchpoint", "journey_key": journey_key, "customer_id": customer_id,
                    "event": event.model_dump(mode="json", exclude_none=True), "source": _stamp(source)}  # fmt: skip
            if awaits_handoff is not None:
                body["awaits_handoff"] = awaits_handoff
            if forwarded_from is not None:
                body["forwarded_from"], body["erasure"] = forwarded_from, erasure
        case AbsorbMessage(journey_key, customer_id, linked_at_ms, source):
            body = {"type": "absorb", "journey_key": journey_key, "customer_id": customer_id,
                    "linked_at_ms": linked_at_ms, "source": _stamp(source)}  # fmt: skip
        case SourceIdleMessage(source_partition):
            body = {"type": "source_idle", "source_partition": source_partition}
        case SourceProgressMessage(source, silent_ms):
            body = {"type": "source_progress", "source": _stamp(source)}
            if silent_ms is not None:
                body["silent_ms"] = silent_ms
        case HandoffMessage(handoff):
            body = {"type": "handoff", **handoff_to_dict(handoff)}
        case TickMessage(watermark_ms):
            body = {"type": "tick", "watermark_ms": watermark_ms}
        case EraseMessage(journey_key, request_id, markers, index, source_partition, senders):
            body = {"type": "erase", "journey_key": journey_key, "request_id": request_id, "markers": markers,
                    "index": index, "source_partition": source_partition, "senders": senders}  # fmt: skip
    return orjson.dumps(body)


def encode_bundles(encoded: list[bytes], max_bytes: int) -> list[bytes]:
    """Encoded messages for one stitched partition, in order, as few records as fit `max_bytes`
    each (a message larger than that travels alone). Stage 2 then pays the per-record cost of
    reading and committing once per bundle instead of once per event (docs/decisions.md)."""
    bundles: list[bytes] = []
    members: list[bytes] = []
    size = 2  # the brackets
    for body in encoded:
        if members and size + 1 + len(body) > max_bytes:  # a comma, then the body
            bundles.append(b"[" + b",".join(members) + b"]")
            members, size = [], 2
        size += len(body) + (1 if members else 0)
        members.append(body)
    if members:
        bundles.append(b"[" + b",".join(members) + b"]")
    return bundles


class MessageFormatError(ValueError):
    """A stitched record that is not what stage 1 or 2 writes (only a bug or a foreign producer)."""


def decode_messages(raw: bytes) -> list[StitchedMessage]:
    """One stitched record: a bundle (a JSON array of messages) or a single message."""
    try:
        document = orjson.loads(raw)
        if isinstance(document, list):
            return [_from_body(body) for body in document]
        return [_from_body(document)]
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as error:
        raise MessageFormatError(f"not a stitched message: {type(error).__name__}: {error}") from None


def _from_body(body: dict[str, Any]) -> StitchedMessage:
    kind = body.pop("type")
    if kind == "touchpoint":
        event = Touchpoint.model_validate(body["event"])
        stamp = _unstamp(body.get("source"))
        return TouchpointMessage(body["journey_key"], body["customer_id"], event, body.get("awaits_handoff"), stamp,
                                 body.get("forwarded_from"), body.get("erasure"))  # fmt: skip
    if kind == "absorb":
        return AbsorbMessage(
            body["journey_key"], body["customer_id"], body["linked_at_ms"], _unstamp(body.get("source"))
        )
    if kind == "source_idle":
        return SourceIdleMessage(body["source_partition"])
    if kind == "source_progress":
        return SourceProgressMessage(_unstamp(body["source"]), body.get("silent_ms"))  # type: ignore[arg-type]
    if kind == "handoff":
        return HandoffMessage(handoff_from_dict(body))
    if kind == "tick":
        return TickMessage(body["watermark_ms"])
    if kind == "erase":
        return EraseMessage(body["journey_key"], body["request_id"], body["markers"], body["index"],
                            body["source_partition"], tuple(body["senders"]))  # fmt: skip
    raise ValueError(f"unknown stitched message type {kind!r}")
