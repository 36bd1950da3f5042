"""Stage 2 logic for one journey_key: the composition of duplicate filter, sessions and stages,
plus the handoff that merges an anonymous journey into its customer's. Pure: state and input
in, state (mutated) and a list of outputs out; the worker only routes the outputs.

Retroactive stitching is a two-message protocol on the key-partitioned stitched topic, so each
journey's state is only ever touched by its own partition's owner:
1. stage 1 learns anonymous id A belongs to customer C and sends `absorb(C)` to key `anon:A`;
2. `anon:A` answers with a `Handoff` (its open sessions and stage history) sent to key C, and
   forwards any event still addressed to it to C from then on;
3. C merges the handoff: open sessions re-keyed under C (merged with C's own where they touch),
   first-reached stage times folded in.
Sessions of `anon:A` that closed before the link stay in ClickHouse under `anon:A`; the
identity link (journey.identities) makes them attributable to C.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from journey.config import FrictionSettings, IdentitySettings, JourneySettings, Settings
from journey.schemas.stages import StageCatalog
from journey.schemas.touchpoint import Touchpoint
from journey.streams.erasure import ErasureProgress
from journey.streams.friction import detectors
from journey.streams.friction.detectors import FrictionState
from journey.streams.friction.signal import Observation, Signal
from journey.streams.recent_ids import RecentIds
from journey.streams.sessions import (
    ClosedSession,
    Session,
    SessionLimits,
    SessionState,
    close_expired,
    place_event,
)
from journey.streams.stage_tracker import StageState, StageTransition, merge_stages, track_stage
from journey.streams.timeutil import HOUR_MS, to_ms


@dataclass(frozen=True, slots=True)
class JourneyRules:
    """Everything stage 2 decides by, from the one typed config."""

    limits: SessionLimits
    journeys: JourneySettings
    identity: IdentitySettings
    catalog: StageCatalog
    friction: FrictionSettings
    observed_properties: frozenset[str]  # of an event's properties, those the detectors read
    settle_after_ms: int = (
        300_000  # every source silent this long: event time jumps to the newest (worker.settle_after_s)
    )

    @classmethod
    def from_settings(cls, settings: Settings) -> JourneyRules:
        return cls(
            limits=SessionLimits.from_settings(settings.sessions),
            journeys=settings.journeys,
            identity=settings.identity,
            catalog=settings.stages.catalog(),
            friction=settings.friction,
            observed_properties=detectors.properties_read(settings.friction),
            settle_after_ms=int(settings.worker.settle_after_s * 1000),
        )


NO_WATERMARK = -(2**62)


@dataclass(frozen=True, slots=True)
class PendingEvent:
    """A placed event not yet shown to the detectors (until the watermark passes it): what they
    need of it, and where it was placed."""

    observation: Observation  # its session_id is resolved again when shown (sessions merge)
    late: bool

    @property
    def occurred_ms(self) -> int:
        return self.observation.occurred_ms

    @property
    def order(self) -> tuple[int, str]:
        return self.observation.order


@dataclass(slots=True)
class JourneyState:
    journey_key: str
    customer_id: str | None = None
    account_id: str | None = None
    sessions: SessionState = field(default_factory=SessionState)
    stages: StageState = field(default_factory=StageState)
    recent: RecentIds = field(default_factory=RecentIds)
    absorbed_into: str | None = None  # set once an anonymous journey was handed to its customer
    absorbed_from: list[str] = field(default_factory=list)  # anonymous journeys merged in (replay guard)
    # anonymous journeys whose handoff is awaited. Until it arrives, the journey's events are held
    # (with the watermark each arrived at) and replayed right after the merge: the outputs are
    # those of a handoff that arrived at once, however late it really is.
    pending_handoffs: list[str] = field(default_factory=list)
    # (event, customer_id, watermark it arrived at); event None: a tick's watermark to apply
    held: list[tuple[Touchpoint | None, str | None, int]] = field(default_factory=list)
    # This journey's event time: the lower of its newest event minus grace and its partition's
    # watermark when the event arrived (or a tick's watermark). Bounded by the partition, it never
    # passes an on-time event still on its way from a slower source partition (a catch-up reads
    # sources at different paces); bounded by the journey, other journeys running ahead in event
    # time never make this one's events late.
    watermark_ms: int = NO_WATERMARK
    friction: FrictionState = field(default_factory=FrictionState)
    # Events placed but not yet shown to the friction detectors: they see a journey's events in
    # event-time order once its watermark passed them, so arrival order within grace changes no
    # signal.
    pending: list[PendingEvent] = field(default_factory=list)
    event_count: int = 0
    first_seen_ms: int | None = None
    last_seen_ms: int | None = None
    erasure: ErasureProgress | None = None  # erased, and markers of the request still to come


# -- outputs ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class EnrichedTouchpoint:
    journey_key: str
    customer_id: str | None
    session_id: str | None
    stage: str | None
    late: bool
    event: Touchpoint


@dataclass(frozen=True, slots=True)
class SessionRecord:
    journey_key: str
    customer_id: str | None
    account_id: str | None
    session: Session
    close_reason: str


@dataclass(frozen=True, slots=True)
class JourneyStageTransition:
    journey_key: str
    customer_id: str | None
    transition: StageTransition
    time_to_first_value_ms: int | None


@dataclass(frozen=True, slots=True)
class FrictionSignal:
    journey_key: str
    customer_id: str | None
    account_id: str | None
    signal: Signal


@dataclass(frozen=True, slots=True)
class DuplicateEvent:
    journey_key: str
    event: Touchpoint


@dataclass(frozen=True, slots=True)
class Forward:
    """An event that reached an absorbed anonymous journey: resend it to the customer's key."""

    journey_key: str
    customer_id: str
    event: Touchpoint
    from_journey_key: str | None = None
    erasure: str | None = None  # the request that erased the sender before it forwarded this


