from __future__ import annotations

from journey.config import IdentitySettings
from journey.streams.identity import Conflict, Duplicate, IngestState, Linked, Stitched, ingest
from tests.unit.builders import touchpoint

CONFIG = IdentitySettings(lookback_days=7)


def keys(outputs: list) -> list:
    return [(type(o).__name__, getattr(o, "journey_key", None)) for o in outputs]


def test_anonymous_events_before_identify_stay_anonymous_then_resolve() -> None:
    state = IngestState()
    before = ingest(state, touchpoint(0, "ad.click", customer=None, anonymous="a1"), CONFIG)
    link = ingest(state, touchpoint(10, "identity.identified", customer="c1", anonymous="a1"), CONFIG)
    after = ingest(state, touchpoint(20, "web.pricing_viewed", customer=None, anonymous="a1"), CONFIG)
    assert keys(before) == [("Stitched", "anon:a1")]
    assert keys(link) == [("Linked", None), ("Stitched", "c1")]
    assert link[0] == Linked("a1", "c1", link[0].linked_at_ms, link[0].event_id)
    assert keys(after) == [("Stitched", "c1")]
    assert after[0].customer_id == "c1"


def test_known_customer_events_need_no_link() -> None:
    outputs = ingest(IngestState(), touchpoint(0, customer="c9"), CONFIG)
    assert outputs == [Stitched("c9", "c9", outputs[0].event)]


def test_second_customer_claiming_an_anonymous_id_is_a_conflict_first_link_kept() -> None:
    state = IngestState()
    ingest(state, touchpoint(0, "identity.identified", customer="c1", anonymous="a1"), CONFIG)
    outputs = ingest(state, touchpoint(5, "identity.identified", customer="c2", anonymous="a1"), CONFIG)
    assert isinstance(outputs[0], Conflict) and outputs[0].kept_customer_id == "c1"
    assert outputs[0].claimed_customer_id == "c2"
    assert keys(outputs[1:]) == [("Stitched", "c2")]  # the event itself belongs to who it names
    assert state.customer_id == "c1" and state.conflicts == 1
    anonymous_later = ingest(state, touchpoint(6, customer=None, anonymous="a1"), CONFIG)
    assert keys(anonymous_later) == [("Stitched", "c1")]


def test_duplicate_event_ids_are_dropped() -> None:
    state = IngestState()
    event = touchpoint(0, customer=None, anonymous="a1")
    assert keys(ingest(state, event, CONFIG)) == [("Stitched", "anon:a1")]
    assert ingest(state, event, CONFIG) == [Duplicate(event)]


def test_anonymous_events_older_than_lookback_before_the_link_are_not_reattributed() -> None:
    state = IngestState()
    ingest(state, touchpoint(60 * 24 * 10, "identity.identified", customer="c1", anonymous="a1"), CONFIG)
    ancient = ingest(state, touchpoint(0, customer=None, anonymous="a1"), CONFIG)  # 10 days before the link
    recent = ingest(state, touchpoint(60 * 24 * 4, customer=None, anonymous="a1"), CONFIG)  # 6 days before
    assert keys(ancient) == [("Stitched", "anon:a1")]
    assert keys(recent) == [("Stitched", "c1")]


def test_link_time_is_the_earliest_event_showing_both_ids_whatever_the_order() -> None:
    state = IngestState()
    ingest(state, touchpoint(30, "signup.completed", customer="c1", anonymous="a1"), CONFIG)
    outputs = ingest(state, touchpoint(10, "identity.identified", customer="c1", anonymous="a1"), CONFIG)
    assert isinstance(outputs[0], Linked)
    assert state.linked_at_ms == outputs[0].linked_at_ms
    assert ingest(state, touchpoint(40, "feature.used", customer="c1", anonymous="a1"), CONFIG) == [
        Stitched("c1", "c1", touchpoint(40, "feature.used", customer="c1", anonymous="a1"))
    ]


def test_dedupe_memory_is_bounded_by_count_and_event_time() -> None:
    config = IdentitySettings(dedupe_max_ids=16, dedupe_window_hours=1)
    state = IngestState()
    for i in range(100):
        ingest(state, touchpoint(i, n=i), config)
    assert len(state.recent) == 16
    ingest(state, touchpoint(500, n="late"), config)
    assert bytes(state.recent.ids) == touchpoint(500, n="late").event_id.bytes  # all others older than 1 h
