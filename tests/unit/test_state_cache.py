"""The decoded-state cache: least recently used out, bounded, nothing kept at capacity 0."""

from __future__ import annotations

from streams.journey import JourneyState
from streams.state_cache import StateCache


def test_the_least_recently_used_state_leaves_first() -> None:
    cache = StateCache(2)
    a, b, c = (JourneyState(journey_key=k) for k in "abc")
    cache.put("a", a)
    cache.put("b", b)
    assert cache.get("a") is a  # a is now the most recent
    cache.put("c", c)
    assert len(cache) == 2
    assert cache.get("b") is None
    assert cache.get("a") is a and cache.get("c") is c


def test_putting_a_key_again_replaces_it_without_growing() -> None:
    cache = StateCache(3)
    first, second = JourneyState(journey_key="k"), JourneyState(journey_key="k")
    cache.put("k", first)
    cache.put("k", second)
    assert len(cache) == 1 and cache.get("k") is second


def test_capacity_zero_keeps_nothing() -> None:
    cache = StateCache(0)
    cache.put("k", JourneyState(journey_key="k"))
    assert len(cache) == 0 and cache.get("k") is None