@dataclass(frozen=True, slots=True)
class Handoff:
    to_journey_key: str
    from_journey_key: str
    open_sessions: list[Session]
    stages: StageState
    first_seen_ms: int | None
    friction: FrictionState = field(default_factory=FrictionState)
    pending: list[PendingEvent] = field(default_factory=list)
    erasure: str | None = None  # the request that erased the sender before it absorbed


@dataclass(frozen=True, slots=True)
class Erased:
    """The journey's state is gone (a right-to-erasure request): its rows go from every table."""

    journey_key: str
    request_id: str


JourneyOutput = (
    EnrichedTouchpoint
    | SessionRecord
    | JourneyStageTransition
    | FrictionSignal
    | DuplicateEvent
    | Forward
    | Handoff
    | Erased
)


def _signals(
    state: JourneyState, signals: list[Signal], rules: JourneyRules, sessions: list[Session]
) -> list[JourneyOutput]:
    """Signals as outputs; each adds its weight to the friction score of its session."""
    if not signals:
        return []
    by_id: dict[str | None, Session] = {s.session_id: s for s in sessions}
    for signal in signals:
        session = by_id.get(signal.session_id)
        if session is not None and signal.version == 1:
            session.friction_score += rules.friction.weights.get(signal.kind, 0.0)
    return [FrictionSignal(state.journey_key, state.customer_id, state.account_id, s) for s in signals]


def _session_at(state: JourneyState, pending: PendingEvent) -> str | None:
    """The session an event belongs to now (sessions merge while their events are pending)."""
    if pending.late:
        return pending.observation.session_id
    t = pending.occurred_ms
    for session in state.sessions.open:
        if session.start_ms <= t <= session.end_ms:
            return session.session_id
    for session_id, start_ms, end_ms in state.sessions.recently_closed:  # cut at the maximum length
        if start_ms <= t <= end_ms:
            return session_id
    return pending.observation.session_id


