"""Stages 1+2 pure logic on scripted journeys: sessions, stages, stitching, batch invariance."""

from __future__ import annotations

import contextlib

from hypothesis import given, settings
from hypothesis import strategies as st

from journey.cli.samples import sample_journey
from journey.schemas.touchpoint import Touchpoint
from journey.streams.codec import decode_state, encode_state
from journey.streams.in_memory import InMemoryPipeline
from journey.streams.journey import (
    DuplicateEvent,
    EnrichedTouchpoint,
    FrictionSignal,
    JourneyStageTransition,
    SessionRecord,
)
from journey.streams.sessions import new_session_id
from journey.streams.timeutil import DAY_MS, to_ms
from tests.unit.builders import T0, rules, touchpoint
from tests.unit.canonical import canonical, links_of, of

FAR_FUTURE = to_ms(T0) + 30 * DAY_MS


def scripted() -> list[Touchpoint]:
    return [Touchpoint.model_validate(e) for e in sample_journey(seed=1, start=T0)]


def test_scripted_journey_gives_expected_sessions_stages_and_stitched_key() -> None:
    outputs = InMemoryPipeline(rules()).run(scripted(), tick_ms=FAR_FUTURE)

    touchpoints = of(outputs, EnrichedTouchpoint)
    assert sorted(str(t.event.event_id) for t in touchpoints) == sorted(str(e.event_id) for e in scripted())
    by_key = {str(t.event.event_id): t.journey_key for t in touchpoints}
    events = scripted()
    # Stored under the key they had when they arrived; journey.identities links the two.
    assert [by_key[str(e.event_id)] for e in events[:4]] == ["anon:anon-000001"] * 4
    assert {by_key[str(e.event_id)] for e in events[4:]} == {"cust-000001"}
    assert not any(t.late for t in touchpoints)
    first_session_id = of(outputs, SessionRecord)[0].session.session_id
    assert {t.session_id for t in touchpoints if t.event.occurred_at.day == 2} == {first_session_id}

    sessions = of(outputs, SessionRecord)
    # Day 1 (ad click .. identify) is one session, handed from the anonymous journey to the
    # customer and merged with the customer's own events; day 2 (onboarding .. survey) another.
    assert [(s.journey_key, s.session.event_count, s.close_reason) for s in sessions] == [
        ("cust-000001", 6, "inactivity"),
        ("cust-000001", 5, "inactivity"),
    ]
    first = sessions[0].session
    assert first.session_id == new_session_id(scripted()[0].event_id.__str__())
    assert first.channels == ["ads", "web"]
    assert [p[2] for p in first.path][:3] == ["ad.click", "web.landing_viewed", "web.pricing_viewed"]
    assert first.stages == ["awareness", "consideration", "decision"]
    assert sessions[1].session.duration_ms == 25 * 60_000

    transitions = [
        (t.journey_key, t.transition.from_stage, t.transition.to_stage) for t in of(outputs, JourneyStageTransition)
    ]
    assert transitions == [
        # Stages move once event time passed an event (grace: 5 min). The anonymous journey
        # decided what it had passed when identify came (09:00 ad click); the events after 09:06
        # travelled in the handoff, and the customer's journey, which waited for it, continues.
        ("anon:anon-000001", None, "awareness"),
        ("cust-000001", "awareness", "consideration"),
        ("cust-000001", "consideration", "decision"),
        ("cust-000001", "decision", "onboarding"),
    ]


def test_duplicates_reaching_stage_two_change_nothing() -> None:
    pipeline = InMemoryPipeline(rules())
    events = scripted()
    pipeline.run(events)
    before = dict(pipeline.table)
    replayed = [m for e in events[6:] for m in pipeline.stage1(e)]
    assert replayed == []  # stage 1 already knows them
    from journey.streams.messages import TouchpointMessage

    pipeline.stage2([TouchpointMessage("cust-000001", "cust-000001", events[7])])  # a re-sent stitched message
    assert of(pipeline.outputs, DuplicateEvent)
    assert pipeline.table == before


def test_state_codec_round_trips() -> None:
    pipeline = InMemoryPipeline(rules())
    pipeline.run(scripted())
    for raw in pipeline.table.values():
        assert encode_state(decode_state(raw)) == raw


