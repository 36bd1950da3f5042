"""Bad records of every kind a broken publisher sends, for the poison-input test and benchmark:
each is (class, Kafka key, bytes) and the dead-letter reason stage 1 must give it.

Built from valid events, so only the defect named by the class is wrong. `wrong_key` records are
valid events under another key: not dead-lettered but re-published under their own key
(counted `misrouted`), so they must arrive exactly once like any good event.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson

NAMESPACE = uuid.UUID("5b0f3c2e-8f41-4c8e-9a70-6a2d1f0c9b11")
HUGE_PADDING = 990_000  # with the event, just under librdkafka's default message.max.bytes (1,000,000)


@dataclass(frozen=True)
class Poison:
    kind: str
    key: bytes | None
    value: bytes
    reason: str | None  # the dead-letter reason; None: not dead-lettered (re-routed)


def _with(event: dict[str, Any], n: int, **changes: Any) -> dict[str, Any]:
    """The event with a fresh id (so no poison record duplicates a good one) and `changes`."""
    return {**event, "event_id": str(uuid.uuid5(NAMESPACE, f"{event['event_id']}/{n}")), **changes}


def _key(event: dict[str, Any]) -> bytes:
    return (event.get("anonymous_id") or event["customer_id"]).encode()


def _nested(event: dict[str, Any], n: int, depth: int) -> bytes:
    """The event with properties nested `depth` objects deep (written by hand: JSON encoders
    refuse to go as deep as a broken publisher does)."""
    body = orjson.dumps(_with(event, n, properties={"nested": 0}))
    return body.replace(b'{"nested":0}', b'{"deeper":' * depth + b'{"leaf":1}' + b"}" * depth, 1)


def _make(kind: str, event: dict[str, Any], n: int, published_at: datetime) -> Poison:
    key = _key(event)
    match kind:
        case "not_json":
            return Poison(kind, key, b"{'event_id': " + str(n).encode() + b", touchpoint: checkout.started", "not_json")
        case "not_utf8":
            body = orjson.dumps(_with(event, n)).replace(b'"source":"', b'"source":"\xff\xfe', 1)
            return Poison(kind, key, body, "not_utf8")
        case "not_an_object":
            return Poison(kind, key, orjson.dumps([_with(event, n)]), "not_an_object")
        case "wrong_types":
            return Poison(kind, key, orjson.dumps(_with(event, n, occurred_at=1_700_000_000, channel=7)), "schema")
        case "nan_infinity":
            # Not JSON (RFC 8259 has no NaN or Infinity), though Python's json module writes them.
            body = b'{"ratio":NaN,"max":Infinity,' + orjson.dumps(_with(event, n))[1:]
            return Poison(kind, key, body, "not_json")
        case "deep_nesting":
            depth = 5 + n % 2000  # past the contract's 4 levels, up to past orjson's own limit (1,024)
            return Poison(kind, key, _nested(event, n, depth), "schema" if depth < 1023 else "not_json")
        case "huge":
            padding = "x" * HUGE_PADDING
            return Poison(kind, key, orjson.dumps(_with(event, n, properties={"padding": padding})), "too_large")
        case "far_future":
            at = published_at + timedelta(days=365 * 5)
            return Poison(kind, key, orjson.dumps(_with(event, n, occurred_at=at.isoformat())), "time_out_of_range")
        case "far_past":
            at = published_at - timedelta(days=365 * 30)
            return Poison(kind, key, orjson.dumps(_with(event, n, occurred_at=at.isoformat())), "time_out_of_range")
        case "unknown_fields":
            return Poison(kind, key, orjson.dumps(_with(event, n, favourite_colour="teal")), "schema")
        case "missing_ids":
            without_ids = {k: v for k, v in _with(event, n).items() if k not in ("customer_id", "anonymous_id")}
            return Poison(kind, key, orjson.dumps(without_ids), "schema")
        case "empty":
            return Poison(kind, key, b"", "not_json")
        case "wrong_key":
            return Poison(kind, b"not-" + key, orjson.dumps(_with(event, n)), None)
    raise ValueError(f"unknown poison kind {kind!r}")


KINDS = ("not_json", "not_utf8", "not_an_object", "wrong_types", "nan_infinity", "deep_nesting", "huge",
         "far_future", "far_past", "unknown_fields", "missing_ids", "empty", "wrong_key")  # fmt: skip


def poison(
    events: Sequence[dict[str, Any]], count: int, published_at: datetime, seed: int = 0, huge: int = 20
) -> Iterator[Poison]:
    """`count` bad records, every kind in turn from `events` (valid event dicts), except that at
    most `huge` are ~1 MB (they cost the broker a megabyte each)."""
    rng = random.Random(seed)
    kinds = [kind for kind in KINDS if kind != "huge"]
    every = max(count // huge, 1) if huge else 0  # the huge ones spread through the run
    for n in range(count):
        is_huge = every and n % every == 0 and n // every < huge
        yield _make("huge" if is_huge else kinds[n % len(kinds)], rng.choice(events), n, published_at)