def _advance(state: JourneyState, watermark_ms: int, rules: JourneyRules) -> list[JourneyOutput]:
    """Let event time reach the watermark: in event-time order, show the detectors each pending
    event it passed (with the session the event belongs to now), fire detector timers, close
    sessions. Order matters: a checkout whose session ended at 09:43 was abandoned by the session's
    end, not by the 60-minute timeout a later watermark jump also passes."""
    ready = [p for p in state.pending if p.observation.occurred_ms <= watermark_ms]
    if ready:
        ready.sort(key=lambda p: p.order)
        state.pending = [p for p in state.pending if p.observation.occurred_ms > watermark_ms]
    outputs: list[JourneyOutput] = []
    gap, position = rules.limits.gap_ms, 0
    while True:
        observation_at = ready[position].occurred_ms if position < len(ready) else None
        timer_at = detectors.next_deadline(state.friction, rules.friction)
        close_at = min((s.end_ms + gap for s in state.sessions.open), default=None)
        due = [t for t in (observation_at, timer_at, close_at) if t is not None and t <= watermark_ms]
        if not due:
            break
        moment = min(due)
        if moment == observation_at:  # an event at a deadline still counts before it
            pending, position = ready[position], position + 1
            observation, session_id = pending.observation, _session_at(state, pending)
            if session_id != observation.session_id:
                observation = dataclasses.replace(observation, session_id=session_id)
            if not pending.late:
                outputs.extend(_transitions(state, observation, rules))
            signals = detectors.observe(state.friction, observation, rules.friction, rules.journeys)
            outputs.extend(_signals(state, signals, rules, state.sessions.open))
        elif moment == timer_at:
            signals = detectors.pass_time(state.friction, moment, rules.friction)
            outputs.extend(_signals(state, signals, rules, state.sessions.open))
        else:
            outputs.extend(_session_records(state, close_expired(state.sessions, moment, rules.limits), rules))
    return outputs


def _transitions(state: JourneyState, o: Observation, rules: JourneyRules) -> list[JourneyOutput]:
    """Stages move in event-time order (with the detectors), so events arriving out of order
    within grace give the transitions of the in-order arrival."""
    return [
        JourneyStageTransition(state.journey_key, state.customer_id, t, state.stages.time_to_first_value_ms)
        for t in track_stage(state.stages, o.occurred_ms, o.event_id, o.touchpoint, o.stage, rules.journeys)
    ]


def _session_records(state: JourneyState, closed: list[ClosedSession], rules: JourneyRules) -> list[JourneyOutput]:
    outputs: list[JourneyOutput] = []
    for c in closed:
        ended = detectors.session_closed(state.friction, c.session.session_id, c.session.end_ms, rules.friction)
        outputs.extend(_signals(state, ended, rules, [c.session]))
        outputs.append(SessionRecord(state.journey_key, state.customer_id, state.account_id, c.session, c.reason))
    return outputs


def next_deadline(state: JourneyState, rules: JourneyRules) -> int | None:
    """The earliest event time at which this journey has something to do without new events:
    close a session, show pending events to the detectors, fire a detector's timer."""
    candidates = [
        min((s.end_ms + rules.limits.gap_ms for s in state.sessions.open), default=None),
        min((p.occurred_ms for p in state.pending), default=None),
        detectors.next_deadline(state.friction, rules.friction),
    ]
    return min((c for c in candidates if c is not None), default=None)


def _still_waiting(state: JourneyState, rules: JourneyRules) -> bool:
    """Whether to keep holding events for a handoff. The handoff always comes (every absorb is
    answered, a replayed one with an empty handoff), however much event time passes meanwhile: a
    catch-up can cover days of a journey before the round trip through Kafka completes. Only the
    count limit bounds a broken deployment; giving up there makes the outputs timing-dependent."""
    if not state.pending_handoffs:
        return False
    if len(state.held) < rules.identity.max_held_events:
        return True
    state.pending_handoffs.clear()
    return False


