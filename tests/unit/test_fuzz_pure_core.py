"""Fuzzing the pure stages with inputs the contract lets through but no scenario writes: any mix
of valid touchpoints (ids shared and crossed, every channel, survey scores at their bounds,
flows and steps, equal and out-of-order times over years) through both stages on a random
schedule, and any sequence of stitched messages (ticks and progress from the far past to the far
future, idle sources, absorbs of unknown journeys) into stage 2. Whatever comes, they return
outputs: an exception there would stop the worker on that record at every restart.
JOURNEY_FUZZ_EXAMPLES sets the cases per target (each runs dozens of events): 500 in `make
test`, 10,000 in `make fuzz`."""

from __future__ import annotations

import os
import random
import uuid
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from journey.schemas.touchpoint import SURVEY_SCORE_RANGES, Channel, InvalidTouchpoint, Touchpoint, validate_touchpoint
from journey.streams.codec import decode_state
from journey.streams.in_memory import InMemoryPipeline
from journey.streams.messages import (
    AbsorbMessage,
    SourceIdleMessage,
    SourceProgressMessage,
    SourceStamp,
    TickMessage,
    TouchpointMessage,
)
from journey.streams.partition import JourneyPartition
from tests.unit.builders import rules

EXAMPLES = int(os.environ.get("JOURNEY_FUZZ_EXAMPLES", "500"))
fuzz = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
TOUCHPOINTS = ["page.viewed", "signup.started", "signup.completed", "checkout.started", "checkout.completed",
               "checkout.payment_failed", "support.ticket_opened", "support.chat_started", "ui.click", "app.error",
               "onboarding.step_completed", "activation.reached", "subscription.renewed", "subscription.cancelled",
               "identify", "auth.login", "help.article_viewed", *SURVEY_SCORE_RANGES]  # fmt: skip
FLOWS = [None, "checkout", "signup", "onboarding", "password_reset"]
STEPS = [None, "start", "payment", "confirm", "done"]


@st.composite
def touchpoints(draw: st.DrawFn) -> Touchpoint | None:
    touchpoint = draw(st.sampled_from(TOUCHPOINTS))
    customer = draw(st.none() | st.sampled_from(["cust-1", "cust-2", "cust-3"]))
    anonymous = (
        draw(st.none() | st.sampled_from(["anon-1", "anon-2", "anon-3"]))
        if customer
        else draw(st.sampled_from(["anon-1", "anon-2"]))
    )
    low, high = SURVEY_SCORE_RANGES.get(touchpoint, (0, 0))
    document = {
        "event_id": str(uuid.UUID(int=draw(st.integers(0, 40)))),  # repeated ids: duplicates
        "occurred_at": (T0 + timedelta(seconds=draw(st.integers(-3 * 86400, 400 * 86400)))).isoformat(),
        "customer_id": customer, "anonymous_id": anonymous,
        "account_id": draw(st.none() | st.sampled_from(["acct-1", "acct-2"])),
        "channel": draw(st.sampled_from([c.value for c in Channel])),
        "touchpoint": touchpoint, "flow": draw(st.sampled_from(FLOWS)), "step": draw(st.sampled_from(STEPS)),
        "score": draw(st.integers(low, high)) if touchpoint in SURVEY_SCORE_RANGES else None,
        "properties": draw(st.dictionaries(st.sampled_from(["a", "b", "error_code"]), st.integers() | st.text(max_size=5), max_size=3)),
        "source": "fuzz",
    }  # fmt: skip
    try:
        return validate_touchpoint({k: v for k, v in document.items() if v is not None})
    except InvalidTouchpoint:
        return None


@fuzz
@given(events=st.lists(touchpoints(), max_size=60), seed=st.integers(0, 2**32 - 1), most=st.integers(1, 40))
def test_both_stages_take_any_valid_touchpoints_in_any_schedule(events: list, seed: int, most: int) -> None:
    valid = [e for e in events if e is not None]
    pipeline = InMemoryPipeline(rules(), sources=2, partitions=2, cached_state_bytes=seed % 3 * 2048)
    pipeline.run_interleaved(
        valid, random.Random(seed), most, tick_ms=int((T0 + timedelta(days=800)).timestamp() * 1000)
    )


TIMES = st.integers(-(2**53), 2**53)  # event-time milliseconds, far past to far future


@st.composite
def stitched_messages(draw: st.DrawFn) -> object:
    kind = draw(st.sampled_from(["touchpoint", "absorb", "tick", "idle", "progress"]))
    source = SourceStamp(draw(st.integers(0, 2)), draw(TIMES))
    if kind == "touchpoint":
        event = draw(touchpoints())
        if event is None:
            return TickMessage(draw(TIMES))
        key = event.customer_id or f"anon:{event.anonymous_id}"
        return TouchpointMessage(key, event.customer_id, event, draw(st.none() | st.just("anon:anon-1")),
                                 draw(st.none() | st.just(source)))  # fmt: skip
    if kind == "absorb":
        return AbsorbMessage(draw(st.sampled_from(["anon:anon-1", "anon:anon-9"])), "cust-1", draw(TIMES), source)
    if kind == "tick":
        return TickMessage(draw(TIMES))
    if kind == "idle":
        return SourceIdleMessage(draw(st.integers(0, 2)))
    return SourceProgressMessage(source)


@fuzz
@given(batches=st.lists(st.lists(stitched_messages(), max_size=20), max_size=6))
def test_stage_two_takes_any_sequence_of_stitched_messages(batches: list) -> None:
    partition = JourneyPartition(rules(), source_partitions=3, cached_state_bytes=8192)
    stored: dict[str, bytes] = {}
    for batch in batches:
        result = partition.process(batch, lambda key: decode_state(stored[key]) if key in stored else None)
        stored.update(result.stored)
