"""How far one `touchpoints` partition got in event time, as stage 1 tells stage 2. Pure.

Stage 2's partition watermark is the slowest source's progress minus grace; that is only safe if
no event a source has read is still on its way. A record a publisher put on another partition
than its key's (librdkafka's CRC32 placement, not murmur2) is moved there by stage 1 and read
again later: while it travels, its origin has read past it. In a backfill the origin reads
hours of event time per second, so without a bound the customer's other events overtake the
moved one, and it arrives behind its journey's watermark: late, in no session, a completed flow
reported abandoned (issue 25).

So a move *holds* the origin's told progress at the moved record's event time until its key's
partition has processed it (its committed, or here processed, offset passed the record's):
stamps and progress broadcasts never pass an event still in flight, and the origin is not
announced idle while a hold stands. A batch that moves records also tells every stitched
partition the origin's held progress at once: an origin announced idle earlier, whose new
records all need moving, would otherwise send stage 2 nothing and stay ignored as idle there. Holds are kept per batch and destination (the earliest event
time, the last offset), so live traffic from such a publisher holds for a batch's round trip.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

NO_WATERMARK = -(2**62)  # as streams/journey.py


@dataclass(frozen=True, slots=True)
class Hold:
    destination: int  # the touchpoints partition the records were moved to
    last_offset: int  # where the last of them landed: released once that partition is past it
    earliest_ms: int  # the earliest event time among them: the progress told stays at or below it


@dataclass(slots=True)
class SourceClock:
    newest_ms: int = NO_WATERMARK  # the newest event time read on the partition, moved records too
    holds: list[Hold] = field(default_factory=list)
    moving: dict[int, int] = field(default_factory=dict)  # this batch: destination -> earliest event time
    read_at_s: float | None = None  # wall time the last event was read: a new owner counts silence from it

    def read(self, occurred_ms: int) -> None:
        self.newest_ms = max(self.newest_ms, occurred_ms)

    def moved(self, destination: int, occurred_ms: int) -> None:
        """A record of this batch sent to its key's partition `destination`: read here (once it has
        landed the progress told includes it), held until then."""
        self.read(occurred_ms)
        self.moving[destination] = min(self.moving.get(destination, occurred_ms), occurred_ms)

    def moves_delivered(self, last_offsets: Mapping[int, int]) -> None:
        """The batch's moved records are acknowledged; `last_offsets`: destination -> last offset."""
        for destination, earliest_ms in self.moving.items():
            self.holds.append(Hold(destination, last_offsets[destination], earliest_ms))
        self.moving.clear()

    def release(self, processed: Mapping[int, int]) -> bool:
        """Drop the holds whose destination was processed past them (`processed`: partition -> the
        next offset it will read, for the partitions known); whether any was dropped."""
        kept = [h for h in self.holds if processed.get(h.destination, -1) <= h.last_offset]
        released = len(kept) != len(self.holds)
        self.holds = kept
        return released

    @property
    def stamp_ms(self) -> int:
        """The progress to tell: the newest event read, but never past a record still in flight."""
        held = [h.earliest_ms for h in self.holds] + list(self.moving.values())
        return min(self.newest_ms, *held) if held else self.newest_ms

    @property
    def settled(self) -> bool:
        """Nothing moved from here is still on its way."""
        return not self.holds and not self.moving

    def destinations(self) -> set[int]:
        return {h.destination for h in self.holds}

    # -- stored in the ingest table, beside the partition's offsets --------------------------------
    def snapshot(self) -> dict[str, Any]:
        return {"v": 1, "newest_ms": self.newest_ms, "read_at_s": self.read_at_s,
                "holds": [[h.destination, h.last_offset, h.earliest_ms] for h in self.holds]}  # fmt: skip

    @classmethod
    def restore(cls, stored: Any) -> SourceClock:
        """From `snapshot()`, or from 0.2.0's bare newest event time."""
        if stored is None:
            return cls()
        if isinstance(stored, int):
            return cls(newest_ms=stored)
        return cls(newest_ms=stored["newest_ms"], holds=[Hold(*h) for h in stored["holds"]],
                   read_at_s=stored.get("read_at_s"))  # fmt: skip