def _release_held(state: JourneyState, rules: JourneyRules) -> list[JourneyOutput]:
    held, state.held = state.held, []
    outputs: list[JourneyOutput] = []
    for event, customer_id, watermark_ms in held:
        if event is None:
            outputs.extend(_close_due(state, watermark_ms, rules))
        else:
            outputs.extend(_apply(state, event, customer_id, watermark_ms, rules))
    return outputs


def _held_watermark(state: JourneyState) -> int:
    """The journey's watermark as of the last event it took (held events keep their own)."""
    return state.held[-1][2] if state.held else state.watermark_ms


def _arrival_watermark(state: JourneyState, occurred_ms: int, partition_watermark_ms: int, rules: JourneyRules) -> int:
    """The journey's watermark once this event is counted."""
    return max(_held_watermark(state), min(occurred_ms - rules.limits.grace_ms, partition_watermark_ms))


def apply_touchpoint(
    state: JourneyState,
    event: Touchpoint,
    customer_id: str | None,
    rules: JourneyRules,
    partition_watermark_ms: int,
    awaits_handoff: str | None = None,
) -> list[JourneyOutput]:
    if state.absorbed_into is not None:
        # Dedupe before forwarding: a replay of an event this journey already handed over must not
        # reach the customer, whose duplicate memory has never seen it.
        if _seen_before(state, event, rules):
            return [DuplicateEvent(state.journey_key, event)]
        return [Forward(state.absorbed_into, state.absorbed_into, event, state.journey_key, _erased_by(state))]
    watermark_ms = _arrival_watermark(state, to_ms(event.occurred_at), partition_watermark_ms, rules)
    if (
        awaits_handoff is not None
        and awaits_handoff not in state.absorbed_from
        and awaits_handoff not in state.pending_handoffs
    ):
        state.pending_handoffs.append(awaits_handoff)
    if _still_waiting(state, rules):
        state.held.append((event, customer_id, watermark_ms))
        return []
    return [*_release_held(state, rules), *_apply(state, event, customer_id, watermark_ms, rules)]


def _apply(
    state: JourneyState, event: Touchpoint, customer_id: str | None, watermark_ms: int, rules: JourneyRules
) -> list[JourneyOutput]:
    state.watermark_ms = max(state.watermark_ms, watermark_ms)
    watermark_ms = state.watermark_ms
    occurred_ms = to_ms(event.occurred_at)
    event_id = str(event.event_id)
    if _seen_before(state, event, rules):
        return [DuplicateEvent(state.journey_key, event)]

    state.customer_id = state.customer_id or customer_id
    state.account_id = event.account_id or state.account_id
    state.event_count += 1
    state.first_seen_ms = occurred_ms if state.first_seen_ms is None else min(state.first_seen_ms, occurred_ms)
    state.last_seen_ms = occurred_ms if state.last_seen_ms is None else max(state.last_seen_ms, occurred_ms)
    stage = event.stage.value if event.stage is not None else _catalog_stage(rules, event.touchpoint)

    outputs: list[JourneyOutput] = _advance(state, watermark_ms, rules)
    placement, closed = place_event(
        state.sessions, state.journey_key, occurred_ms, event_id, event.channel.value, event.touchpoint,
        stage, watermark_ms, rules.limits,
    )  # fmt: skip
    outputs.extend(_session_records(state, closed, rules))
    outputs.append(
        EnrichedTouchpoint(state.journey_key, state.customer_id, placement.session_id, stage, placement.late, event)
    )
    observed = {name: event.properties[name] for name in rules.observed_properties if name in event.properties}
    observation = Observation(occurred_ms, event_id, event.touchpoint, event.channel.value, placement.session_id,
                              stage, event.flow, event.step, event.score, observed)  # fmt: skip
    state.pending.append(PendingEvent(observation, placement.late))
    outputs.extend(_advance(state, watermark_ms, rules))  # a late event is shown at once
    return outputs


def _seen_before(state: JourneyState, event: Touchpoint, rules: JourneyRules) -> bool:
    window_ms = int(rules.identity.dedupe_window_hours * HOUR_MS)
    return state.recent.check_and_add(
        event.event_id.bytes, to_ms(event.occurred_at), window_ms, rules.identity.dedupe_max_ids
    )


