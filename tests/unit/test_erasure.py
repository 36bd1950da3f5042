"""Right to erasure in the pure stages: what an erasure leaves does not depend on how the input
arrives, nothing of the person from before it survives, and what they do after it is kept as a
fresh journey.

"Survives" is what the sink keeps: an erasure marker (`Erased`) deletes the rows of its journey
that came before it. The erasure requests sit in the input where `journey erase` would publish
them, one per id of the person, each in its own source partition; a catch-up reads those
partitions at random paces, so a person's older events can reach their journey after some of the
markers (they are dropped) and newer ones before others (they are kept).
"""

from __future__ import annotations

import random

import pytest
from hypothesis import given, note
from hypothesis import strategies as st

from journey.schemas.touchpoint import Touchpoint
from journey.streams.codec import decode_state
from journey.streams.erasure import (
    ErasureFormatError,
    ErasureProgress,
    ErasureRequest,
    parse_erasure_request,
    person_requests,
)
from journey.streams.in_memory import InMemoryPipeline
from journey.streams.journey import (
    EnrichedTouchpoint,
    Erased,
    FrictionSignal,
    JourneyStageTransition,
    JourneyState,
    SessionRecord,
)
from journey.streams.messages import EraseMessage, SourceStamp, TouchpointMessage, decode_messages, encode_message
from journey.streams.partition import BatchResult, JourneyPartition
from journey.streams.timeutil import to_ms
from tests.unit.builders import rules
from tests.unit.canonical import canonical, links_of
from tests.unit.scenarios import journeys
from tests.unit.test_batch_independence import CACHED, PARTITIONS, SOURCES, end_of, property_settings, scenario

RULES = rules()
JOURNEY_OUTPUTS = (EnrichedTouchpoint, SessionRecord, FrictionSignal, JourneyStageTransition)


def with_erasures(events: list[Touchpoint], seed: int, at: float, people: int) -> tuple[list, dict[str, set[str]], int]:
    """The events with erasure requests for `people` identified customers inserted at fraction
    `at` of the input; returns them, each erased customer's ids, and the position of the requests."""
    customers = sorted({e.customer_id for e in events if e.customer_id})
    chosen = random.Random(seed).sample(customers, min(people, len(customers)))
    ids = {c: {e.anonymous_id for e in events if e.customer_id == c and e.anonymous_id} for c in chosen}
    position = int(len(events) * at)
    requests = [r for i, c in enumerate(chosen) for r in person_requests(c, sorted(ids[c]), f"request-{i}")]  # type: ignore[arg-type]
    return events[:position] + requests + events[position:], ids, position


def surviving(outputs: list) -> list:
    """The outputs the sink keeps: those of a journey before its latest erasure marker are deleted."""
    last_erasure = {o.journey_key: i for i, o in enumerate(outputs) if isinstance(o, Erased)}
    return [o for i, o in enumerate(outputs)
            if not isinstance(o, JOURNEY_OUTPUTS) or i > last_erasure.get(o.journey_key, -1)]  # fmt: skip


def run(items: list, schedule: int | None, most: int, cached: int, tick_ms: int) -> InMemoryPipeline:
    pipeline = InMemoryPipeline(RULES, sources=SOURCES, partitions=PARTITIONS, cached_state_bytes=cached)
    if schedule is None:
        pipeline.run_trickle(items, tick_ms=tick_ms)
    else:
        pipeline.run_interleaved(items, random.Random(schedule), most, tick_ms=tick_ms)
    return pipeline


def person_of(event: Touchpoint, ids: dict[str, set[str]]) -> str | None:
    for customer, anonymous in ids.items():
        if event.customer_id == customer or event.anonymous_id in anonymous:
            return customer
    return None


@property_settings
@given(spec=scenario, schedule=st.integers(0, 2**32 - 1), most=st.sampled_from([1, 7, 50, 10**9]),
       at=st.floats(0.2, 0.9), erased=st.integers(1, 5), cached=CACHED)  # fmt: skip