FRICTION_TOUCHPOINTS = [
    "ad.click", "feature.used", "signup.started", "signup.completed", "identity.identified", "checkout.started",
    "checkout.completed", "ui.click", "ui.error", "help.searched", "support.ticket_opened", "survey.nps",
    "onboarding.started", "activation.reached",
]  # fmt: skip
journeys = st.lists(
    st.tuples(st.integers(0, 3), st.floats(0, 600, allow_nan=False), st.sampled_from(FRICTION_TOUCHPOINTS)),
    min_size=1,
    max_size=40,
)


def build(spec: list[tuple[int, float, str]]) -> list[Touchpoint]:
    events = []
    for i, (person, minute, name) in enumerate(spec):
        identified = name in ("identity.identified", "signup.completed")
        extra: dict = {}
        if name == "survey.nps":
            extra = {"score": i % 11, "channel": "survey"}
        elif name == "ui.click":
            extra = {"properties": {"element": f"button-{i % 2}"}}
        elif name == "support.ticket_opened":
            extra = {"channel": "support", "properties": {"topic": f"t{i % 2}"}}
        events.append(
            touchpoint(
                minute, name, n=i, anonymous=f"a{person}", customer=f"c{person}" if identified else None, **extra
            )
        )
    return events


@settings(max_examples=150, deadline=None)
@given(spec=journeys, cuts=st.lists(st.integers(1, 7), max_size=40))
def test_outputs_do_not_depend_on_batch_boundaries(spec: list, cuts: list[int]) -> None:
    events = build(spec)
    whole = InMemoryPipeline(rules()).run(events, tick_ms=FAR_FUTURE)
    split = InMemoryPipeline(rules()).run(events, batch_sizes=cuts, tick_ms=FAR_FUTURE)
    assert canonical(split) == canonical(whole)


@settings(max_examples=100, deadline=None)
@given(spec=journeys, seed=st.randoms(use_true_random=False))
def test_every_event_is_stored_exactly_once_whatever_the_order(spec: list, seed) -> None:
    events = build(spec)
    shuffled = events[:]
    seed.shuffle(shuffled)
    outputs = InMemoryPipeline(rules()).run(shuffled + shuffled[:3], tick_ms=FAR_FUTURE)  # with duplicates
    stored = [str(o.event.event_id) for o in of(outputs, EnrichedTouchpoint)]
    assert sorted(stored) == sorted(str(e.event_id) for e in events)
    sessions = of(outputs, SessionRecord)
    on_time = [o for o in of(outputs, EnrichedTouchpoint) if not o.late]
    assert sum(s.session.event_count for s in sessions) == len(on_time)  # every on-time event in one closed session


def test_in_order_events_are_never_late_and_sessions_follow_the_gap() -> None:
    events = [touchpoint(m, n=i) for i, m in enumerate([0, 10, 20, 100, 105, 300])]
    outputs = InMemoryPipeline(rules()).run(events, tick_ms=FAR_FUTURE)
    assert not any(o.late for o in of(outputs, EnrichedTouchpoint))
    assert [s.session.event_count for s in of(outputs, SessionRecord)] == [3, 2, 1]


def test_late_event_beyond_grace_is_stored_and_counted() -> None:
    events = [touchpoint(0, n=1), touchpoint(60, n=2), touchpoint(5, n=3)]  # third: 55 min late, grace 5
    pipeline = InMemoryPipeline(rules())
    outputs = pipeline.run(events, tick_ms=FAR_FUTURE)
    late = [o for o in of(outputs, EnrichedTouchpoint) if o.late]
    assert len(late) == 1 and late[0].session_id == new_session_id(str(events[0].event_id))
    assert decode_state(pipeline.table["cust-1"]).sessions.late_events == 1


def test_events_after_link_go_straight_to_the_customer() -> None:
    events = [
        touchpoint(0, "ad.click", n=1, customer=None, anonymous="a"),
        touchpoint(5, "identity.identified", n=2, customer="c", anonymous="a"),
        touchpoint(6, "feature.used", n=3, customer=None, anonymous="a"),
    ]
    outputs = InMemoryPipeline(rules()).run(events, tick_ms=FAR_FUTURE)
    assert [o.journey_key for o in of(outputs, EnrichedTouchpoint)] == ["anon:a", "c", "c"]
    assert [s.journey_key for s in of(outputs, SessionRecord)] == ["c"]
    assert of(outputs, SessionRecord)[0].session.event_count == 3


