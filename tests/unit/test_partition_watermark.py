"""The stage-2 watermark: slowest active source partition minus grace."""

from __future__ import annotations

from journey.streams.codec import decode_state
from journey.streams.messages import (
    SourceIdleMessage,
    SourceProgressMessage,
    SourceStamp,
    TickMessage,
    TouchpointMessage,
)
from journey.streams.partition import NO_WATERMARK, JourneyPartition
from journey.streams.timeutil import MINUTE_MS, to_ms
from tests.unit.builders import rules, touchpoint

GRACE = 5 * MINUTE_MS


def message(minutes: float, source: int, n: int, key: str = "cust-1") -> TouchpointMessage:
    event = touchpoint(minutes, n=n, customer=key)
    return TouchpointMessage(key, key, event, None, SourceStamp(source, to_ms(event.occurred_at)))


def process(partition: JourneyPartition, *messages) -> list:
    """One batch, with states kept between batches as the worker's table does."""
    store = STORES.setdefault(id(partition), (partition, {}))[1]
    result = partition.process(list(messages), lambda key: decode_state(store[key]) if key in store else None)
    store.update(result.stored)
    return result.outputs


# Each partition's table, kept with the partition: an id is only unique while its object lives,
# and a later test's partition once got an earlier one's id (and its journeys).
STORES: dict[int, tuple[JourneyPartition, dict]] = {}


def test_no_watermark_until_every_source_reported_or_went_idle() -> None:
    partition = JourneyPartition(rules(), source_partitions=3)
    process(partition, message(0, 0, 1), message(10, 1, 2))
    assert partition.watermark_ms == NO_WATERMARK
    process(partition, SourceIdleMessage(2))
    assert partition.watermark_ms == to_ms(touchpoint(0).occurred_at) - GRACE


def test_a_source_running_ahead_does_not_make_a_slower_source_late() -> None:
    partition = JourneyPartition(rules(), source_partitions=2)
    outputs = process(
        partition,
        message(0, 0, 1, "a"),
        message(24 * 60, 1, 2, "b"),  # source 1 is a day ahead
        message(10, 0, 3, "a"),  # source 0 continues its own day: on time
    )
    assert partition.watermark_ms == to_ms(touchpoint(10).occurred_at) - GRACE
    outputs += process(partition, TickMessage(to_ms(touchpoint(3 * 24 * 60).occurred_at)))
    late = [o.late for o in outputs if hasattr(o, "late")]
    assert late == [False, False, False]


def test_idle_source_stops_holding_back_and_counts_again_when_it_sends() -> None:
    partition = JourneyPartition(rules(), source_partitions=2)
    process(partition, message(0, 0, 1), message(100, 1, 2))
    process(partition, SourceIdleMessage(0))
    assert partition.watermark_ms == to_ms(touchpoint(100).occurred_at) - GRACE
    process(partition, message(50, 0, 3))  # source 0 is back, behind: the watermark never moves back
    assert partition.watermark_ms == to_ms(touchpoint(100).occurred_at) - GRACE
    process(partition, message(200, 1, 4))
    assert partition.event_watermark_ms == to_ms(touchpoint(100).occurred_at) - GRACE  # held by source 0 at 50


def test_tick_moves_the_watermark_and_closes_due_sessions() -> None:
    partition = JourneyPartition(rules(), source_partitions=1)
    process(partition, message(0, 0, 1))
    assert partition.has_work_due(to_ms(touchpoint(0).occurred_at))  # the event, still to show detectors
    # Stages move in event-time order: the event's transition comes once event time passed it.
    shown = process(partition, TickMessage(to_ms(touchpoint(0).occurred_at)))
    assert [type(o).__name__ for o in shown] == ["JourneyStageTransition"]
    assert not partition.has_work_due(to_ms(touchpoint(29).occurred_at))
    assert partition.has_work_due(to_ms(touchpoint(30).occurred_at))  # the session's end + gap
    outputs = process(partition, TickMessage(to_ms(touchpoint(31).occurred_at)))
    assert [type(o).__name__ for o in outputs] == ["SessionRecord"]
    assert partition.open_sessions == 0


