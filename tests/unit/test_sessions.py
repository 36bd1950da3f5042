from __future__ import annotations

from journey.streams.sessions import SessionLimits, SessionState, close_expired, new_session_id, place_event
from journey.streams.timeutil import MINUTE_MS, to_ms
from tests.unit.builders import T0

LIMITS = SessionLimits(gap_ms=30 * MINUTE_MS, max_length_ms=24 * 60 * MINUTE_MS, grace_ms=5 * MINUTE_MS, max_path=5)
BASE = to_ms(T0)


def at(minutes: float) -> int:
    return BASE + int(minutes * MINUTE_MS)


def put(state: SessionState, minutes: float, event_id: str, watermark_minutes: float | None = None, limits=LIMITS):
    watermark = at(watermark_minutes if watermark_minutes is not None else minutes - 5)
    return place_event(state, "k", at(minutes), event_id, "web", f"tp.{event_id}", None, watermark, limits)


def test_events_within_the_gap_share_a_session_and_a_gap_splits() -> None:
    state = SessionState()
    first, _ = put(state, 0, "e1")
    second, _ = put(state, 29, "e2")
    third, _ = put(state, 29 + 30, "e3")  # exactly the gap after the last event: a new session
    assert first.session_id == second.session_id == new_session_id("e1")
    assert third.session_id == new_session_id("e3")
    assert [s.event_count for s in state.open] == [2, 1]


def test_session_closes_when_the_watermark_passes_end_plus_gap() -> None:
    state = SessionState()
    put(state, 0, "e1")
    put(state, 10, "e2")
    assert close_expired(state, at(39), LIMITS) == []
    closed = close_expired(state, at(40), LIMITS)
    assert [(c.reason, c.session.event_count, c.session.duration_ms) for c in closed] == [
        ("inactivity", 2, 10 * MINUTE_MS)
    ]
    assert state.open == []


def test_out_of_order_event_within_grace_is_placed_in_its_session() -> None:
    state = SessionState()
    put(state, 0, "e1")
    put(state, 20, "e2")
    placement, _ = put(state, 5, "e3", watermark_minutes=15)  # arrives after e2, 15 min older
    assert not placement.late and placement.session_id == new_session_id("e1")
    assert [p[1] for p in state.open[0].path] == ["e1", "e3", "e2"]  # path in event-time order


def test_late_event_bridging_two_sessions_merges_them() -> None:
    state = SessionState()
    put(state, 0, "e1")
    put(state, 50, "e2", watermark_minutes=0)  # 50 min later: its own session
    assert len(state.open) == 2
    placement, _ = put(state, 25, "e3", watermark_minutes=0)  # within 30 min of both
    assert len(state.open) == 1
    merged = state.open[0]
    assert placement.session_id == merged.session_id == new_session_id("e1")
    assert merged.merged_from == [new_session_id("e2")]
    assert merged.event_count == 3 and merged.duration_ms == 50 * MINUTE_MS


def test_event_older_than_the_watermark_that_fits_no_open_session_is_late() -> None:
    state = SessionState()
    put(state, 0, "e1")
    put(state, 100, "e2")  # closes the first session (watermark 95 >= 0 + 30)
    placement, _ = put(state, 10, "e3", watermark_minutes=95)
    assert placement.late and placement.session_id == new_session_id("e1")  # attributed, not reopened
    assert state.late_events == 1 and len(state.open) == 1


def test_long_activity_is_cut_at_the_maximum_length() -> None:
    limits = SessionLimits(gap_ms=30 * MINUTE_MS, max_length_ms=60 * MINUTE_MS, grace_ms=0, max_path=5)
    state = SessionState()
    for i, minute in enumerate(range(0, 70, 10)):
        _, closed = put(state, minute, f"e{i}", limits=limits)
    assert [c.reason for c in closed] == ["max_length"]
    assert [c.session.event_count for c in closed] == [6]
    assert state.open[0].session_id == new_session_id("e6")


def test_path_is_bounded_and_keeps_the_first_touchpoints() -> None:
    state = SessionState()
    for i in range(10):
        put(state, i, f"e{i}")
    assert [p[1] for p in state.open[0].path] == ["e0", "e1", "e2", "e3", "e4"]
    assert state.open[0].event_count == 10