def test_replayed_anonymous_event_after_handoff_is_not_counted_again() -> None:
    """After a crash stage 1 may re-send stitched events; one that reaches an absorbed anonymous
    journey must be dropped there, not forwarded into the customer's merged session."""
    from journey.streams.messages import SourceStamp, TouchpointMessage

    events = [
        touchpoint(0, "ad.click", n=1, customer=None, anonymous="a"),
        touchpoint(5, "identity.identified", n=2, customer="c", anonymous="a"),
    ]
    pipeline = InMemoryPipeline(rules())
    pipeline.run(events)
    pipeline.stage2([TouchpointMessage("anon:a", None, events[0], None, SourceStamp(0, to_ms(events[1].occurred_at)))])
    pipeline.run([], tick_ms=FAR_FUTURE)
    sessions = of(pipeline.outputs, SessionRecord)
    assert [(s.journey_key, s.session.event_count) for s in sessions] == [("c", 2)]
    assert len(of(pipeline.outputs, DuplicateEvent)) == 1


@settings(max_examples=150, deadline=None)
@given(
    spec=journeys,
    jitter=st.lists(st.floats(0, 4.9, allow_nan=False), min_size=40, max_size=40),
    cuts=st.lists(st.integers(1, 7), max_size=40),
)
def test_signals_do_not_depend_on_arrival_order_within_grace(spec: list, jitter: list[float], cuts: list[int]) -> None:
    """Events arrive in any order that keeps each within grace (5 min) of its place: the signals,
    sessions and their friction scores are those of the in-order arrival."""
    events = sorted(build(spec), key=lambda e: (e.occurred_at, str(e.event_id)))
    first = InMemoryPipeline(rules())
    in_order = first.run(events, tick_ms=FAR_FUTURE)
    # Arrival order by time + a jitter below grace: each event moves at most that far.
    jittered = sorted(events, key=lambda e: to_ms(e.occurred_at) + jitter[events.index(e)] * 60_000)
    second = InMemoryPipeline(rules())
    shuffled = second.run(jittered, batch_sizes=cuts, tick_ms=FAR_FUTURE)
    # Whether an anonymous event arrived before or after its link decides the key it is stored
    # under; the identity links (journey.identities) resolve both to the customer.
    links = links_of(second)
    assert links == links_of(first)
    assert canonical(shuffled, links) == canonical(in_order, links)
    assert sorted(s.session.friction_score for s in of(shuffled, SessionRecord)) == sorted(
        s.session.friction_score for s in of(in_order, SessionRecord)
    )


def test_scripted_friction_journey_yields_exactly_the_expected_signals() -> None:
    """One customer: abandoned checkout, rage clicks, an error loop, three failed searches then a
    contact, two more contacts over the week, a detractor NPS, onboarding never activated."""
    c = {"customer": "c-9"}
    script = [
        touchpoint(0, "checkout.started", n="k1", flow="checkout", step="cart", **c),
        touchpoint(1, "checkout.step_viewed", n="k2", flow="checkout", step="payment", **c),
        *[touchpoint(2 + i / 600, "ui.click", n=f"r{i}", properties={"element": "pay"}, **c) for i in range(4)],
        *[touchpoint(3 + i, "checkout.error", n=f"x{i}", flow="checkout", step="payment", **c) for i in range(3)],
        *[touchpoint(7 + i, "help.searched", n=f"h{i}", **c) for i in range(3)],
        touchpoint(12, "support.ticket_opened", n="t1", channel="support", **c),
        touchpoint(13, "survey.nps", n="n1", channel="survey", score=2, **c),
        touchpoint(60 * 24, "support.chat_started", n="t2", channel="chat", **c),
        touchpoint(60 * 48, "onboarding.started", n="o1", **c),
        touchpoint(60 * 49, "support.call_received", n="t3", channel="phone", **c),
    ]
    outputs = InMemoryPipeline(rules()).run(script, tick_ms=FAR_FUTURE)
    kinds = sorted((o.signal.kind, o.signal.severity) for o in of(outputs, FrictionSignal))
    assert kinds == sorted([
        ("rage_click", "warning"), ("error_loop", "warning"), ("self_service_failure", "warning"),
        ("negative_feedback", "critical"), ("abandonment", "warning"), ("repeat_contact", "warning"),
        ("stalled_onboarding", "warning"), ("abandonment", "warning"),
    ])  # fmt: skip
    abandoned = sorted(
        (o.signal.flow, o.signal.details["reason"])
        for o in of(outputs, FrictionSignal)
        if o.signal.kind == "abandonment"
    )
    # The checkout's session ended (09:13 + 30 min) before its 60-minute timeout: a jump of the
    # watermark to the next day passes both, and the earlier one decides.
    assert abandoned == [("checkout", "session_ended"), ("onboarding", "timeout")]
    first_session = min(of(outputs, SessionRecord), key=lambda s: s.session.start_ms).session
    # weights: abandonment 3 + rage 2 + error loop 2 + self-service 3 + negative feedback 5
    assert first_session.friction_score == 15