def test_an_erasure_leaves_the_same_whatever_the_arrival(spec: dict, schedule: int, most: int, at: float,
                                                         erased: int, cached: int) -> None:  # fmt: skip
    note(f"scenario {spec}, schedule {schedule}, most {most}, at {at}, erased {erased}, cached {cached}")
    events = journeys(spec["seed"], spec["people"], spec["days"])
    items, ids, position = with_erasures(events, spec["seed"], at, erased)
    tick_ms = end_of(events)
    trickled = run(items, None, 1, 0, tick_ms)
    caught_up = run(items, schedule, most, cached, tick_ms)

    kept, reference = surviving(caught_up.outputs), surviving(trickled.outputs)
    assert links_of(caught_up) == links_of(trickled)
    got, want = canonical(kept, links_of(trickled), strict=True), canonical(reference, links_of(trickled), strict=True)
    missing, extra = [r for r in want if r not in got], [r for r in got if r not in want]
    assert not missing and not extra, f"missing {missing[:5]}\nextra {extra[:5]}"
    erasures = {(o.journey_key, o.request_id) for o in caught_up.outputs if isinstance(o, Erased)}
    assert erasures == {(o.journey_key, o.request_id) for o in trickled.outputs if isinstance(o, Erased)}

    before = {str(e.event_id) for e in events[:position] if person_of(e, ids)}
    after = {str(e.event_id) for e in events[position:] if person_of(e, ids)}
    shown = {str(o.event.event_id) for o in kept if isinstance(o, EnrichedTouchpoint)}
    assert not before & shown, "an erased person's earlier event survived"
    assert after <= shown, "an event after the erasure was lost"
    for customer, anonymous in ids.items():
        assert all(
            caught_up.ingest_states[a].customer_id in (None, customer)
            for a in anonymous
            if a in caught_up.ingest_states
        )


def test_a_journey_erased_then_seen_again_starts_afresh_and_a_replayed_marker_changes_nothing() -> None:
    events = [e for e in journeys(seed=3, people=40, days=1) if e.customer_id == "cust-7" and not e.anonymous_id]
    assert len(events) >= 2, "the scenario gives cust-7 backend events"
    first, later = events[0], events[1]
    partition = JourneyPartition(RULES, source_partitions=1)
    table: dict[str, bytes] = {}

    def process(messages: list) -> BatchResult:  # through the wire format, as the worker reads them
        bundle = b"[" + b",".join(encode_message(m) for m in messages) + b"]"
        result = partition.process(decode_messages(bundle), lambda k: decode_state(table[k]) if k in table else None)
        table.update(result.stored)
        return result

    stamp = SourceStamp(0, to_ms(first.occurred_at))
    process([TouchpointMessage("cust-7", "cust-7", first, None, stamp)])
    erase = EraseMessage("cust-7", "r1", 1, 0, 0)
    result = process([erase, TouchpointMessage("cust-7", "cust-7", later, None, stamp)])
    assert isinstance(result.outputs[0], Erased)
    state = decode_state(result.stored["cust-7"])
    assert state.event_count == 1 and state.first_seen_ms == to_ms(later.occurred_at)
    assert state.erasure == ErasureProgress("r1", 1, [0], [0], [])
    again = process([erase])
    assert again.outputs == [], "a replayed marker of the same erasure"
    assert decode_state(again.stored["cust-7"]).event_count == 1, "…keeps the fresh journey as it was"


def test_an_erased_journey_keeps_its_key_and_the_request_only() -> None:
    partition = JourneyPartition(RULES, source_partitions=1)
    result = partition.process([EraseMessage("cust-1", "r1", 1, 0, 0)], lambda k: None)
    assert result.outputs == [Erased("cust-1", "r1")]
    assert decode_state(result.stored["cust-1"]) == JourneyState(
        "cust-1", erasure=ErasureProgress("r1", 1, [0], [0], [])
    )


def test_erasure_requests_are_checked() -> None:
    request = ErasureRequest("anonymous", "device-1", "r1", "cust-1", ("device-1",), 1)
    assert parse_erasure_request(request.to_json_bytes()) == request

    for bad in (b"", b"[]", b'{"subject": "x", "id": "a", "request_id": "r"}',
                b'{"subject": "customer", "id": "", "request_id": "r"}',
                b'{"subject": "customer", "id": "c", "request_id": "r", "customer_id": "c", "index": 1}',
                b'{"subject": "anonymous", "id": "a", "request_id": "r", "anonymous_ids": ["b"]}',
                b'{"subject": "customer", "id": "c", "request_id": "r", "customer_id": "d"}'):  # fmt: skip
        with pytest.raises(ErasureFormatError):
            parse_erasure_request(bad)
