"""The decoded-state cache: least recently used out, bounded by encoded bytes, nothing kept at
capacity 0."""

from __future__ import annotations

from journey.streams.journey import JourneyState
from journey.streams.state_cache import StateCache


def test_the_least_recently_used_states_leave_first_until_the_bytes_fit() -> None:
    cache = StateCache(100)
    a, b, c = (JourneyState(journey_key=k) for k in "abc")
    cache.put("a", a, 40)
    cache.put("b", b, 40)
    assert cache.get("a") is a  # a is now the most recent
    cache.put("c", c, 40)
    assert len(cache) == 2 and cache.size_bytes == 80
    assert cache.get("b") is None
    assert cache.get("a") is a and cache.get("c") is c
    cache.put("b", b, 90)  # makes room for itself: both others leave
    assert len(cache) == 1 and cache.size_bytes == 90


def test_putting_a_key_again_replaces_it_and_its_size() -> None:
    cache = StateCache(100)
    first, second = JourneyState(journey_key="k"), JourneyState(journey_key="k")
    cache.put("k", first, 60)
    cache.put("k", second, 30)
    assert len(cache) == 1 and cache.size_bytes == 30 and cache.get("k") is second


def test_a_state_larger_than_the_capacity_is_not_kept_nor_its_older_copy() -> None:
    cache = StateCache(100)
    cache.put("k", JourneyState(journey_key="k"), 50)
    cache.put("k", JourneyState(journey_key="k"), 101)
    assert len(cache) == 0 and cache.size_bytes == 0 and cache.get("k") is None


def test_capacity_zero_keeps_nothing() -> None:
    cache = StateCache(0)
    cache.put("k", JourneyState(journey_key="k"), 1)
    assert len(cache) == 0 and cache.get("k") is None