def test_contacts_before_and_after_identification_count_as_one_customer() -> None:
    """Two chats while anonymous, a ticket once known: the merged journey has three contacts."""
    events = [
        touchpoint(0, "support.chat_started", n="c1", customer=None, anonymous="dev", channel="chat"),
        touchpoint(60, "support.chat_started", n="c2", customer=None, anonymous="dev", channel="chat"),
        touchpoint(120, "identity.identified", n="id", customer="cu", anonymous="dev"),
        touchpoint(180, "support.ticket_opened", n="c3", customer="cu", channel="support"),
    ]
    outputs = InMemoryPipeline(rules()).run(events, tick_ms=FAR_FUTURE)
    [signal] = [o for o in of(outputs, FrictionSignal) if o.signal.kind == "repeat_contact"]
    assert signal.journey_key == "cu" and signal.signal.count == 3
    assert signal.signal.details["channels"] == ["chat", "support"]


def test_late_negative_answer_is_still_detected() -> None:
    events = [
        touchpoint(0, "feature.used", n=1),
        touchpoint(120, "feature.used", n=2),
        touchpoint(30, "survey.csat", n=3, channel="survey", score=1),
    ]  # 90 min late: beyond grace
    outputs = InMemoryPipeline(rules()).run(events, tick_ms=FAR_FUTURE)
    assert [o.late for o in of(outputs, EnrichedTouchpoint) if o.event.touchpoint == "survey.csat"] == [True]
    assert [(o.signal.kind, o.signal.severity) for o in of(outputs, FrictionSignal)] == [
        ("negative_feedback", "critical")
    ]


def test_state_of_another_format_is_refused_clearly() -> None:
    import orjson
    import pytest

    from journey.streams.codec import STATE_FORMAT, StateFormatError

    for older in range(1, STATE_FORMAT):
        with pytest.raises(StateFormatError, match=f"journey state format {older} is not {STATE_FORMAT}"):
            decode_state(orjson.dumps([older, "k", None]))


def test_detectors_read_no_property_beyond_those_an_observation_keeps() -> None:
    """Pending events keep only `properties_read` of their properties (they wait for the
    watermark, grace and more): keeping every property must change no output."""
    import dataclasses

    from journey.cli.simulation.generate import simulate
    from journey.config import Settings, SimulationSettings
    from journey.schemas.touchpoint import InvalidTouchpoint, parse_touchpoint
    from journey.streams.records import friction_record

    simulation = simulate(Settings(simulation=SimulationSettings(customers=300, days=3, seed=5)))
    events = []
    for record in simulation.records:
        with contextlib.suppress(InvalidTouchpoint):
            events.append(parse_touchpoint(record.value))
    every_property = frozenset(name for e in events for name in e.properties)
    kept = rules()
    assert every_property - kept.observed_properties  # the simulator sends more than detectors read
    everything = dataclasses.replace(kept, observed_properties=every_property | kept.observed_properties)

    def signal_records(rules_used) -> list[bytes]:  # as written to journey.friction
        outputs = InMemoryPipeline(rules_used).run(events, tick_ms=FAR_FUTURE)
        return [friction_record(o) for o in of(outputs, FrictionSignal)]

    signals = signal_records(kept)
    assert len(signals) > 50
    assert signals == signal_records(everything)
