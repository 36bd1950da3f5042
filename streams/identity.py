"""Stage 1 logic for one partition key (an anonymous id, or a customer id when there is none):
drop duplicates, learn anonymous → customer links, and decide each event's journey_key.

Rules (as PostHog and Adobe CJA do):
- an anonymous id links to one customer; a second, different customer claiming it is a
  *conflict*: counted, reported, and the first link kept (two known customers are never merged);
- the link time is the earliest event that showed both ids, whatever order events arrive in;
- anonymous events older than `lookback` before the link stay anonymous (not re-attributed).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from journey.config import IdentitySettings
from journey.schemas.touchpoint import Touchpoint
from journey.streams.recent_ids import RecentIds
from journey.streams.timeutil import DAY_MS, HOUR_MS, to_ms

ANONYMOUS_KEY_PREFIX = "anon:"


def anonymous_journey_key(anonymous_id: str) -> str:
    return f"{ANONYMOUS_KEY_PREFIX}{anonymous_id}"


@dataclass(slots=True)
class IngestState:
    customer_id: str | None = None  # the customer this anonymous key links to
    linked_at_ms: int | None = None
    conflicts: int = 0
    recent: RecentIds = field(default_factory=RecentIds)


@dataclass(frozen=True, slots=True)
class Stitched:
    journey_key: str
    customer_id: str | None
    event: Touchpoint
    awaits_handoff: str | None = None  # this event created a link: the anonymous journey will follow


@dataclass(frozen=True, slots=True)
class Duplicate:
    event: Touchpoint


@dataclass(frozen=True, slots=True)
class Linked:
    """A new anonymous → customer link (also sent when an earlier event moves the link time back)."""

    anonymous_id: str
    customer_id: str
    linked_at_ms: int
    event_id: str
    new: bool = True  # False: an earlier event moved the time of a known link back


@dataclass(frozen=True, slots=True)
class Conflict:
    anonymous_id: str
    kept_customer_id: str
    claimed_customer_id: str
    event_id: str


IngestOutput = Stitched | Duplicate | Linked | Conflict


def ingest(state: IngestState, event: Touchpoint, config: IdentitySettings) -> list[IngestOutput]:
    """Apply one event to the key's state (mutated in place); return what to emit, in order."""
    occurred_ms = to_ms(event.occurred_at)
    event_id = str(event.event_id)
    window_ms = int(config.dedupe_window_hours * HOUR_MS)
    if state.recent.check_and_add(event.event_id.bytes, occurred_ms, window_ms, config.dedupe_max_ids):
        return [Duplicate(event)]

    outputs: list[IngestOutput] = []
    anonymous_id, customer_id = event.anonymous_id, event.customer_id
    if anonymous_id is not None and customer_id is not None:
        outputs.extend(_learn_link(state, anonymous_id, customer_id, occurred_ms, event_id))

    if customer_id is not None:
        new_link = any(isinstance(o, Linked) and o.new for o in outputs)
        awaits = anonymous_journey_key(anonymous_id) if new_link and anonymous_id else None
        outputs.append(Stitched(customer_id, customer_id, event, awaits))
    else:
        assert anonymous_id is not None  # the schema guarantees one of the two
        lookback_ms = int(config.lookback_days * DAY_MS)
        linked = state.customer_id is not None and state.linked_at_ms is not None
        if linked and occurred_ms >= state.linked_at_ms - lookback_ms:  # type: ignore[operator]
            outputs.append(Stitched(state.customer_id, state.customer_id, event))  # type: ignore[arg-type]
        else:
            outputs.append(Stitched(anonymous_journey_key(anonymous_id), None, event))
    return outputs


def _learn_link(
    state: IngestState, anonymous_id: str, customer_id: str, occurred_ms: int, event_id: str
) -> list[IngestOutput]:
    if state.customer_id is None:
        state.customer_id, state.linked_at_ms = customer_id, occurred_ms
        return [Linked(anonymous_id, customer_id, occurred_ms, event_id)]
    if state.customer_id != customer_id:
        state.conflicts += 1
        return [Conflict(anonymous_id, state.customer_id, customer_id, event_id)]
    if state.linked_at_ms is not None and occurred_ms < state.linked_at_ms:
        state.linked_at_ms = occurred_ms
        return [Linked(anonymous_id, customer_id, occurred_ms, event_id, new=False)]
    return []