def test_a_source_progress_broadcast_moves_a_partition_none_of_its_keys_reach() -> None:
    from journey.streams.messages import SourceProgressMessage

    partition = JourneyPartition(rules(), source_partitions=2)
    process(partition, message(0, 0, 1))
    assert partition.watermark_ms == NO_WATERMARK  # source 1 has not reported
    process(partition, SourceProgressMessage(SourceStamp(1, to_ms(touchpoint(40).occurred_at))))
    assert partition.watermark_ms == to_ms(touchpoint(0).occurred_at) - GRACE  # the slowest source: 0
    assert not partition.all_sources_idle
    process(partition, SourceIdleMessage(0))
    process(partition, SourceIdleMessage(1))
    assert partition.all_sources_idle


def test_a_burst_after_a_pause_is_late_if_silent_sources_drop_out_and_on_time_if_they_move_on() -> None:
    """Why stage 1 no longer announces a silent, caught-up source idle (streams/ticks.py): both
    sources went quiet at minute 100; a burst covering three hours arrives on both, and stage 1
    happens to send source 0's part first. Dropped out as idle, source 1 cannot hold the watermark,
    so the customer's own events on source 0 carry its clock hours ahead and its events on source 1
    arrive late. Moved on with the wall clock (a heartbeat: its last event plus the silence), it
    still bounds the watermark, and nothing is late."""
    burst = [message(120, 0, 10), message(300, 0, 11), message(130, 1, 12), message(290, 1, 13)]

    def late_after(*pause) -> list[bool]:
        partition = JourneyPartition(rules(), source_partitions=2)
        process(partition, message(100, 0, 1), message(100, 1, 2), *pause)
        return [o.late for o in process(partition, *burst) if hasattr(o, "late")]

    assert late_after(SourceIdleMessage(0), SourceIdleMessage(1)) == [False, False, True, False]
    seconds_later = to_ms(touchpoint(100).occurred_at) + 3_000
    heartbeats = [SourceProgressMessage(SourceStamp(s, seconds_later)) for s in (0, 1)]
    assert late_after(*heartbeats) == [False, False, False, False]


def test_event_time_jumps_to_the_newest_only_once_every_source_was_silent_long_enough() -> None:
    """A backfill that ended: sources whose data end at different times would each move on at the
    wall clock's pace, holding the others' sessions for the gap; once every source has been silent
    for `settle_after_ms`, the watermark goes to the newest instead. A shorter pause keeps each
    source's own clock (the burst above)."""
    partition = JourneyPartition(rules(), source_partitions=2)
    process(partition, message(0, 0, 1, "a"), message(3 * 24 * 60, 1, 2, "b"))  # source 1 ends days later
    behind = to_ms(touchpoint(0).occurred_at)
    settle = partition.rules.settle_after_ms

    def heartbeats(silent_ms: int) -> list:
        return [SourceProgressMessage(SourceStamp(0, behind + silent_ms), silent_ms),
                SourceProgressMessage(SourceStamp(1, to_ms(touchpoint(3 * 24 * 60).occurred_at)), silent_ms)]  # fmt: skip

    process(partition, *heartbeats(settle - 1_000))
    assert partition.event_watermark_ms == behind + settle - 1_000 - GRACE  # still the slower source's pace
    process(partition, *heartbeats(settle))
    assert partition.event_watermark_ms == to_ms(touchpoint(3 * 24 * 60).occurred_at) - GRACE
    process(partition, message(3 * 24 * 60 + 10, 0, 3, "a"))  # traffic again: the watermark never goes back
    assert partition.event_watermark_ms == to_ms(touchpoint(3 * 24 * 60).occurred_at) - GRACE
