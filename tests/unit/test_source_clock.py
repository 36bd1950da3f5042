"""A source partition's told progress never passes a record moved from it and still on its way
(streams/source_clock.py): held at the earliest moved event time until the destination partition
was processed past the record's offset; restored from what the ingest table keeps, 0.2.0's bare
number included."""

from __future__ import annotations

import orjson

from journey.streams.source_clock import NO_WATERMARK, Hold, SourceClock


def test_a_moved_record_holds_the_progress_told_until_its_partition_is_past_it() -> None:
    clock = SourceClock()
    clock.read(1_000)
    clock.moved(4, 400)  # moved in this batch: held at once, before its offset is known
    clock.moved(4, 700)
    clock.read(9_000)
    assert clock.stamp_ms == 400 and not clock.settled
    clock.moves_delivered({4: 52})
    assert clock.holds == [Hold(4, 52, 400)] and clock.stamp_ms == 400
    assert not clock.release({4: 52})  # partition 4 will read offset 52 next: not processed yet
    assert not clock.release({3: 100})  # another partition says nothing
    assert clock.release({4: 53})
    assert clock.stamp_ms == 9_000 and clock.settled


def test_moved_records_count_as_read_once_they_landed() -> None:
    clock = SourceClock(newest_ms=1_000)
    clock.moved(2, 5_000)  # a partition whose records all need moving still moves on in event time
    clock.moved(3, 4_000)
    assert clock.stamp_ms == 4_000  # never past a record in flight
    clock.moves_delivered({2: 8, 3: 2})
    clock.release({3: 3})
    assert clock.stamp_ms == 5_000 and not clock.settled
    clock.release({2: 9})
    assert clock.stamp_ms == 5_000 and clock.settled


def test_holds_release_one_batch_at_a_time() -> None:
    clock = SourceClock(newest_ms=5_000)
    clock.moved(1, 100)
    clock.moves_delivered({1: 10})
    clock.moved(1, 300)
    clock.moved(2, 200)
    clock.moves_delivered({1: 20, 2: 7})
    assert clock.stamp_ms == 100
    clock.release({1: 11})
    assert clock.stamp_ms == 200  # partition 2's record is still on its way
    clock.release({1: 11, 2: 8})
    assert clock.stamp_ms == 300
    clock.release({1: 21})
    assert clock.settled and clock.stamp_ms == 5_000


def test_the_snapshot_round_trips_and_the_old_format_is_read() -> None:
    clock = SourceClock(newest_ms=7, read_at_s=1_765_000_000.5)
    clock.moved(2, 3)
    clock.moves_delivered({2: 99})
    assert SourceClock.restore(orjson.loads(orjson.dumps(clock.snapshot()))) == clock
    assert SourceClock.restore(123_456) == SourceClock(newest_ms=123_456)  # 0.2.0 kept the number alone
    assert SourceClock.restore(None).stamp_ms == NO_WATERMARK
