"""Outputs do not depend on how events arrive: one at a time, random batch cuts, the whole input
as one batch, several source partitions read at different paces, arrival order within grace.

Inputs are hundreds of journeys over days (tests/unit/scenarios.py), the reference is a trickle:
every event delivered alone and everything it causes settled before the next. Each example prints
its seeds; replay a failure with `pytest --hypothesis-seed=N` or with the printed seeds.
Examples: JOURNEY_PROPERTY_EXAMPLES (default 12; longer runs use hundreds).
"""

from __future__ import annotations

import os
import random

from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from journey.streams.in_memory import InMemoryPipeline
from journey.streams.journey import EnrichedTouchpoint, FrictionSignal, SessionRecord
from journey.streams.timeutil import DAY_MS, to_ms
from tests.unit.builders import rules
from tests.unit.canonical import canonical, links_of, of
from tests.unit.scenarios import arrival, journeys

EXAMPLES = int(os.environ.get("JOURNEY_PROPERTY_EXAMPLES", "12"))
RULES = rules()
GRACE_MS = RULES.limits.grace_ms
SOURCES = PARTITIONS = 6
property_settings = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])

scenario = st.fixed_dictionaries({
    "seed": st.integers(0, 2**32 - 1),
    "people": st.integers(50, 200),
    "days": st.floats(0.5, 4),
})  # fmt: skip
CACHED = st.sampled_from([0, 4096, 10**9])  # encoded bytes of states kept decoded: none, evicting all the time, all
BUNDLE_BYTES = st.sampled_from([1024, 512 * 1024])  # a message or a few per bundle; hundreds


def end_of(events) -> int:
    return to_ms(max(e.occurred_at for e in events)) + 60 * DAY_MS


def trickle(events, tick_ms: int) -> tuple[list, dict]:
    pipeline = InMemoryPipeline(RULES, sources=SOURCES, partitions=PARTITIONS)
    outputs = pipeline.run_trickle(events, tick_ms=tick_ms)
    return outputs, links_of(pipeline)


def catch_up(
    events, seed: int, most: int, tick_ms: int, cached: int = 0, bundle_bytes: int = 512 * 1024
) -> tuple[list, dict]:
    """`cached`: encoded bytes of the journey states kept decoded between batches; `bundle_bytes`: stitched bundle size."""
    pipeline = InMemoryPipeline(RULES, sources=SOURCES, partitions=PARTITIONS, cached_state_bytes=cached,
                                bundle_bytes=bundle_bytes)  # fmt: skip
    outputs = pipeline.run_interleaved(events, random.Random(seed), most, tick_ms=tick_ms)
    return outputs, links_of(pipeline)


def assert_same(actual: tuple[list, dict], expected: tuple[list, dict]) -> None:
    (outputs, links), (reference, reference_links) = actual, expected
    assert links == reference_links
    got, want = canonical(outputs, links, strict=True), canonical(reference, links, strict=True)
    missing, extra = [r for r in want if r not in got], [r for r in got if r not in want]
    assert not missing and not extra, f"missing {missing[:5]}\nextra {extra[:5]}"


@property_settings
@given(spec=scenario, schedule=st.integers(0, 2**32 - 1), most=st.sampled_from([1, 7, 50, 400, 10**9]),
       cached=CACHED, bundle_bytes=BUNDLE_BYTES)  # fmt: skip
def test_a_catch_up_gives_the_trickle_results(
    spec: dict, schedule: int, most: int, cached: int, bundle_bytes: int
) -> None:
    """Sources and stitched partitions read in a random interleaving, in batches of up to `most`
    records (10**9: the whole backlog at once), with timer ticks between: the trickle's outputs,
    whatever number of journey states stay decoded between batches and however stitched messages
    are bundled."""
    note(f"scenario {spec}, schedule {schedule}, most {most}, cached {cached}, bundle_bytes {bundle_bytes}")
    events = journeys(spec["seed"], spec["people"], spec["days"])
    tick_ms = end_of(events)
    assert_same(catch_up(events, schedule, most, tick_ms, cached, bundle_bytes), trickle(events, tick_ms))


@property_settings
@given(spec=scenario, jitter=st.integers(0, 2**32 - 1), schedule=st.integers(0, 2**32 - 1), cached=CACHED)
def test_arrival_order_within_grace_and_duplicates_change_nothing(
    spec: dict, jitter: int, schedule: int, cached: int
) -> None:
    """Records arrive out of order within grace, some twice; read as a catch-up. Whether an
    anonymous event arrived before or after its link decides the key it is stored under; the
    identity links resolve both to the customer."""
    note(f"scenario {spec}, jitter {jitter}, schedule {schedule}, cached {cached}")
    events = journeys(spec["seed"], spec["people"], spec["days"])
    tick_ms = end_of(events)
    expected = trickle(events, tick_ms)
    assert_same(catch_up(arrival(events, jitter, GRACE_MS), schedule, 10**9, tick_ms, cached), expected)


def test_a_whole_backfill_as_one_batch_gives_the_figures_of_a_trickle() -> None:
    """The issue's case, in numbers: identified customers whose anonymous visit started signup."""
    events = journeys(seed=12, people=300, days=4)
    tick_ms = end_of(events)
    reference, _ = trickle(events, tick_ms)
    pipeline = InMemoryPipeline(RULES)
    whole = pipeline.run(events, tick_ms=tick_ms)  # one source, one stage-2 batch of everything

    def figures(outputs: list) -> dict:
        signals = [o.signal for o in of(outputs, FrictionSignal)]
        return {
            "sessions": len(of(outputs, SessionRecord)),
            "signup abandoned": sum(s.flow == "signup" and s.version == 1 for s in signals if s.kind == "abandonment"),
            "recovered": sum(s.version == 2 for s in signals),
            "late": sum(o.late for o in of(outputs, EnrichedTouchpoint)),
        }

    assert figures(whole) == figures(reference)
    assert figures(reference)["late"] == 0
    assert all(
        s.details["recovered_after_ms"] >= 0 for s in (o.signal for o in of(whole, FrictionSignal)) if s.version == 2
    )
