"""A bounded, event-time-windowed memory of event ids: the duplicate filter of both stages.

Pure and deterministic: what it forgets depends only on what it was shown, never on a clock.

Every identity key and every journey carries one of up to `dedupe_max_ids` ids, so it is kept
flat: the ids' 16 raw bytes in one buffer and their event times in a machine-int array, both in
(time, id) order. That is 24 bytes an id where a dict of id strings took ~150, and an id is added
with two binary searches and a memmove instead of a sort (`make soak` grew its state with the
dict; docs/decisions.md, "A flat duplicate memory").
"""

from __future__ import annotations

import sys
from array import array
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field

ID_BYTES = 16  # a UUID's raw bytes: their order is the order of the UUIDs' strings


def _times() -> array[int]:
    return array("q")


@dataclass(slots=True)
class RecentIds:
    times: array[int] = field(default_factory=_times)  # occurred_at (epoch ms), ascending
    ids: bytearray = field(default_factory=bytearray)  # ID_BYTES per time, same order

    def check_and_add(self, event_id: bytes, occurred_ms: int, window_ms: int, max_ids: int) -> bool:
        """Remember the id; return True if it was already known (a duplicate).

        Kept: the ids no older than `window_ms` before the newest time seen, at most the
        `max_ids` latest of them by (time, id)."""
        if len(event_id) != ID_BYTES:
            raise ValueError(f"an event id is {ID_BYTES} bytes, not {len(event_id)}")
        if self._contains(event_id):
            return True
        at = self._position(occurred_ms, event_id)
        self.times.insert(at, occurred_ms)
        self.ids[at * ID_BYTES : at * ID_BYTES] = event_id
        oldest_kept = self.times[-1] - window_ms
        forget = max(bisect_left(self.times, oldest_kept), len(self.times) - max_ids)
        if forget > 0:
            del self.times[:forget]
            del self.ids[: forget * ID_BYTES]
        return False

    def __len__(self) -> int:
        return len(self.times)

    def _contains(self, event_id: bytes) -> bool:
        at = self.ids.find(event_id)
        while at >= 0 and at % ID_BYTES:  # a match straddling two ids is none
            at = self.ids.find(event_id, at + 1)
        return at >= 0

    def _position(self, occurred_ms: int, event_id: bytes) -> int:
        at, end = bisect_left(self.times, occurred_ms), bisect_right(self.times, occurred_ms)
        while at < end and self.ids[at * ID_BYTES : (at + 1) * ID_BYTES] < event_id:
            at += 1  # same time: by id (rare; ties of a millisecond)
        return at

    def packed(self) -> tuple[bytes, bytes]:
        """(times as little-endian int64, ids): the stored form, the same on any machine."""
        times = self.times
        if sys.byteorder == "big":
            times = array("q", times)
            times.byteswap()
        return times.tobytes(), bytes(self.ids)

    @classmethod
    def unpacked(cls, times_le: bytes, ids: bytes) -> RecentIds:
        """From `packed()`; ValueError if the two do not describe the same ids."""
        if len(times_le) % 8 or len(ids) != len(times_le) // 8 * ID_BYTES:
            raise ValueError(f"recent ids: {len(times_le)} bytes of times do not match {len(ids)} bytes of ids")
        times = _times()
        times.frombytes(times_le)
        if sys.byteorder == "big":
            times.byteswap()
        return cls(times, bytearray(ids))
