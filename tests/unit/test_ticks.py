"""What the worker's timer sends (streams/ticks.py): progress told once, a source announced idle
only after its silence and again only after new events, a stitched partition ticked only when
silent for an interval and when something is due, idle wall time added only while every source
is idle."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import cast

from journey.streams.messages import SourceProgressMessage, SourceStamp, TickMessage
from journey.streams.partition import NO_WATERMARK, JourneyPartition
from journey.streams.ticks import Ticks


@dataclass
class Processor:  # the three things a tick decision reads of a JourneyPartition
    event_watermark_ms: int = NO_WATERMARK
    all_sources_idle: bool = False
    due_from_ms: int | None = None  # has_work_due from this watermark on
    asked: list[int] = field(default_factory=list)

    def has_work_due(self, watermark_ms: int) -> bool:
        self.asked.append(watermark_ms)
        return self.due_from_ms is not None and watermark_ms >= self.due_from_ms


def ticks() -> Ticks:
    return Ticks(source_idle_s=2, tick_interval_s=0.5)


def test_delivered_progress_is_told_once_and_again_only_when_it_moves() -> None:
    t = ticks()
    assert t.progress_to_tell([0, 1]) == []
    t.source_progress_delivered({0: 1_000})
    assert t.progress_to_tell([0, 1]) == [SourceProgressMessage(SourceStamp(0, 1_000))]
    assert t.progress_to_tell([0, 1]) == []
    t.source_progress_delivered({0: 1_000, 1: 5})
    assert t.progress_to_tell([0, 1]) == [SourceProgressMessage(SourceStamp(1, 5))]
    assert t.progress_to_tell([1]) == []  # a partition not owned is not told
    t.forget_source(0)  # revoked, then back: told afresh once delivered again
    t.source_progress_delivered({0: 1_000})
    assert t.progress_to_tell([0]) == [SourceProgressMessage(SourceStamp(0, 1_000))]


def test_a_source_is_silent_after_its_idle_time_from_its_last_event_or_its_assignment() -> None:
    t = ticks()
    assert t.silent_sources([0, 1], now=100.0) == []  # just got them: the idle clock starts
    t.source_event(1, now=101.0)
    assert t.silent_sources([0, 1], now=102.0) == [0]
    t.announced(0)
    assert t.silent_sources([0, 1], now=103.5) == [1]  # 0 is announced already
    t.source_event(0, now=104.0)  # events again: no longer idle, silent again later
    assert t.silent_sources([0], now=105.0) == []
    assert t.silent_sources([0], now=106.0) == [0]


def test_a_silent_source_moves_on_by_the_wall_time_since_its_last_event() -> None:
    t = ticks()  # source_idle_s = 2: steps of 2 s
    assert t.silence_ms(0, now=50.0) == 0  # never seen: no silence to count
    t.source_event(0, now=100.0)
    assert t.silence_ms(0, now=103.5) == 3_500
    assert t.silent_progress(0, 10_000, now=101.0) is None  # no whole step yet
    heartbeat = t.silent_progress(0, 10_000, now=103.5)
    assert heartbeat == (12_000, 2_000)
    t.source_silent(0, *heartbeat)
    assert t.progress_to_tell([0]) == [SourceProgressMessage(SourceStamp(0, 12_000), silent_ms=2_000)]
    assert t.silent_progress(0, 10_000, now=103.9) is None  # told already: one heartbeat a step
    assert t.silent_progress(0, 10_000, now=104.1) == (14_000, 4_000)
    t.source_progress_delivered({0: 11_000})  # a real event older than the silence told: not told back
    assert t.progress_to_tell([0]) == []


def test_a_new_owner_counts_silence_from_the_last_read_its_clock_kept() -> None:
    t = ticks()
    t.last_read(0, wall=100.0)  # the previous owner read the partition's last event then
    assert t.silent_sources([0], now=200.0) == [0]
    assert t.silent_progress(0, 10_000, now=200.0) == (110_000, 100_000)  # not a count from 0 again


def test_a_stitched_partition_is_ticked_when_silent_and_something_is_due() -> None:
    t = ticks()
    nothing_yet = Processor()
    assert t.tick_due(0, cast(JourneyPartition, nothing_yet), now=10.0) is None
    processor = Processor(event_watermark_ms=50_000, due_from_ms=50_000)
    t.stitched_assigned(0, now=10.0)
    assert t.tick_due(0, cast(JourneyPartition, processor), now=10.4) is None  # not silent for an interval yet
    assert t.tick_due(0, cast(JourneyPartition, processor), now=11.0) == TickMessage(50_000)
    t.stitched_event(0, now=20.0)
    assert t.tick_due(0, cast(JourneyPartition, processor), now=20.2) is None
    processor.due_from_ms = None  # nothing due: no empty tick
    assert t.tick_due(0, cast(JourneyPartition, processor), now=30.0) is None


def test_idle_wall_time_moves_event_time_only_while_every_source_is_idle() -> None:
    t = ticks()
    t.stitched_event(0, now=10.0)
    live = Processor(event_watermark_ms=50_000, due_from_ms=0)
    assert t.tick_due(0, cast(JourneyPartition, live), now=13.0) == TickMessage(50_000)
    paused = Processor(event_watermark_ms=50_000, due_from_ms=0, all_sources_idle=True)
    assert t.tick_due(0, cast(JourneyPartition, paused), now=13.0) == TickMessage(53_000)
