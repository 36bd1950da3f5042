"""Decoded journey states kept between batches, least recently used first out. Pure.

Reading a journey's state from the table and decoding it cost more than the journey's events
themselves (docs/decisions.md, "Journey states stay decoded"); a busy journey is touched in many
consecutive batches. Every changed state is still encoded and written to the table (the
changelog) once per batch, so an evicted state is never lost: the next batch reads it back.
"""

from __future__ import annotations

from streams.journey import JourneyState


class StateCache:
    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._states: dict[str, JourneyState] = {}  # insertion order: least recently used first

    def get(self, key: str) -> JourneyState | None:
        state = self._states.pop(key, None)
        if state is not None:
            self._states[key] = state
        return state

    def put(self, key: str, state: JourneyState) -> None:
        self._states.pop(key, None)
        if self.capacity <= 0:
            return
        self._states[key] = state
        while len(self._states) > self.capacity:
            del self._states[next(iter(self._states))]

    def __len__(self) -> int:
        return len(self._states)
