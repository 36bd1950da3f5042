"""Decoded journey states kept between batches, least recently used first out. Pure.

Reading a journey's state from the table and decoding it cost more than the journey's events
themselves (docs/decisions.md, "Journey states stay decoded"); a busy journey is touched in many
consecutive batches. Every changed state is still encoded and written to the table (the
changelog) once per batch, so an evicted state is never lost: the next batch reads it back.

Bounded by the states' encoded size, known when they are written: a count let a few thousand
journeys with full duplicate memories take a gigabyte. Decoded, a typical state takes ~4× its
encoded bytes (measured; docs/decisions.md, "A flat duplicate memory").
"""

from __future__ import annotations

from journey.streams.journey import JourneyState


class StateCache:
    def __init__(self, capacity_bytes: int) -> None:
        self.capacity_bytes = capacity_bytes
        self.size_bytes = 0  # encoded size of what is kept
        self._states: dict[str, tuple[JourneyState, int]] = {}  # insertion order: least recently used first

    def get(self, key: str) -> JourneyState | None:
        kept = self._states.pop(key, None)
        if kept is None:
            return None
        self._states[key] = kept
        return kept[0]

    def put(self, key: str, state: JourneyState, encoded_size: int) -> None:
        """Keep the state, written as `encoded_size` bytes; a state larger than the whole
        capacity is not kept."""
        _, replaced = self._states.pop(key, (None, 0))
        self.size_bytes -= replaced
        if encoded_size > self.capacity_bytes:
            return
        self._states[key] = (state, encoded_size)
        self.size_bytes += encoded_size
        while self.size_bytes > self.capacity_bytes:
            oldest = next(iter(self._states))
            self.size_bytes -= self._states.pop(oldest)[1]

    def drop(self, key: str) -> None:
        _, size = self._states.pop(key, (None, 0))
        self.size_bytes -= size

    def __len__(self) -> int:
        return len(self._states)
