"""Time moves on without events, as messages in the stream so replays agree:

- each touchpoints partition's progress whose outputs Kafka acknowledged is told to every
  stitched partition, so one that none of its keys reach still follows it;
- a touchpoints partition that is caught up (nothing left to read) and silent for
  `source_idle_s` moves on with the wall clock: its progress told is its newest event time plus
  the silence since it was read, so it holds watermarks back no longer than live traffic would.
  It is not dropped from them: a partition announced idle while the others ran ahead made a burst
  published after a pause late on arrival (the oracle found it: a backfill published in chunks
  while the workers ran). One with a backlog never moves on, however long a catch-up or a
  rebalance keeps it unread; one that never had an event is announced idle;
- a stitched partition silent for a tick interval gets a tick at its watermark, which closes what
  is due there; only while every source is idle does the tick add the idle wall time (live
  traffic has paused: event time moves with the clock).

`Ticks` keeps what deciding that needs (wall times of the partitions' last events, progress
delivered and told, idle announcements) and says what is due; the worker's timer sends it. No I/O:
the wall clock comes in as `now`, the broker's view of a backlog as the worker's `caught_up`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from journey.streams.messages import SourceProgressMessage, SourceStamp, TickMessage
from journey.streams.partition import NO_WATERMARK, JourneyPartition


@dataclass
class Ticks:
    source_idle_s: float
    tick_interval_s: float
    source_last_wall: dict[int, float] = field(default_factory=dict)  # stage-1 partition -> its last event's wall time
    source_delivered: dict[int, int] = field(default_factory=dict)  # stage-1 partition -> progress Kafka acked
    source_told: dict[int, int] = field(default_factory=dict)  # stage-1 partition -> progress told every partition
    source_silence: dict[int, int] = field(default_factory=dict)  # stage-1 partition -> silence its progress tells
    announced_idle: set[int] = field(default_factory=set)
    stitched_last_event: dict[int, float] = field(
        default_factory=dict
    )  # stage-2 partition -> its last event's wall time

    # -- what the stages report ------------------------------------------------------------------
    def source_event(self, partition: int, now: float) -> None:
        self.source_last_wall[partition] = now
        self.announced_idle.discard(partition)

    def source_progress_delivered(self, progress: dict[int, int]) -> None:
        self.source_delivered.update(progress)
        for partition in progress:
            self.source_silence.pop(partition, None)

    def source_silent(self, partition: int, progress: int, silent_ms: int) -> None:
        """A caught-up silent source's progress, moved on by its silence: told as a heartbeat."""
        self.source_delivered[partition] = progress
        self.source_silence[partition] = silent_ms

    def stitched_event(self, partition: int, now: float) -> None:
        self.stitched_last_event[partition] = now

    def stitched_assigned(self, partition: int, now: float) -> None:
        self.stitched_last_event.setdefault(partition, now)

    def forget_source(self, partition: int) -> None:
        """A revoked partition may come back changed by another worker."""
        for kept in (self.source_last_wall, self.source_delivered, self.source_told, self.source_silence):
            kept.pop(partition, None)
        self.announced_idle.discard(partition)

    def forget_stitched(self, partition: int) -> None:
        self.stitched_last_event.pop(partition, None)

    # -- what is due -----------------------------------------------------------------------------
    def progress_to_tell(self, owned: list[int]) -> list[SourceProgressMessage]:
        """The owned sources' delivered progress not told yet (counted as told from here)."""
        due = []
        for partition in owned:
            progress = self.source_delivered.get(partition)
            if progress is not None and progress > self.source_told.get(partition, NO_WATERMARK):
                due.append(SourceProgressMessage(SourceStamp(partition, progress), self.source_silence.get(partition)))
                self.source_told[partition] = progress
        return due

    def silent_sources(self, owned: list[int], now: float) -> list[int]:
        """Owned sources not announced idle and silent for `source_idle_s`: idle once caught up.
        A partition's idle clock starts when this worker got it."""
        for partition in owned:
            self.source_last_wall.setdefault(partition, now)
        return [
            p for p in owned if p not in self.announced_idle and now - self.source_last_wall[p] >= self.source_idle_s
        ]

    def silence_ms(self, partition: int, now: float) -> int:
        """Wall time since the partition's last event was read (or since this worker got it)."""
        return int((now - self.source_last_wall.get(partition, now)) * 1000)

    def silent_progress(self, partition: int, newest_ms: int, now: float) -> tuple[int, int] | None:
        """A caught-up silent source's progress moved on by its silence, in whole steps of
        `source_idle_s` (one heartbeat a step, not one a tick), and that silence; None while no
        step is new."""
        step_ms = max(int(self.source_idle_s * 1000), 1)
        silent_ms = self.silence_ms(partition, now) // step_ms * step_ms
        progress = newest_ms + silent_ms
        return (progress, silent_ms) if silent_ms and progress > self.source_told.get(partition, NO_WATERMARK) else None

    def last_read(self, partition: int, wall: float) -> None:
        """Where a restored partition's silence counts from (its clock keeps the wall time of the
        last event read): a new owner goes on from there instead of starting the count again."""
        self.source_last_wall.setdefault(partition, wall)

    def announced(self, partition: int) -> None:
        self.announced_idle.add(partition)

    def tick_due(self, partition: int, processor: JourneyPartition, now: float) -> TickMessage | None:
        """The tick a silent stitched partition needs, or None (nothing due: no empty ticks)."""
        if processor.event_watermark_ms == NO_WATERMARK:
            return None
        idle_ms = (now - self.stitched_last_event.get(partition, now)) * 1000
        if idle_ms < self.tick_interval_s * 1000:
            return None
        watermark_ms = processor.event_watermark_ms + (int(idle_ms) if processor.all_sources_idle else 0)
        return TickMessage(watermark_ms) if processor.has_work_due(watermark_ms) else None
