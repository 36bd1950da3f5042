"""The flat duplicate memory against the plainest model of its rule: remember every (time, id),
after each add keep those within the window of the newest time, then the `max_ids` latest."""

from __future__ import annotations

import os
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from journey.streams.codec import recent_from_list, recent_to_list
from journey.streams.recent_ids import RecentIds

EXAMPLES = int(os.environ.get("JOURNEY_PROPERTY_EXAMPLES", "12")) * 10
DAY_MS = 24 * 3600 * 1000


class ModelMemory:
    def __init__(self) -> None:
        self.kept: dict[bytes, int] = {}

    def check_and_add(self, event_id: bytes, occurred_ms: int, window_ms: int, max_ids: int) -> bool:
        if event_id in self.kept:
            return True
        self.kept[event_id] = occurred_ms
        newest = max(self.kept.values())
        within = sorted((t, i) for i, t in self.kept.items() if t >= newest - window_ms)
        self.kept = {i: t for t, i in within[-max_ids:]}
        return False


def an_id(n: int) -> bytes:
    return uuid.UUID(int=n * 0x9E3779B97F4A7C15 % (1 << 128)).bytes


# ids from a small pool (duplicates are common), times over days with many equal milliseconds
events = st.lists(
    st.tuples(st.integers(0, 400), st.integers(0, 10 * DAY_MS) | st.integers(0, 20)),
    min_size=1,
    max_size=3000,
)


@settings(max_examples=EXAMPLES, deadline=None)
@given(events, st.sampled_from([1, 16, 512]), st.sampled_from([1, 3600_000, 7 * DAY_MS]))
def test_same_verdicts_and_memory_as_the_model(sequence: list[tuple[int, int]], max_ids: int, window_ms: int) -> None:
    memory, model = RecentIds(), ModelMemory()
    for n, occurred_ms in sequence:
        event_id = an_id(n)
        assert memory.check_and_add(event_id, occurred_ms, window_ms, max_ids) == model.check_and_add(
            event_id, occurred_ms, window_ms, max_ids
        )
    kept = sorted((t, i) for i, t in model.kept.items())
    assert list(memory.times) == [t for t, _ in kept]
    assert bytes(memory.ids) == b"".join(i for _, i in kept)
    assert recent_from_list(recent_to_list(memory)) == memory


def test_an_id_inside_two_others_bytes_is_not_taken_for_one() -> None:
    memory = RecentIds()
    first, second = bytes(range(16)), bytes(range(16, 32))
    memory.check_and_add(first, 1, DAY_MS, 16)
    memory.check_and_add(second, 2, DAY_MS, 16)
    straddling = first[8:] + second[:8]
    assert memory.check_and_add(straddling, 3, DAY_MS, 16) is False
    assert len(memory) == 3


def test_stored_form_that_does_not_add_up_is_refused() -> None:
    with pytest.raises(ValueError, match="do not match"):
        RecentIds.unpacked(b"\0" * 16, b"\0" * 16)
    with pytest.raises(ValueError, match="16 bytes"):
        RecentIds().check_and_add(b"short", 1, DAY_MS, 16)