def _catalog_stage(rules: JourneyRules, touchpoint: str) -> str | None:
    stage = rules.catalog.stage_of(touchpoint)
    return None if stage is None else stage.value


def advance_watermark(state: JourneyState, watermark_ms: int, rules: JourneyRules) -> list[JourneyOutput]:
    """A tick: event time moved on without this journey; close the sessions it has passed."""
    if _still_waiting(state, rules):
        state.held.append((None, None, max(watermark_ms, _held_watermark(state))))
        return []
    return [*_release_held(state, rules), *_close_due(state, watermark_ms, rules)]


def _close_due(state: JourneyState, watermark_ms: int, rules: JourneyRules) -> list[JourneyOutput]:
    state.watermark_ms = max(state.watermark_ms, watermark_ms)
    return _advance(state, state.watermark_ms, rules)


def absorb_into(state: JourneyState, customer_id: str, linked_at_ms: int, rules: JourneyRules) -> list[JourneyOutput]:
    """Hand this anonymous journey over to its customer; from now on forward its events.

    Everything still open travels: sessions, flows, the events not yet shown to the detectors.
    What the journey decided itself was decided at its own watermark, which is bounded by its
    source's progress at the link: an event of this person still on its way (stage 1 routes it to
    the customer now) is never older than that, so the customer shows the handed-over events and
    those stragglers in event-time order, as a trickle would have."""
    if state.absorbed_into is not None:
        # A replayed absorb: answer with an empty handoff so the customer never waits for one.
        return [Handoff(customer_id, state.journey_key, [], StageState(), None, erasure=_erased_by(state))]
    handed, state.sessions.open = state.sessions.open, []
    state.absorbed_into = customer_id
    # The friction context travels too: the absorbed journey keeps no timers of its own.
    pending, state.pending = state.pending, []
    friction, state.friction = state.friction, FrictionState()
    return [Handoff(customer_id, state.journey_key, handed, state.stages, state.first_seen_ms, friction, pending,
                    _erased_by(state))]  # fmt: skip


def _erased_by(state: JourneyState) -> str | None:
    return None if state.erasure is None else state.erasure.request_id


def receive_handoff(state: JourneyState, handoff: Handoff, rules: JourneyRules) -> list[JourneyOutput]:
    """Merge an anonymous journey's open sessions and stage history into this customer's, then
    replay what the journey held while waiting for it."""
    if handoff.from_journey_key in state.pending_handoffs:
        state.pending_handoffs.remove(handoff.from_journey_key)
    if handoff.from_journey_key in state.absorbed_from:
        return [] if state.pending_handoffs else _release_held(state, rules)  # a replayed handoff
    state.absorbed_from.append(handoff.from_journey_key)
    state.customer_id = state.customer_id or handoff.to_journey_key
    merge_stages(state.stages, handoff.stages)
    detectors.merge(state.friction, handoff.friction)
    state.pending.extend(handoff.pending)
    if handoff.first_seen_ms is not None:
        state.first_seen_ms = min(state.first_seen_ms or handoff.first_seen_ms, handoff.first_seen_ms)
    gap = rules.limits.gap_ms
    for incoming in handoff.open_sessions:
        touching = [
            s for s in state.sessions.open if s.start_ms - gap < incoming.end_ms and incoming.start_ms < s.end_ms + gap
        ]
        if touching:
            target = min([*touching, incoming], key=lambda s: (s.start_ms, s.session_id))
            others = [s for s in [*touching, incoming] if s is not target]
            for other in others:
                target.absorb(other, rules.limits.max_path)
            absorbed = {id(s) for s in others}
            state.sessions.open = [s for s in state.sessions.open if id(s) not in absorbed]
            if target is incoming:
                state.sessions.open.append(incoming)
        else:
            state.sessions.open.append(incoming)
        state.sessions.open.sort(key=lambda s: s.start_ms)
    return [] if state.pending_handoffs else _release_held(state, rules)
